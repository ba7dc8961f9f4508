using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;

namespace FluxWeb.Inference.Packages;

/// <summary>What to build a package from, and the few choices the checkpoint cannot answer itself.</summary>
public sealed record CheckpointBuildRequest
{
    /// <summary>A diffusers-layout folder (transformer/, text_encoder/, vae/, tokenizer/), or BFL's single transformer file.</summary>
    public required string From { get; init; }

    /// <summary>Package id; by default the family (plus <c>-fp8</c> for FP8 weights).</summary>
    public string? Id { get; init; }

    public ComputePrecision Precision { get; init; } = ComputePrecision.BFloat16;

    /// <summary>Null: model_index.json's <c>is_distilled</c>, else "base" in the source's name means base, else distilled.</summary>
    public ModelVariant? Variant { get; init; }

    /// <summary>Qwen3 text encoder (folder with config.json and weights, or a weights file); required with a single-file checkpoint.</summary>
    public string? TextEncoder { get; init; }

    /// <summary>FLUX.2 VAE weights (file or folder); required with a single-file checkpoint.</summary>
    public string? Vae { get; init; }

    /// <summary>Qwen3 <c>tokenizer.json</c> (or a folder holding it); required with a single-file checkpoint.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Only for checkpoints that are not an official klein size: official families carry their own licence.</summary>
    public ModelLicence? Licence { get; init; }

    public string? DisplayName { get; init; }

    /// <summary>How the manifest names the source (e.g. the Hugging Face repo and commit); also searched for "base". Defaults to the folder or file name.</summary>
    public string? SourceName { get; init; }
}

/// <summary>Everything decided about a checkpoint before anything is written (headers and configs only).</summary>
public sealed record CheckpointPlan(
    CheckpointLayout Layout,
    string SourceName,
    string Id,
    string Family,
    ModelVariant Variant,
    ModelLicence Licence,
    string WeightPrecision,
    ComputePrecision Precision,
    string DisplayName,
    Flux2TransformerConfig TransformerConfig,
    Flux2Naming TransformerNaming,
    Qwen3Config TextEncoderConfig,
    string TextEncoderId,
    Flux2VaeConfig VaeConfig,
    ComponentFiles Transformer,
    ComponentFiles TextEncoder,
    ComponentFiles Vae,
    string TokenizerFile,
    string? ModelIndexFile,
    IReadOnlyList<string> Notes,
    bool ConvertNvfp4Layout = false)
{
    public bool IsOfficialFamily => ModelLicence.ForFamily(Family) is not null;
}

public sealed record PlacedFile(string PackagePath, FileLinks.Method Method, long Bytes);

public sealed record CheckpointBuildResult(ModelPackageManifest Manifest, CheckpointPlan Plan, IReadOnlyList<PlacedFile> Placed, TimeSpan Elapsed);

