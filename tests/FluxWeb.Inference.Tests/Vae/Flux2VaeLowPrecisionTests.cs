using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Vae;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>
/// What can be checked of the fp16 and bf16 graphs without a GPU. ONNX Runtime's CPU provider has
/// no fp16 or bf16 Conv: for fp16 it inserts casts to float32 around such nodes (so the graph runs,
/// with fp16 rounding between operators but float32 arithmetic inside them); for bf16 it does not,
/// so a bf16 graph is checked by type inference and by being the fp16 graph with another element type.
/// </summary>
public sealed class Flux2VaeLowPrecisionTests(ITestOutputHelper output)
{
    /// <summary>fp16 keeps 11 significant bits: about 1e-3 relative per stored activation, values up to 4 here.</summary>
    private const float Float16Tolerance = 2e-2f;

    /// <summary>
    /// The operators a low-precision VAE graph may use: each has a CUDA kernel for fp16 and bf16 in
    /// ONNX Runtime 1.31 (read from the type names registered in libonnxruntime_providers_cuda.so),
    /// except InstanceNormalization, which is fed float32 (see <see cref="Flux2VaeLayers.GroupNorm"/>).
    /// Pad, Resize and DepthToSpace are absent on purpose: they have no CUDA bf16 kernel.
    /// </summary>
    private static readonly HashSet<string> CudaLowPrecisionOperators =
    [
        "Conv", "Cast", "Reshape", "Transpose", "Unsqueeze", "Expand", "Shape", "Concat", "Slice", "Identity",
        "Add", "Sub", "Mul", "Div", "Sqrt", "Sigmoid", "FusedMatMul", "MultiHeadAttention", "InstanceNormalization",
    ];

    private static string OracleWeights => TestFixtures.Path("flux2-tiny", "weights", "vae_bfl.safetensors");

