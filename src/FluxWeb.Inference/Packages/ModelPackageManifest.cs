using System.Text.Json;
using System.Text.Json.Serialization;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// <c>manifest.json</c> of a model package (schema version 1): what the model is, under which
/// licence, how it samples, and which file holds each component with the names of its inputs and
/// outputs. <see cref="Read"/> validates everything a loader relies on and names the file and field
/// at fault; a package without a licence never loads.
/// </summary>
public sealed class ModelPackageManifest
{
    public const string FileName = "manifest.json";
    public const int CurrentSchemaVersion = 1;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public int SchemaVersion { get; set; }

    public string Id { get; set; } = "";

    public string DisplayName { get; set; } = "";

    public string? Description { get; set; }

    /// <summary><c>klein-4b</c>, <c>klein-9b</c>, <c>klein-base-4b</c>, <c>klein-base-9b</c>, or a test size (<c>demo-tiny</c>, <c>test-…</c>).</summary>
    public string Family { get; set; } = "";

    public ModelVariant Variant { get; set; }

    /// <summary>Random weights: shown as "demo — random weights" everywhere the model appears.</summary>
    public bool Demo { get; set; }

    public ModelLicence? Licence { get; set; }

    public PrecisionInfo Precision { get; set; } = new();

    public SamplingInfo Sampling { get; set; } = new();

    public TextEncoderInfo TextEncoder { get; set; } = new();

    public TokenizerInfo Tokenizer { get; set; } = new();

    public ComponentSet Components { get; set; } = new();

    public TransformerInfo Transformer { get; set; } = new();

    /// <summary>Latent → RGB projection for step previews, fitted against the package's own VAE when it was built.</summary>
    public LatentPreviewInfo? Preview { get; set; }

    public List<PackageFile> Files { get; set; } = [];

    public BuildInfo? Build { get; set; }

    [JsonIgnore]
    public string Label => Demo ? $"{DisplayName} (demo — random weights)" : DisplayName;

    [JsonIgnore]
    public bool AllowsCommercialUse => Licence?.CommercialUse == true;

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <param name="path">The manifest file.</param>
    /// <param name="displayPath">How errors name the file (relative to the models folder, so nothing about the server leaks).</param>
    public static ModelPackageManifest Read(string path, string? displayPath = null)
    {
        var shown = displayPath ?? path;
        ModelPackageManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelPackageManifest>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelPackageException(shown, ex.Path ?? "$", $"is not valid: {ex.Message}");
        }

        if (manifest is null)
        {
            throw new ModelPackageException(shown, "$", "is empty.");
        }

        ModelPackageValidator.Validate(manifest, shown, Path.GetDirectoryName(Path.GetFullPath(path))!);
        return manifest;
    }
}

public enum ModelVariant
{
    /// <summary>Step-distilled: a fixed small number of steps, no classifier-free guidance.</summary>
    Distilled,

    /// <summary>Undistilled: many steps with classifier-free guidance against the empty prompt.</summary>
    Base,
}

public sealed class ModelLicence
{
    public const string ApacheId = "Apache-2.0";
    public const string FluxNonCommercialId = "FLUX-Non-Commercial";

    /// <summary>An SPDX id, or <c>FLUX-Non-Commercial</c>.</summary>
    public string Id { get; set; } = "";

    public string? Name { get; set; }

    public string? Url { get; set; }

    /// <summary>Whether outputs may be used commercially. Required: null means the manifest did not say.</summary>
    public bool? CommercialUse { get; set; }

    public static ModelLicence Apache2() => new() { Id = ApacheId, Name = "Apache License 2.0", Url = "https://www.apache.org/licenses/LICENSE-2.0", CommercialUse = true };

    public static ModelLicence FluxNonCommercial() => new()
    {
        Id = FluxNonCommercialId,
        Name = "FLUX Non-Commercial License",
        Url = "https://bfl.ai/legal/non-commercial-license-terms",
        CommercialUse = false,
    };

    /// <summary>The licence of a known family; null for anything else (then the operator must say).</summary>
    public static ModelLicence? ForFamily(string family) => family switch
    {
        "klein-4b" or "klein-base-4b" => Apache2(),
        "klein-9b" or "klein-base-9b" => FluxNonCommercial(),
        _ => null,
    };