/// <summary>
/// Builds a model package from the official checkpoints: the diffusers-format repo folder, or BFL's
/// single transformer file (BF16 or FP8) with a separate text encoder, VAE and tokenizer. The family
/// (4B or 9B) comes from the weights' shapes and the licence from the family, never from the user;
/// the weights are hard-linked into the package when the file system allows (else copied) and the
/// four graphs point into them.
/// </summary>
public static class CheckpointPackageBuilder
{
    public static CheckpointBuildResult Build(string modelsDirectory, CheckpointBuildRequest request, IProgress<string>? progress = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var plan = Inspect(request);
        foreach (var note in plan.Notes)
        {
            progress?.Report(note);
        }

        var placed = new List<PlacedFile>();
        var manifest = PackageStaging.Build(modelsDirectory, plan.Id, folder =>
        {
            placed.AddRange(plan.ConvertNvfp4Layout ? ConvertNvfp4(folder, plan.Transformer, progress) : Place(folder, "transformer", plan.Transformer, progress));
            placed.AddRange(Place(folder, "text_encoder", plan.TextEncoder, progress));
            placed.AddRange(Place(folder, "vae", plan.Vae, progress));
            File.Copy(plan.TokenizerFile, Path.Combine(folder, ManifestTemplates.TokenizerFile));
            if (plan.ModelIndexFile is not null)
            {
                File.Copy(plan.ModelIndexFile, Path.Combine(folder, "weights", "model_index.json"));
            }

            var weights = new PackageWeights(
                Path.Combine(folder, "weights", "text_encoder"), plan.TextEncoderConfig,
                Path.Combine(folder, "weights", "transformer"), plan.TransformerConfig,
                Path.Combine(folder, "weights", "vae"), plan.VaeConfig);
            var built = PackageComponents.Build(folder, weights, plan.Precision, progress);
            return new ModelPackageManifest
            {
                SchemaVersion = ModelPackageManifest.CurrentSchemaVersion,
                Id = plan.Id,
                DisplayName = plan.DisplayName,
                Description = $"Built by FluxWeb from {plan.SourceName} ({(plan.Layout == CheckpointLayout.Diffusers ? "diffusers layout" : "BFL single file")}, {plan.WeightPrecision} weights); the graphs compute in {plan.Precision.ManifestName()}.",
                Family = plan.Family,
                Variant = plan.Variant,
                Licence = plan.Licence,
                Precision = new PrecisionInfo { Weights = plan.WeightPrecision, Compute = plan.Precision.ManifestName() },
                Sampling = ManifestTemplates.SamplingFor(plan.Variant),
                TextEncoder = new TextEncoderInfo
                {
                    Id = plan.TextEncoderId,
                    HiddenSize = plan.TextEncoderConfig.HiddenSize,
                    ContextDim = plan.TransformerConfig.ContextDim,
                    MaxTokens = KleinPromptTokenizer.MaxLength,
                },
                Tokenizer = new TokenizerInfo { File = ManifestTemplates.TokenizerFile },
                Components = built.Components,
                Transformer = new TransformerInfo
                {
                    Hidden = plan.TransformerConfig.Hidden,
                    Heads = plan.TransformerConfig.Heads,
                    DoubleBlocks = plan.TransformerConfig.DoubleBlocks,
                    SingleBlocks = plan.TransformerConfig.SingleBlocks,
                    InChannels = plan.TransformerConfig.InChannels,
                    Parameters = built.TransformerParameters,
                },
                Preview = built.Preview,
                Build = new BuildInfo { Tool = DemoPackage.BuildTool, CreatedUtc = DateTimeOffset.UtcNow, Source = plan.SourceName },
            };
        }, progress);

        return new CheckpointBuildResult(manifest, plan, placed, stopwatch.Elapsed);
    }