    [Fact]
    public void Float16_graphs_stay_near_the_oracle_when_run_through_the_cpu_casts()
    {
        using var model = new VaeTestModel(OracleWeights);
        var encode = TestFixtures.Open("flux2-tiny", "vae_encode.safetensors");
        var decode = TestFixtures.Open("flux2-tiny", "vae_decode.safetensors");

        var latents = VaeTestModel.Run(model.SaveEncoder(ComputePrecision.Float16), Flux2VaeGraphs.EncoderInput, VaeTestModel.Read(encode, "image"))[Flux2VaeGraphs.EncoderOutput];
        var image = VaeTestModel.Run(model.SaveDecoder(ComputePrecision.Float16), Flux2VaeGraphs.DecoderInput, VaeTestModel.Read(decode, "latents"))[Flux2VaeGraphs.DecoderOutput];

        var encodeError = OnnxTestRunner.MaxAbsDiff(encode.ReadFloat32("normalized"), latents.Values);
        var decodeError = OnnxTestRunner.MaxAbsDiff(decode.ReadFloat32("image"), image.Values);
        output.WriteLine($"fp16 graphs on CPU (fp16 storage, float32 arithmetic): encode max |Δ| {encodeError:E2}, decode {decodeError:E2}");
        Assert.True(encodeError <= Float16Tolerance, $"fp16 encoder off by {encodeError:E2}");
        Assert.True(decodeError <= Float16Tolerance, $"fp16 decoder off by {decodeError:E2}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BFloat16_graphs_are_the_float16_graphs_with_another_element_type(bool encoder)
    {
        using var model = new VaeTestModel(OracleWeights);
        var half = Build(model, ComputePrecision.Float16, encoder);
        var brain = Build(model, ComputePrecision.BFloat16, encoder);

        Assert.Equal(half.Graph.Node.Count, brain.Graph.Node.Count);
        foreach (var (h, b) in half.Graph.Node.Zip(brain.Graph.Node))
        {
            Assert.Equal((h.OpType, h.Domain, h.Name), (b.OpType, b.Domain, b.Name));
            Assert.Equal(h.Input, b.Input);
            Assert.Equal(h.Output, b.Output);
            Assert.Equal(h.Attribute.Count, b.Attribute.Count);
            foreach (var (ha, ba) in h.Attribute.Zip(b.Attribute))
            {
                var halfValue = h.OpType == "Cast" && ha.I == (long)DataType.Float16 ? (long)DataType.Bfloat16 : ha.I;
                Assert.Equal((ha.Name, halfValue, ha.F), (ba.Name, ba.I, ba.F));
                Assert.Equal(ha.Ints, ba.Ints);
            }
        }

        Assert.Equal(half.Graph.Initializer.Select(Describe), brain.Graph.Initializer.Select(Describe));
        Assert.All(brain.Graph.Input.Concat(brain.Graph.Output), v => Assert.Equal((int)DataType.Float, v.Type.TensorType.ElemType));
        Assert.Contains(brain.Graph.Node, n => n.OpType == "Cast" && n.Attribute.Single().I == (long)DataType.Bfloat16);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BFloat16_graphs_pass_type_inference_and_stop_only_at_the_missing_cpu_conv(bool encoder)
    {
        using var model = new VaeTestModel(OracleWeights);
        var path = encoder ? model.SaveEncoder(ComputePrecision.BFloat16) : model.SaveDecoder(ComputePrecision.BFloat16);

        // Loading resolves the graph (type and shape inference) before it looks for kernels, so a
        // type error would surface as INVALID_GRAPH instead.
        var error = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(path).Dispose());

        output.WriteLine(error.Message);
        Assert.Contains("[ErrorCode:NotImplemented] Could not find an implementation for Conv(22)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ComputePrecision.Float16)]
    [InlineData(ComputePrecision.BFloat16)]
    public void Low_precision_graphs_use_only_operators_with_cuda_kernels_for_their_types(ComputePrecision precision)
    {
        using var model = new VaeTestModel(OracleWeights);

        foreach (var graph in new[] { Build(model, precision, encoder: true).Graph, Build(model, precision, encoder: false).Graph })
        {
            Assert.All(graph.Node, n => Assert.Contains(n.OpType, CudaLowPrecisionOperators));
            var producers = graph.Node.SelectMany(n => n.Output.Select(o => (Output: o, Node: n))).ToDictionary(p => p.Output, p => p.Node);
            var norms = graph.Node.Where(n => n.OpType == "InstanceNormalization").ToList();
            Assert.NotEmpty(norms);
            Assert.All(norms, n =>
            {
                var reshape = producers[n.Input[0]];
                var cast = producers[reshape.Input[0]];
                Assert.Equal(("Reshape", "Cast", (long)DataType.Float), (reshape.OpType, cast.OpType, cast.Attribute.Single().I));
            });
        }
    }

    [Fact]
    public void Graphs_declare_the_opset_that_has_the_cuda_bf16_conv()
    {
        using var model = new VaeTestModel(OracleWeights);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(model.SaveEncoder(ComputePrecision.BFloat16)));

        Assert.Equal(22, proto.OpsetImport.Single(o => o.Domain.Length == 0).Version);
    }

    private static string Describe(TensorProto initializer) =>
        $"{initializer.Name} {(DataType)initializer.DataType} [{string.Join(",", initializer.Dims)}] {string.Join(";", initializer.ExternalData.Select(e => e.Key + "=" + e.Value))}";

    private static ModelProto Build(VaeTestModel model, ComputePrecision precision, bool encoder)
    {
        var weights = model.OpenWeights();
        var graph = encoder
            ? Flux2VaeGraphs.BuildEncoder(weights, Flux2VaeConfig.FixtureTiny, precision, model.Folder)
            : Flux2VaeGraphs.BuildDecoder(weights, Flux2VaeConfig.FixtureTiny, precision, model.Folder);
        return graph.Build(Flux2VaeGraphs.Opset);
    }
}
