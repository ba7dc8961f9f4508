using FluxWeb.Inference.Packages;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.Packages;

public sealed class DemoPackageTests
{
    [Fact]
    public void Demo_package_builds_validates_and_every_graph_runs_with_finite_outputs()
    {
        using var models = new TempDirectory();

        var manifest = DemoPackage.Create(models.Path, "demo");

        var folder = Path.Combine(models.Path, "demo");
        var reread = ModelPackageManifest.Read(Path.Combine(folder, ModelPackageManifest.FileName));
        Assert.True(reread.Demo);
        Assert.EndsWith("(demo — random weights)", reread.Label, StringComparison.Ordinal);
        Assert.Equal("Apache-2.0", reread.Licence!.Id);
        Assert.Contains(reread.Files, f => f.Path == "weights/transformer/diffusion_pytorch_model.safetensors");
        Assert.DoesNotContain(Directory.GetDirectories(models.Path), d => Path.GetFileName(d).StartsWith('.'));
        Assert.True(manifest.Transformer.Parameters > 0);

        using var tokenizer = new KleinPromptTokenizer(Path.Combine(folder, reread.Tokenizer.File));
        var tokens = tokenizer.Encode("a red fox in the snow");
        using var textEncoder = new InferenceSession(Path.Combine(folder, ManifestTemplates.TextEncoderFile));
        using var embeddings = textEncoder.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(tokens.InputIds, [1, 512])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(tokens.AttentionMask, [1, 512])),
        ]);
        var context = embeddings.Single().AsTensor<float>();
        Assert.Equal([1, 512, reread.TextEncoder.ContextDim], context.Dimensions.ToArray());
        Assert.All(context.ToArray(), v => Assert.True(float.IsFinite(v)));

        using var transformer = new InferenceSession(Path.Combine(folder, ManifestTemplates.TransformerFile));
        var imageTokens = 16;
        using var velocity = transformer.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(new float[imageTokens * 128], [1, imageTokens, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, context.ToDenseTensor()),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(new[] { 1f }, [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(FluxWeb.Inference.Pipeline.LatentLayout.GridIds(4, 4), [imageTokens, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(FluxWeb.Inference.Pipeline.LatentLayout.TextIds(512), [512, 4])),
        ]);
        var v = velocity.Single().AsTensor<float>();
        Assert.Equal([1, imageTokens, 128], v.Dimensions.ToArray());
        Assert.All(v.ToArray(), x => Assert.True(float.IsFinite(x)));
        Assert.True(v.ToArray().Max(Math.Abs) > 0, "a random model should not output all zeros");
    }

    [Fact]
    public void Building_over_an_existing_package_is_refused_and_nothing_is_left_behind()
    {
        using var models = new TempDirectory();
        DemoPackage.Create(models.Path, "demo");

        var error = Assert.Throws<InvalidOperationException>(() => DemoPackage.Create(models.Path, "demo"));

        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Equal(["demo"], Directory.GetDirectories(models.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_non_commercial_demo_carries_that_licence()
    {
        using var models = new TempDirectory();

        var manifest = DemoPackage.Create(models.Path, "demo-nc", ModelLicence.FluxNonCommercial());

        Assert.False(manifest.AllowsCommercialUse);
        Assert.Equal("FLUX-Non-Commercial", manifest.Licence!.Id);
    }

    [Fact]
    public void Diffusers_tensor_list_matches_the_official_4b_and_9b_tables()
    {
        foreach (var (table, config) in new[] { ("flux2-klein-4b-transformer.tsv", Flux2TransformerConfig.Klein4B), ("flux2-klein-9b-transformer.tsv", Flux2TransformerConfig.Klein9B) })
        {
            var official = WeightTables.Read(table).Select(r => (r.Name, string.Join(",", r.Shape))).Order().ToList();
            var ours = Flux2TransformerRandomWeights.DiffusersTensors(config).Select(t => (t.Name, string.Join(",", t.Shape))).Order().ToList();
            Assert.Equal(official, ours);
        }
    }
}