    /// <summary>Reads the checkpoint's headers and configs and decides family, variant, licence and precision; writes nothing.</summary>
    public static CheckpointPlan Inspect(CheckpointBuildRequest request)
    {
        var notes = new List<string>();
        var (layout, transformerFiles, modelIndex, defaultTextEncoder, defaultVae, defaultTokenizer) = LocateLayout(request);
        var sourceName = request.SourceName ?? Path.GetFileName(Path.GetFullPath(request.From).TrimEnd(Path.DirectorySeparatorChar));

        var transformerWeights = transformerFiles.Open();
        var names = Flux2WeightNames.Detect(transformerWeights);
        var transformerConfig = TransformerConfigFromWeights(transformerWeights, transformerFiles.ConfigJson);
        var size = OfficialSize(transformerConfig);

        var textFiles = CheckpointSources.Locate("text_encoder", request.TextEncoder ?? defaultTextEncoder!, request.TextEncoder is null ? "text_encoder/" : "--text-encoder");
        var textConfig = textFiles.ConfigJson is { } textConfigJson
            ? Qwen3Config.FromHuggingFaceConfig(textConfigJson)
            : Qwen3ConfigFromWeights(textFiles.Open());
        CheckTextEncoder(transformerConfig, textConfig, size, request.TextEncoder ?? "text_encoder/");

        var vaeFiles = CheckpointSources.Locate("vae", request.Vae ?? defaultVae!, request.Vae is null ? "vae/" : "--vae");
        var vaeConfig = Flux2VaeConfig.FromWeights(vaeFiles.Open());
        if (vaeConfig.PatchedLatentChannels != transformerConfig.InChannels)
        {
            throw new ArgumentException($"The VAE gives {vaeConfig.PatchedLatentChannels} latent channels after patchifying but the transformer takes {transformerConfig.InChannels}: they do not belong together.");
        }

        if (size is not null && !vaeConfig.Equals(Flux2VaeConfig.Official))
        {
            throw new ArgumentException($"klein {size} needs the FLUX.2 VAE ({Flux2VaeConfig.Official}); this one is {vaeConfig}.");
        }

        var tokenizer = LocateTokenizer(request.Tokenizer ?? defaultTokenizer!, request.Tokenizer is null ? "tokenizer/" : "--tokenizer");

        var (variant, variantReason) = ChooseVariant(request.Variant, modelIndex, sourceName);
        notes.Add($"variant: {variant.ToString().ToLowerInvariant()} ({variantReason})");

        var family = size is null
            ? $"test-h{transformerConfig.Hidden}-d{transformerConfig.DoubleBlocks}-s{transformerConfig.SingleBlocks}"
            : variant == ModelVariant.Base ? $"klein-base-{size}" : $"klein-{size}";
        var licence = ChooseLicence(family, size, request.Licence);
        notes.Add(size is null
            ? $"family: {family} (not an official klein size: hidden {transformerConfig.Hidden}, {transformerConfig.DoubleBlocks}+{transformerConfig.SingleBlocks} blocks); licence {licence.Id} as given"
            : $"family: {family} (hidden {transformerConfig.Hidden}, context {transformerConfig.ContextDim}, text encoder Qwen3-{(size == "4b" ? "4B" : "8B")}); licence {licence.Id} from the family");

        var quantized = QuantizedLinearCount(transformerWeights, names, transformerConfig);
        var weightPrecision = quantized.Nvfp4 > 0 ? "nvfp4" : quantized.Fp8 > 0 ? "fp8" : WeightPrecisionName(transformerWeights, names, transformerConfig);
        var quantizedNote = quantized.Nvfp4 > 0
            ? $", {quantized.Nvfp4} NVFP4 linears ({(transformerFiles.WeightFiles.Select(SafeTensorsFile.Open).Any(Nvfp4.IsComfyLayout) ? "ComfyUI's tiled layout, converted once to the row-major layout ONNX Runtime reads" : "row-major layout")}){(quantized.Fp8 > 0 ? $", {quantized.Fp8} FP8" : "")}"
            : quantized.Fp8 > 0 ? $", {quantized.Fp8} FP8 E4M3 linears with per-tensor scales" : "";
        notes.Add($"weights: {weightPrecision} ({(names.Naming == Flux2Naming.Bfl ? "BFL" : "diffusers")} names{quantizedNote}); graphs compute in {request.Precision.ManifestName()}");
        if (quantized.Nvfp4 + quantized.Fp8 > 0 && request.Precision == ComputePrecision.Float32)
        {
            notes.Add("note: float32 compute dequantises every quantized weight to float32 at run time (4 bytes a parameter while it is alive); on a GPU build with --precision bf16");
        }

        var suffix = weightPrecision is "fp8" or "nvfp4" ? $"-{weightPrecision}" : "";
        var id = request.Id ?? family + suffix;
        if (!ModelPackageValidator.IsValidId(id))
        {
            throw new ArgumentException($"--id '{id}' must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.");
        }

        var displayName = request.DisplayName ?? (size is null
            ? $"FLUX.2 checkpoint {sourceName.Split('@')[0]}"
            : $"FLUX.2 [klein] {(variant == ModelVariant.Base ? "Base " : "")}{size.ToUpperInvariant()}{(suffix.Length > 0 ? " " + weightPrecision.ToUpperInvariant() : "")}");
        var textEncoderId = size switch
        {
            "4b" => "qwen3-4b",
            "9b" => "qwen3-8b",
            // Embeddings are cached by this id: a checkpoint of another size gets an id from its bytes.
            _ => $"qwen3-h{textConfig.HiddenSize}-{ContentHash(textFiles.WeightFiles)[..12]}",
        };

        return new CheckpointPlan(
            layout, sourceName, id, family, variant, licence, weightPrecision, request.Precision, displayName,
            transformerConfig, names.Naming, textConfig, textEncoderId, vaeConfig,
            transformerFiles, textFiles, vaeFiles, tokenizer, modelIndex, notes,
            ConvertNvfp4Layout: quantized.Nvfp4 > 0 && transformerFiles.WeightFiles.Select(SafeTensorsFile.Open).Any(Nvfp4.IsComfyLayout));
    }

