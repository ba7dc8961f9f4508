using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Vae;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>
/// The float32 graphs against the reference oracle (tests/fixtures/flux2-tiny: BFL's own
/// AutoEncoder on CPU), from both namings of the same weights. Intermediates are compared too, so a
/// wrong convention points at the block where it starts.
/// </summary>
public sealed class Flux2VaeOracleTests(ITestOutputHelper output)
{
    /// <summary>The fixture README's float32 tolerance for normalized latents and decoded images (max |expected| 3–4).</summary>
    private const float Tolerance = 1e-4f;

    private static string WeightsFile(Flux2VaeNaming naming) =>
        TestFixtures.Path("flux2-tiny", "weights", naming == Flux2VaeNaming.Bfl ? "vae_bfl.safetensors" : "vae_diffusers.safetensors");

    [Theory]
    [InlineData(Flux2VaeNaming.Bfl)]
    [InlineData(Flux2VaeNaming.Diffusers)]
    public void Both_fixture_files_are_recognised_as_the_tiny_configuration(Flux2VaeNaming naming)
    {
        var weights = WeightSet.Open(WeightsFile(naming));

        Assert.Equal(naming, Flux2VaeWeightNames.DetectNaming(weights));
        Assert.Equal(Flux2VaeConfig.FixtureTiny, Flux2VaeConfig.FromWeights(weights));
        var expected = new Flux2VaeWeightNames(naming, Flux2VaeConfig.FixtureTiny).ExpectedTensors();
        Assert.Equal(expected.Select(t => t.Name).Order(StringComparer.Ordinal), weights.Names.Order(StringComparer.Ordinal));
        Assert.All(expected, t => Assert.Equal(t.Shape, weights.Get(t.Name).Info.Shape));
    }

    [Theory]
    [InlineData(Flux2VaeNaming.Bfl)]
    [InlineData(Flux2VaeNaming.Diffusers)]
    public void Encoder_matches_the_reference_normalized_latents(Flux2VaeNaming naming)
    {
        using var model = new VaeTestModel(WeightsFile(naming));
        var reference = TestFixtures.Open("flux2-tiny", "vae_encode.safetensors");
        var intermediates = TestFixtures.Open("flux2-tiny", "vae_encode_intermediates.safetensors");
        var weights = model.OpenWeights();
        var probes = new Dictionary<string, string>(StringComparer.Ordinal);
        var graph = Flux2VaeGraphs.BuildEncoder(weights, Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, model.Folder, (path, value) => probes[path] = value);
        AddProbeOutputs(graph, probes, intermediates);
        var path = model.Save(graph, "encoder.onnx");

        var outputs = VaeTestModel.Run(path, Flux2VaeGraphs.EncoderInput, VaeTestModel.Read(reference, "image"));

        var intermediateErrors = CompareIntermediates(outputs, intermediates);
        var latents = outputs[Flux2VaeGraphs.EncoderOutput];
        var expected = VaeTestModel.Read(reference, "normalized");
        Assert.Equal(expected.Shape, latents.Shape);
        var error = OnnxTestRunner.MaxAbsDiff(expected.Values, latents.Values);
        var errorF64 = OnnxTestRunner.MaxAbsDiff(VaeTestModel.Read(reference, "normalized_f64").Values, latents.Values);
        output.WriteLine($"{naming} encode: max |Δ| vs reference float32 {error:E2}, vs float64 {errorF64:E2} (max |expected| {expected.Values.Max(MathF.Abs):F2})");
        Assert.True(error <= Tolerance, $"normalized latents differ by {error:E2} (> {Tolerance:E0}); intermediates: {intermediateErrors}");
    }

    [Theory]
    [InlineData(Flux2VaeNaming.Bfl)]
    [InlineData(Flux2VaeNaming.Diffusers)]
    public void Decoder_matches_the_reference_image(Flux2VaeNaming naming)
    {
        using var model = new VaeTestModel(WeightsFile(naming));
        var reference = TestFixtures.Open("flux2-tiny", "vae_decode.safetensors");
        var intermediates = TestFixtures.Open("flux2-tiny", "vae_decode_intermediates.safetensors");
        var weights = model.OpenWeights();
        var probes = new Dictionary<string, string>(StringComparer.Ordinal);
        var graph = Flux2VaeGraphs.BuildDecoder(weights, Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, model.Folder, (path, value) => probes[path] = value);
        AddProbeOutputs(graph, probes, intermediates);
        var path = model.Save(graph, "decoder.onnx");

        var outputs = VaeTestModel.Run(path, Flux2VaeGraphs.DecoderInput, VaeTestModel.Read(reference, "latents"));

        var intermediateErrors = CompareIntermediates(outputs, intermediates);
        var image = outputs[Flux2VaeGraphs.DecoderOutput];
        var expected = VaeTestModel.Read(reference, "image");
        Assert.Equal(expected.Shape, image.Shape);
        var error = OnnxTestRunner.MaxAbsDiff(expected.Values, image.Values);
        var errorF64 = OnnxTestRunner.MaxAbsDiff(VaeTestModel.Read(reference, "image_f64").Values, image.Values);
        output.WriteLine($"{naming} decode: max |Δ| vs reference float32 {error:E2}, vs float64 {errorF64:E2} (max |expected| {expected.Values.Max(MathF.Abs):F2})");
        Assert.True(error <= Tolerance, $"decoded image differs by {error:E2} (> {Tolerance:E0}); intermediates: {intermediateErrors}");
    }

