using System.Buffers.Binary;
using System.Text.Json.Nodes;

namespace FluxWeb.Inference.Classifiers;

/// <summary>One Keras layer of a TensorFlow.js LayersModel topology: its class, config and the layers feeding it.</summary>
public sealed record KerasLayer(string Name, string ClassName, JsonObject Config, IReadOnlyList<string> Inputs);

/// <summary>How a weight is stored: <c>uint8</c>/<c>uint16</c> with an affine <c>min</c> and <c>scale</c>, or <c>float16</c>.</summary>
public sealed record TfjsQuantization(string DType, double Min, double Scale);

public sealed record TfjsWeightSpec(string Name, long[] Shape, string DType, TfjsQuantization? Quantization)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long StoredBytes => ElementCount * (Quantization?.DType switch
    {
        "uint8" => 1,
        "uint16" or "float16" => 2,
        null => DType == "float32" || DType == "int32" ? 4 : throw new TfjsModelException($"Weight '{Name}' has dtype '{DType}', which is not supported."),
        var other => throw new TfjsModelException($"Weight '{Name}' is quantised as '{other}', which is not supported (uint8, uint16, float16 are)."),
    });
}

public sealed record TfjsWeightGroup(IReadOnlyList<string> Paths, IReadOnlyList<TfjsWeightSpec> Weights);

