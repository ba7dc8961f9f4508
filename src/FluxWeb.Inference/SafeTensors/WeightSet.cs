using System.Text.Json;

namespace FluxWeb.Inference.SafeTensors;

/// <summary>A tensor inside one of a checkpoint's files.</summary>
public sealed record WeightRef(SafeTensorsFile File, SafeTensorInfo Info)
{
    public string Name => Info.Name;
}

/// <summary>
/// The tensors of a checkpoint: one .safetensors file or a sharded set described by an
/// <c>*.safetensors.index.json</c>. Records which tensors a graph bound, so a builder can prove
/// that every official tensor was used exactly once.
/// </summary>
public sealed class WeightSet
{
    private readonly Dictionary<string, WeightRef> tensors;
    private readonly Dictionary<string, int> bindings = new(StringComparer.Ordinal);

    private WeightSet(string source, IReadOnlyList<SafeTensorsFile> files, Dictionary<string, WeightRef> tensors)
    {
        Source = source;
        Files = files;
        this.tensors = tensors;
    }

    public string Source { get; }

    public IReadOnlyList<SafeTensorsFile> Files { get; }

    public IReadOnlyCollection<string> Names => tensors.Keys;

    public IReadOnlyDictionary<string, string> Metadata => Files.Count == 1 ? Files[0].Metadata : new Dictionary<string, string>();

    /// <summary>Opens a .safetensors file, an index .json, or a folder holding exactly one of either.</summary>
    public static WeightSet Open(string path)
    {
        if (Directory.Exists(path))
        {
            var indexes = Directory.GetFiles(path, "*.safetensors.index.json");
            if (indexes.Length == 1)
            {
                return OpenIndex(indexes[0]);
            }

            var files = Directory.GetFiles(path, "*.safetensors").Order(StringComparer.Ordinal).ToArray();
            return files.Length switch
            {
                0 => throw new SafeTensorsException(Path.GetFileName(path), "contains no .safetensors file."),
                1 => FromFiles(path, [SafeTensorsFile.Open(files[0])]),
                _ => throw new SafeTensorsException(Path.GetFileName(path), $"holds {files.Length} .safetensors files but no *.safetensors.index.json saying how they belong together."),
            };
        }

        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? OpenIndex(path)
            : FromFiles(path, [SafeTensorsFile.Open(path)]);
    }

    public static WeightSet FromFiles(string source, IReadOnlyList<SafeTensorsFile> files)
    {
        var map = new Dictionary<string, WeightRef>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var info in file.Tensors.Values)
            {
                if (!map.TryAdd(info.Name, new WeightRef(file, info)))
                {
                    throw new SafeTensorsException(Path.GetFileName(file.Path), $"is also in {Path.GetFileName(map[info.Name].File.Path)}.", info.Name);
                }
            }
        }

        return new WeightSet(source, files, map);
    }

    private static WeightSet OpenIndex(string indexPath)
    {
        var shown = Path.GetFileName(indexPath);
        Dictionary<string, string> weightMap;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!document.RootElement.TryGetProperty("weight_map", out var mapElement) || mapElement.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsException(shown, "has no \"weight_map\" object.");
            }

            weightMap = mapElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
        }
        catch (JsonException ex)
        {
            throw new SafeTensorsException(shown, $"is not valid JSON ({ex.Message}).", inner: ex);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shardNames = weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var shard in shardNames)
        {
            if (shard.Length == 0 || Path.IsPathRooted(shard) || shard.Contains("..", StringComparison.Ordinal))
            {
                throw new SafeTensorsException(shown, $"names an invalid shard '{shard}'.");
            }
        }

        var files = shardNames.Select(s => SafeTensorsFile.Open(Path.Combine(folder, s))).ToList();
        var set = FromFiles(indexPath, files);
        foreach (var (tensor, shard) in weightMap)
        {
            if (!set.tensors.TryGetValue(tensor, out var found))
            {
                throw new SafeTensorsException(shown, $"places the tensor in {shard}, which does not contain it.", tensor);
            }

            if (!string.Equals(Path.GetFileName(found.File.Path), shard, StringComparison.Ordinal))
            {
                throw new SafeTensorsException(shown, $"places the tensor in {shard} but it is in {Path.GetFileName(found.File.Path)}.", tensor);
            }
        }

        return set;
    }

    /// <summary>
    /// The same checkpoint with some tensors read from <paramref name="replacements"/> instead (same
    /// names, e.g. converted to another type); the set keeps its source and knows nothing of the
    /// tensors it replaced.
    /// </summary>
    public WeightSet WithReplacements(SafeTensorsFile replacements)
    {
        var map = new Dictionary<string, WeightRef>(tensors, StringComparer.Ordinal);
        foreach (var info in replacements.Tensors.Values)
        {
            if (!map.ContainsKey(info.Name))
            {
                throw new SafeTensorsException(System.IO.Path.GetFileName(replacements.Path), $"replaces a tensor {System.IO.Path.GetFileName(Source)} does not have.", info.Name);
            }

            map[info.Name] = new WeightRef(replacements, info);
        }

        return new WeightSet(Source, [.. Files, replacements], map);
    }

    /// <summary>This set with the same replacements as <paramref name="other"/> (a second graph over the same checkpoint).</summary>
    public WeightSet WithReplacementsFrom(WeightSet other)
    {
        var result = this;
        foreach (var file in other.Files.Skip(Files.Count))
        {
            result = result.WithReplacements(file);
        }

        return result;
    }

    public bool Contains(string name) => tensors.ContainsKey(name);

    public WeightRef Get(string name) =>
        tensors.TryGetValue(name, out var weight)
            ? weight
            : throw new SafeTensorsException(Path.GetFileName(Source), "is missing from the checkpoint.", name);

    /// <summary>Like <see cref="Get"/> but also checks the shape, which is how a wrong model size is caught early.</summary>
    public WeightRef Get(string name, params long[] shape)
    {
        var weight = Get(name);
        if (!weight.Info.Shape.SequenceEqual(shape))
        {
            throw new SafeTensorsException(Path.GetFileName(weight.File.Path), $"has shape {weight.Info.ShapeText}, expected [{string.Join(",", shape)}].", name);
        }

        return weight;
    }

    /// <summary>Records that a graph uses this tensor (called by the graph builder).</summary>
    public void MarkBound(string name) => bindings[name] = bindings.GetValueOrDefault(name) + 1;

    public IReadOnlyDictionary<string, int> Bindings => bindings;

    public IEnumerable<string> Unbound => tensors.Keys.Where(n => !bindings.ContainsKey(n));
}