    private static (CheckpointLayout, ComponentFiles, string? ModelIndex, string? TextEncoder, string? Vae, string? Tokenizer) LocateLayout(CheckpointBuildRequest request)
    {
        var from = request.From;
        if (Directory.Exists(Path.Combine(from, "transformer")))
        {
            var missing = new List<string>();
            if (request.TextEncoder is null && !Directory.Exists(Path.Combine(from, "text_encoder")))
            {
                missing.Add("text_encoder/");
            }

            if (request.Vae is null && !Directory.Exists(Path.Combine(from, "vae")))
            {
                missing.Add("vae/");
            }

            if (request.Tokenizer is null && !File.Exists(Path.Combine(from, "tokenizer", "tokenizer.json")))
            {
                missing.Add("tokenizer/tokenizer.json");
            }

            if (missing.Count > 0)
            {
                throw new ArgumentException($"--from {from}: a diffusers-format checkpoint needs transformer/, text_encoder/, vae/ and tokenizer/tokenizer.json; missing {string.Join(", ", missing)}.");
            }

            var modelIndex = Path.Combine(from, "model_index.json");
            return (CheckpointLayout.Diffusers,
                CheckpointSources.Locate("transformer", Path.Combine(from, "transformer"), "transformer/"),
                File.Exists(modelIndex) ? Path.GetFullPath(modelIndex) : null,
                Path.Combine(from, "text_encoder"),
                Path.Combine(from, "vae"),
                Path.Combine(from, "tokenizer", "tokenizer.json"));
        }

        if (!File.Exists(from) && !Directory.Exists(from))
        {
            throw new ArgumentException($"--from {from}: no such file or folder.");
        }

        if (Directory.Exists(from) && Directory.GetFiles(from, "*.safetensors").Length == 0)
        {
            throw new ArgumentException($"--from {from}: neither a diffusers-format folder (no transformer/) nor a single-file checkpoint (no .safetensors).");
        }

        // A config.json beside a BFL file belongs to something else: BFL's files carry none.
        var transformer = CheckpointSources.Locate("transformer", from, "--from") with { SideFiles = [] };
        var absent = new[] { ("--text-encoder <folder>", request.TextEncoder), ("--vae <file|folder>", request.Vae), ("--tokenizer <tokenizer.json>", request.Tokenizer) }
            .Where(o => o.Item2 is null).Select(o => o.Item1).ToList();
        if (absent.Count > 0)
        {
            throw new ArgumentException($"--from {from} is a single-file checkpoint, which holds only the transformer: also pass {string.Join(", ", absent)}.");
        }

        return (CheckpointLayout.BflSingleFile, transformer, null, null, null, null);
    }

