using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Provenance.Filters;

/// <summary>
/// ONNX text classifier contract: one input of element type string, shape [N] (raw prompts; tokenisation lives in
/// the graph), and one float output, either probabilities of "unsafe" shaped [N] / [N,1], or logits [N,2]
/// (label 1 = unsafe, softmax applied here).
/// </summary>
public sealed class OnnxPromptClassifier : IPromptClassifier, IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;

    public OnnxPromptClassifier(string modelPath)
    {
        _session = new InferenceSession(modelPath);
        var (name, metadata) = _session.InputMetadata.Single();
        if (metadata.ElementDataType != TensorElementType.String)
        {
            _session.Dispose();
            throw new InvalidDataException($"{modelPath}: the text classifier's input '{name}' must be a string tensor [N].");
        }

        _input = name;
    }

    public double UnsafeProbability(string prompt)
    {
        var input = new DenseTensor<string>(new[] { prompt }, [1]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, input)]);
        var output = results[0].AsTensor<float>();
        return output.Length == 2 ? Softmax.SecondOfTwo(output[0, 0], output[0, 1]) : output.GetValue(0);
    }

    public void Dispose() => _session.Dispose();
}

internal static class Softmax
{
    public static double SecondOfTwo(double first, double second) => 1.0 / (1.0 + Math.Exp(first - second));
}
