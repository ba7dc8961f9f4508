using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Packages;

/// <summary>A problem with a package, naming the file and (where there is one) the manifest field at fault.</summary>
public sealed record PackageProblem(string File, string? Field, string Message)
{
    public override string ToString() => Field is null ? $"{File}: {Message}" : $"{File}: '{Field}' {Message}";
}

/// <summary>
/// Checks that each component's graph really has the inputs and outputs its manifest names for
/// each role, with the element type and rank the pipeline feeds, and that the graphs agree with the
/// manifest's sizes (prompt-embedding width, latent channels). Reads graph signatures only.
/// </summary>
public static class PackageGraphChecks
{
    /// <summary>What the pipeline binds to a role: element type and rank (the dimensions in words for messages).</summary>
    public sealed record RoleSpec(DataType ElementType, string Shape)
    {
        public int Rank => Shape.Count(c => c == ',') + 1;
    }

    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, RoleSpec>> InputRoles = new Dictionary<string, IReadOnlyDictionary<string, RoleSpec>>
    {
        ["textEncoder"] = new Dictionary<string, RoleSpec>
        {
            ["inputIds"] = new(DataType.Int64, "batch, tokens"),
            ["attentionMask"] = new(DataType.Int64, "batch, tokens"),
        },
        ["transformer"] = new Dictionary<string, RoleSpec>
        {
            ["hiddenStates"] = new(DataType.Float, "batch, image tokens, 128"),
            ["encoderHiddenStates"] = new(DataType.Float, "batch, text tokens, context"),
            ["timestep"] = new(DataType.Float, "batch"),
            ["imageIds"] = new(DataType.Float, "image tokens, 4"),
            ["textIds"] = new(DataType.Float, "text tokens, 4"),
        },
        ["vaeEncoder"] = new Dictionary<string, RoleSpec> { ["image"] = new(DataType.Float, "batch, 3, height, width") },
        ["vaeDecoder"] = new Dictionary<string, RoleSpec> { ["latents"] = new(DataType.Float, "batch, 128, height/16, width/16") },
    };

    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, RoleSpec>> OutputRoles = new Dictionary<string, IReadOnlyDictionary<string, RoleSpec>>
    {
        ["textEncoder"] = new Dictionary<string, RoleSpec> { ["promptEmbeds"] = new(DataType.Float, "batch, tokens, context") },
        ["transformer"] = new Dictionary<string, RoleSpec> { ["output"] = new(DataType.Float, "batch, image tokens, 128") },
        ["vaeEncoder"] = new Dictionary<string, RoleSpec> { ["latents"] = new(DataType.Float, "batch, 128, height/16, width/16") },
        ["vaeDecoder"] = new Dictionary<string, RoleSpec> { ["image"] = new(DataType.Float, "batch, 3, height, width") },
    };

    /// <summary>Reads each component's graph signature; a graph that cannot be read is reported and left out of the result.</summary>
    public static Dictionary<string, OnnxGraphSignature> ReadSignatures(ModelPackageManifest manifest, string folder, List<PackageProblem> problems)
    {
        var signatures = new Dictionary<string, OnnxGraphSignature>(StringComparer.Ordinal);
        foreach (var (name, component) in manifest.Components.All())
        {
            if (component is null || string.IsNullOrWhiteSpace(component.File))
            {
                continue;
            }

            var path = Path.Combine(folder, component.File);
            if (!File.Exists(path))
            {
                problems.Add(new PackageProblem(component.File, $"components.{name}.file", "does not exist."));
                continue;
            }

            try
            {
                signatures[name] = OnnxGraphSignature.Read(path);
            }
            catch (InvalidDataException ex)
            {
                problems.Add(new PackageProblem(component.File, $"components.{name}.file", ex.Message));
            }
            catch (IOException ex)
            {
                problems.Add(new PackageProblem(component.File, $"components.{name}.file", $"cannot be read: {ex.Message}"));
            }
        }

        return signatures;
    }

