using FluxWeb.Inference.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Onnx;

/// <summary>The fused ONNX Runtime operators the graphs rely on, checked against plain C# maths on the CPU provider.</summary>
public sealed class OnnxLayersTests
{
    private static OnnxGraphBuilder NewBuilder() => new("test", ComputePrecision.Float32, Path.GetTempPath());

    [Fact]
    public void Linear_multiplies_by_the_transposed_pytorch_weight()
    {
        var g = NewBuilder();
        var x = g.Input("x", DataType.Float, 2, 3, 4);
        var w = g.Float32Constant([.. OnnxTestRunner.Random(5 * 4, 1)], 5, 4);
        g.Output(g.Linear(x, w), "y", DataType.Float, 2, 3, 5);
        var xs = OnnxTestRunner.Random(24, 2);
        var ws = OnnxTestRunner.Random(20, 1);

        var y = OnnxTestRunner.Run(g, ("x", xs, [2, 3, 4]))["y"];

        var expected = new float[30];
        for (var r = 0; r < 6; r++)
        {
            for (var o = 0; o < 5; o++)
            {
                expected[r * 5 + o] = Enumerable.Range(0, 4).Sum(i => xs[r * 4 + i] * ws[o * 4 + i]);
            }
        }

        Assert.True(OnnxTestRunner.MaxAbsDiff(expected, y) < 1e-5f);
    }

    [Fact]
    public void RmsNorm_and_LayerNorm_match_their_definitions()
    {
        var g = NewBuilder();
        var x = g.Input("x", DataType.Float, 1, 2, 8);
        var scale = g.Float32Constant([.. Enumerable.Range(0, 8).Select(i => 0.9f + 0.025f * i)], 8);
        g.Output(g.RmsNorm(x, scale, 1e-6f), "rms", DataType.Float, 1, 2, 8);
        g.Output(g.LayerNormNoAffine(x, 8, 1e-6f), "ln", DataType.Float, 1, 2, 8);
        var xs = OnnxTestRunner.Random(16, 3, 2f);

        var outputs = OnnxTestRunner.Run(g, ("x", xs, [1, 2, 8]));

        for (var row = 0; row < 2; row++)
        {
            var v = xs.AsSpan(row * 8, 8).ToArray();
            var rms = MathF.Sqrt(v.Select(e => e * e).Average() + 1e-6f);
            var mean = v.Average();
            var std = MathF.Sqrt(v.Select(e => (e - mean) * (e - mean)).Average() + 1e-6f);
            for (var i = 0; i < 8; i++)
            {
                Assert.Equal(v[i] / rms * (0.9f + 0.025f * i), outputs["rms"][row * 8 + i], 5);
                Assert.Equal((v[i] - mean) / std, outputs["ln"][row * 8 + i], 5);
            }
        }
    }

    [Fact]
    public void Attention_is_softmax_of_scaled_dot_products_per_head()
    {
        const int heads = 2, dim = 4, seq = 3;
        var g = NewBuilder();
        var q = g.Input("q", DataType.Float, 1, seq, heads * dim);
        var k = g.Input("k", DataType.Float, 1, seq, heads * dim);
        var v = g.Input("v", DataType.Float, 1, seq, heads * dim);
        g.Output(g.Attention(q, k, v, heads), "o", DataType.Float, 1, seq, heads * dim);
        var qs = OnnxTestRunner.Random(seq * heads * dim, 4);
        var ks = OnnxTestRunner.Random(seq * heads * dim, 5);
        var vs = OnnxTestRunner.Random(seq * heads * dim, 6);

        var o = OnnxTestRunner.Run(g, ("q", qs, [1, seq, heads * dim]), ("k", ks, [1, seq, heads * dim]), ("v", vs, [1, seq, heads * dim]))["o"];

        for (var h = 0; h < heads; h++)
        {
            for (var i = 0; i < seq; i++)
            {
                var scores = Enumerable.Range(0, seq).Select(j => Enumerable.Range(0, dim).Sum(d => qs[i * heads * dim + h * dim + d] * ks[j * heads * dim + h * dim + d]) / MathF.Sqrt(dim)).ToArray();
                var max = scores.Max();
                var weights = scores.Select(s => MathF.Exp(s - max)).ToArray();
                var total = weights.Sum();
                for (var d = 0; d < dim; d++)
                {
                    var expected = Enumerable.Range(0, seq).Sum(j => weights[j] / total * vs[j * heads * dim + h * dim + d]);
                    Assert.Equal(expected, o[i * heads * dim + h * dim + d], 5);
                }
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rotary_rotates_adjacent_pairs_or_halves_with_per_token_tables(bool interleaved)
    {
        const int heads = 2, dim = 4, seq = 3;
        var g = NewBuilder();
        var x = g.Input("x", DataType.Float, 1, seq, heads * dim);
        var cos = g.Input("cos", DataType.Float, seq, dim / 2);
        var sin = g.Input("sin", DataType.Float, seq, dim / 2);
        g.Output(g.Rotary(x, cos, sin, heads, interleaved), "y", DataType.Float, 1, seq, heads * dim);
        var xs = OnnxTestRunner.Random(seq * heads * dim, 7);
        var angles = OnnxTestRunner.Random(seq * dim / 2, 8, 3f);
        var cs = angles.Select(MathF.Cos).ToArray();
        var ss = angles.Select(MathF.Sin).ToArray();

        var y = OnnxTestRunner.Run(g, ("x", xs, [1, seq, heads * dim]), ("cos", cs, [seq, dim / 2]), ("sin", ss, [seq, dim / 2]))["y"];

        for (var s = 0; s < seq; s++)
        {
            for (var h = 0; h < heads; h++)
            {
                var b = s * heads * dim + h * dim;
                for (var j = 0; j < dim / 2; j++)
                {
                    var (i0, i1) = interleaved ? (2 * j, 2 * j + 1) : (j, j + dim / 2);
                    var c = cs[s * dim / 2 + j];
                    var sn = ss[s * dim / 2 + j];
                    Assert.Equal(xs[b + i0] * c - xs[b + i1] * sn, y[b + i0], 5);
                    Assert.Equal(xs[b + i1] * c + xs[b + i0] * sn, y[b + i1], 5);
                }
            }
        }
    }
}
