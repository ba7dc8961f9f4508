namespace FluxWeb.Domain.Jobs;

/// <summary>queued → running → succeeded | failed | cancelled. Stored as text.</summary>
public enum JobState
{
    Queued = 0,
    Running = 1,
    Succeeded = 2,
    Failed = 3,
    Cancelled = 4,
}

public static class JobStates
{
    public static bool IsActive(this JobState state) => state is JobState.Queued or JobState.Running;

    public static bool IsFinished(this JobState state) => !state.IsActive();
}
