namespace FluxWeb.Inference.Engine;

/// <summary>
/// Decides when a job's activations are unusual enough that ONNX Runtime's arenas should give the
/// memory back afterwards (they otherwise keep their largest size for good): one 2048² job among
/// 1024² ones would leave gigabytes held that the next model load needs. Over 1.5× the median of
/// the last jobs (once there are a few), or over a quarter of the budget.
/// </summary>
public sealed class ArenaShrinkPolicy
{
    public const int History = 20;

    private readonly Queue<long> recent = new();
    private readonly Lock gate = new();

    public bool IsUnusual(long activationBytes, long budgetBytes)
    {
        lock (gate)
        {
            if (activationBytes > budgetBytes / 4)
            {
                return true;
            }

            if (recent.Count < 3)
            {
                return false;
            }

            var sorted = recent.Order().ToArray();
            var median = sorted[sorted.Length / 2];
            return activationBytes > median * 3 / 2;
        }
    }

    public void Record(long activationBytes)
    {
        lock (gate)
        {
            recent.Enqueue(activationBytes);
            while (recent.Count > History)
            {
                recent.Dequeue();
            }
        }
    }
}