public sealed class TfjsModelException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A TensorFlow.js LayersModel (<c>model.json</c>'s content: a Keras <c>modelTopology</c> and a
/// <c>weightsManifest</c>) and the decoding of its weight shards exactly as tfjs-core's
/// <c>decodeWeights</c> does it (quantised values become <c>q·scale + min</c> in double precision,
/// rounded once to float32).
/// </summary>
public sealed class TfjsLayersModel
{
    private TfjsLayersModel(IReadOnlyList<KerasLayer> layers, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, IReadOnlyList<TfjsWeightGroup> groups, string? kerasVersion)
    {
        Layers = layers;
        InputLayers = inputs;
        OutputLayers = outputs;
        WeightGroups = groups;
        KerasVersion = kerasVersion;
    }

    public IReadOnlyList<KerasLayer> Layers { get; }

    public IReadOnlyList<string> InputLayers { get; }

    public IReadOnlyList<string> OutputLayers { get; }

    public IReadOnlyList<TfjsWeightGroup> WeightGroups { get; }

    public string? KerasVersion { get; }

    public static TfjsLayersModel Parse(JsonNode? root, string source)
    {
        try
        {
            var topology = Required<JsonObject>(root, "modelTopology", source);
            // Keras saves either {model_config:{class_name, config}} or the model config itself.
            var modelConfig = topology["model_config"] as JsonObject ?? topology;
            var className = modelConfig["class_name"]?.GetValue<string>();
            if (className is not ("Model" or "Functional"))
            {
                throw new TfjsModelException($"{source}: the topology is a '{className}'; only functional Keras models (class Model/Functional) are supported.");
            }

            var config = Required<JsonObject>(modelConfig, "config", source);
            var layers = Required<JsonArray>(config, "layers", source).Select(node => ParseLayer(node as JsonObject ?? throw new TfjsModelException($"{source}: a layer is not an object."), source)).ToList();
            var inputs = LayerNames(Required<JsonArray>(config, "input_layers", source));
            var outputs = LayerNames(Required<JsonArray>(config, "output_layers", source));
            var groups = Required<JsonArray>(root, "weightsManifest", source).Select(group => ParseGroup(group as JsonObject ?? throw new TfjsModelException($"{source}: a weightsManifest entry is not an object."), source)).ToList();
            return new TfjsLayersModel(layers, inputs, outputs, groups, topology["keras_version"]?.GetValue<string>());
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            throw new TfjsModelException($"{source}: unexpected value in the model ({ex.Message}).", ex);
        }
    }

    /// <summary>
    /// Decodes every weight: <paramref name="shard"/> gives the bytes of one path of the manifest;
    /// a group's paths are concatenated and its weights read from them in order, as tfjs does.
    /// </summary>
    public Dictionary<string, (long[] Shape, float[] Values)> DecodeWeights(Func<string, byte[]> shard)
    {
        var result = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
        foreach (var group in WeightGroups)
        {
            var data = group.Paths.SelectMany(shard).ToArray();
            long offset = 0;
            foreach (var spec in group.Weights)
            {
                var length = spec.StoredBytes;
                if (offset + length > data.LongLength)
                {
                    throw new TfjsModelException($"Weight '{spec.Name}' needs bytes {offset}..{offset + length} but the shards of its group ({string.Join(", ", group.Paths)}) hold {data.LongLength}.");
                }

                if (!result.TryAdd(spec.Name, (spec.Shape, Decode(spec, data.AsSpan((int)offset, (int)length)))))
                {
                    throw new TfjsModelException($"Weight '{spec.Name}' is listed twice in the weights manifest.");
                }

                offset += length;
            }

            if (offset != data.LongLength)
            {
                throw new TfjsModelException($"The shards {string.Join(", ", group.Paths)} hold {data.LongLength} bytes but the manifest describes {offset}: wrong or damaged weight files.");
            }
        }

        return result;
    }

    private static float[] Decode(TfjsWeightSpec spec, ReadOnlySpan<byte> bytes)
    {
        var values = new float[spec.ElementCount];
        switch (spec.Quantization?.DType)
        {
            case "uint8":
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)((bytes[i] * spec.Quantization.Scale) + spec.Quantization.Min);
                }

                break;
            case "uint16":
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)((BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) * spec.Quantization.Scale) + spec.Quantization.Min);
                }

                break;
            case "float16":
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]);
                }

                break;
            default:
                if (spec.DType == "int32")
                {
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
                    }
                }
                else
                {
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                    }
                }

                break;
        }

        return values;
    }

    private static KerasLayer ParseLayer(JsonObject layer, string source)
    {
        var config = layer["config"] as JsonObject ?? new JsonObject();
        var name = layer["name"]?.GetValue<string>() ?? config["name"]?.GetValue<string>() ?? throw new TfjsModelException($"{source}: a layer has no name.");
        var className = layer["class_name"]?.GetValue<string>() ?? throw new TfjsModelException($"{source}: layer '{name}' has no class_name.");
        var inputs = new List<string>();
        if (layer["inbound_nodes"] is JsonArray inbound && inbound.Count > 0)
        {
            if (inbound.Count > 1)
            {
                throw new TfjsModelException($"{source}: layer '{name}' is called {inbound.Count} times (shared layers are not supported).");
            }

            foreach (var tensor in (JsonArray)inbound[0]!)
            {
                // [layer name, node index, tensor index, kwargs]
                var reference = (JsonArray)tensor!;
                if (reference[1]?.GetValue<double>() != 0 || reference[2]?.GetValue<double>() != 0)
                {
                    throw new TfjsModelException($"{source}: layer '{name}' reads output {reference[2]} of node {reference[1]} of '{reference[0]}' (only single-output layers are supported).");
                }

                inputs.Add(reference[0]!.GetValue<string>());
            }
        }

        return new KerasLayer(name, className, config, inputs);
    }

    private static TfjsWeightGroup ParseGroup(JsonObject group, string source)
    {
        var paths = Required<JsonArray>(group, "paths", source).Select(p => p!.GetValue<string>()).ToList();
        var weights = Required<JsonArray>(group, "weights", source).Select(node =>
        {
            var weight = (JsonObject)node!;
            var name = weight["name"]!.GetValue<string>();
            var shape = ((JsonArray)weight["shape"]!).Select(d => (long)d!.GetValue<double>()).ToArray();
            var quantization = weight["quantization"] is JsonObject q
                ? new TfjsQuantization(q["dtype"]!.GetValue<string>(), q["min"]?.GetValue<double>() ?? 0, q["scale"]?.GetValue<double>() ?? 1)
                : null;
            return new TfjsWeightSpec(name, shape, weight["dtype"]?.GetValue<string>() ?? "float32", quantization);
        }).ToList();
        return new TfjsWeightGroup(paths, weights);
    }

    private static List<string> LayerNames(JsonArray references) => references.Select(r => ((JsonArray)r!)[0]!.GetValue<string>()).ToList();

    private static T Required<T>(JsonNode? parent, string key, string source)
        where T : JsonNode =>
        parent?[key] as T ?? throw new TfjsModelException($"{source}: '{key}' is missing or not {(typeof(T) == typeof(JsonArray) ? "an array" : "an object")}.");
}
