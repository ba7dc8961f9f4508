using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>
/// The fp16 and bf16 graphs, as far as a machine without a GPU can check them: ONNX Runtime's CPU
/// provider has fp16 kernels for every operator we use, so the fp16 graph runs against the oracle;
/// it has no bf16 kernels (session creation fails on the first bf16 Mul), so the bf16 graph gets the
/// structural type check and the checks of its constants.
/// </summary>
public sealed class Qwen3ReducedPrecisionTests(ITestOutputHelper output)
{
    [Fact]
    public void The_fp16_graph_runs_on_the_cpu_and_stays_near_the_reference_pads_included()
    {
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.FixtureTiny, ComputePrecision.Float16, folder.Path);
        var padded = TestFixtures.Open("qwen3-tiny", "text_encoder_padded.safetensors");

        var outputs = TextEncoderRunner.Run(model, padded.ReadInt64("input_ids"), padded.ReadInt64("attention_mask"), batch: 2);

        // fp16 keeps ~11 bits: at |values| up to 3 one rounding is ~1e-3, and 27 layers add a few.
        var stats = ErrorStats.Between(padded.ReadFloat32(Qwen3TextEncoderGraph.OutputName), outputs[Qwen3TextEncoderGraph.OutputName]);
        output.WriteLine($"fp16 graph on the CPU vs float32 reference, prompt_embeds: {stats}");
        Assert.True(stats.MaxAbs <= 2e-2 && stats.Rms <= 2e-3, stats.ToString());
    }

    [Theory]
    [InlineData(ComputePrecision.BFloat16)]
    [InlineData(ComputePrecision.Float16)]
    public void The_reduced_precision_graph_computes_in_its_type_and_returns_float32(ComputePrecision precision)
    {
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var builder = Qwen3TextEncoderGraph.Build(weights, Qwen3Config.FixtureTiny, precision, folder.Path);
        var model = builder.Build();

        var types = OnnxGraphTypeCheck.Check(model);

        Assert.Equal(DataType.Float, types[Qwen3TextEncoderGraph.OutputName]);
        var compute = precision.ToDataType();
        var attention = model.Graph.Node.Where(n => n.OpType == "MultiHeadAttention").ToList();
        Assert.Equal(27, attention.Count);
        Assert.All(attention, n => Assert.Equal(compute, types[n.Input[5]]));
        Assert.All(model.Graph.Node.Where(n => n.OpType is "FusedMatMul" or "RotaryEmbedding" or "SimplifiedLayerNormalization"), n => Assert.Equal(compute, types[n.Output[0]]));
        // float32 weights are cast once each into the compute type: 27 layers × 11 tensors + the embedding.
        Assert.Equal(27 * 11 + 1, model.Graph.Node.Count(n => n.OpType == "Cast" && weights.Contains(n.Input[0])));
        output.WriteLine($"{precision}: {model.Graph.Node.Count} nodes type-check; every MultiHeadAttention bias is {compute}");
    }

    [Theory]
    [InlineData(ComputePrecision.Float32)]
    [InlineData(ComputePrecision.Float16)]
    [InlineData(ComputePrecision.BFloat16)]
    public void The_mask_value_is_the_lowest_finite_number_of_the_compute_type(ComputePrecision precision)
    {
        var lowest = Qwen3TextEncoderGraph.LowestFinite(precision);

        switch (precision)
        {
            case ComputePrecision.Float32:
                Assert.Equal(float.MinValue, lowest);
                break;
            case ComputePrecision.Float16:
                Assert.Equal(-65504f, lowest);
                Assert.True(Half.IsFinite((Half)lowest));
                break;
            default:
                // float32.MinValue would round to bf16 −inf (0xFF80); 0xFF7F is bf16's lowest finite value.
                Assert.Equal(0xFF80, TensorConversion.FloatToBFloat16(float.MinValue));
                Assert.Equal(0xFF7F, TensorConversion.FloatToBFloat16(lowest));
                Assert.True(float.IsFinite(TensorConversion.BFloat16ToFloat(TensorConversion.FloatToBFloat16(lowest))));
                break;
        }
    }
}
