using System.Text.Json;
using System.Text.RegularExpressions;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Packages;

/// <summary>Where a checkpoint's components come from.</summary>
public enum CheckpointLayout
{
    /// <summary>The Hugging Face repo layout: <c>transformer/</c>, <c>text_encoder/</c>, <c>vae/</c>, <c>tokenizer/</c>, <c>model_index.json</c>.</summary>
    Diffusers,

    /// <summary>BFL's single transformer file (<c>flux-2-klein-4b.safetensors</c>, the <c>-fp8</c> files); the other parts come separately.</summary>
    BflSingleFile,
}

/// <summary>The weight files of one component as they are on disk, and the small files that travel with them.</summary>
public sealed record ComponentFiles(string Component, IReadOnlyList<string> WeightFiles, IReadOnlyList<string> SideFiles, string OpenPath)
{
    public WeightSet Open() => WeightSet.Open(OpenPath);

    public string? ConfigJson => SideFiles.FirstOrDefault(f => Path.GetFileName(f) == "config.json");
}

/// <summary>
/// Finds the files of a component in a folder the way the official repos lay them out: one
/// <c>*.safetensors</c>, or shards named by a <c>*.safetensors.index.json</c>. diffusers "variant"
/// files (<c>diffusion_pytorch_model.fp16.safetensors</c>) and pickles are never picked.
/// </summary>
public static partial class CheckpointSources
{
    /// <summary>The file of a path that may be a .safetensors file, an index .json, or a folder holding either.</summary>
    public static ComponentFiles Locate(string component, string path, string optionName)
    {
        if (File.Exists(path))
        {
            var full = Path.GetFullPath(path);
            var folder = Path.GetDirectoryName(full)!;
            var config = Path.Combine(folder, "config.json");
            var side = File.Exists(config) ? new[] { config } : [];
            if (full.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
            {
                return FromIndex(component, full, side);
            }

            if (!full.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"{optionName} {path}: expected a .safetensors file, a *.safetensors.index.json or a folder holding them.");
            }

            return new ComponentFiles(component, [full], side, full);
        }

        if (!Directory.Exists(path))
        {
            throw new ArgumentException($"{optionName} {path}: no such file or folder.");
        }

        var directory = Path.GetFullPath(path);
        var configJson = Path.Combine(directory, "config.json");
        var sideFiles = File.Exists(configJson) ? new[] { configJson } : [];
        var indexes = Directory.GetFiles(directory, "*.safetensors.index.json").Where(IsPlainIndexName).ToArray();
        if (indexes.Length == 1)
        {
            return FromIndex(component, indexes[0], sideFiles);
        }

        if (indexes.Length > 1)
        {
            throw new ArgumentException($"{optionName} {path}: holds {indexes.Length} shard indexes ({string.Join(", ", indexes.Select(Path.GetFileName))}); point at the one to use.");
        }

        var weights = Directory.GetFiles(directory, "*.safetensors").Where(IsPlainWeightName).Order(StringComparer.Ordinal).ToArray();
        return weights.Length switch
        {
            1 => new ComponentFiles(component, [weights[0]], sideFiles, weights[0]),
            0 => throw new ArgumentException($"{optionName} {path}: holds no .safetensors weights{(Directory.GetFiles(directory, "*.bin").Length > 0 ? " (only .bin pickles, which FluxWeb does not load)" : "")}."),
            _ => throw new ArgumentException($"{optionName} {path}: holds {weights.Length} .safetensors files ({string.Join(", ", weights.Select(Path.GetFileName))}) but no *.safetensors.index.json saying how they belong together."),
        };
    }

    private static ComponentFiles FromIndex(string component, string indexPath, string[] sideFiles)
    {
        var folder = Path.GetDirectoryName(indexPath)!;
        List<string> shards;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            shards = document.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(p => p.Value.GetString() ?? "")
                .Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal)
                .ToList();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new SafeTensorsException(Path.GetFileName(indexPath), $"is not a shard index with a \"weight_map\" ({ex.Message}).", inner: ex);
        }

        foreach (var shard in shards)
        {
            if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard.Contains("..", StringComparison.Ordinal))
            {
                throw new SafeTensorsException(Path.GetFileName(indexPath), $"names an invalid shard '{shard}'.");
            }
        }

        return new ComponentFiles(component, shards.Select(s => Path.Combine(folder, s)).ToList(), [.. sideFiles, indexPath], indexPath);
    }

    /// <summary><c>model-00001-of-00002.safetensors</c> and <c>diffusion_pytorch_model.safetensors</c>, not <c>….fp16.safetensors</c>.</summary>
    public static bool IsPlainWeightName(string path) => PlainWeight().IsMatch(Path.GetFileName(path));

    public static bool IsPlainIndexName(string path) => PlainIndex().IsMatch(Path.GetFileName(path));

    [GeneratedRegex(@"^[^.]+\.safetensors$")]
    private static partial Regex PlainWeight();

    [GeneratedRegex(@"^[^.]+\.safetensors\.index\.json$")]
    private static partial Regex PlainIndex();
}