    /// <summary>Reads the transformer's sizes from its tensor shapes; config.json, when present, must agree.</summary>
    public static Flux2TransformerConfig TransformerConfigFromWeights(WeightSet weights, string? configJson)
    {
        var names = Flux2WeightNames.Detect(weights);
        var source = Path.GetFileName(weights.Source);
        var imageIn = weights.Get(names.ImageIn).Info.Shape;
        var textIn = weights.Get(names.TextIn).Info.Shape;
        var timeIn = weights.Get(names.TimeIn1).Info.Shape;
        if (imageIn.Length != 2 || textIn.Length != 2 || timeIn.Length != 2)
        {
            throw new SafeTensorsException(source, "has embedder weights that are not matrices; it is not a FLUX.2 transformer.");
        }

        var hidden = (int)imageIn[0];
        var doubleBlocks = 0;
        while (weights.Contains(names.AttentionOut(doubleBlocks, text: false)))
        {
            doubleBlocks++;
        }

        var singleBlocks = 0;
        while (weights.Contains(names.SingleIn(singleBlocks)))
        {
            singleBlocks++;
        }

        var headDim = (int)weights.Get(doubleBlocks > 0 ? names.DoubleQkNorm(0, text: false).Query : names.SingleQkNorm(0).Query).Info.Shape[0];
        // NVFP4 packs two inputs a byte: the logical width is twice the stored one.
        long Inputs(string name) => weights.Get(name).Info.Shape[1] * (QuantizedLinears.Storage(weights, name) == LinearStorage.Nvfp4 ? 2 : 1);
        var mlpHidden = doubleBlocks > 0
            ? Inputs(names.DoubleMlp(0, text: false).Out)
            : Inputs(names.SingleOut(0)) - hidden;
        if (headDim <= 0 || hidden % headDim != 0)
        {
            throw new SafeTensorsException(source, $"has hidden size {hidden} and a head dimension of {headDim}, which do not divide.");
        }

        int[] axes = headDim == 128 ? [32, 32, 32, 32] : headDim % 8 == 0 ? [headDim / 4, headDim / 4, headDim / 4, headDim / 4] : [];
        var theta = 2000f;
        if (configJson is not null)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(configJson));
            var root = document.RootElement;
            var shown = $"{Path.GetFileName(Path.GetDirectoryName(configJson))}/config.json";
            void Agree(string key, long actual)
            {
                if (root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Number && value.GetInt64() != actual)
                {
                    throw new ArgumentException($"{shown}: \"{key}\" is {value.GetInt64()} but the weights say {actual}.");
                }
            }

            Agree("num_layers", doubleBlocks);
            Agree("num_single_layers", singleBlocks);
            Agree("attention_head_dim", headDim);
            Agree("num_attention_heads", hidden / headDim);
            Agree("joint_attention_dim", textIn[1]);
            Agree("in_channels", imageIn[1]);
            if (root.TryGetProperty("axes_dims_rope", out var axesElement) && axesElement.ValueKind == JsonValueKind.Array)
            {
                axes = axesElement.EnumerateArray().Select(a => a.GetInt32()).ToArray();
            }

