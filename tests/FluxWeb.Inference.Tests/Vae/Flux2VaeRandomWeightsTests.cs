using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Vae;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>The seeded random VAE the demo package ships, and the graphs built from it.</summary>
public sealed class Flux2VaeRandomWeightsTests(ITestOutputHelper output)
{
    private const ulong Seed = 20260115;

    [Fact]
    public void Same_seed_gives_identical_bytes_and_another_seed_does_not()
    {
        using var folder = new TempDirectory();
        var first = folder.Combine("first.safetensors");
        var second = folder.Combine("second.safetensors");
        var other = folder.Combine("other.safetensors");

        Flux2VaeRandomWeights.Write(first, Flux2VaeConfig.DemoTiny, Seed);
        Flux2VaeRandomWeights.Write(second, Flux2VaeConfig.DemoTiny, Seed);
        Flux2VaeRandomWeights.Write(other, Flux2VaeConfig.DemoTiny, Seed + 1);

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        Assert.NotEqual(SafeTensorsFile.Open(first).ReadFloat32("encoder.conv_in.weight"), SafeTensorsFile.Open(other).ReadFloat32("encoder.conv_in.weight"));
    }

    [Fact]
    public void Bfl_and_diffusers_files_of_one_seed_hold_the_same_values_under_their_own_names()
    {
        using var folder = new TempDirectory();
        var diffusersPath = folder.Combine("diffusers.safetensors");
        var bflPath = folder.Combine("bfl.safetensors");
        Flux2VaeRandomWeights.Write(diffusersPath, Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Diffusers);
        Flux2VaeRandomWeights.Write(bflPath, Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Bfl);
        var diffusers = SafeTensorsFile.Open(diffusersPath);
        var bfl = SafeTensorsFile.Open(bflPath);

        var tensors = new Flux2VaeWeightNames(Flux2VaeNaming.Bfl, Flux2VaeConfig.DemoTiny).ExpectedTensors();

        Assert.Equal(tensors.Count, bfl.Tensors.Count);
        Assert.All(tensors, t => Assert.Equal(diffusers.ReadBytes(t.CanonicalName), bfl.ReadBytes(t.Name)));
        Assert.Equal([64L, 64, 1, 1], bfl.Get("decoder.mid.attn_1.q.weight").Shape);
        Assert.Equal([64L, 64], diffusers.Get("decoder.mid_block.attentions.0.to_q.weight").Shape);
        Assert.Equal(diffusers.ReadBytes("decoder.up_blocks.0.resnets.0.conv1.weight"), bfl.ReadBytes("decoder.up.3.block.0.conv1.weight"));
    }

    [Fact]
    public void Random_weights_have_the_intended_statistics()
    {
        var tensors = new Flux2VaeWeightNames(Flux2VaeNaming.Diffusers, Flux2VaeConfig.Official).ExpectedTensors();
        var conv = tensors.Single(t => t.Name == "decoder.mid_block.resnets.0.conv1.weight");
        var convValues = Flux2VaeRandomWeights.Values(conv, Seed);
        var std = Math.Sqrt(convValues.Select(v => (double)v * v).Average());
        var expectedStd = 1 / Math.Sqrt(512 * 9);

        Assert.InRange(std / expectedStd, 0.99, 1.01);
        Assert.InRange(convValues.Average(v => (double)v), -0.01 * expectedStd, 0.01 * expectedStd);
        Assert.All(Flux2VaeRandomWeights.Values(tensors.Single(t => t.Name == "encoder.conv_norm_out.weight"), Seed), v => Assert.InRange(v, 0.9f, 1.1f));
        Assert.All(Flux2VaeRandomWeights.Values(tensors.Single(t => t.Name == Flux2VaeWeightNames.RunningVariance), Seed), v => Assert.InRange(v, 0.5f, 1.5f));
    }

