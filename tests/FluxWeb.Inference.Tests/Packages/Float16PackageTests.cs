using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Onnx;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Packages;

/// <summary>
/// fp16 packages store their weights as fp16 at build time: no graph casts a stored weight to fp16
/// when a session loads (a 4B package cast 467 bf16 tensors on the CPU at every load).
/// </summary>
public sealed class Float16PackageTests(ITestOutputHelper output)
{
    [Fact]
    public void An_fp16_package_stores_fp16_weights_runs_and_verifies()
    {
        using var temp = new TempDirectory();
        var source = temp.Combine("FLUX.2-klein-tiny");
        TinyCheckpoint.WriteDiffusers(source);
        var models = temp.Combine("models");
        var notes = new List<string>();

        var half = CheckpointPackageBuilder.Build(models, new CheckpointBuildRequest { From = source, Id = "tiny-fp16", Precision = ComputePrecision.Float16, Licence = ModelLicence.Apache2() }, new ListProgress(notes));
        CheckpointPackageBuilder.Build(models, new CheckpointBuildRequest { From = source, Id = "tiny-fp32", Precision = ComputePrecision.Float32, Licence = ModelLicence.Apache2() });

        foreach (var note in notes.Where(n => n.Contains("fp16", StringComparison.Ordinal)))
        {
            output.WriteLine(note);
        }

        var folder = Path.Combine(models, "tiny-fp16");
        Assert.Equal(["weights/fp16/text_encoder.safetensors", "weights/fp16/transformer.safetensors", "weights/fp16/vae.safetensors"],
            half.Manifest.Files.Select(f => f.Path).Where(p => p.StartsWith("weights/fp16/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        foreach (var graph in new[] { ManifestTemplates.TextEncoderFile, ManifestTemplates.TransformerFile, ManifestTemplates.VaeEncoderFile, ManifestTemplates.VaeDecoderFile })
        {
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, graph)));
            var external = model.Graph.Initializer.Where(i => i.DataLocation == TensorProto.Types.DataLocation.External).ToDictionary(i => i.Name);
            var castAtLoad = model.Graph.Node.Where(n => n.OpType == "Cast" && external.ContainsKey(n.Input[0]) && n.Attribute.Single().I == (long)DataType.Float16).Select(n => n.Input[0]).ToList();
            Assert.True(castAtLoad.Count == 0, $"{graph} casts {castAtLoad.Count} stored weights to fp16 at load: {string.Join(", ", castAtLoad.Take(3))}");
            Assert.Contains(external.Values, i => i.DataType == (int)DataType.Float16);
        }

        // fp16 runs on the CPU (through ONNX Runtime's float32 casts around each operator): close to the fp32 package.
        var fromHalf = PackageRunner.RunAll(folder);
        var fromFloat = PackageRunner.RunAll(Path.Combine(models, "tiny-fp32"));
        var velocityError = OnnxTestRunner.MaxAbsDiff(fromFloat.Velocity, fromHalf.Velocity);
        var imageError = OnnxTestRunner.MaxAbsDiff(fromFloat.Image, fromHalf.Image);
        output.WriteLine($"fp16 package vs fp32 package: velocity max |Δ| {velocityError:E2}, image {imageError:E2}");
        Assert.True(velocityError < 0.05f && imageError < 0.05f, $"velocity {velocityError:E2}, image {imageError:E2}");
        var verification = ModelPackageVerifier.Verify(folder);
        Assert.True(verification.Ok, string.Join("\n", verification.Problems));
    }

    [Fact]
    public void A_bf16_transformer_rotates_in_float32_like_diffusers()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("transformer.safetensors");
        TinyCheckpoint.WriteBflTransformer(file);
        var model = Flux2TransformerGraph.Build(WeightSet.Open(file), TinyCheckpoint.TransformerConfig, ComputePrecision.BFloat16, temp.Path).Build();
        var producers = model.Graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var consumers = model.Graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);

        var rotations = model.Graph.Node.Where(n => n.OpType == "RotaryEmbedding").ToList();

        Assert.Equal(2 * (2 + 2), rotations.Count); // q and k of every block
        Assert.All(rotations, rotary =>
        {
            var input = producers[rotary.Input[0]];
            Assert.Equal(("Cast", (long)DataType.Float), (input.OpType, input.Attribute.Single().I));
            Assert.All(new[] { rotary.Input[2], rotary.Input[3] }, table => Assert.Equal(("Cast", (long)DataType.Float), (producers[table].OpType, producers[table].Attribute.Single().I)));
            var back = consumers[rotary.Output[0]].Single();
            Assert.Equal(("Cast", (long)DataType.Bfloat16), (back.OpType, back.Attribute.Single().I));
        });
    }

    private sealed class ListProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
