using System.Text.Json.Nodes;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Classifiers;

/// <summary>What <see cref="KerasOnnxConverter"/> wrote: the graph, its weights, and its single input and output.</summary>
public sealed record ConvertedClassifier(string GraphFile, string WeightsFile, string InputName, long[] InputShape, string OutputName, int OutputSize, int LayerCount, long ParameterCount);

/// <summary>
/// Turns a Keras image classifier published as a TensorFlow.js LayersModel into an ONNX graph built
/// with our own <see cref="OnnxGraphBuilder"/>. The weights are dequantised once, here, into a
/// float32 <c>.safetensors</c> file in ONNX's layouts (convolution kernels OIHW, depthwise kernels
/// grouped); the graph binds them as external data like every other FluxWeb graph. The graph takes
/// the model's own input, NHWC float32 [batch, H, W, C], transposes to NCHW once, and hands back the
/// last layer's output. Every layer class and option the conversion does not reproduce exactly is
/// refused by name, and every weight must be used exactly once.
/// </summary>
public static class KerasOnnxConverter
{
    public const string InputName = "image";
    public const string OutputName = "probabilities";

    public static ConvertedClassifier Convert(TfjsLayersModel model, Func<string, byte[]> shard, string outputFolder, string graphFile = "model.onnx", string weightsFile = "weights.safetensors")
    {
        if (model.InputLayers.Count != 1 || model.OutputLayers.Count != 1)
        {
            throw new TfjsModelException($"The model has {model.InputLayers.Count} inputs and {model.OutputLayers.Count} outputs; an image classifier has one of each.");
        }

        var decoded = model.DecodeWeights(shard);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var writer = new SafeTensorsWriter();
        var layout = new Dictionary<string, long[]>(StringComparer.Ordinal);

        (long[] Shape, float[] Values) Take(string layer, string parameter)
        {
            var name = $"{layer}/{parameter}";
            if (!decoded.TryGetValue(name, out var weight))
            {
                throw new TfjsModelException($"Layer '{layer}' needs the weight '{name}', which the weights manifest does not list.");
            }

            if (!used.Add(name))
            {
                throw new TfjsModelException($"The weight '{name}' would be used twice.");
            }

            return weight;
        }

        void Store(string name, long[] shape, float[] values)
        {
            writer.AddFloat32(name, shape, values);
            layout[name] = shape;
        }

        // First pass: every weight into ONNX's layout, so the graph binds them as they are.
        foreach (var layer in model.Layers)
        {
            switch (layer.ClassName)
            {
                case "Conv2D":
                {
                    var (shape, values) = Take(layer.Name, "kernel");
                    Store($"{layer.Name}/kernel", [shape[3], shape[2], shape[0], shape[1]], KernelToOihw(shape, values));
                    if (Bool(layer, "use_bias", true))
                    {
                        var bias = Take(layer.Name, "bias");
                        Store($"{layer.Name}/bias", bias.Shape, bias.Values);
                    }

                    break;
                }

                case "DepthwiseConv2D":
                {
                    var (shape, values) = Take(layer.Name, "depthwise_kernel");
                    Store($"{layer.Name}/depthwise_kernel", [shape[2] * shape[3], 1, shape[0], shape[1]], DepthwiseToGrouped(shape, values));
                    if (Bool(layer, "use_bias", true))
                    {
                        var bias = Take(layer.Name, "bias");
                        Store($"{layer.Name}/bias", bias.Shape, bias.Values);
                    }

                    break;
                }

                case "BatchNormalization":
                {
                    var mean = Take(layer.Name, "moving_mean");
                    var variance = Take(layer.Name, "moving_variance");
                    var channels = mean.Shape[0];
                    var gamma = Bool(layer, "scale", true) ? Take(layer.Name, "gamma").Values : Enumerable.Repeat(1f, (int)channels).ToArray();
                    var beta = Bool(layer, "center", true) ? Take(layer.Name, "beta").Values : new float[channels];
                    Store($"{layer.Name}/gamma", [channels], gamma);
                    Store($"{layer.Name}/beta", [channels], beta);
                    Store($"{layer.Name}/moving_mean", [channels], mean.Values);
                    Store($"{layer.Name}/moving_variance", [channels], variance.Values);
                    break;
                }

                case "Dense":
                {
                    var kernel = Take(layer.Name, "kernel");
                    Store($"{layer.Name}/kernel", kernel.Shape, kernel.Values);
                    if (Bool(layer, "use_bias", true))
                    {
                        var bias = Take(layer.Name, "bias");
                        Store($"{layer.Name}/bias", bias.Shape, bias.Values);
                    }

                    break;
                }
            }
        }

        var unused = decoded.Keys.Where(name => !used.Contains(name)).ToList();
        if (unused.Count > 0)
        {
            throw new TfjsModelException($"The weights manifest lists {unused.Count} weight(s) no supported layer uses (first: '{unused[0]}'): the model holds something this converter does not understand.");
        }

        Directory.CreateDirectory(outputFolder);
        var weightsPath = Path.Combine(outputFolder, weightsFile);
        writer.Write(weightsPath, new Dictionary<string, string> { ["format"] = "pt", ["converted_by"] = "FluxWeb KerasOnnxConverter (float32, ONNX layouts)" });
        var weights = WeightSet.Open(weightsPath);

        var builder = new OnnxGraphBuilder("keras-image-classifier", ComputePrecision.Float32, outputFolder);
        var tensors = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var layer in model.Layers)
        {
            using var scope = builder.Scope(layer.Name);
            var inputs = layer.Inputs.Select(name => tensors.TryGetValue(name, out var v) ? v : throw new TfjsModelException($"Layer '{layer.Name}' reads '{name}', which comes later or does not exist.")).ToList();
            var value = layer.ClassName == "InputLayer"
                ? InputLayer(builder, layer)
                : Layer(builder, layer, inputs, weights, layout);
            tensors[layer.Name] = value;
        }

