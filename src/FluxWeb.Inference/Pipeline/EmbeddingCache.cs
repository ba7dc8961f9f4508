namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// Prompt embeddings by (text encoder, prompt), least recently used out: designers iterate on seeds
/// and settings far more often than on words, and the text encoder is the slowest part to reload.
/// </summary>
public sealed class EmbeddingCache(int capacity)
{
    private readonly Lock gate = new();
    private readonly Dictionary<(string, string), LinkedListNode<(string Key1, string Key2, float[] Value)>> entries = [];
    private readonly LinkedList<(string Key1, string Key2, float[] Value)> order = new();

    public int Count
    {
        get
        {
            lock (gate)
            {
                return entries.Count;
            }
        }
    }

    public bool TryGet(string textEncoderId, string prompt, out float[] embeddings)
    {
        lock (gate)
        {
            if (entries.TryGetValue((textEncoderId, prompt), out var node))
            {
                order.Remove(node);
                order.AddFirst(node);
                embeddings = node.Value.Value;
                return true;
            }
        }

        embeddings = [];
        return false;
    }

    public void Add(string textEncoderId, string prompt, float[] embeddings)
    {
        if (capacity <= 0)
        {
            return;
        }

        lock (gate)
        {
            if (entries.TryGetValue((textEncoderId, prompt), out var existing))
            {
                order.Remove(existing);
            }

            var node = order.AddFirst((textEncoderId, prompt, embeddings));
            entries[(textEncoderId, prompt)] = node;
            while (entries.Count > capacity)
            {
                var last = order.Last!;
                order.RemoveLast();
                entries.Remove((last.Value.Key1, last.Value.Key2));
            }
        }
    }
}
