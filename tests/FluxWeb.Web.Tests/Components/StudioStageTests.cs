using Bunit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Inference.Pipeline;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The Studio's stage and filmstrip on their own: what they show, and what a click asks for.</summary>
public sealed class StudioStageTests : IAsyncDisposable
{
    private readonly BunitContext ctx = new();

    public StudioStageTests() => ctx.AddTestServices();

    public ValueTask DisposeAsync() => ctx.DisposeAsync();

    internal static JobView Job(JobState state, string prompt = "a lighthouse at dusk", int step = 0, int totalSteps = 8, GenerationStage? stage = null, int width = 1152, int height = 864)
    {
        var id = Guid.NewGuid();
        var image = state == JobState.Succeeded ? Guid.NewGuid() : (Guid?)null;
        var settings = new GenerationSettings { ModelId = "demo", Prompt = prompt, Width = width, Height = height, Seed = 42, Steps = totalSteps };
        return new JobView(
            id, Guid.NewGuid(), 0, state, JobMode.TextToImage, settings, DateTime.UtcNow, state == JobState.Queued ? null : DateTime.UtcNow,
            state == JobState.Succeeded ? DateTime.UtcNow : null, state == JobState.Queued ? 1 : null, step, totalSteps, 0, null,
            image, image is { } i ? JobUrls.Image(i) : null, state == JobState.Running && step > 0 ? JobUrls.Preview(id, step) : null, stage);
    }

    [Fact]
    public void A_running_job_fills_the_stage_with_its_preview_in_the_pictures_shape()
    {
        var running = Job(JobState.Running, step: 3, stage: GenerationStage.Denoising);

        var cut = ctx.Render<StudioStage>(p => p.Add(s => s.Live, running).Add(s => s.Result, Job(JobState.Succeeded)));

        Assert.Equal("live", cut.Find("[data-testid=stage]").GetAttribute("data-showing"));
        Assert.Equal($"/api/v1/jobs/{running.Id}/preview?step=3", cut.Find("[data-testid=stage-preview]").GetAttribute("src"));
        Assert.Equal("Running · step 3 of 8", cut.Find("[data-testid=stage-status]").TextContent.Trim());
        Assert.Contains("--fw-aspect: 1152 / 864", cut.Find(".fw-stage-frame").GetAttribute("style"), StringComparison.Ordinal);
        // The result waits until the job is done; its actions are not offered for a picture still forming.
        Assert.Empty(cut.FindAll("[data-testid=stage-image]"));
        Assert.Empty(cut.FindAll("[data-testid=result-download]"));
    }

    [Fact]
    public void Before_the_first_preview_the_stage_says_it_is_waiting()
    {
        var cut = ctx.Render<StudioStage>(p => p.Add(s => s.Live, Job(JobState.Running, stage: GenerationStage.LoadingModel)));

        Assert.NotNull(cut.Find("[data-testid=stage-preview-waiting]"));
        Assert.Equal("Loading the model", cut.Find("[data-testid=stage-status]").TextContent.Trim());
    }

    [Fact]
    public async Task A_result_on_the_stage_offers_its_actions_a_lock_for_the_seed_and_the_slot_for_more()
    {
        var result = Job(JobState.Succeeded);
        JobView? locked = null;
        var cut = ctx.Render<StudioStage>(p => p
            .Add(s => s.Result, result)
            .Add(s => s.OnReuseSeed, (JobView job) => locked = job)
            .Add(s => s.MoreActions, (RenderFragment<JobView>)(job => builder =>
            {
                builder.OpenElement(0, "button");
                builder.AddAttribute(1, "data-testid", "loop-action");
                builder.AddAttribute(2, "data-job-id", job.Id.ToString());
                builder.CloseElement();
            })));

        Assert.Equal("result", cut.Find("[data-testid=stage]").GetAttribute("data-showing"));
        Assert.Equal(JobUrls.Image(result.OutputImageId!.Value), cut.Find("[data-testid=stage-image]").GetAttribute("src"));
        Assert.Equal("1152×864 · seed 42 · demo", cut.Find("[data-testid=result-facts]").TextContent.Trim());
        Assert.Equal($"{JobUrls.Image(result.OutputImageId!.Value)}?download=true", cut.Find("[data-testid=result-download]").GetAttribute("href"));
        // A lock, not dice: dice mean random.
        Assert.Contains("Lock seed 42", cut.Find("[data-testid=result-seed]").GetAttribute("aria-label"), StringComparison.Ordinal);
        var seedButton = cut.FindComponents<MudBlazor.MudIconButton>().Single(b => Equals(b.Instance.UserAttributes.GetValueOrDefault("data-testid"), "result-seed"));
        Assert.Equal(MudBlazor.Icons.Material.Filled.Lock, seedButton.Instance.Icon);
        Assert.Equal(result.Id.ToString(), cut.Find("[data-testid=stage-actions] [data-testid=loop-action]").GetAttribute("data-job-id"));

        await cut.Find("[data-testid=result-seed]").ClickAsync(new MouseEventArgs());
        Assert.Same(result, locked);
    }

    [Fact]
    public void An_empty_stage_says_what_will_appear_there()
    {
        var cut = ctx.Render<StudioStage>();

        Assert.Equal("empty", cut.Find("[data-testid=stage]").GetAttribute("data-showing"));
        Assert.Contains("Your pictures appear here", cut.Find("[data-testid=stage-empty]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_filmstrip_shows_what_is_to_come_then_results_and_a_click_puts_one_on_the_stage()
    {
        var running = Job(JobState.Running, step: 2, stage: GenerationStage.Denoising);
        var waiting = Job(JobState.Queued);
        var newest = Job(JobState.Succeeded, "newest");
        var older = Job(JobState.Succeeded, "older");
        JobView? chosen = null;
        var followed = false;
        var cut = ctx.Render<StudioResults>(p => p
            .Add(s => s.Results, [newest, older])
            .Add(s => s.Pending, [running, waiting])
            .Add(s => s.SelectedId, newest.Id)
            .Add(s => s.OnSelect, (JobView job) => chosen = job)
            .Add(s => s.OnFollowLive, () => followed = true));

        Assert.Equal([running.Id.ToString(), waiting.Id.ToString()], cut.FindAll("[data-testid=film-pending]").Select(e => e.GetAttribute("data-job-id")));
        Assert.Equal([newest.Id.ToString(), older.Id.ToString()], cut.FindAll("[data-testid=result]").Select(e => e.GetAttribute("data-job-id")));
        Assert.Equal($"{JobUrls.Image(older.OutputImageId!.Value)}/thumbnail", cut.FindAll("[data-testid=result-image]")[1].GetAttribute("src"));
        Assert.Equal("true", cut.FindAll("[data-testid=result]")[0].GetAttribute("data-selected"));
        Assert.Equal("false", cut.FindAll("[data-testid=result]")[1].GetAttribute("data-selected"));
        Assert.True(cut.FindAll("[data-testid=film-pending] button")[1].HasAttribute("disabled"));

        await cut.FindAll("[data-testid=result-select]")[1].ClickAsync(new MouseEventArgs());
        Assert.Same(older, chosen);
        await cut.FindAll("[data-testid=film-pending] button")[0].ClickAsync(new MouseEventArgs());
        Assert.True(followed);
    }
}
