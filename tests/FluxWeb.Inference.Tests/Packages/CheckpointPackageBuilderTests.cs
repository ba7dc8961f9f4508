using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Vae;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Packages;

public sealed class CheckpointPackageBuilderTests(ITestOutputHelper output)
{
    private static CheckpointBuildRequest TinyRequest(string from, string id) => new()
    {
        From = from,
        Id = id,
        Precision = ComputePrecision.Float32,
        Licence = ModelLicence.Apache2(),
    };

    /// <summary>BFL single file + a separate text encoder, VAE (BFL names, like ae.safetensors) and tokenizer, all of one seed.</summary>
    private static CheckpointBuildRequest WriteBflSources(TempDirectory temp, string fileName, bool fp8)
    {
        var transformer = temp.Combine("bfl", fileName);
        TinyCheckpoint.WriteBflTransformer(transformer, fp8: fp8);
        TinyCheckpoint.WriteTextEncoder(temp.Combine("qwen3"));
        TinyCheckpoint.WriteVae(temp.Combine("ae.safetensors"), naming: Flux2VaeNaming.Bfl);
        return TinyRequest(transformer, "tiny-bfl") with
        {
            TextEncoder = temp.Combine("qwen3"),
            Vae = temp.Combine("ae.safetensors"),
            Tokenizer = KleinPromptTokenizer.BundledTokenizerPath,
        };
    }

    [Fact]
    public void Diffusers_folder_builds_a_package_that_runs_and_verifies()
    {
        using var temp = new TempDirectory();
        var source = temp.Combine("FLUX.2-klein-tiny");
        TinyCheckpoint.WriteDiffusers(source);
        var models = temp.Combine("models");

        var result = CheckpointPackageBuilder.Build(models, TinyRequest(source, "tiny"));

        var manifest = result.Manifest;
        output.WriteLine($"built in {result.Elapsed.TotalSeconds:0.00} s; {string.Join(", ", result.Plan.Notes)}");
        Assert.Equal(CheckpointLayout.Diffusers, result.Plan.Layout);
        Assert.Equal("test-h64-d2-s2", manifest.Family);
        Assert.False(result.Plan.IsOfficialFamily);
        Assert.Equal(ModelVariant.Distilled, manifest.Variant);
        Assert.Contains(result.Plan.Notes, n => n.Contains("model_index.json is_distilled: true", StringComparison.Ordinal));
        Assert.Equal("bf16", manifest.Precision.Weights);
        Assert.Equal("fp32", manifest.Precision.Compute);
        Assert.Equal("Apache-2.0", manifest.Licence!.Id);
        Assert.False(manifest.Demo);
        Assert.Equal(3 * 32, manifest.Preview!.Factors.Length);
        Assert.StartsWith("qwen3-h32-", manifest.TextEncoder.Id, StringComparison.Ordinal);
        Assert.Equal(96, manifest.TextEncoder.ContextDim);
        Assert.Equal(4, manifest.Sampling.DefaultSteps);

        // Weights are hard links of the source files (same file system), shards and index included.
        Assert.Equal(
            ["weights/text_encoder/model-00001-of-00002.safetensors", "weights/text_encoder/model-00002-of-00002.safetensors", "weights/transformer/diffusion_pytorch_model.safetensors", "weights/vae/diffusion_pytorch_model.safetensors"],
            result.Placed.Select(p => p.PackagePath).Order(StringComparer.Ordinal));
        Assert.All(result.Placed, p => Assert.Equal(FileLinks.Method.HardLink, p.Method));
        var folder = Path.Combine(models, "tiny");
        Assert.Contains(manifest.Files, f => f.Path == "weights/text_encoder/model.safetensors.index.json");
        Assert.Contains(manifest.Files, f => f.Path == "weights/transformer/config.json");
        Assert.Contains(manifest.Files, f => f.Path == "weights/model_index.json");
        File.AppendAllText(Path.Combine(source, "transformer", "config.json"), " ");
        Assert.NotEqual(File.ReadAllText(Path.Combine(source, "transformer", "config.json")), File.ReadAllText(Path.Combine(folder, "weights", "transformer", "config.json")));

        PackageRunner.RunAll(folder);
        var verification = ModelPackageVerifier.Verify(folder);
        Assert.True(verification.Ok, string.Join("\n", verification.Problems));
        Assert.True(verification.WeightBindingsChecked > 100);
    }

