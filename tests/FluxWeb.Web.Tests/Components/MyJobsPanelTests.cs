using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The Studio's "My jobs" panel on real job services (SQLite, no worker) with events published by hand.</summary>
public sealed class MyJobsPanelTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-panel");
    private QueueHost host = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext(bool interactive = true)
    {
        var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services, interactive);
        auth.SetAuthorized("ada@example.com");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, ada.UserId));
        return ctx;
    }

    private async Task<IReadOnlyList<Guid>> SubmitAsync(JobActor user, string prompt, int count = 1)
    {
        var result = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request(prompt, count));
        Assert.True(result.Accepted, result.Error);
        return result.JobIds;
    }

    private static string StatusOf(IRenderedComponent<MyJobsPanel> cut, Guid id) =>
        cut.Find($"[data-job-id='{id}'] [data-testid=job-status]").TextContent.Trim();

    private void Publish(JobEventKind kind, Guid id, JobState state, Func<JobEvent, JobEvent>? with = null, JobActor? owner = null)
    {
        var jobEvent = new JobEvent(kind, id, (owner ?? ada).UserId, state, DateTime.UtcNow);
        host.Events.Publish(with?.Invoke(jobEvent) ?? jobEvent);
    }

    [Fact]
    public async Task Lists_only_the_users_own_jobs_and_follows_them_live()
    {
        var jobs = await SubmitAsync(ada, "two lighthouses", count: 2);
        var bobs = await SubmitAsync(bob, "bob's secret");
        await using var ctx = NewContext();

        var cut = ctx.Render<MyJobsPanel>();

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=job]").Count));
        Assert.DoesNotContain("bob's secret", cut.Markup, StringComparison.Ordinal);
        Assert.Equal("Queued", StatusOf(cut, jobs[0]));

        Publish(JobEventKind.PositionChanged, jobs[0], JobState.Queued, e => e with { QueuePosition = 1 });
        Publish(JobEventKind.PositionChanged, jobs[1], JobState.Queued, e => e with { QueuePosition = 3 });
        cut.WaitForAssertion(() => Assert.Equal("Queued · next to run", StatusOf(cut, jobs[0])));
        // Events reach a subscriber in order but after the publisher returns (each is licence-checked as it is delivered).
        cut.WaitForAssertion(() => Assert.Equal("Queued · 3 in line", StatusOf(cut, jobs[1])));

        Publish(JobEventKind.Started, jobs[0], JobState.Running, e => e with { TotalSteps = 4 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.Denoising, Step = 2, TotalSteps = 4, PreviewUrl = JobUrls.Preview(jobs[0], 2) });
        cut.WaitForAssertion(() => Assert.Equal("Running · step 2 of 4", StatusOf(cut, jobs[0])));
        Assert.Equal($"/api/v1/jobs/{jobs[0]}/preview?step=2", cut.Find($"[data-job-id='{jobs[0]}'] img").GetAttribute("src"));
        Assert.NotNull(cut.Find($"[data-job-id='{jobs[0]}'] [data-testid=job-progress]"));

        var image = Guid.NewGuid();
        Publish(JobEventKind.Succeeded, jobs[0], JobState.Succeeded, e => e with { Step = 4, TotalSteps = 4, OutputImageId = image, OutputUrl = JobUrls.Image(image) });
        cut.WaitForAssertion(() => Assert.StartsWith("Done", StatusOf(cut, jobs[0]), StringComparison.Ordinal));
        Assert.Equal($"/api/v1/images/{image}", cut.Find($"[data-job-id='{jobs[0]}'] img").GetAttribute("src"));
        Assert.Empty(cut.FindAll($"[data-job-id='{jobs[0]}'] [data-testid=job-cancel]"));

        // Another user's events are not delivered to this circuit at all.
        Publish(JobEventKind.Progress, bobs[0], JobState.Running, e => e with { Step = 1, TotalSteps = 4 }, owner: bob);
        Assert.DoesNotContain(bobs[0].ToString(), cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_queued_from_another_tab_appears_and_a_cancel_reaches_every_tab()
    {
        var first = await SubmitAsync(ada, "first");
        await using var ctx = NewContext();
        var tabOne = ctx.Render<MyJobsPanel>();
        var tabTwo = ctx.Render<MyJobsPanel>();
        tabOne.WaitForAssertion(() => Assert.Single(tabOne.FindAll("[data-testid=job]")));

        var second = await SubmitAsync(ada, "queued in another tab");
        tabOne.WaitForAssertion(() => Assert.Equal(2, tabOne.FindAll("[data-testid=job]").Count));
        tabTwo.WaitForAssertion(() => Assert.Equal(2, tabTwo.FindAll("[data-testid=job]").Count));

        await tabOne.Find($"[data-job-id='{second[0]}'] [data-testid=job-cancel]").ClickAsync(new MouseEventArgs());

        Assert.Equal(JobState.Cancelled, (await host.JobAsync(second[0])).State);
        Assert.Equal(JobState.Queued, (await host.JobAsync(first[0])).State);
        tabTwo.WaitForAssertion(() => Assert.Equal("Cancelled by you.", StatusOf(tabTwo, second[0])));
        tabOne.WaitForAssertion(() => Assert.Equal("Cancelled by you.", StatusOf(tabOne, second[0])));
    }

    [Fact]
    public async Task A_reload_reattaches_from_the_database_and_closing_the_page_unsubscribes()
    {
        var jobs = await SubmitAsync(ada, "survives a reload");
        await using (var before = NewContext())
        {
            var cut = before.Render<MyJobsPanel>();
            cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=job]")));
            Assert.True(host.Events.HasSubscribers(ada.UserId));
        }

        Assert.False(host.Events.HasSubscribers(ada.UserId));
        await using var after = NewContext();
        var reloaded = after.Render<MyJobsPanel>();
        reloaded.WaitForAssertion(() => Assert.Equal("Queued", StatusOf(reloaded, jobs[0])));
    }

    [Fact]
    public async Task The_prerendered_copy_lists_jobs_without_subscribing()
    {
        await SubmitAsync(ada, "prerendered");
        await using var ctx = NewContext(interactive: false);

        var cut = ctx.Render<MyJobsPanel>();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=job]")));
        Assert.False(host.Events.HasSubscribers(ada.UserId));
    }

    [Fact]
    public async Task Where_results_are_shown_elsewhere_a_finished_image_leaves_the_panel_and_a_failure_stays()
    {
        var jobs = await SubmitAsync(ada, "two boats", count: 2);
        await using var ctx = NewContext();

        var cut = ctx.Render<MyJobsPanel>(p => p.Add(panel => panel.IncludeSucceeded, false));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=job]").Count));

        var image = Guid.NewGuid();
        Publish(JobEventKind.Succeeded, jobs[0], JobState.Succeeded, e => e with { Step = 4, TotalSteps = 4, OutputImageId = image, OutputUrl = JobUrls.Image(image) });
        Publish(JobEventKind.Failed, jobs[1], JobState.Failed, e => e with { Error = "The GPU ran out of memory." });

        cut.WaitForAssertion(() => Assert.Equal("Failed: The GPU ran out of memory.", StatusOf(cut, jobs[1])));
        Assert.Empty(cut.FindAll($"[data-job-id='{jobs[0]}']"));
        Assert.Single(cut.FindAll("[data-testid=job]"));
    }

    [Fact]
    public async Task A_running_job_says_which_stage_it_is_in_and_the_bar_waits_for_the_first_step()
    {
        var jobs = await SubmitAsync(ada, "staged");
        await using var ctx = NewContext();
        var cut = ctx.Render<MyJobsPanel>();
        cut.WaitForAssertion(() => Assert.Equal("Queued", StatusOf(cut, jobs[0])));
        var bar = () => cut.Find($"[data-job-id='{jobs[0]}'] [data-testid=job-progress]");

        Publish(JobEventKind.Started, jobs[0], JobState.Running, e => e with { TotalSteps = 4 });
        cut.WaitForAssertion(() => Assert.Equal("Starting", StatusOf(cut, jobs[0])));

        // A start announced late (after a read that already saw the model loading) changes nothing.
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.LoadingModel, TotalSteps = 4 });
        Publish(JobEventKind.Started, jobs[0], JobState.Running, e => e with { TotalSteps = 4 });
        cut.WaitForAssertion(() => Assert.Equal("Loading the model", StatusOf(cut, jobs[0])));

        (GenerationStage Stage, int Step, string Status)[] stages =
        [
            (GenerationStage.LoadingModel, 0, "Loading the model"),
            (GenerationStage.EncodingPrompt, 0, "Reading the prompt"),
            (GenerationStage.EncodingImages, 0, "Preparing the first step"),
            (GenerationStage.Denoising, 1, "Running · step 1 of 4"),
            (GenerationStage.Denoising, 4, "Running · step 4 of 4"),
            (GenerationStage.Decoding, 4, "Step 4 of 4 · decoding the image"),
            (GenerationStage.Finished, 4, "Step 4 of 4 · checking, watermarking and signing"),
        ];
        foreach (var (stage, step, status) in stages)
        {
            Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = stage, Step = step, TotalSteps = 4 });
            cut.WaitForAssertion(() => Assert.Equal(status, StatusOf(cut, jobs[0])));
            Assert.Equal(step == 0, bar().ClassList.Contains("mud-progress-indeterminate"));
            Assert.Equal(status, bar().GetAttribute("aria-label"));
        }

        // A denoising event that arrives after the decoding one is older news.
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.Denoising, Step = 4, TotalSteps = 4 });
        Publish(JobEventKind.PositionChanged, jobs[0], JobState.Running);
        cut.WaitForAssertion(() => Assert.Equal("Step 4 of 4 · checking, watermarking and signing", StatusOf(cut, jobs[0])));
    }

    [Fact]
    public async Task The_step_count_reaches_n_of_n_even_when_the_last_steps_report_comes_after_the_decoder()
    {
        var jobs = await SubmitAsync(ada, "all the steps");
        await using var ctx = NewContext();
        var cut = ctx.Render<MyJobsPanel>();
        cut.WaitForAssertion(() => Assert.Equal("Queued", StatusOf(cut, jobs[0])));

        // The engine's previews are reported from a queue: step 8's report may come after the decoder's, and is then older news.
        Publish(JobEventKind.Started, jobs[0], JobState.Running, e => e with { TotalSteps = 8 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.Denoising, Step = 7, TotalSteps = 8 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.Decoding, Step = 8, TotalSteps = 8 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Stage = GenerationStage.Denoising, Step = 8, TotalSteps = 8 });

        cut.WaitForAssertion(() => Assert.Equal("Step 8 of 8 · decoding the image", StatusOf(cut, jobs[0])));
        Assert.False(cut.Find($"[data-job-id='{jobs[0]}'] [data-testid=job-progress]").ClassList.Contains("mud-progress-indeterminate"));
    }

    [Fact]
    public async Task Two_queued_jobs_never_both_read_next_to_run()
    {
        var jobs = await SubmitAsync(ada, "two in line", count: 2);
        await using var ctx = NewContext();
        var cut = ctx.Render<MyJobsPanel>();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=job]").Count));

        // Forecasts from two passes of the worker arrive crossed: both jobs were told they are first.
        Publish(JobEventKind.PositionChanged, jobs[0], JobState.Queued, e => e with { QueuePosition = 1 });
        Publish(JobEventKind.PositionChanged, jobs[1], JobState.Queued, e => e with { QueuePosition = 1 });

        cut.WaitForAssertion(() => Assert.Equal("Queued · 2 in line", StatusOf(cut, jobs[1])));
        Assert.Equal("Queued · next to run", StatusOf(cut, jobs[0]));
    }

    [Fact]
    public async Task A_late_event_never_moves_a_job_backwards()
    {
        var jobs = await SubmitAsync(ada, "finished early");
        await using var ctx = NewContext();
        var cut = ctx.Render<MyJobsPanel>();
        cut.WaitForAssertion(() => Assert.Equal("Queued", StatusOf(cut, jobs[0])));

        Publish(JobEventKind.Started, jobs[0], JobState.Running, e => e with { TotalSteps = 4 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Step = 3, TotalSteps = 4 });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Step = 2, TotalSteps = 4 });
        cut.WaitForAssertion(() => Assert.Equal("Running · step 3 of 4", StatusOf(cut, jobs[0])));

        var image = Guid.NewGuid();
        Publish(JobEventKind.Succeeded, jobs[0], JobState.Succeeded, e => e with { Step = 4, TotalSteps = 4, OutputImageId = image, OutputUrl = JobUrls.Image(image) });
        Publish(JobEventKind.Progress, jobs[0], JobState.Running, e => e with { Step = 4, TotalSteps = 4 });
        Publish(JobEventKind.PositionChanged, jobs[0], JobState.Queued, e => e with { QueuePosition = 1 });

        cut.WaitForAssertion(() => Assert.StartsWith("Done", StatusOf(cut, jobs[0]), StringComparison.Ordinal));
        Assert.Empty(cut.FindAll($"[data-job-id='{jobs[0]}'] [data-testid=job-cancel]"));
    }

    [Fact]
    public async Task Finished_jobs_can_be_dismissed_one_by_one_or_cleared_and_stay_in_the_history()
    {
        var jobs = await SubmitAsync(ada, "three tries", count: 3);
        var waiting = await SubmitAsync(ada, "still to come");
        await using var ctx = NewContext();
        var storage = ctx.JSInterop.SetupModule(Studio.ModulePath);
        var cut = ctx.Render<MyJobsPanel>();
        cut.WaitForAssertion(() => Assert.Equal(4, cut.FindAll("[data-testid=job]").Count));
        Assert.Empty(cut.FindAll("[data-testid=my-jobs-clear]"));

        Publish(JobEventKind.Cancelled, jobs[0], JobState.Cancelled, e => e with { Error = "Cancelled by you." });
        Publish(JobEventKind.Failed, jobs[1], JobState.Failed, e => e with { Error = "The GPU ran out of memory." });
        Publish(JobEventKind.Cancelled, jobs[2], JobState.Cancelled, e => e with { Error = "Cancelled by you." });
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=job-dismiss]").Count));
        // Only finished jobs can be dismissed; one still to come can be cancelled instead.
        Assert.Empty(cut.FindAll($"[data-job-id='{waiting[0]}'] [data-testid=job-dismiss]"));

        await cut.Find($"[data-job-id='{jobs[0]}'] [data-testid=job-dismiss]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll($"[data-job-id='{jobs[0]}']")));
        Assert.Equal(3, cut.FindAll("[data-testid=job]").Count);

        await cut.Find("[data-testid=my-jobs-clear]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal([waiting[0].ToString()], cut.FindAll("[data-testid=job]").Select(j => j.GetAttribute("data-job-id"))));
        Assert.Empty(cut.FindAll("[data-testid=my-jobs-clear]"));

        // The panel only; the jobs are still the person's history.
        Assert.Equal(4, (await host.Services.GetRequiredService<JobService>().ListMineAsync(ada, 20)).Count);
        // What was dismissed is kept in the browser, for the next visit.
        var kept = storage.Invocations.Last(i => i.Identifier == "save");
        Assert.Equal($"fluxweb.myjobs.dismissed.{ada.UserId}", kept.Arguments[0]);
        Assert.NotNull(DismissedJobs.Parse(kept.Arguments[1] as string)!.ClearedBeforeUtc);
    }

    [Fact]
    public async Task What_the_browser_kept_as_dismissed_stays_out_of_the_list_after_a_reload()
    {
        var jobs = await SubmitAsync(ada, "dismissed before", count: 2);
        Publish(JobEventKind.Cancelled, jobs[0], JobState.Cancelled, e => e with { Error = "Cancelled by you." });
        await host.Services.GetRequiredService<JobService>().CancelAsync(ada, jobs[0]);
        await using var ctx = NewContext();
        ctx.JSInterop.SetupModule(Studio.ModulePath).Setup<string?>("load", $"fluxweb.myjobs.dismissed.{ada.UserId}").SetResult(new DismissedJobs(null, [jobs[0]]).ToJson());

        var cut = ctx.Render<MyJobsPanel>();

        cut.WaitForAssertion(() => Assert.Equal([jobs[1].ToString()], cut.FindAll("[data-testid=job]").Select(j => j.GetAttribute("data-job-id"))));
    }

    [Fact]
    public void A_queued_job_says_about_how_long_it_waits_from_recent_gpu_seconds()
    {
        var queued = StudioStageTests.Job(JobState.Queued);

        Assert.Equal("Queued · about 40 s · 3 ahead", LiveJobs.Describe(queued, 4, secondsPerImage: 10));
        Assert.Equal("Queued · next to run · about 10 s", LiveJobs.Describe(queued, 1, secondsPerImage: 9));
        Assert.Equal("Queued · about 3 min · 5 ahead", LiveJobs.Describe(queued, 6, secondsPerImage: 30));
        // Without finished images there is nothing to estimate from.
        Assert.Equal("Queued · 4 in line", LiveJobs.Describe(queued, 4));
    }

    [Fact]
    public void A_done_job_whose_result_did_not_go_on_its_board_says_so_in_its_line()
    {
        var done = StudioStageTests.Job(JobState.Succeeded);

        Assert.DoesNotContain("board", LiveJobs.Describe(done), StringComparison.Ordinal);
        Assert.EndsWith("· not on the board you chose", LiveJobs.Describe(done with { Notice = "Not added to the board you chose: …" }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_jobs_it_says_so()
    {
        await using var ctx = NewContext();

        var cut = ctx.Render<MyJobsPanel>();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=my-jobs-empty]")));
    }
}
