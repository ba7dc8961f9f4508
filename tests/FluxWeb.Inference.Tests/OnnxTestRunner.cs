using FluxWeb.Inference.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests;

/// <summary>Builds a small graph, runs it on the CPU execution provider and returns float outputs by name.</summary>
internal static class OnnxTestRunner
{
    public static Dictionary<string, float[]> Run(OnnxGraphBuilder builder, params (string Name, float[] Values, int[] Dims)[] inputs)
    {
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(builder.Build());
        using var session = new InferenceSession(bytes);
        var values = inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(i.Values, i.Dims))).ToList();
        using var results = session.Run(values);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
