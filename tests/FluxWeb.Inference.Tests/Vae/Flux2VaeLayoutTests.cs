using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Vae;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>Index maths of the latent patchify and the layers that must be exact, by hand-computed examples.</summary>
public sealed class Flux2VaeLayoutTests
{
    /// <summary>raw[c, y, x] = c·8 + y·4 + x for C = 2, H = 2, W = 4.</summary>
    private static readonly float[] RawExample = [.. Enumerable.Range(0, 16).Select(i => (float)i)];

    /// <summary>patched[c·4 + pi·2 + pj, 0, j] = raw[c, pi, 2j + pj], worked out by hand.</summary>
    private static readonly float[] PatchedExample = [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15];

    private static OnnxGraphBuilder NewBuilder() => new("test", ComputePrecision.Float32, Path.GetTempPath());

    [Theory]
    [InlineData(0, 0, 0, 0)]
    [InlineData(0, 0, 1, 1)]
    [InlineData(0, 1, 0, 2)]
    [InlineData(0, 1, 1, 3)]
    [InlineData(1, 0, 0, 4)]
    [InlineData(5, 1, 0, 22)]
    [InlineData(31, 1, 1, 127)]
    public void Patched_channel_is_c_times_4_plus_pi_times_2_plus_pj(int channel, int rowInPatch, int columnInPatch, int expected)
    {
        Assert.Equal(expected, Flux2VaeLatentLayout.PatchedChannel(channel, rowInPatch, columnInPatch));
        Assert.Equal((channel, rowInPatch, columnInPatch), Flux2VaeLatentLayout.SplitPatchedChannel(expected));
    }

    [Fact]
    public void Patch_offsets_outside_the_2x2_patch_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Flux2VaeLatentLayout.PatchedChannel(0, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Flux2VaeLatentLayout.PatchedChannel(0, 0, -1));
    }

    [Fact]
    public void Cpu_patchify_and_unpatchify_follow_the_hand_example()
    {
        Assert.Equal(PatchedExample, Flux2VaeLatentLayout.Patchify(RawExample, batch: 1, channels: 2, height: 2, width: 4));
        Assert.Equal(RawExample, Flux2VaeLatentLayout.Unpatchify(PatchedExample, batch: 1, patchedChannels: 8, height: 1, width: 2));
    }

    [Fact]
    public void Graph_patchify_and_unpatchify_follow_the_hand_example()
    {
        var g = NewBuilder();
        var raw = g.Input("raw", DataType.Float, "n", 2, "h", "w");
        var patched = g.Input("patched", DataType.Float, "n", 8, "h2", "w2");
        g.Output(g.Patchify2x2(raw, 2), "patchify", DataType.Float, "n", 8, "h2", "w2");
        g.Output(g.Unpatchify2x2(patched, 2), "unpatchify", DataType.Float, "n", 2, "h", "w");

        var outputs = OnnxTestRunner.Run(g, ("raw", RawExample, [1, 2, 2, 4]), ("patched", PatchedExample, [1, 8, 1, 2]));

        Assert.Equal(PatchedExample, outputs["patchify"]);
        Assert.Equal(RawExample, outputs["unpatchify"]);
    }

    [Fact]
    public void Graph_and_cpu_patchify_agree_exactly_on_a_batch_of_non_square_latents()
    {
        const int batch = 2, channels = 32, height = 6, width = 10;
        var values = OnnxTestRunner.Random(batch * channels * height * width, seed: 11);
        var g = NewBuilder();
        var raw = g.Input("raw", DataType.Float, "n", channels, "h", "w");
        var patched = g.Patchify2x2(raw, channels);
        g.Output(patched, "patched", DataType.Float, "n", 4 * channels, "h2", "w2");
        g.Output(g.Unpatchify2x2(patched, channels), "roundtrip", DataType.Float, "n", channels, "h", "w");

        var outputs = OnnxTestRunner.Run(g, ("raw", values, [batch, channels, height, width]));

        Assert.Equal(Flux2VaeLatentLayout.Patchify(values, batch, channels, height, width), outputs["patched"]);
        Assert.Equal(values, outputs["roundtrip"]);
    }

    [Fact]
    public void Nearest_upsample_copies_each_pixel_into_a_2x2_block_like_torch()
    {
        var g = NewBuilder();
        var x = g.Input("x", DataType.Float, "n", "c", "h", "w");
        g.Output(g.UpsampleNearest2x(x), "y", DataType.Float, "n", "c", "h2", "w2");

        // interpolate(scale_factor=2, mode="nearest") reads source pixel floor(dst / 2).
        var y = OnnxTestRunner.Run(g, ("x", [1, 2, 3, 4, 5, 6], [1, 1, 2, 3]))["y"];

        Assert.Equal(
            [
                1, 1, 2, 2, 3, 3,
                1, 1, 2, 2, 3, 3,
                4, 4, 5, 5, 6, 6,
                4, 4, 5, 5, 6, 6,
            ],
            y);
    }

    [Fact]
    public void GroupNorm_normalises_each_group_of_channels_per_image_and_applies_per_channel_affine()
    {
        const int batch = 2, channels = 64, groups = 32, height = 3, width = 5, spatial = height * width;
        var xs = OnnxTestRunner.Random(batch * channels * spatial, seed: 5, scale: 3f);
        var scales = OnnxTestRunner.Random(channels, seed: 6).Select(v => 1 + 0.1f * v).ToArray();
        var shifts = OnnxTestRunner.Random(channels, seed: 7, scale: 0.05f);
        var g = NewBuilder();
        var x = g.Input("x", DataType.Float, "n", channels, "h", "w");
        g.Output(g.GroupNorm(x, DataType.Float, g.Float32Constant(scales, channels), g.Float32Constant(shifts, channels), channels, groups, 1e-6f), "y", DataType.Float, "n", channels, "h", "w");

        var y = OnnxTestRunner.Run(g, ("x", xs, [batch, channels, height, width]))["y"];

        const int perGroup = channels / groups * spatial;
        var expected = new float[xs.Length];
        for (var n = 0; n < batch; n++)
        {
            for (var group = 0; group < groups; group++)
            {
                var start = (n * channels + group * (channels / groups)) * spatial;
                var values = xs.AsSpan(start, perGroup).ToArray().Select(v => (double)v).ToArray();
                var mean = values.Average();
                var variance = values.Select(v => (v - mean) * (v - mean)).Average();
                for (var i = 0; i < perGroup; i++)
                {
                    var channel = group * (channels / groups) + i / spatial;
                    expected[start + i] = (float)((values[i] - mean) / Math.Sqrt(variance + 1e-6) * scales[channel] + shifts[channel]);
                }
            }
        }

        Assert.True(OnnxTestRunner.MaxAbsDiff(expected, y) < 1e-5f, $"max |Δ| {OnnxTestRunner.MaxAbsDiff(expected, y):E2}");
    }
}
