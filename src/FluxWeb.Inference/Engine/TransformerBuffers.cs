using FluxWeb.Inference.Pipeline;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Engine;

/// <summary>The shape of one job's transformer inputs: batch (2 with guidance), tokens (image + references), text tokens, context width.</summary>
public readonly record struct TransformerShape(int Batch, int Tokens, int TextTokens, int ContextWidth);

/// <summary>
/// Device buffers for one transformer shape: the input latents twice (the sampler step reads one
/// and writes the other, then they swap), timestep and step index twice, the velocity, and the
/// prompt embeddings and position ids. They stay allocated for later jobs of the same shape; with
/// CUDA graphs that is required (a captured graph replays on the addresses it was captured with),
/// so each set gets its own two graph ids, one per parity of the step.
/// </summary>
public sealed class TransformerBuffers : IDisposable
{
    private readonly List<OrtValue> owned = [];

    // Values allocated through it free themselves through it: it lives as long as they do.
    private readonly OrtAllocator allocator;

    public TransformerBuffers(InferenceSession session, OrtMemoryInfo memory, TransformerShape shape, int firstGraphId)
    {
        Shape = shape;
        FirstGraphId = firstGraphId;
        allocator = new OrtAllocator(session, memory);
        long b = shape.Batch, s = shape.Tokens, t = shape.TextTokens, c = shape.ContextWidth;
        Hidden = [Allocate(allocator, TensorElementType.Float, b, s, LatentLayout.Channels), Allocate(allocator, TensorElementType.Float, b, s, LatentLayout.Channels)];
        Timestep = [Allocate(allocator, TensorElementType.Float, b), Allocate(allocator, TensorElementType.Float, b)];
        Step = [Allocate(allocator, TensorElementType.Int64, 1), Allocate(allocator, TensorElementType.Int64, 1)];
        Velocity = Allocate(allocator, TensorElementType.Float, b, s, LatentLayout.Channels);
        Context = Allocate(allocator, TensorElementType.Float, b, t, c);
        ImageIds = Allocate(allocator, TensorElementType.Float, s, 4);
        TextIds = Allocate(allocator, TensorElementType.Float, t, 4);
    }

    public TransformerShape Shape { get; }

    /// <summary>CUDA graph ids of this set: <see cref="FirstGraphId"/> + parity of the step.</summary>
    public int FirstGraphId { get; }

    public OrtValue[] Hidden { get; }

    public OrtValue[] Timestep { get; }

    public OrtValue[] Step { get; }

    public OrtValue Velocity { get; }

    public OrtValue Context { get; }

    public OrtValue ImageIds { get; }

    public OrtValue TextIds { get; }

    /// <summary>Device bytes this set holds.</summary>
    public long Bytes => (3L * Shape.Batch * Shape.Tokens * LatentLayout.Channels + (long)Shape.Batch * Shape.TextTokens * Shape.ContextWidth + 4L * (Shape.Tokens + Shape.TextTokens) + 2L * Shape.Batch) * sizeof(float) + 16;

    private OrtValue Allocate(OrtAllocator allocator, TensorElementType type, params long[] shape)
    {
        var value = OrtValue.CreateAllocatedTensorValue(allocator, type, shape);
        owned.Add(value);
        return value;
    }

    public void Dispose()
    {
        foreach (var value in owned)
        {
            value.Dispose();
        }

        owned.Clear();
        allocator.Dispose();
    }
}

/// <summary>
/// The buffer sets of the transformer session in use, a few shapes deep (least recently used go
/// first). Without CUDA graphs two are kept (a studio alternates a couple of sizes). With CUDA
/// graphs every set's captured graphs stay in ONNX Runtime until the session goes, so after
/// <see cref="MaxCapturedShapes"/> shapes the caller is told to reload the transformer.
/// </summary>
public sealed class TransformerBufferCache : IDisposable
{
    public const int MaxCapturedShapes = 8;

    private readonly LinkedList<TransformerBuffers> sets = new();
    private InferenceSession? owner;
    private int nextGraphId = 1;

    public int CapturedShapes { get; private set; }

    public TransformerBuffers Get(InferenceSession session, OrtMemoryInfo memory, TransformerShape shape, bool cudaGraphs)
    {
        if (!ReferenceEquals(owner, session))
        {
            // A new transformer session (loaded, reloaded after a failure): its buffers and captures start afresh.
            Clear();
            owner = session;
        }

        var found = sets.FirstOrDefault(s => s.Shape == shape);
        if (found is not null)
        {
            sets.Remove(found);
            sets.AddFirst(found);
            return found;
        }

        var keep = cudaGraphs ? MaxCapturedShapes : 2;
        while (sets.Count >= keep)
        {
            sets.Last!.Value.Dispose();
            sets.RemoveLast();
        }

        var created = new TransformerBuffers(session, memory, shape, nextGraphId);
        nextGraphId += 2;
        if (cudaGraphs)
        {
            CapturedShapes++;
        }

        sets.AddFirst(created);
        return created;
    }

    /// <summary>Frees the buffers allocated through <paramref name="session"/> (called before it is disposed).</summary>
    public void Release(InferenceSession session)
    {
        if (ReferenceEquals(owner, session))
        {
            Clear();
        }
    }

    /// <summary>With CUDA graphs, whether the session has captured so many shapes it should be reloaded to free them.</summary>
    public bool ShouldReloadSession => CapturedShapes >= MaxCapturedShapes;

    public long Bytes => sets.Sum(s => s.Bytes);

    public void Clear()
    {
        foreach (var set in sets)
        {
            set.Dispose();
        }

        sets.Clear();
        owner = null;
        nextGraphId = 1;
        CapturedShapes = 0;
    }

    public void Dispose() => Clear();
}
