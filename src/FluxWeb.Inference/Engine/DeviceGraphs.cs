using System.Collections.Concurrent;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Pipeline;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// The small graphs the engine runs on the inference device besides the model's own: the sampler
/// step (four variants) and the copies into and out of device buffers. C# has no GPU tensor maths
/// and ONNX Runtime's C# API copies only inside a run, so moving data to and from the device is an
/// Identity graph whose inputs are bound in host memory and outputs in device memory (or back).
/// Built once per process; a few kilobytes each.
/// </summary>
public sealed class DeviceGraphs(SessionFactory factory) : IDisposable
{
    public const string Upload = "upload";
    public const string Download = "download";

    private readonly ConcurrentDictionary<string, Lazy<InferenceSession>> sessions = new(StringComparer.Ordinal);

    public InferenceSession Step(bool guided, bool inpaint) => Get($"sampler_step_{guided}_{inpaint}", () => SamplerStepGraph.Build(guided, inpaint));

    /// <summary>Copies the transformer's six inputs (host → device, or into fixed device buffers).</summary>
    public InferenceSession Uploads => Get(Upload, BuildUpload);

    /// <summary>Copies [batch, tokens, 128] latents back (device → host).</summary>
    public InferenceSession Downloads => Get(Download, BuildDownload);

    public static IReadOnlyList<(string Name, DataType Type, object[] Dims)> UploadInputs { get; } =
    [
        ("hidden", DataType.Float, ["b", "s", LatentLayout.Channels]),
        ("timestep", DataType.Float, ["b"]),
        ("step", DataType.Int64, [1]),
        ("context", DataType.Float, ["b", "t", "c"]),
        ("image_ids", DataType.Float, ["s", 4]),
        ("text_ids", DataType.Float, ["t", 4]),
    ];

    private InferenceSession Get(string name, Func<byte[]> build) =>
        sessions.GetOrAdd(name, key => new Lazy<InferenceSession>(() => factory.CreateFromBytes(build(), key))).Value;

    private static byte[] BuildUpload()
    {
        var g = new OnnxGraphBuilder(Upload, ComputePrecision.Float32, Path.GetTempPath());
        foreach (var (name, type, dims) in UploadInputs)
        {
            g.Output(g.Input(name, type, dims), name + "_out", type, dims);
        }

        return g.Build().ToByteArray();
    }

    private static byte[] BuildDownload()
    {
        var g = new OnnxGraphBuilder(Download, ComputePrecision.Float32, Path.GetTempPath());
        g.Output(g.Input("hidden", DataType.Float, "b", "s", LatentLayout.Channels), "hidden_out", DataType.Float, "b", "s", LatentLayout.Channels);
        return g.Build().ToByteArray();
    }

    public void Dispose()
    {
        foreach (var session in sessions.Values.Where(s => s.IsValueCreated))
        {
            session.Value.Dispose();
        }

        sessions.Clear();
    }
}
