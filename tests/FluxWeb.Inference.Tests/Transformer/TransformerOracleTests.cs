using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>
/// The transformer graph against outputs computed by Black Forest Labs' own code (tests/fixtures/flux2-tiny),
/// from both naming schemes. Tolerance from the fixture's README: max abs 5e-5, RMS 5e-6.
/// </summary>
public sealed class TransformerOracleTests(ITestOutputHelper output)
{
    private const float MaxAbsTolerance = 5e-5f;
    private const float RmsTolerance = 5e-6f;

    internal static InferenceSession BuildSession(TempDirectory folder, string weightsFile, ComputePrecision precision = ComputePrecision.Float32)
    {
        var weightsPath = folder.Combine("weights", weightsFile);
        FileLinks.HardLinkOrCopy(TestFixtures.Path("flux2-tiny", "weights", weightsFile), weightsPath);
        var weights = WeightSet.Open(weightsPath);
        var graph = Flux2TransformerGraph.Build(weights, Flux2TransformerConfig.FixtureTiny, precision, folder.Path);
        Assert.Empty(weights.Unbound);
        Assert.All(weights.Bindings.Values, count => Assert.Equal(1, count));
        var modelPath = folder.Combine("transformer.onnx");
        graph.Save(modelPath);
        return new InferenceSession(modelPath);
    }

    internal static float[] Run(InferenceSession session, SafeTensorsFile case_, string tokens = "x", string ids = "x_ids")
    {
        var x = case_.ReadFloat32(tokens);
        var xIds = case_.ReadFloat32(ids);
        var ctx = case_.ReadFloat32("ctx");
        var ctxIds = case_.ReadFloat32("ctx_ids");
        var tokenCount = xIds.Length / 4;
        var textCount = ctxIds.Length / 4;
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(x, [1, tokenCount, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(ctx, [1, textCount, 48])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(case_.ReadFloat32("timesteps"), [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(xIds, [tokenCount, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(ctxIds, [textCount, 4])),
        ]);
        return results.Single().AsTensor<float>().ToArray();
    }

    internal static (float MaxAbs, float Rms) Compare(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double sum = 0;
        var max = 0f;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, d);
            sum += d * (double)d;
        }

        return (max, (float)Math.Sqrt(sum / expected.Length));
    }

    [Theory]
    [InlineData("transformer_bfl.safetensors", "transformer_fwd_ref.safetensors")]
    [InlineData("transformer_bfl.safetensors", "transformer_fwd_noref.safetensors")]
    [InlineData("transformer_diffusers.safetensors", "transformer_fwd_ref.safetensors")]
    [InlineData("transformer_diffusers.safetensors", "transformer_fwd_noref.safetensors")]
    public void Graph_reproduces_the_reference_forward_pass(string weightsFile, string caseFile)
    {
        using var folder = new TempDirectory();
        using var session = BuildSession(folder, weightsFile);
        var case_ = TestFixtures.Open("flux2-tiny", caseFile);

        var prediction = Run(session, case_);

        var (maxAbs, rms) = Compare(case_.ReadFloat32("pred"), prediction);
        output.WriteLine($"{weightsFile} × {caseFile}: max abs {maxAbs:E2}, RMS {rms:E2} (output absmax {case_.ReadFloat32("pred").Max(Math.Abs):F2})");
        var (maxAbs64, rms64) = Compare(case_.ReadFloat32("pred_f64"), prediction);
        output.WriteLine($"  vs float64 reference: max abs {maxAbs64:E2}, RMS {rms64:E2}");
        Assert.True(maxAbs <= MaxAbsTolerance, $"max abs error {maxAbs:E3} > {MaxAbsTolerance:E1}");
        Assert.True(rms <= RmsTolerance, $"RMS error {rms:E3} > {RmsTolerance:E1}");
    }
}
