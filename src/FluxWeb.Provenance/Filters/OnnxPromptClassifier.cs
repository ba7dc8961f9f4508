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
    private readonly InferenceSession session;
    private readonly string inputName;

    public OnnxPromptClassifier(string modelPath)
    {
        session = new InferenceSession(modelPath);
        var (name, metadata) = session.InputMetadata.Single();
        if (metadata.ElementDataType != TensorElementType.String)
        {
            session.Dispose();
            throw new InvalidDataException($"{modelPath}: the text classifier's input '{name}' must be a string tensor [N].");
        }

        inputName = name;
    }

    public double UnsafeProbability(string prompt)
    {
        var input = new DenseTensor<string>(new[] { prompt }, [1]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)]);
        var output = results[0].AsTensor<float>();
        return output.Length == 2 ? Softmax.SecondOfTwo(output[0, 0], output[0, 1]) : output.GetValue(0);
    }

    public void Dispose() => session.Dispose();
}

internal static class Softmax
{
    public static double SecondOfTwo(double first, double second) => 1.0 / (1.0 + Math.Exp(first - second));
}