            if (root.TryGetProperty("rope_theta", out var thetaElement) && thetaElement.ValueKind == JsonValueKind.Number)
            {
                theta = (float)thetaElement.GetDouble();
            }
        }

        if (axes.Length == 0)
        {
            throw new SafeTensorsException(source, $"has head dimension {headDim}; without a config.json saying axes_dims_rope FluxWeb cannot split it into four RoPE axes.");
        }

        var config = new Flux2TransformerConfig(
            $"custom-h{hidden}", hidden, hidden / headDim, doubleBlocks, singleBlocks, (int)textIn[1], axes,
            InChannels: (int)imageIn[1], Theta: theta, MlpRatio: (float)mlpHidden / hidden, TimestepDim: (int)timeIn[1]);
        config.Validate();
        foreach (var official in new[] { Flux2TransformerConfig.Klein4B, Flux2TransformerConfig.Klein9B })
        {
            if (SameShape(config, official))
            {
                return official;
            }
        }

        return config;
    }

    private static bool SameShape(Flux2TransformerConfig a, Flux2TransformerConfig b) =>
        a.Hidden == b.Hidden && a.Heads == b.Heads && a.DoubleBlocks == b.DoubleBlocks && a.SingleBlocks == b.SingleBlocks
        && a.ContextDim == b.ContextDim && a.InChannels == b.InChannels && a.MlpHidden == b.MlpHidden && a.TimestepDim == b.TimestepDim
        && a.AxesDim.SequenceEqual(b.AxesDim) && a.Theta.Equals(b.Theta);

    /// <summary>"4b", "9b", or null for any other size.</summary>
    private static string? OfficialSize(Flux2TransformerConfig config) =>
        ReferenceEquals(config, Flux2TransformerConfig.Klein4B) ? "4b" : ReferenceEquals(config, Flux2TransformerConfig.Klein9B) ? "9b" : null;

    private static void CheckTextEncoder(Flux2TransformerConfig transformer, Qwen3Config text, string? size, string shown)
    {
        var width = Qwen3TextEncoderGraph.OutputWidth(text);
        if (size is not null)
        {
            var (expected, expectedName) = size == "4b" ? (Qwen3Config.Qwen3_4B, "Qwen3-4B") : (Qwen3Config.Qwen3_8B, "Qwen3-8B");
            if (!SameShape(text, expected))
            {
                var actualName = SameShape(text, Qwen3Config.Qwen3_4B) ? "Qwen3-4B, which belongs to klein 4B" : SameShape(text, Qwen3Config.Qwen3_8B) ? "Qwen3-8B, which belongs to klein 9B" : text.ToString();
                throw new ArgumentException($"klein {size.ToUpperInvariant()} takes {transformer.ContextDim}-wide prompt embeddings from {expectedName}; the text encoder in {shown} is {actualName}.");
            }
        }

        if (width != transformer.ContextDim)
        {
            throw new ArgumentException($"The transformer takes {transformer.ContextDim}-wide prompt embeddings but the text encoder in {shown} gives {width} (3 × hidden {text.HiddenSize}): they do not belong together.");
        }
    }

    /// <summary>
    /// Same model size. Layers count only as far as klein reads them (hidden_states[27]): an encoder
    /// trimmed after layer 27 is still the right one, and the graph builder refuses anything shorter.
    /// </summary>
    private static bool SameShape(Qwen3Config a, Qwen3Config b) =>
        a.HiddenSize == b.HiddenSize && a.IntermediateSize == b.IntermediateSize && a.HeadCount == b.HeadCount
        && a.KeyValueHeadCount == b.KeyValueHeadCount && a.HeadDim == b.HeadDim && a.VocabularySize == b.VocabularySize
        && a.LayerCount > Qwen3TextEncoderGraph.LayersBuilt && b.LayerCount > Qwen3TextEncoderGraph.LayersBuilt;

    /// <summary>A Qwen3 configuration from tensor shapes, for text encoders shipped as a bare file without config.json (Comfy's qwen_3_4b.safetensors).</summary>
    public static Qwen3Config Qwen3ConfigFromWeights(WeightSet weights)
    {
        var embedding = weights.Get(Qwen3WeightNames.Embedding).Info.Shape;
        var layers = 0;
        while (weights.Contains(Qwen3WeightNames.Layer(layers).QueryProjection))
        {
            layers++;
        }

        if (layers == 0)
        {
            throw new SafeTensorsException(Path.GetFileName(weights.Source), "has no decoder layers; it is not a Qwen3 text encoder.");
        }

        var layer = Qwen3WeightNames.Layer(0);
        var headDim = (int)weights.Get(layer.QueryNorm).Info.Shape[0];
        var config = new Qwen3Config(
            HiddenSize: (int)embedding[1],
            IntermediateSize: (int)weights.Get(layer.GateProjection).Info.Shape[0],
            LayerCount: layers,
            HeadCount: (int)(weights.Get(layer.QueryProjection).Info.Shape[0] / headDim),
            KeyValueHeadCount: (int)(weights.Get(layer.KeyProjection).Info.Shape[0] / headDim),
            HeadDim: headDim,
            VocabularySize: (int)embedding[0],
            TieWordEmbeddings: !weights.Contains(Qwen3WeightNames.LanguageModelHead)).Validate();
        // RMSNorm epsilon and RoPE theta are not in the tensors; these are Qwen3's (1e-6, 1e6), as the defaults say.
        return config;
    }

    private static string LocateTokenizer(string path, string shown)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file))
        {
            throw new ArgumentException($"{shown} {path}: no tokenizer.json there.");
        }

        try
        {
            using var stream = File.OpenRead(file);
            using var document = JsonDocument.Parse(stream);
            if (!document.RootElement.TryGetProperty("model", out _))
            {
                throw new ArgumentException($"{shown} {path}: not a Hugging Face tokenizer.json (no \"model\").");
            }
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{shown} {path}: not valid JSON ({ex.Message}).", ex);
        }

        return Path.GetFullPath(file);
    }

    private static (ModelVariant Variant, string Reason) ChooseVariant(ModelVariant? requested, string? modelIndex, string sourceName)
    {
        bool? distilled = null;
        if (modelIndex is not null)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(modelIndex));
            if (document.RootElement.TryGetProperty("is_distilled", out var flag) && flag.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                distilled = flag.GetBoolean();
            }
        }

        if (requested is { } chosen)
        {
            if (distilled is { } d && d != (chosen == ModelVariant.Distilled))
            {
                return (chosen, $"--variant, although model_index.json says is_distilled: {d.ToString().ToLowerInvariant()}");
            }

            return (chosen, "--variant");
        }

        if (distilled is { } fromIndex)
        {
            return (fromIndex ? ModelVariant.Distilled : ModelVariant.Base, $"model_index.json is_distilled: {fromIndex.ToString().ToLowerInvariant()}");
        }

        return sourceName.Split('@')[0].Contains("base", StringComparison.OrdinalIgnoreCase)
            ? (ModelVariant.Base, $"'{sourceName}' contains \"base\"; pass --variant distilled if that is wrong")
            : (ModelVariant.Distilled, $"'{sourceName}' does not contain \"base\"; pass --variant base if that is wrong");
    }

    private static ModelLicence ChooseLicence(string family, string? size, ModelLicence? requested)
    {
        var fromFamily = ModelLicence.ForFamily(family);
        if (fromFamily is not null)
        {
            if (requested is not null && requested.Id != fromFamily.Id)
            {
                throw new ArgumentException($"klein {size!.ToUpperInvariant()} is released under {fromFamily.Id}: FluxWeb takes an official family's licence from the family, so --licence {requested.Id} is refused (it is only for checkpoints of other sizes).");
            }

            return fromFamily;
        }

        return requested ?? throw new ArgumentException("This checkpoint is not an official klein 4B/9B size, so FluxWeb cannot know its licence: pass --licence Apache-2.0 or --licence FLUX-Non-Commercial.");
    }

    /// <summary>How many of the transformer's linears are stored NVFP4 and FP8 (official files quantize the block linears; mixed files exist).</summary>
    private static (int Nvfp4, int Fp8) QuantizedLinearCount(WeightSet weights, Flux2WeightNames names, Flux2TransformerConfig config)
    {
        var linears = new List<string> { names.ImageIn, names.TextIn, names.TimeIn1, names.TimeIn2, names.DoubleModulation("img"), names.DoubleModulation("txt"), names.SingleModulation, names.FinalModulation, names.FinalLinear };
        for (var block = 0; block < config.DoubleBlocks; block++)
        {
            foreach (var text in new[] { true, false })
            {
                linears.AddRange(names.FusedQkv(block, text) is { } fused ? [fused] : [names.SplitQkv(block, text).Q, names.SplitQkv(block, text).K, names.SplitQkv(block, text).V]);
                linears.Add(names.AttentionOut(block, text));
                linears.Add(names.DoubleMlp(block, text).In);
                linears.Add(names.DoubleMlp(block, text).Out);
            }
        }

        for (var block = 0; block < config.SingleBlocks; block++)
        {
            linears.Add(names.SingleIn(block));
            linears.Add(names.SingleOut(block));
        }

        var storage = linears.Where(weights.Contains).Select(l => QuantizedLinears.Storage(weights, l)).ToList();
        return (storage.Count(s => s == LinearStorage.Nvfp4), storage.Count(s => s == LinearStorage.Fp8));
    }

    private static string WeightPrecisionName(WeightSet weights, Flux2WeightNames names, Flux2TransformerConfig config)
    {
        var probe = config.DoubleBlocks > 0 ? names.DoubleMlp(0, text: false).In : names.ImageIn;
        return weights.Get(probe).Info.DType switch
        {
            SafeTensorDType.BF16 => "bf16",
            SafeTensorDType.F16 => "fp16",
            SafeTensorDType.F32 => "fp32",
            SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2 => "fp8",
            var other => throw new SafeTensorsException(Path.GetFileName(weights.Source), $"stores its block weights as {other}, which FluxWeb does not build from.", probe),
        };
    }

    private static string ContentHash(IEnumerable<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            using var stream = File.OpenRead(file);
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes the transformer's files into the package with their NVFP4 tensors rewritten from
    /// ComfyUI's layout to the row-major one the graphs read (everything else copied as is), one
    /// tensor in memory at a time; zero data (sparse test files) stays sparse.
    /// </summary>
    private static List<PlacedFile> ConvertNvfp4(string folder, ComponentFiles files, IProgress<string>? progress)
    {
        var target = Path.Combine(folder, "weights", "transformer");
        Directory.CreateDirectory(target);
        var placed = new List<PlacedFile>();
        foreach (var file in files.WeightFiles)
        {
            var relative = $"weights/transformer/{Path.GetFileName(file)}";
            var converted = Nvfp4.ConvertToRowMajor(SafeTensorsFile.Open(file), Path.Combine(target, Path.GetFileName(file)));
            var bytes = new FileInfo(Path.Combine(target, Path.GetFileName(file))).Length;
            progress?.Report($"converted {relative} ({bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes): {converted} NVFP4 linears from ComfyUI's tiled layout to row-major");
            placed.Add(new PlacedFile(relative, FileLinks.Method.Copy, bytes));
        }

        foreach (var side in files.SideFiles)
        {
            File.Copy(side, Path.Combine(target, Path.GetFileName(side)));
        }

        return placed;
    }

    private static IEnumerable<PlacedFile> Place(string folder, string component, ComponentFiles files, IProgress<string>? progress)
    {
        var target = Path.Combine(folder, "weights", component);
        Directory.CreateDirectory(target);
        var placed = new List<PlacedFile>();
        foreach (var file in files.WeightFiles)
        {
            var relative = $"weights/{component}/{Path.GetFileName(file)}";
            var method = FileLinks.HardLinkOrCopy(file, Path.Combine(target, Path.GetFileName(file)));
            var bytes = new FileInfo(file).Length;
            progress?.Report($"{(method == FileLinks.Method.HardLink ? "linked" : "copied")} {relative} ({bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes)");
            placed.Add(new PlacedFile(relative, method, bytes));
        }

        // Configs and indexes are small and get edited by hand sometimes: copies, so the source stays as it was.
        foreach (var side in files.SideFiles)
        {
            File.Copy(side, Path.Combine(target, Path.GetFileName(side)));
        }

        return placed;
    }
}
