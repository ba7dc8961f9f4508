using FluxWeb.Application.Boards;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>"Auto-add new results to this board": checked at submission and again when each job's result is recorded.</summary>
public sealed class BoardAutoAddTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly TempFolder folder = new("fluxweb-board-auto-add");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;
    private BoardService boards = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, engine);
        boards = host.Services.GetRequiredService<BoardService>();
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private static JobRequest Request(string prompt, Guid board, int count = 1) => QueueHost.Request(prompt, count) with { AutoAddBoardId = board };

    private Task<List<Guid>> OnBoardAsync(Guid board) =>
        host.WithDbAsync(db => db.BoardImages.Where(e => e.BoardId == board).OrderBy(e => e.Position).Select(e => e.ImageId).ToListAsync());

    [Fact]
    public async Task Each_result_of_a_batch_goes_on_the_chosen_board_once_its_job_succeeds()
    {
        var picks = (await boards.CreateAsync(ada, "Picks")).Value!.Id;
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Succeeded);

        var batch = await host.Generation.SubmitAsync(ada.UserId, Request("two lakes", picks, count: 2));
        var single = await host.Generation.SubmitAsync(ada.UserId, Request("for bob's board", contributing));
        Assert.True(batch.Accepted, batch.Error);
        Assert.True(single.Accepted, single.Error);

        var outputs = new List<Guid>();
        foreach (var id in batch.JobIds)
        {
            var job = await host.WaitForEndAsync(id, Wait);
            Assert.Equal(JobState.Succeeded, job.State);
            Assert.Equal(picks, job.AutoAddBoardId);
            outputs.Add(job.OutputImageId!.Value);
        }

        var bobsJob = await host.WaitForEndAsync(single.JobIds[0], Wait);
        Assert.Equal(JobState.Succeeded, bobsJob.State);
        // The addition follows the recorded success (after its commit), so it is polled for.
        await Eventually.Until(async () => (await OnBoardAsync(picks)).Count == 2 && (await OnBoardAsync(contributing)).Count == 1, "The results did not land on their boards.");
        Assert.Equal(outputs.Order(), (await OnBoardAsync(picks)).Order());
        Assert.Null((await host.JobAsync(single.JobIds[0])).Notice);
        Assert.Equal([bobsJob.OutputImageId!.Value], await OnBoardAsync(contributing));
        Assert.Equal(3, host.Logs.Lines.Count(l => l.Contains("added to board", StringComparison.Ordinal) && l.Contains("as asked at submission", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_contribution_ended_while_the_job_ran_adds_nothing_and_the_job_still_succeeds_and_says_so()
    {
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var share = (await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Value!.Id;
        var hold = engine.HoldNextJob(step: 1);
        var submitted = await host.Generation.SubmitAsync(ada.UserId, Request("too late", contributing));
        Assert.True(submitted.Accepted, submitted.Error);
        await hold.Reached.WaitAsync(Wait);

        Assert.True((await boards.UnshareAsync(bob, share, "ui")).Succeeded);
        hold.Release();

        var job = await host.WaitForEndAsync(submitted.JobIds[0], Wait);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.NotNull(job.OutputImageId);
        // Said in the job itself, as its owner reads it (the Studio, the job list, the API).
        Assert.Equal(BoardAutoAdd.NotAddedNotice, job.Notice);
        Assert.Equal(BoardAutoAdd.NotAddedNotice, (await host.Services.GetRequiredService<JobService>().GetAsync(ada, job.Id))?.Notice);
        Assert.DoesNotContain("Bob", BoardAutoAdd.NotAddedNotice, StringComparison.Ordinal);
        // The log line follows the recorded success.
        await Eventually.Until(
            () => host.Logs.Lines.Any(l => l.Contains($"Job {job.Id} succeeded, but its result {job.OutputImageId} was not added to board {contributing}", StringComparison.Ordinal)),
            "The refusal to add the result was not logged.");
        Assert.Empty(await OnBoardAsync(contributing));
    }

    [Fact]
    public async Task A_strangers_board_or_one_shared_to_look_at_is_refused_at_submission_like_an_unknown_one()
    {
        var privateBoard = (await boards.CreateAsync(bob, "Bob's private board")).Value!.Id;
        var lookOnly = (await boards.CreateAsync(bob, "Bob's look-only board")).Value!.Id;
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(lookOnly), "ada@example.com", ShareRole.Viewer, "ui")).Succeeded);

        var stranger = await host.Generation.SubmitAsync(ada.UserId, Request("not yours", privateBoard));
        var viewer = await host.Generation.SubmitAsync(ada.UserId, Request("only to look at", lookOnly));
        var unknown = await host.Generation.SubmitAsync(ada.UserId, Request("no such board", Guid.NewGuid()));

        foreach (var refused in new[] { stranger, viewer, unknown })
        {
            Assert.False(refused.Accepted);
            Assert.Equal(BoardAutoAdd.UnknownBoard, refused.Error);
            Assert.Empty(refused.JobIds);
        }

        Assert.DoesNotContain("Bob", BoardAutoAdd.UnknownBoard, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == ada.UserId)));
    }
}
