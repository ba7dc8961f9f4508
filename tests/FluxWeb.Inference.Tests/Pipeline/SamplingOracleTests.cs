using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>
/// The whole 4-step sampling loop, as the engine runs it on every device (the device-resident loop
/// with the sampler step graph, here on the CPU provider), against Black Forest Labs' own loop:
/// every step's latents and prediction, the final latents and the decoded image, without and with
/// a reference image.
/// </summary>
public sealed class SamplingOracleTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("sampling_noref.safetensors", false)]
    [InlineData("sampling_ref.safetensors", true)]
    public void Engine_loop_reproduces_the_reference_sampling(string caseFile, bool withReference)
    {
        using var folder = new TempDirectory();
        FileLinks.HardLinkOrCopy(TestFixtures.Path("flux2-tiny", "weights", "transformer_diffusers.safetensors"), folder.Combine("transformer.safetensors"));
        FileLinks.HardLinkOrCopy(TestFixtures.Path("flux2-tiny", "weights", "vae_diffusers.safetensors"), folder.Combine("vae.safetensors"));
        Flux2TransformerGraph.Build(WeightSet.Open(folder.Combine("transformer.safetensors")), Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path).Save(folder.Combine("transformer.onnx"));
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildDecoder(WeightSet.Open(folder.Combine("vae.safetensors")), Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, folder.Path), folder.Combine("vae_decoder.onnx"));
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildEncoder(WeightSet.Open(folder.Combine("vae.safetensors")), Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, folder.Path), folder.Combine("vae_encoder.onnx"));
        var options = Options.Create(new InferenceOptions { Device = DevicePreference.Cpu, CpuThreads = 1 });
        var factory = new SessionFactory(new ExecutionDeviceProbe(options, NullLogger<ExecutionDeviceProbe>.Instance), options);
        using var transformer = factory.Create(folder.Combine("transformer.onnx"), CancellationToken.None);
        using var decoder = new InferenceSession(folder.Combine("vae_decoder.onnx"));
        using var graphs = new DeviceGraphs(factory);
        using var buffers = new TransformerBufferCache();
        var reference = TestFixtures.Open("flux2-tiny", caseFile);
        var sigmas = KleinSchedule.Sigmas(64, 4);
        Assert.Equal(reference.ReadFloat32("sigmas"), sigmas);

        var references = new List<(float[] Tokens, int Height, int Width)>();
        if (withReference)
        {
            // The reference image goes through our VAE encoder and packing, as in the engine.
            using var encoder = new InferenceSession(folder.Combine("vae_encoder.onnx"));
            using var encoded = encoder.Run([NamedOnnxValue.CreateFromTensor("image", new DenseTensor<float>(reference.ReadFloat32("ref_image"), [1, 3, 64, 64]))]);
            var tokens = LatentLayout.Pack(encoded.Single().AsTensor<float>().ToArray(), 128, 4, 4);
            var (tokenError, _) = Compare(reference.ReadFloat32("ref_tokens"), tokens);
            output.WriteLine($"reference tokens: max abs {tokenError:E2}");
            Assert.True(tokenError < 1e-4f);
            references.Add((tokens, 4, 4));
        }

        var latents = LatentLayout.Pack(reference.ReadFloat32("noise"), 128, 8, 8);
        Assert.Equal(reference.ReadFloat32("x0"), latents);
        var context = reference.ReadFloat32("ctx");
        var job = new DenoiseInputs(latents, references, context, null, context.Length / 48, 8, 8, sigmas, 0, null, null, null);
        var observed = new List<int>();

        var final = DeviceDenoiser.Run(
            transformer,
            ManifestTemplates.StandardComponents().Transformer!,
            graphs,
            buffers.Get(transformer, factory.DeviceMemory(), job.Shape, cudaGraphs: false),
            job,
            cudaGraphs: false,
            (_, _, _, run) =>
            {
                using var runOptions = new RunOptions();
                run(runOptions);
            },
            observe: (step, after, velocity) =>
            {
                observed.Add(step);
                var (velocityError, _) = Compare(reference.ReadFloat32($"pred_step{step}").AsSpan(0, 64 * 128).ToArray(), velocity);
                var (latentError, _) = Compare(reference.ReadFloat32($"latents_step{step + 1}"), after);
                output.WriteLine($"step {step}: prediction max abs {velocityError:E2}, latents after it {latentError:E2}");
                Assert.True(velocityError <= 1e-4f, $"step {step} prediction off by {velocityError:E2}");
                Assert.True(latentError <= 1e-4f, $"step {step} latents off by {latentError:E2}");
            });

        Assert.Equal([0, 1, 2, 3], observed);
        var (finalError, _) = Compare(reference.ReadFloat32("latents_step4"), final);
        var chw = LatentLayout.Unpack(final, 128, 8, 8);
        using var decoded = decoder.Run([NamedOnnxValue.CreateFromTensor("latents", new DenseTensor<float>(chw, [1, 128, 8, 8]))]);
        var (imageError, _) = Compare(reference.ReadFloat32("final_image"), decoded.Single().AsTensor<float>().ToArray());
        output.WriteLine($"final latents max abs {finalError:E2}; final image max abs {imageError:E2}");
        Assert.True(finalError <= 1e-4f);
        Assert.Equal(reference.ReadFloat32("final_latents").Length, chw.Length);
        Assert.True(imageError <= 3e-4f, $"final image off by {imageError:E2}");
    }

    private static (float MaxAbs, float Rms) Compare(float[] expected, float[] actual) =>
        FluxWeb.Inference.Tests.Transformer.TransformerOracleTests.Compare(expected, actual);
}