    public static ModelLicence? Parse(string id) => id switch
    {
        ApacheId => Apache2(),
        FluxNonCommercialId => FluxNonCommercial(),
        _ => null,
    };
}

public sealed class PrecisionInfo
{
    /// <summary>How the weights are stored: fp32, bf16, fp16, fp8 (E4M3 with per-tensor scales) or nvfp4.</summary>
    public string Weights { get; set; } = "";

    /// <summary>What the graphs compute in: fp32, bf16 or fp16.</summary>
    public string Compute { get; set; } = "";
}

public sealed class SamplingInfo
{
    public int DefaultSteps { get; set; }

    public int MinSteps { get; set; }

    public int MaxSteps { get; set; }

    /// <summary>Classifier-free guidance scale; null for distilled variants, which take none.</summary>
    public float? DefaultGuidance { get; set; }

    public float? MinGuidance { get; set; }

    public float? MaxGuidance { get; set; }

    [JsonIgnore]
    public bool UsesGuidance => DefaultGuidance is not null;
}

public sealed class TextEncoderInfo
{
    /// <summary>e.g. qwen3-4b, qwen3-8b; embeddings are cached by this id and the prompt.</summary>
    public string Id { get; set; } = "";

    public int HiddenSize { get; set; }

    public int MaxTokens { get; set; } = 512;

    /// <summary>Width of the prompt embeddings the transformer takes (3 × hidden).</summary>
    public int ContextDim { get; set; }
}

public sealed class TokenizerInfo
{
    public string File { get; set; } = "";
}

public sealed class ComponentSet
{
    public ComponentInfo? TextEncoder { get; set; }

    public ComponentInfo? Transformer { get; set; }

    public ComponentInfo? VaeEncoder { get; set; }

    public ComponentInfo? VaeDecoder { get; set; }

    public IEnumerable<(string Name, ComponentInfo? Component)> All() =>
    [
        ("textEncoder", TextEncoder),
        ("transformer", Transformer),
        ("vaeEncoder", VaeEncoder),
        ("vaeDecoder", VaeDecoder),
    ];
}

/// <summary>One ONNX graph: its file and the graph's names for the roles the pipeline binds.</summary>
public sealed class ComponentInfo
{
    public string File { get; set; } = "";

    public Dictionary<string, string> Inputs { get; set; } = [];

    public Dictionary<string, string> Outputs { get; set; } = [];

    /// <summary>Bytes of weights this component keeps in device memory (for the residency budget).</summary>
    public long WeightBytes { get; set; }

    /// <summary>
    /// Activation memory a run needs, per token of the sequence and batch entry (text encoder,
    /// transformer) or per image pixel (VAE), estimated at build time from the architecture; null
    /// (imported packages) uses the official klein sizes. See <see cref="Engine.ActivationEstimate"/>.
    /// </summary>
    public long? ActivationBytesPerUnit { get; set; }
}

public sealed class TransformerInfo
{
    public int Hidden { get; set; }

    public int Heads { get; set; }

    public int DoubleBlocks { get; set; }

    public int SingleBlocks { get; set; }

    public int InChannels { get; set; } = 128;

    public long Parameters { get; set; }
}

/// <summary>rgb = Factors · z + Bias per latent pixel, z the 32 VAE channels (in the normalised latent space), rgb in [−1, 1].</summary>
public sealed class LatentPreviewInfo
{
    /// <summary>3 rows of 32 factors (red, green, blue).</summary>
    public float[] Factors { get; set; } = [];

    public float[] Bias { get; set; } = [];
}

public sealed class PackageFile
{
    /// <summary>Relative to the package folder, forward slashes.</summary>
    public string Path { get; set; } = "";

    public long Bytes { get; set; }

    public string Sha256 { get; set; } = "";
}

public sealed class BuildInfo
{
    public string Tool { get; set; } = "";

    public DateTimeOffset CreatedUtc { get; set; }

    public string? Source { get; set; }

    public string? Seed { get; set; }
}

/// <summary>A package that cannot be used, naming the file and the field at fault.</summary>
public sealed class ModelPackageException(string file, string field, string problem)
    : Exception($"{file}: '{field}' {problem}")
{
    public string File { get; } = file;

    public string Field { get; } = field;

    public string Problem { get; } = problem;
}
