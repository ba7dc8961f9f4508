using FluxWeb.Testing.Load;
using Xunit.Abstractions;

namespace FluxWeb.Application.Tests.Load;

/// <summary>
/// The short version of bench/FluxWeb.Queue.LoadTest, run by the test command: 20 users for a few
/// seconds. Correctness is asserted (nothing lost, nothing run twice); figures are printed.
/// </summary>
[Trait("Category", "Load")]
public sealed class QueueLoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Twenty_users_enqueue_for_a_while_and_no_job_is_lost_or_run_twice()
    {
        var report = await QueueLoadRun.RunAsync(new QueueLoadOptions { Users = 20, HeavyUsers = 4, Duration = TimeSpan.FromSeconds(8) });

        output.WriteLine(report.Describe());
        Assert.True(report.RefusedSubmissions > 0, "The heavy users never hit the queued-jobs cap: the run did not load the queue.");
        Assert.Equal(0, report.LostJobs);
        Assert.Equal(0, report.DuplicatedRuns);
        Assert.Equal(report.AcceptedJobs, report.SucceededJobs);
        Assert.Equal(report.SucceededJobs, report.ImagesStored);
        Assert.Equal(1, report.MaxConcurrentRuns);
        Assert.All(report.Users, u => Assert.True(u.Accepted > 0, $"{u.User} never got a job in."));
    }
}