    [Fact]
    public void Bfl_single_file_builds_a_transformer_that_computes_what_the_diffusers_one_does()
    {
        using var temp = new TempDirectory();
        var models = temp.Combine("models");
        TinyCheckpoint.WriteDiffusers(temp.Combine("diffusers"));
        CheckpointPackageBuilder.Build(models, TinyRequest(temp.Combine("diffusers"), "from-diffusers"));

        var bfl = CheckpointPackageBuilder.Build(models, WriteBflSources(temp, "flux-2-klein-tiny.safetensors", fp8: false));

        Assert.Equal(CheckpointLayout.BflSingleFile, bfl.Plan.Layout);
        Assert.Equal(FluxWeb.Inference.Transformer.Flux2Naming.Bfl, bfl.Plan.TransformerNaming);
        Assert.Equal("bf16", bfl.Manifest.Precision.Weights);
        Assert.Contains(bfl.Manifest.Files, f => f.Path == "weights/transformer/flux-2-klein-tiny.safetensors");
        Assert.Contains(bfl.Manifest.Files, f => f.Path == "weights/vae/ae.safetensors");
        Assert.Equal(ModelVariant.Distilled, bfl.Manifest.Variant);
        var fromDiffusers = PackageRunner.RunAll(Path.Combine(models, "from-diffusers"));
        var fromBfl = PackageRunner.RunAll(Path.Combine(models, "tiny-bfl"));

        // Same seed, same BF16 values under the other naming (fused qkv, swapped adaLN halves): same model.
        var difference = OnnxTestRunner.MaxAbsDiff(fromDiffusers.Velocity, fromBfl.Velocity);
        output.WriteLine($"BFL vs diffusers transformer: max abs difference {difference:E2}");
        Assert.True(difference < 1e-4f, $"BFL and diffusers builds differ by {difference:E2}");
        Assert.True(OnnxTestRunner.MaxAbsDiff(fromDiffusers.Image, fromBfl.Image) < 1e-4f);
        Assert.True(ModelPackageVerifier.Verify(Path.Combine(models, "tiny-bfl")).Ok);
    }

    [Fact]
    public void Official_style_fp8_file_builds_with_in_graph_dequantisation()
    {
        using var temp = new TempDirectory();
        var models = temp.Combine("models");
        var request = WriteBflSources(temp, "flux-2-klein-tiny-fp8.safetensors", fp8: true);
        var checkpoint = SafeTensorsFile.Open(request.From);
        Assert.Equal(SafeTensorDType.F8_E4M3, checkpoint.Get("double_blocks.0.img_attn.qkv.weight").DType);
        Assert.Equal(SafeTensorDType.F32, checkpoint.Get("single_blocks.1.linear2.weight_scale").DType);
        Assert.Empty(checkpoint.Get("single_blocks.1.linear2.input_scale").Shape);

        var result = CheckpointPackageBuilder.Build(models, request with { Id = null });

        Assert.Equal("fp8", result.Manifest.Precision.Weights);
        Assert.Equal("test-h64-d2-s2-fp8", result.Manifest.Id);
        var outputs = PackageRunner.RunAll(Path.Combine(models, result.Manifest.Id));
        Assert.Equal(4 * 128, outputs.Velocity.Length);
        Assert.True(ModelPackageVerifier.Verify(Path.Combine(models, result.Manifest.Id)).Ok);
    }

    [Fact]
    public void Single_file_without_its_other_parts_says_which_options_are_missing()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("flux-2-klein-tiny.safetensors");
        TinyCheckpoint.WriteBflTransformer(file);

        var error = Assert.Throws<ArgumentException>(() => CheckpointPackageBuilder.Build(temp.Combine("models"), TinyRequest(file, "x") with { Vae = temp.Path }));

