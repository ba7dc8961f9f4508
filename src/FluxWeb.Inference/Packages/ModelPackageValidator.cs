using System.Text.RegularExpressions;

namespace FluxWeb.Inference.Packages;

/// <summary>Checks a manifest against its folder; the first problem found is reported with its field path.</summary>
public static partial class ModelPackageValidator
{
    public static readonly IReadOnlyDictionary<string, string[]> RequiredInputs = new Dictionary<string, string[]>
    {
        ["textEncoder"] = ["inputIds", "attentionMask"],
        ["transformer"] = ["hiddenStates", "encoderHiddenStates", "timestep", "imageIds", "textIds"],
        ["vaeEncoder"] = ["image"],
        ["vaeDecoder"] = ["latents"],
    };

    public static readonly IReadOnlyDictionary<string, string[]> RequiredOutputs = new Dictionary<string, string[]>
    {
        ["textEncoder"] = ["promptEmbeds"],
        ["transformer"] = ["output"],
        ["vaeEncoder"] = ["latents"],
        ["vaeDecoder"] = ["image"],
    };

    private static readonly string[] KnownFamilies = ["klein-4b", "klein-9b", "klein-base-4b", "klein-base-9b", "demo-tiny"];
    private static readonly string[] WeightPrecisions = ["fp32", "bf16", "fp16", "fp8", "nvfp4"];
    private static readonly string[] ComputePrecisionNames = ["fp32", "bf16", "fp16"];