        var output = tensors[model.OutputLayers[0]];
        if (output.Spatial)
        {
            throw new TfjsModelException($"The output layer '{model.OutputLayers[0]}' gives an image-shaped tensor; a classifier ends in a vector of class scores.");
        }

        builder.Output(output.Name, OutputName, DataType.Float, "batch", output.Channels);
        var graphPath = Path.Combine(outputFolder, graphFile);
        builder.Save(graphPath);
        var input = tensors[model.InputLayers[0]];
        return new ConvertedClassifier(graphFile, weightsFile, InputName, [1, input.Height, input.Width, input.Channels], OutputName, (int)output.Channels, model.Layers.Count, builder.BoundParameterCount);
    }

    /// <summary>A tensor in the graph: NCHW with static spatial size, or a [batch, features] vector.</summary>
    private sealed record Value(string Name, long Channels, long Height, long Width, bool Spatial);

    private static Value InputLayer(OnnxGraphBuilder builder, KerasLayer layer)
    {
        var shape = layer.Config["batch_input_shape"] as JsonArray ?? throw new TfjsModelException($"Input layer '{layer.Name}' has no batch_input_shape.");
        if (shape.Count != 4 || shape[1] is null || shape[2] is null || shape[3] is null)
        {
            throw new TfjsModelException($"Input layer '{layer.Name}' has shape {shape.ToJsonString()}; an image classifier takes [batch, height, width, channels] with a fixed size.");
        }

        var (height, width, channels) = ((long)shape[1]!.GetValue<double>(), (long)shape[2]!.GetValue<double>(), (long)shape[3]!.GetValue<double>());
        var input = builder.Input(InputName, DataType.Float, "batch", height, width, channels);
        var nchw = builder.Op("Transpose", [input], a => a.Ints("perm", 0, 3, 1, 2));
        return new Value(nchw, channels, height, width, Spatial: true);
    }

    private static Value Layer(OnnxGraphBuilder builder, KerasLayer layer, IReadOnlyList<Value> inputs, WeightSet weights, IReadOnlyDictionary<string, long[]> layout)
    {
        var config = layer.Config;
        if (config["data_format"]?.GetValue<string>() is { } format && format != "channels_last")
        {
            throw new TfjsModelException($"Layer '{layer.Name}' uses data_format '{format}'; only channels_last models are supported.");
        }

        var x = layer.ClassName is "Add" or "Concatenate" ? inputs[0] : Single(layer, inputs);
        switch (layer.ClassName)
        {
            case "ZeroPadding2D":
            {
                var (top, bottom, left, right) = Padding(layer);
                var padded = builder.Op("Pad", [x.Name, builder.Int64(0, 0, top, left, 0, 0, bottom, right)], a => a.String("mode", "constant"));
                return x with { Name = padded, Height = x.Height + top + bottom, Width = x.Width + left + right };
            }

            case "Conv2D":
            case "DepthwiseConv2D":
            {
                var depthwise = layer.ClassName == "DepthwiseConv2D";
                var kernelName = $"{layer.Name}/{(depthwise ? "depthwise_kernel" : "kernel")}";
                var kernelShape = layout[kernelName];
                var (kh, kw) = (kernelShape[2], kernelShape[3]);
                var strides = Pair(layer, "strides", 1);
                var dilations = Pair(layer, "dilation_rate", 1);
                var (pads, height, width) = ConvolutionPads(layer, x, kh, kw, strides, dilations);
                var convInputs = new List<string> { x.Name, builder.Weight(weights, kernelName, kernelShape) };
                if (Bool(layer, "use_bias", true))
                {
                    convInputs.Add(builder.Weight(weights, $"{layer.Name}/bias", layout[$"{layer.Name}/bias"]));
                }

                if (depthwise && kernelShape[0] % x.Channels != 0)
                {
                    throw new TfjsModelException($"Layer '{layer.Name}': the depthwise kernel does not match its {x.Channels} input channels.");
                }

                var conv = builder.Op("Conv", [.. convInputs], a =>
                {
                    a.Ints("kernel_shape", kh, kw).Ints("strides", strides.Item1, strides.Item2).Ints("dilations", dilations.Item1, dilations.Item2).Ints("pads", pads);
                    if (depthwise)
                    {
                        a.Int("group", x.Channels);
                    }
                });
                return Activate(builder, layer, new Value(conv, kernelShape[0], height, width, Spatial: true));
            }

            case "BatchNormalization":
            {
                var axis = (long)(config["axis"] is JsonArray axes && axes.Count == 1 ? axes[0]! : config["axis"] ?? -1).GetValue<double>();
                if (!(axis == -1 || (x.Spatial && axis == 3) || (!x.Spatial && axis == 1)))
                {
                    throw new TfjsModelException($"Layer '{layer.Name}' normalises axis {axis}; only the channel axis is supported.");
                }

                var epsilon = (float)(config["epsilon"]?.GetValue<double>() ?? 1e-3);
                var normalised = builder.Op("BatchNormalization",
                    [x.Name, Bound("gamma"), Bound("beta"), Bound("moving_mean"), Bound("moving_variance")],
                    a => a.Float("epsilon", epsilon));
                return x with { Name = normalised };

                string Bound(string parameter) => builder.Weight(weights, $"{layer.Name}/{parameter}", layout[$"{layer.Name}/{parameter}"]);
            }

            case "ReLU":
            {
                var negativeSlope = config["negative_slope"]?.GetValue<double>() ?? 0;
                var threshold = config["threshold"]?.GetValue<double>() ?? 0;
                if (negativeSlope != 0 || threshold != 0)
                {
                    throw new TfjsModelException($"Layer '{layer.Name}': ReLU with negative_slope {negativeSlope} or threshold {threshold} is not supported.");
                }

                return x with { Name = config["max_value"] is { } max ? Clip(builder, x.Name, 0, (float)max.GetValue<double>()) : builder.Op("Relu", [x.Name]) };
            }

            case "Activation":
                return Activate(builder, layer, x);

            case "Add":
            {
                if (inputs.Count < 2 || inputs.Any(i => i.Channels != x.Channels || i.Height != x.Height || i.Width != x.Width || i.Spatial != x.Spatial))
                {
                    throw new TfjsModelException($"Layer '{layer.Name}' adds {inputs.Count} tensors of different shapes.");
                }

                return x with { Name = builder.Op(inputs.Count == 2 ? "Add" : "Sum", [.. inputs.Select(i => i.Name)]) };
            }

            case "Concatenate":
            {
                var axis = (long)(config["axis"]?.GetValue<double>() ?? -1);
                if (axis != -1 && axis != (x.Spatial ? 3 : 1))
                {
                    throw new TfjsModelException($"Layer '{layer.Name}' concatenates along axis {axis}; only the channel axis is supported.");
                }

                return x with { Name = builder.Op("Concat", [.. inputs.Select(i => i.Name)], a => a.Int("axis", 1)), Channels = inputs.Sum(i => i.Channels) };
            }

            case "AveragePooling2D":
            case "MaxPooling2D":
            {
                var size = Pair(layer, "pool_size", 2);
                var strides = config["strides"] is null ? size : Pair(layer, "strides", 1);
                var (pads, height, width) = ConvolutionPads(layer, x, size.Item1, size.Item2, strides, (1, 1));
                // Keras' average pooling with "same" padding averages only the real pixels (count_include_pad = 0, ONNX's default).
                var pooled = builder.Op(layer.ClassName == "AveragePooling2D" ? "AveragePool" : "MaxPool", [x.Name],
                    a => a.Ints("kernel_shape", size.Item1, size.Item2).Ints("strides", strides.Item1, strides.Item2).Ints("pads", pads));
                return x with { Name = pooled, Height = height, Width = width };
            }

            case "GlobalAveragePooling2D":
            {
                var pooled = builder.Op("GlobalAveragePool", [x.Name]);
                return new Value(builder.Op("Flatten", [pooled], a => a.Int("axis", 1)), x.Channels, 1, 1, Spatial: false);
            }

            case "Flatten":
            {
                // Keras flattens in (height, width, channels) order: back to NHWC first.
                var nhwc = x.Spatial ? builder.Op("Transpose", [x.Name], a => a.Ints("perm", 0, 2, 3, 1)) : x.Name;
                return new Value(builder.Op("Flatten", [nhwc], a => a.Int("axis", 1)), x.Spatial ? x.Channels * x.Height * x.Width : x.Channels, 1, 1, Spatial: false);
            }

            case "Dense":
            {
                if (x.Spatial)
                {
                    throw new TfjsModelException($"Layer '{layer.Name}' is a Dense layer on an image-shaped tensor; add a Flatten or pooling layer first.");
                }

                var kernelShape = layout[$"{layer.Name}/kernel"];
                if (kernelShape[0] != x.Channels)
                {
                    throw new TfjsModelException($"Layer '{layer.Name}' expects {kernelShape[0]} features but receives {x.Channels}.");
                }

                var product = builder.Op("MatMul", [x.Name, builder.Weight(weights, $"{layer.Name}/kernel", kernelShape)]);
                if (Bool(layer, "use_bias", true))
                {
                    product = builder.Op("Add", [product, builder.Weight(weights, $"{layer.Name}/bias", layout[$"{layer.Name}/bias"])]);
                }

                return Activate(builder, layer, new Value(product, kernelShape[1], 1, 1, Spatial: false));
            }

            case "Dropout":
            case "SpatialDropout2D":
            case "GaussianNoise":
            case "GaussianDropout":
                // Training-time only: identity at inference.
                return x;

            default:
                throw new TfjsModelException($"Layer '{layer.Name}' is a {layer.ClassName}, which the converter does not support.");
        }
    }

    private static Value Activate(OnnxGraphBuilder builder, KerasLayer layer, Value x)
    {
        var activation = layer.Config["activation"]?.GetValue<string>() ?? "linear";
        var name = activation switch
        {
            "linear" => x.Name,
            "relu" => builder.Op("Relu", [x.Name]),
            "relu6" => Clip(builder, x.Name, 0, 6),
            "sigmoid" => builder.Op("Sigmoid", [x.Name]),
            "tanh" => builder.Op("Tanh", [x.Name]),
            "softmax" when !x.Spatial => builder.Op("Softmax", [x.Name], a => a.Int("axis", -1)),
            "softmax" => builder.Op("Softmax", [x.Name], a => a.Int("axis", 1)),
            _ => throw new TfjsModelException($"Layer '{layer.Name}' uses the activation '{activation}', which the converter does not support."),
        };
        return x with { Name = name };
    }

    private static string Clip(OnnxGraphBuilder builder, string value, float min, float max) =>
        builder.Op("Clip", [value, builder.Scalar(min), builder.Scalar(max)]);

    private static Value Single(KerasLayer layer, IReadOnlyList<Value> inputs) =>
        inputs.Count == 1 ? inputs[0] : throw new TfjsModelException($"Layer '{layer.Name}' ({layer.ClassName}) has {inputs.Count} inputs; it takes one.");

    /// <summary>TensorFlow's "valid" and "same" padding as explicit ONNX pads (same: the odd pixel goes at the end, like SAME_UPPER), with the output size.</summary>
    private static (long[] Pads, long Height, long Width) ConvolutionPads(KerasLayer layer, Value x, long kh, long kw, (long, long) strides, (long, long) dilations)
    {
        if (!x.Spatial)
        {
            throw new TfjsModelException($"Layer '{layer.Name}' needs an image-shaped input.");
        }

        var padding = layer.Config["padding"]?.GetValue<string>() ?? "valid";
        var (top, bottom, outHeight) = Axis(x.Height, kh, strides.Item1, dilations.Item1);
        var (left, right, outWidth) = Axis(x.Width, kw, strides.Item2, dilations.Item2);
        return ([top, left, bottom, right], outHeight, outWidth);

        (long Before, long After, long Output) Axis(long size, long kernel, long stride, long dilation)
        {
            var effective = ((kernel - 1) * dilation) + 1;
            switch (padding)
            {
                case "valid":
                    return (0, 0, ((size - effective) / stride) + 1);
                case "same":
                {
                    var output = (size + stride - 1) / stride;
                    var total = Math.Max(0, ((output - 1) * stride) + effective - size);
                    return (total / 2, total - (total / 2), output);
                }

                default:
                    throw new TfjsModelException($"Layer '{layer.Name}' uses padding '{padding}'; valid and same are supported.");
            }
        }
    }

    private static (long, long, long, long) Padding(KerasLayer layer)
    {
        switch (layer.Config["padding"])
        {
            case JsonValue single:
            {
                var p = (long)single.GetValue<double>();
                return (p, p, p, p);
            }

            case JsonArray { Count: 2 } pairs when pairs[0] is JsonArray rows && pairs[1] is JsonArray columns:
                return ((long)rows[0]!.GetValue<double>(), (long)rows[1]!.GetValue<double>(), (long)columns[0]!.GetValue<double>(), (long)columns[1]!.GetValue<double>());
            case JsonArray { Count: 2 } symmetric:
            {
                var (h, w) = ((long)symmetric[0]!.GetValue<double>(), (long)symmetric[1]!.GetValue<double>());
                return (h, h, w, w);
            }

            default:
                throw new TfjsModelException($"Layer '{layer.Name}' has a padding this converter cannot read.");
        }
    }

    private static (long, long) Pair(KerasLayer layer, string key, long fallback) => layer.Config[key] switch
    {
        null => (fallback, fallback),
        JsonArray { Count: 2 } pair => ((long)pair[0]!.GetValue<double>(), (long)pair[1]!.GetValue<double>()),
        JsonValue single => ((long)single.GetValue<double>(), (long)single.GetValue<double>()),
        _ => throw new TfjsModelException($"Layer '{layer.Name}': '{key}' is neither a number nor a pair."),
    };

    private static bool Bool(KerasLayer layer, string key, bool fallback) => layer.Config[key]?.GetValue<bool>() ?? fallback;

    /// <summary>Keras [kh, kw, in, out] to ONNX [out, in, kh, kw].</summary>
    private static float[] KernelToOihw(long[] shape, float[] values)
    {
        var (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3]);
        var result = new float[values.Length];
        for (var i = 0; i < kh; i++)
        {
            for (var j = 0; j < kw; j++)
            {
                for (var c = 0; c < cin; c++)
                {
                    for (var o = 0; o < cout; o++)
                    {
                        result[(((o * cin) + c) * kh * kw) + (i * kw) + j] = values[(((((i * kw) + j) * cin) + c) * cout) + o];
                    }
                }
            }
        }

        return result;
    }

    /// <summary>Keras depthwise [kh, kw, in, multiplier] to a grouped ONNX kernel [in·multiplier, 1, kh, kw] (output channel c·multiplier + m, as TensorFlow orders them).</summary>
    private static float[] DepthwiseToGrouped(long[] shape, float[] values)
    {
        var (kh, kw, cin, multiplier) = (shape[0], shape[1], shape[2], shape[3]);
        var result = new float[values.Length];
        for (var i = 0; i < kh; i++)
        {
            for (var j = 0; j < kw; j++)
            {
                for (var c = 0; c < cin; c++)
                {
                    for (var m = 0; m < multiplier; m++)
                    {
                        result[((((c * multiplier) + m) * kh * kw) + (i * kw)) + j] = values[(((((i * kw) + j) * cin) + c) * multiplier) + m];
                    }
                }
            }
        }

        return result;
    }
}
