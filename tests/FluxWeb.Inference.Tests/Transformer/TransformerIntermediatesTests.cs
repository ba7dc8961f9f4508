using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>Block-by-block agreement with the oracle's intermediates: where an error grows names the block at fault.</summary>
public sealed class TransformerIntermediatesTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_block_output_matches_the_reference()
    {
        using var folder = new TempDirectory();
        FileLinks.HardLinkOrCopy(TestFixtures.Path("flux2-tiny", "weights", "transformer_bfl.safetensors"), folder.Combine("w.safetensors"));
        var taps = new Dictionary<string, string>();
        var graph = Flux2TransformerGraph.Build(WeightSet.Open(folder.Combine("w.safetensors")), Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path, taps);
        foreach (var (name, value) in taps)
        {
            graph.Tap(value, "tap_" + name);
        }

        graph.Save(folder.Combine("t.onnx"));
        using var session = new InferenceSession(folder.Combine("t.onnx"));
        var case_ = TestFixtures.Open("flux2-tiny", "transformer_fwd_ref.safetensors");
        var reference = TestFixtures.Open("flux2-tiny", "transformer_fwd_ref_intermediates.safetensors");
        var x = case_.ReadFloat32("x");
        var xIds = case_.ReadFloat32("x_ids");
        var ctx = case_.ReadFloat32("ctx");
        var ctxIds = case_.ReadFloat32("ctx_ids");
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(x, [1, 80, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(ctx, [1, 12, 48])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(case_.ReadFloat32("timesteps"), [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(xIds, [80, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(ctxIds, [12, 4])),
        ]);

        foreach (var name in new[] { "vec", "img_in", "txt_in", "double0_img", "double0_txt", "double1_img", "double1_txt", "single0", "single1" })
        {
            var actual = results.Single(r => r.Name == "tap_" + name).AsTensor<float>().ToArray();
            var expected = reference.ReadFloat32(name);
            var (maxAbs, rms) = TransformerOracleTests.Compare(expected, actual);
            output.WriteLine($"{name,-12} max abs {maxAbs:E2}  RMS {rms:E2}  absmax {expected.Max(Math.Abs):F3}");
            // The fixture's rule of thumb: about 1e-5 × max|expected| per transformer call is rounding, more is a bug.
            Assert.True(maxAbs <= 1e-5f * expected.Max(Math.Abs), $"{name}: max abs {maxAbs:E2}");
        }
    }
}