    public static void Validate(ModelPackageManifest m, string file, string folder)
    {
        void Fail(string field, string problem) => throw new ModelPackageException(file, field, problem);

        if (m.SchemaVersion != ModelPackageManifest.CurrentSchemaVersion)
        {
            Fail("schemaVersion", $"is {m.SchemaVersion}; this FluxWeb reads version {ModelPackageManifest.CurrentSchemaVersion}.");
        }

        if (!IdPattern().IsMatch(m.Id))
        {
            Fail("id", $"'{m.Id}' must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.");
        }

        // The licence first: it is the one field FluxWeb never guesses.
        if (m.Licence is null || string.IsNullOrWhiteSpace(m.Licence.Id))
        {
            Fail("licence.id", "is missing: a package must declare its licence (an SPDX id or FLUX-Non-Commercial).");
        }

        if (m.Licence!.CommercialUse is null)
        {
            Fail("licence.commercialUse", "is missing: say whether outputs may be used commercially.");
        }

        if (ModelLicence.Parse(m.Licence.Id) is { } known && known.CommercialUse != m.Licence.CommercialUse)
        {
            Fail("licence.commercialUse", $"is {m.Licence.CommercialUse!.Value.ToString().ToLowerInvariant()} but {m.Licence.Id} {(known.CommercialUse == true ? "allows" : "does not allow")} commercial use.");
        }

        if (ModelLicence.ForFamily(m.Family) is { } familyLicence && familyLicence.Id != m.Licence.Id && !m.Demo)
        {
            Fail("licence.id", $"is {m.Licence.Id} but {m.Family} is released under {familyLicence.Id}.");
        }

        if (string.IsNullOrWhiteSpace(m.DisplayName))
        {
            Fail("displayName", "is missing.");
        }

        if (!KnownFamilies.Contains(m.Family) && !m.Family.StartsWith("test-", StringComparison.Ordinal))
        {
            Fail("family", $"'{m.Family}' is not one of {string.Join(", ", KnownFamilies)} (or test-…).");
        }

        if (!WeightPrecisions.Contains(m.Precision.Weights))
        {
            Fail("precision.weights", $"'{m.Precision.Weights}' is not one of {string.Join(", ", WeightPrecisions)}.");
        }

        if (!ComputePrecisionNames.Contains(m.Precision.Compute))
        {
            Fail("precision.compute", $"'{m.Precision.Compute}' is not one of {string.Join(", ", ComputePrecisionNames)}.");
        }

        var s = m.Sampling;
        if (s.MinSteps < 1 || s.MaxSteps < s.MinSteps || s.DefaultSteps < s.MinSteps || s.DefaultSteps > s.MaxSteps || s.MaxSteps > 200)
        {
            Fail("sampling", $"steps must satisfy 1 ≤ minSteps ≤ defaultSteps ≤ maxSteps ≤ 200 (got {s.MinSteps} ≤ {s.DefaultSteps} ≤ {s.MaxSteps}).");
        }

        if (m.Variant == ModelVariant.Base && (s.DefaultGuidance is null || s.MinGuidance is null || s.MaxGuidance is null || s.DefaultGuidance < s.MinGuidance || s.DefaultGuidance > s.MaxGuidance || s.MinGuidance < 1))
        {
            Fail("sampling.defaultGuidance", "a base variant needs 1 ≤ minGuidance ≤ defaultGuidance ≤ maxGuidance.");
        }

        if (m.Variant == ModelVariant.Distilled && (s.DefaultGuidance is not null || s.MinGuidance is not null || s.MaxGuidance is not null))
        {
            Fail("sampling.defaultGuidance", "a distilled variant takes no guidance: leave the guidance fields out.");
        }

        if (string.IsNullOrWhiteSpace(m.TextEncoder.Id) || m.TextEncoder.HiddenSize <= 0 || m.TextEncoder.ContextDim != 3 * m.TextEncoder.HiddenSize || m.TextEncoder.MaxTokens is < 1 or > 4096)
        {
            Fail("textEncoder", "needs an id, hiddenSize > 0, contextDim = 3 × hiddenSize and maxTokens in 1..4096.");
        }

        CheckRelativeFile(m.Tokenizer.File, "tokenizer.file", folder, Fail);
        foreach (var (name, component) in m.Components.All())
        {
            if (component is null)
            {
                Fail($"components.{name}", "is missing.");
            }

            CheckRelativeFile(component!.File, $"components.{name}.file", folder, Fail);
            foreach (var role in RequiredInputs[name])
            {
                if (!component.Inputs.TryGetValue(role, out var input) || string.IsNullOrWhiteSpace(input))
                {
                    Fail($"components.{name}.inputs.{role}", "is missing: name the graph input that plays this role.");
                }
            }

            foreach (var role in RequiredOutputs[name])
            {
                if (!component.Outputs.TryGetValue(role, out var output) || string.IsNullOrWhiteSpace(output))
                {
                    Fail($"components.{name}.outputs.{role}", "is missing: name the graph output that plays this role.");
                }
            }
        }

        if (m.Transformer.InChannels != 128 || m.Transformer.Hidden <= 0 || m.Transformer.Heads <= 0)
        {
            Fail("transformer", "needs inChannels 128 and positive hidden and heads.");
        }

        for (var i = 0; i < m.Files.Count; i++)
        {
            var entry = m.Files[i];
            CheckRelativeFile(entry.Path, $"files[{i}].path", folder, Fail);
            if (!Sha256Pattern().IsMatch(entry.Sha256))
            {
                Fail($"files[{i}].sha256", "must be 64 lower-case hex digits.");
            }

            var length = new FileInfo(Path.Combine(folder, entry.Path)).Length;
            if (length != entry.Bytes)
            {
                Fail($"files[{i}].bytes", $"is {entry.Bytes} but {entry.Path} has {length} bytes: the file was changed or truncated.");
            }
        }
    }

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    private static void CheckRelativeFile(string relative, string field, string folder, Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(relative))
        {
            fail(field, "is missing.");
        }

        if (Path.IsPathRooted(relative) || relative.Split('/', '\\').Contains(".."))
        {
            fail(field, $"'{relative}' must be a path inside the package folder.");
        }

        if (!File.Exists(Path.Combine(folder, relative)))
        {
            fail(field, $"names '{relative}', which does not exist in the package.");
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();
}
