using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Vae;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>A float tensor with its shape, as the tests compare them.</summary>
internal sealed record FloatTensor(float[] Values, long[] Shape)
{
    public string ShapeText => $"[{string.Join(",", Shape)}]";
}

/// <summary>
/// Puts VAE graphs and their weights in one model folder and runs them on ONNX Runtime's CPU
/// provider. The .onnx refers to its weights by a path relative to itself, so the weight file is
/// copied in (ONNX Runtime 1.31 rejects a symbolic link whose target lies outside the model folder).
/// </summary>
internal sealed class VaeTestModel : IDisposable
{
    private readonly TempDirectory folder = new();

    public VaeTestModel(string sourceWeights)
    {
        WeightsPath = folder.Combine("vae.safetensors");
        File.Copy(sourceWeights, WeightsPath);
    }

    /// <summary>A copy of <paramref name="sourceWeights"/> with every tensor rewritten by <paramref name="add"/> (another dtype, rounded values).</summary>
    public VaeTestModel(string sourceWeights, Action<SafeTensorsWriter, string, long[], float[]> add)
        : this()
    {
        var source = SafeTensorsFile.Open(sourceWeights);
        var writer = new SafeTensorsWriter();
        foreach (var tensor in source.Tensors.Values.OrderBy(t => t.Offset))
        {
            add(writer, tensor.Name, tensor.Shape, source.ReadFloat32(tensor.Name));
        }

        writer.Write(WeightsPath);
    }

    private VaeTestModel()
    {
        WeightsPath = folder.Combine("vae.safetensors");
    }

    public string Folder => folder.Path;

    public string WeightsPath { get; }

    public static VaeTestModel Random(Flux2VaeConfig config, ulong seed, Flux2VaeNaming naming)
    {
        var model = new VaeTestModel();
        Flux2VaeRandomWeights.Write(model.WeightsPath, config, seed, naming);
        return model;
    }

    public WeightSet OpenWeights() => WeightSet.Open(WeightsPath);

    /// <summary>Saves <paramref name="graph"/> as <paramref name="fileName"/> in the model folder and returns its path.</summary>
    public string Save(OnnxGraphBuilder graph, string fileName)
    {
        var path = folder.Combine(fileName);
        Flux2VaeGraphs.Save(graph, path);
        return path;
    }

    public string SaveEncoder(ComputePrecision precision, Flux2VaeConfig? config = null)
    {
        var weights = OpenWeights();
        return Save(Flux2VaeGraphs.BuildEncoder(weights, config ?? Flux2VaeConfig.FromWeights(weights), precision, Folder), $"encoder-{precision}.onnx");
    }

    public string SaveDecoder(ComputePrecision precision, Flux2VaeConfig? config = null)
    {
        var weights = OpenWeights();
        return Save(Flux2VaeGraphs.BuildDecoder(weights, config ?? Flux2VaeConfig.FromWeights(weights), precision, Folder), $"decoder-{precision}.onnx");
    }

    public static Dictionary<string, FloatTensor> Run(string modelPath, string inputName, FloatTensor input)
    {
        using var options = new SessionOptions();
        using var session = new InferenceSession(modelPath, options);
        var dims = input.Shape.Select(d => (int)d).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(input.Values, dims))]);
        return results.ToDictionary(r => r.Name, r =>
        {
            var tensor = r.AsTensor<float>();
            return new FloatTensor(tensor.ToArray(), tensor.Dimensions.ToArray().Select(d => (long)d).ToArray());
        });
    }

    public static FloatTensor Read(SafeTensorsFile file, string name) => new(file.ReadFloat32(name), file.Get(name).Shape);

    public void Dispose() => folder.Dispose();
}