        Assert.Contains("--text-encoder <folder>", error.Message, StringComparison.Ordinal);
        Assert.Contains("--tokenizer <tokenizer.json>", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("--vae", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("models")));
    }

    [Fact]
    public void Variant_comes_from_the_option_then_model_index_then_the_name()
    {
        using var temp = new TempDirectory();
        var request = WriteBflSources(temp, "flux-2-klein-base-tiny.safetensors", fp8: false);
        Assert.Equal(ModelVariant.Base, CheckpointPackageBuilder.Inspect(request).Variant);
        Assert.Equal(ModelVariant.Distilled, CheckpointPackageBuilder.Inspect(request with { Variant = ModelVariant.Distilled }).Variant);

        var diffusers = temp.Combine("FLUX.2-klein-base-tiny");
        TinyCheckpoint.WriteDiffusers(diffusers, distilled: true);
        var plan = CheckpointPackageBuilder.Inspect(TinyRequest(diffusers, "x"));
        Assert.Equal(ModelVariant.Distilled, plan.Variant);
        Assert.Contains(plan.Notes, n => n.Contains("is_distilled", StringComparison.Ordinal));

        File.WriteAllText(Path.Combine(diffusers, "model_index.json"), "{\"_class_name\": \"Flux2KleinPipeline\", \"is_distilled\": false}");
        var basePlan = CheckpointPackageBuilder.Inspect(TinyRequest(diffusers, "x"));
        Assert.Equal(ModelVariant.Base, basePlan.Variant);
        Assert.Equal(50, ManifestTemplates.SamplingFor(basePlan.Variant).DefaultSteps);
    }

    [Fact]
    public void A_checkpoint_of_another_size_needs_a_licence_from_the_operator()
    {
        using var temp = new TempDirectory();
        TinyCheckpoint.WriteDiffusers(temp.Combine("src"));

        var error = Assert.Throws<ArgumentException>(() => CheckpointPackageBuilder.Inspect(TinyRequest(temp.Combine("src"), "x") with { Licence = null }));

        Assert.Contains("cannot know its licence: pass --licence", error.Message, StringComparison.Ordinal);
        Assert.False(CheckpointPackageBuilder.Inspect(TinyRequest(temp.Combine("src"), "x") with { Licence = ModelLicence.FluxNonCommercial() }).Licence.CommercialUse);
    }

    [Fact]
    public void Mismatched_text_encoder_is_refused()
    {
        using var temp = new TempDirectory();
        var request = WriteBflSources(temp, "flux-2-klein-tiny.safetensors", fp8: false);
        var other = temp.Combine("other-qwen3", "model.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(other)!);
        Qwen3RandomWeights.Write(other, Qwen3Config.DemoTiny with { HiddenSize = 48 }, seed: 1);

        var error = Assert.Throws<ArgumentException>(() => CheckpointPackageBuilder.Inspect(request with { TextEncoder = other }));

        Assert.Contains("takes 96-wide prompt embeddings but the text encoder", error.Message, StringComparison.Ordinal);
        Assert.Contains("gives 144", error.Message, StringComparison.Ordinal);
    }

    // Full-size layouts as sparse files (headers only): detection and licence without 20 GB of weights.
    private static string OfficialDiffusersFolder(TempDirectory temp, string name, string transformerTable, string textTable, Qwen3Config textConfig)
    {
        var folder = temp.Combine(name);
        WeightTables.WriteSparse(transformerTable, Path.Combine(folder, "transformer"), "diffusion_pytorch_model.safetensors");
        WeightTables.WriteSparse(textTable, Path.Combine(folder, "text_encoder"), "model.safetensors");
        File.WriteAllText(Path.Combine(folder, "text_encoder", "config.json"), $$"""
            {"model_type": "qwen3", "hidden_size": {{textConfig.HiddenSize}}, "intermediate_size": {{textConfig.IntermediateSize}}, "num_hidden_layers": 36,
             "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "rms_norm_eps": 1e-06, "rope_theta": 1000000,
             "tie_word_embeddings": {{(textConfig.TieWordEmbeddings ? "true" : "false")}}, "hidden_act": "silu"}
            """);
        WeightTables.WriteSparse("flux2-vae.tsv", Path.Combine(folder, "vae"), "diffusion_pytorch_model.safetensors");
        Directory.CreateDirectory(Path.Combine(folder, "tokenizer"));
        File.Copy(KleinPromptTokenizer.BundledTokenizerPath, Path.Combine(folder, "tokenizer", "tokenizer.json"));
        return folder;
    }

    [Fact]
    public void Official_4b_is_detected_from_its_shapes_and_takes_apache_2_from_the_family()
    {
        using var temp = new TempDirectory();
        var folder = OfficialDiffusersFolder(temp, "FLUX.2-klein-4B", "flux2-klein-4b-transformer.tsv", "qwen3-4b-text-encoder.tsv", Qwen3Config.Qwen3_4B);

        var plan = CheckpointPackageBuilder.Inspect(new CheckpointBuildRequest { From = folder });

        Assert.Equal("klein-4b", plan.Family);
        Assert.True(plan.IsOfficialFamily);
        Assert.Equal("klein-4b", plan.Id);
        Assert.Equal("FLUX.2 [klein] 4B", plan.DisplayName);
        Assert.Equal(ModelLicence.ApacheId, plan.Licence.Id);
        Assert.True(plan.Licence.CommercialUse);
        Assert.Equal("bf16", plan.WeightPrecision);
        Assert.Equal(ComputePrecision.BFloat16, plan.Precision);
        Assert.Equal("qwen3-4b", plan.TextEncoderId);
        Assert.Same(FluxWeb.Inference.Transformer.Flux2TransformerConfig.Klein4B, plan.TransformerConfig);
        Assert.Equal(Flux2VaeConfig.Official, plan.VaeConfig);

        var refused = Assert.Throws<ArgumentException>(() => CheckpointPackageBuilder.Inspect(new CheckpointBuildRequest { From = folder, Licence = ModelLicence.FluxNonCommercial() }));
        Assert.Contains("klein 4B is released under Apache-2.0", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Official_9b_fp8_single_file_is_non_commercial_and_needs_qwen3_8b()
    {
        using var temp = new TempDirectory();
        var transformer = WeightTables.WriteSparse("flux2-klein-9b-transformer-bfl-fp8.tsv", temp.Path, "flux-2-klein-9b-fp8.safetensors");
        // Comfy ships the text encoder as one bare file: its configuration is read from the shapes.
        var qwen8 = WeightTables.WriteSparse("qwen3-8b-text-encoder.tsv", temp.Combine("te8"), "qwen_3_8b.safetensors");
        var qwen4 = WeightTables.WriteSparse("qwen3-4b-text-encoder.tsv", temp.Combine("te4"), "qwen_3_4b.safetensors");
        var vae = WeightTables.WriteSparse("flux2-vae.tsv", temp.Path, "flux2-vae.safetensors");
        var request = new CheckpointBuildRequest { From = transformer, TextEncoder = qwen8, Vae = vae, Tokenizer = KleinPromptTokenizer.BundledTokenizerPath };

        var plan = CheckpointPackageBuilder.Inspect(request);

        Assert.Equal("klein-9b", plan.Family);
        Assert.Equal("klein-9b-fp8", plan.Id);
        Assert.Equal("FLUX.2 [klein] 9B FP8", plan.DisplayName);
        Assert.Equal(ModelLicence.FluxNonCommercialId, plan.Licence.Id);
        Assert.False(plan.Licence.CommercialUse);
        Assert.Equal("fp8", plan.WeightPrecision);
        Assert.Equal("qwen3-8b", plan.TextEncoderId);
        Assert.False(plan.TextEncoderConfig.TieWordEmbeddings);
        Assert.Equal(CheckpointLayout.BflSingleFile, plan.Layout);

        var wrongEncoder = Assert.Throws<ArgumentException>(() => CheckpointPackageBuilder.Inspect(request with { TextEncoder = qwen4 }));
        Assert.Equal("klein 9B takes 12288-wide prompt embeddings from Qwen3-8B; the text encoder in " + qwen4 + " is Qwen3-4B, which belongs to klein 4B.", wrongEncoder.Message);
        Assert.Equal(ModelVariant.Base, CheckpointPackageBuilder.Inspect(request with { Variant = ModelVariant.Base }).Variant);
        Assert.Equal("klein-base-9b", CheckpointPackageBuilder.Inspect(request with { Variant = ModelVariant.Base }).Family);
    }
}
