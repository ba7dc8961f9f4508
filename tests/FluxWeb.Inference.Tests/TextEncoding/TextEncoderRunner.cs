using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>Builds a text-encoder graph into a model folder, saves it beside its weights and runs it on the CPU provider.</summary>
internal static class TextEncoderRunner
{
    public const string ModelFileName = "text_encoder.onnx";

    private static readonly Lazy<KleinPromptTokenizer> BundledTokenizer = new(KleinPromptTokenizer.LoadBundled);

    /// <summary>One tokenizer for all tests, as the engine shares one; it lives as long as the test process.</summary>
    public static KleinPromptTokenizer SharedTokenizer => BundledTokenizer.Value;

    public const string FixtureWeightsFileName = "model.safetensors";

    /// <summary>
    /// Copies the fixture weights (7 MB) into <paramref name="modelFolder"/>: ONNX Runtime reads external
    /// data only inside the model's folder, and it resolves symbolic links before checking (see
    /// <see cref="Qwen3OracleTests.Onnx_runtime_refuses_external_data_behind_a_symbolic_link"/>).
    /// </summary>
    public static WeightSet CopyFixtureWeights(string modelFolder)
    {
        var target = Path.Combine(modelFolder, FixtureWeightsFileName);
        File.Copy(TestFixtures.Path("qwen3-tiny", "weights", FixtureWeightsFileName), target);
        return WeightSet.Open(target);
    }

    public static string BuildAndSave(WeightSet weights, Qwen3Config config, ComputePrecision precision, string modelFolder, Qwen3TextEncoderGraphOptions? options = null)
    {
        var builder = Qwen3TextEncoderGraph.Build(weights, config, precision, modelFolder, options ?? new Qwen3TextEncoderGraphOptions());
        var path = Path.Combine(modelFolder, ModelFileName);
        builder.Save(path);
        return path;
    }

    public static Dictionary<string, float[]> Run(string modelPath, long[] inputIds, long[] attentionMask, int batch)
    {
        var sequence = inputIds.Length / batch;
        using var session = new InferenceSession(modelPath);
        var inputs = new[]
        {
            NamedOnnxValue.CreateFromTensor(Qwen3TextEncoderGraph.InputIdsName, new DenseTensor<long>(inputIds, [batch, sequence])),
            NamedOnnxValue.CreateFromTensor(Qwen3TextEncoderGraph.AttentionMaskName, new DenseTensor<long>(attentionMask, [batch, sequence])),
        };
        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }
}

/// <summary>Error measures for comparing against reference tensors.</summary>
internal readonly record struct ErrorStats(double MaxAbs, double Rms, int ArgMax)
{
    public static ErrorStats Between(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0, sumSquares = 0;
        var argMax = -1;
        for (var i = 0; i < expected.Length; i++)
        {
            var error = Math.Abs((double)expected[i] - actual[i]);
            if (double.IsNaN(error))
            {
                return new ErrorStats(double.NaN, double.NaN, i);
            }

            if (error > max)
            {
                max = error;
                argMax = i;
            }

            sumSquares += error * error;
        }

        return new ErrorStats(max, Math.Sqrt(sumSquares / expected.Length), argMax);
    }

    public override string ToString() => $"max abs {MaxAbs:E2}, RMS {Rms:E2}";
}