    [Fact]
    public void A_configuration_that_does_not_fit_the_checkpoint_is_refused_naming_the_tensor()
    {
        using var model = new VaeTestModel(WeightsFile(Flux2VaeNaming.Diffusers));

        var error = Assert.Throws<SafeTensorsException>(() => Flux2VaeGraphs.BuildEncoder(model.OpenWeights(), Flux2VaeConfig.Official, ComputePrecision.Float32, model.Folder));

        Assert.Contains("encoder.conv_in.weight", error.Message, StringComparison.Ordinal);
        Assert.Contains("expected [128,3,3,3]", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The klein repositories may ship the VAE in bf16: stored bf16 weights are widened inside the
    /// graph, which must give exactly what float32 weights holding the same bf16 values give.
    /// </summary>
    [Fact]
    public void A_checkpoint_stored_in_bf16_decodes_like_float32_weights_with_the_same_values()
    {
        using var bf16Model = new VaeTestModel(WeightsFile(Flux2VaeNaming.Diffusers), (writer, name, shape, values) => writer.AddBFloat16(name, shape, values));
        using var widenedModel = new VaeTestModel(WeightsFile(Flux2VaeNaming.Diffusers), (writer, name, shape, values) =>
            writer.AddFloat32(name, shape, values.Select(v => TensorConversion.BFloat16ToFloat(TensorConversion.FloatToBFloat16(v))).ToArray()));
        Assert.Equal(SafeTensorDType.BF16, bf16Model.OpenWeights().Get("decoder.conv_in.weight").Info.DType);
        var reference = TestFixtures.Open("flux2-tiny", "vae_decode.safetensors");
        var latents = VaeTestModel.Read(reference, "latents");

        var fromBf16 = VaeTestModel.Run(bf16Model.SaveDecoder(ComputePrecision.Float32), Flux2VaeGraphs.DecoderInput, latents)[Flux2VaeGraphs.DecoderOutput];
        var fromWidened = VaeTestModel.Run(widenedModel.SaveDecoder(ComputePrecision.Float32), Flux2VaeGraphs.DecoderInput, latents)[Flux2VaeGraphs.DecoderOutput];

        var difference = OnnxTestRunner.MaxAbsDiff(fromWidened.Values, fromBf16.Values);
        output.WriteLine($"bf16-stored vs widened float32 weights: max |Δ| {difference:E2}; both vs the float32 oracle: {OnnxTestRunner.MaxAbsDiff(reference.ReadFloat32("image"), fromBf16.Values):E2} (bf16 weight rounding)");
        Assert.True(difference <= 1e-5f, $"stored bf16 and widened float32 weights disagree by {difference:E2}");
    }

    /// <summary>Every intermediate the oracle stored must have a probe: a missing one means a block was renamed or skipped.</summary>
    private static void AddProbeOutputs(OnnxGraphBuilder graph, Dictionary<string, string> probes, SafeTensorsFile intermediates)
    {
        foreach (var name in intermediates.Tensors.Keys)
        {
            Assert.True(probes.TryGetValue(name, out var value), $"the graph has no probe for the reference intermediate {name}");
            graph.Output(value, name, DataType.Float, "n", "c", "h", "w");
        }
    }

    private string CompareIntermediates(Dictionary<string, FloatTensor> outputs, SafeTensorsFile intermediates)
    {
        var lines = new List<string>();
        foreach (var name in intermediates.Tensors.Keys.OrderBy(n => intermediates.Tensors[n].Offset))
        {
            var expected = VaeTestModel.Read(intermediates, name);
            var actual = outputs[name];
            Assert.Equal(expected.Shape, actual.Shape);
            var error = OnnxTestRunner.MaxAbsDiff(expected.Values, actual.Values);
            lines.Add($"{name} {error:E2}");
            Assert.True(error <= Tolerance, $"{name} differs from the reference by {error:E2}: the first wrong block");
        }

        var text = string.Join("; ", lines);
        output.WriteLine($"  intermediates: {text}");
        return text;
    }
}