    [Theory]
    [InlineData(64, 64)]
    [InlineData(96, 128)]
    public void Demo_graphs_give_finite_outputs_of_the_right_shapes(int height, int width)
    {
        using var model = VaeTestModel.Random(Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Diffusers);
        Assert.Equal(Flux2VaeConfig.DemoTiny, Flux2VaeConfig.FromWeights(model.OpenWeights()));
        var image = new FloatTensor(OnnxTestRunner.Random(3 * height * width, seed: height + width), [1, 3, height, width]);

        var latents = VaeTestModel.Run(model.SaveEncoder(ComputePrecision.Float32), Flux2VaeGraphs.EncoderInput, image)[Flux2VaeGraphs.EncoderOutput];
        var decoded = VaeTestModel.Run(model.SaveDecoder(ComputePrecision.Float32), Flux2VaeGraphs.DecoderInput, latents)[Flux2VaeGraphs.DecoderOutput];

        Assert.Equal([1L, 128, height / 16, width / 16], latents.Shape);
        Assert.Equal(image.Shape, decoded.Shape);
        Assert.All(latents.Values.Concat(decoded.Values), v => Assert.True(float.IsFinite(v)));
        output.WriteLine($"{height}×{width}: latents {latents.ShapeText} std {Std(latents.Values):F3}, image {decoded.ShapeText} std {Std(decoded.Values):F3}");
    }

    [Fact]
    public void Bfl_named_demo_weights_give_the_same_outputs_as_diffusers_named_ones()
    {
        using var diffusers = VaeTestModel.Random(Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Diffusers);
        using var bfl = VaeTestModel.Random(Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Bfl);
        var image = new FloatTensor(OnnxTestRunner.Random(3 * 32 * 48, seed: 3), [1, 3, 32, 48]);
        var latents = new FloatTensor(OnnxTestRunner.Random(128 * 2 * 3, seed: 4), [1, 128, 2, 3]);

        void Compare(Func<VaeTestModel, string> save, string inputName, FloatTensor input, string outputName)
        {
            var fromDiffusers = VaeTestModel.Run(save(diffusers), inputName, input)[outputName];
            var fromBfl = VaeTestModel.Run(save(bfl), inputName, input)[outputName];
            var difference = OnnxTestRunner.MaxAbsDiff(fromDiffusers.Values, fromBfl.Values);
            Assert.True(difference <= 1e-6f, $"{outputName}: BFL and diffusers names disagree by {difference:E2}");
        }

        Compare(m => m.SaveEncoder(ComputePrecision.Float32), Flux2VaeGraphs.EncoderInput, image, Flux2VaeGraphs.EncoderOutput);
        Compare(m => m.SaveDecoder(ComputePrecision.Float32), Flux2VaeGraphs.DecoderInput, latents, Flux2VaeGraphs.DecoderOutput);
    }

    [Fact]
    public void A_batch_gives_each_image_the_result_it_gets_alone()
    {
        using var model = VaeTestModel.Random(Flux2VaeConfig.DemoTiny, Seed, Flux2VaeNaming.Diffusers);
        var encoder = model.SaveEncoder(ComputePrecision.Float32);
        var decoder = model.SaveDecoder(ComputePrecision.Float32);
        var first = OnnxTestRunner.Random(3 * 32 * 32, seed: 1);
        var second = OnnxTestRunner.Random(3 * 32 * 32, seed: 2, scale: 0.5f);

        var batched = VaeTestModel.Run(encoder, Flux2VaeGraphs.EncoderInput, new FloatTensor([.. first, .. second], [2, 3, 32, 32]))[Flux2VaeGraphs.EncoderOutput];
        var alone = VaeTestModel.Run(encoder, Flux2VaeGraphs.EncoderInput, new FloatTensor(second, [1, 3, 32, 32]))[Flux2VaeGraphs.EncoderOutput];
        var decodedBatch = VaeTestModel.Run(decoder, Flux2VaeGraphs.DecoderInput, batched)[Flux2VaeGraphs.DecoderOutput];
        var decodedAlone = VaeTestModel.Run(decoder, Flux2VaeGraphs.DecoderInput, alone)[Flux2VaeGraphs.DecoderOutput];

        var half = batched.Values.Length / 2;
        Assert.True(OnnxTestRunner.MaxAbsDiff(batched.Values.AsSpan(half), alone.Values) <= 1e-5f);
        Assert.True(OnnxTestRunner.MaxAbsDiff(decodedBatch.Values.AsSpan(decodedBatch.Values.Length / 2), decodedAlone.Values) <= 1e-5f);
    }

    private static double Std(float[] values)
    {
        var mean = values.Average(v => (double)v);
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }
}
