using System.Text.RegularExpressions;
using FluxWeb.Inference.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// A tiny graph made of the operators klein's graphs live on (FusedMatMul, SimplifiedLayerNormalization,
/// RotaryEmbedding, MultiHeadAttention with head size 128, and a Conv so cuDNN loads), built for one
/// compute precision and run on a device. A precision counts as usable only when this graph runs
/// there (on CUDA with CPU fallback disabled, so nothing hides on the CPU) and returns what the
/// float32 graph returns on the CPU, within that precision's rounding.
/// </summary>
public static partial class PrecisionProbeGraph
{
    public const string InputName = "x";
    public const string OutputName = "y";
    private const int Tokens = 16;
    private const int Width = 256;
    private const int Heads = 2;

    public static byte[] Build(ComputePrecision precision)
    {
        var g = new OnnxGraphBuilder($"precision_probe_{precision.ManifestName()}", precision, Path.GetTempPath());
        var x = g.Float32Input(InputName, 1, Tokens, Width);
        var h = g.Linear(x, g.Constant(Values(Width * Width, 0.05f, 1), Width, Width));
        h = g.RmsNorm(h, g.Constant(Values(Width, 0.2f, 2, offset: 1f), Width), 1e-6f);
        var (cos, sin) = Rope();
        var q = g.Rotary(h, g.Constant(cos, Tokens, Width / Heads / 2), g.Constant(sin, Tokens, Width / Heads / 2), Heads, interleaved: true);
        var attended = g.Attention(q, q, h, Heads);
        var image = g.Op("Reshape", [attended, g.Int64(1, Tokens, 16, 16)]);
        var convolved = g.Op("Conv", [image, g.Constant(Values(Tokens * Tokens * 9, 0.05f, 3), Tokens, Tokens, 3, 3)], a => a.Ints("pads", 1, 1, 1, 1));
        g.Output(precision == ComputePrecision.Float32 ? convolved : g.Cast(convolved, DataType.Float), OutputName, DataType.Float, 1, Tokens, 16, 16);
        // Opset 22: ONNX Runtime registers its CUDA bf16 Conv only for Conv-22 (as the VAE graphs need).
        return g.Build(22).ToByteArray();
    }

    public static float[] Input() => Values(Tokens * Width, 1f, 4);

    /// <summary>Runs the probe graph with <paramref name="sessionOptions"/> (which choose the device); returns the output.</summary>
    public static float[] Run(ComputePrecision precision, SessionOptions sessionOptions)
    {
        using var session = new InferenceSession(Build(precision), sessionOptions);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(InputName, new DenseTensor<float>(Input(), [1, Tokens, Width]))]);
        return results[0].AsTensor<float>().ToArray();
    }

    /// <summary>The float32 graph on the CPU: what every device and precision must reproduce.</summary>
    public static float[] Reference { get; } = RunReference();

    /// <summary>Null when <paramref name="output"/> matches the reference within <paramref name="precision"/>'s rounding, else what is wrong.</summary>
    public static string? Check(ComputePrecision precision, float[] output)
    {
        if (output.Any(v => !float.IsFinite(v)))
        {
            return $"the {precision.ManifestName()} probe graph returned NaN or infinity";
        }

        var scale = Reference.Max(MathF.Abs);
        var error = Reference.Zip(output, (a, b) => MathF.Abs(a - b)).Max() / scale;
        // bf16 keeps 8 significant bits, fp16 11; fp32 on CUDA may use TF32 (10 bits) in its matmuls.
        var tolerance = precision switch { ComputePrecision.BFloat16 => 0.08f, ComputePrecision.Float16 => 0.02f, _ => 0.01f };
        return error <= tolerance ? null : $"the {precision.ManifestName()} probe graph returned wrong values (off by {error:P1} of its range)";
    }

    /// <summary>ONNX Runtime's "Could not find an implementation for FusedMatMul(1) node" as "no bf16 FusedMatMul kernel".</summary>
    public static string Explain(ComputePrecision precision, string provider, Exception error)
    {
        var message = error.Message.Split('\n', 2)[0].Trim();
        var missing = MissingKernel().Match(message);
        return missing.Success
            ? $"ONNX Runtime's {provider} provider has no {precision.ManifestName()} {missing.Groups[1].Value} kernel"
            : $"the {precision.ManifestName()} probe graph failed on {provider}: {message.TrimEnd('.')}";
    }

    private static float[] RunReference()
    {
        using var options = new SessionOptions();
        return Run(ComputePrecision.Float32, options);
    }

    private static (float[] Cos, float[] Sin) Rope()
    {
        var half = Width / Heads / 2;
        var cos = new float[Tokens * half];
        var sin = new float[Tokens * half];
        for (var t = 0; t < Tokens; t++)
        {
            for (var j = 0; j < half; j++)
            {
                var angle = t * Math.Pow(2000, -2.0 * j / (2 * half));
                cos[t * half + j] = (float)Math.Cos(angle);
                sin[t * half + j] = (float)Math.Sin(angle);
            }
        }

        return (cos, sin);
    }

    private static float[] Values(int count, float amplitude, int seed, float offset = 0f) =>
        Enumerable.Range(0, count).Select(i => offset + amplitude * MathF.Sin(0.37f * i + seed)).ToArray();

    [GeneratedRegex(@"Could not find an implementation for (\w+)\(\d+\)")]
    private static partial Regex MissingKernel();
}