    /// <summary>Every disagreement between the manifest's role mapping and sizes and the graphs themselves.</summary>
    public static List<PackageProblem> Check(ModelPackageManifest manifest, IReadOnlyDictionary<string, OnnxGraphSignature> signatures, string manifestFile)
    {
        var problems = new List<PackageProblem>();
        foreach (var (name, component) in manifest.Components.All())
        {
            if (component is null || !signatures.TryGetValue(name, out var signature))
            {
                continue;
            }

            CheckRoles(name, "inputs", component.Inputs, InputRoles[name], signature.Inputs, signature.FindInput, component.File, manifestFile, problems);
            CheckRoles(name, "outputs", component.Outputs, OutputRoles[name], signature.Outputs, signature.FindOutput, component.File, manifestFile, problems);
        }

        // Sizes the manifest states must be the graphs' sizes, or the pipeline would build wrong tensors.
        var context = manifest.TextEncoder.ContextDim;
        CheckLastDimension(manifest, signatures, "textEncoder", outputs: true, "promptEmbeds", context, "textEncoder.contextDim", manifestFile, problems);
        CheckLastDimension(manifest, signatures, "transformer", outputs: false, "encoderHiddenStates", context, "textEncoder.contextDim", manifestFile, problems);
        CheckLastDimension(manifest, signatures, "transformer", outputs: false, "hiddenStates", manifest.Transformer.InChannels, "transformer.inChannels", manifestFile, problems);
        CheckLastDimension(manifest, signatures, "transformer", outputs: true, "output", manifest.Transformer.InChannels, "transformer.inChannels", manifestFile, problems);
        return problems;
    }

    private static void CheckRoles(
        string component,
        string direction,
        IReadOnlyDictionary<string, string> mapping,
        IReadOnlyDictionary<string, RoleSpec> roles,
        IReadOnlyList<OnnxValueSignature> available,
        Func<string, OnnxValueSignature?> find,
        string graphFile,
        string manifestFile,
        List<PackageProblem> problems)
    {
        foreach (var (role, spec) in roles)
        {
            var field = $"components.{component}.{direction}.{role}";
            if (!mapping.TryGetValue(role, out var graphName) || string.IsNullOrWhiteSpace(graphName))
            {
                problems.Add(new PackageProblem(manifestFile, field, $"is missing: name the graph {direction[..^1]} that plays this role."));
                continue;
            }

            var value = find(graphName);
            if (value is null)
            {
                problems.Add(new PackageProblem(manifestFile, field, $"names '{graphName}', which {graphFile} does not have (its {direction}: {string.Join(", ", available.Select(v => v.Name))})."));
                continue;
            }

            if (value.ElementType != spec.ElementType)
            {
                problems.Add(new PackageProblem(manifestFile, field, $"names '{graphName}', which is {value.ElementType} in {graphFile}; this role takes {spec.ElementType}."));
            }

            if (value.Rank is { } rank && rank != spec.Rank)
            {
                problems.Add(new PackageProblem(manifestFile, field, $"names '{graphName}', which has rank {rank} {value.ShapeText} in {graphFile}; this role needs rank {spec.Rank} [{spec.Shape}]."));
            }
        }
    }

    private static void CheckLastDimension(ModelPackageManifest manifest, IReadOnlyDictionary<string, OnnxGraphSignature> signatures, string component, bool outputs, string role, int expected, string field, string manifestFile, List<PackageProblem> problems)
    {
        var info = manifest.Components.All().FirstOrDefault(c => c.Name == component).Component;
        if (info is null || !signatures.TryGetValue(component, out var signature))
        {
            return;
        }

        var mapping = outputs ? info.Outputs : info.Inputs;
        if (!mapping.TryGetValue(role, out var graphName))
        {
            return;
        }

        var value = outputs ? signature.FindOutput(graphName) : signature.FindInput(graphName);
        if (value?.Dimensions is { Count: > 0 } dims && dims[^1].Value is { } actual && actual != expected)
        {
            problems.Add(new PackageProblem(manifestFile, field, $"is {expected} but {info.File}'s '{graphName}' has {actual} in its last dimension."));
        }
    }
}
