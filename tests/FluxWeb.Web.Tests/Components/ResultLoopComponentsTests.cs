using System.Security.Claims;
using Bunit;
using Bunit.Rendering;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The loop's components on the real application (fake engine, worker running): results, lightbox, before/after, drops.</summary>
public sealed class ResultLoopComponentsTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-loop-ui");
    private QueueHost host = default!;

    public async Task InitializeAsync() =>
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Inference:MaxPixels"] = "1048576" });

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private static IRenderedComponent<ContainerFragment> RenderStudio(BunitContext ctx) => BunitWiring.RenderStudio(ctx);

    private async Task<Job> MakeAsync(JobActor user, string prompt, int width = 320, int height = 256, string model = QueueHost.ModelId, ulong seed = 5)
    {
        var submitted = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request(prompt, seed: seed, model: model).With(s => s with { Width = width, Height = height }));
        Assert.True(submitted.Accepted, submitted.Error);
        return await host.WaitForJobAsync(submitted.JobIds.Single(), j => j.State == JobState.Succeeded);
    }

    /// <summary>Ada with one finished image, and the Studio rendered for her with it among the results.</summary>
    private async Task<StudioWithResult> StudioWithResultAsync(string prompt, int width = 320, int height = 256)
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var made = await MakeAsync(ada, prompt, width, height);
        var context = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(context);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(made))));
        return new StudioWithResult(ada, made, context, cut);
    }

    private sealed record StudioWithResult(JobActor Ada, Job Made, BunitContext Context, IRenderedComponent<ContainerFragment> Cut) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Context.DisposeAsync();
    }

    private Task<List<Job>> JobsOfAsync(JobActor user) => host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.OwnerId == user.UserId).ToListAsync());

    private static string ResultSelector(Job job) => $"[data-testid=result][data-image-id='{job.OutputImageId}']";

    /// <summary>Puts a result on the stage (a click in the filmstrip), where its actions and the lightbox live; answers the stage's selector.</summary>
    private static async Task<string> OnStageAsync(IRenderedComponent<ContainerFragment> cut, Job job)
    {
        // Found and clicked in one turn of the renderer: a job event may re-render the filmstrip in between.
        await cut.InvokeAsync(() => cut.Find($"{ResultSelector(job)} [data-testid=result-select]").ClickAsync(new MouseEventArgs()));
        cut.WaitForAssertion(() => Assert.Equal(job.OutputImageId.ToString(), cut.Find("[data-testid=stage-image]").GetAttribute("data-image-id")));
        return "[data-testid=stage]";
    }

    /// <summary>Puts a result on the stage and clicks one of its actions there, in one turn of the renderer (a job that starts
    /// in between would otherwise put its live preview on the stage first).</summary>
    private static Task ClickOnStageAsync(IRenderedComponent<ContainerFragment> cut, Job job, string testId) =>
        cut.InvokeAsync(async () =>
        {
            await cut.Find($"{ResultSelector(job)} [data-testid=result-select]").ClickAsync(new MouseEventArgs());
            Assert.Equal(job.OutputImageId.ToString(), cut.Find("[data-testid=stage-image]").GetAttribute("data-image-id"));
            await cut.Find($"[data-testid=stage] [data-testid={testId}]").ClickAsync(new MouseEventArgs());
        });

    [Fact]
    public async Task A_result_varies_subtly_and_strongly_and_the_new_images_arrive_in_the_results()
    {
        await using var studio = await StudioWithResultAsync("a red door");
        var (ada, made, cut) = (studio.Ada, studio.Made, studio.Cut);

        await ClickOnStageAsync(cut, made, "loop-vary-subtle");
        await ClickOnStageAsync(cut, made, "loop-vary-strong");

        var varied = await Eventually.Value(async () => (await JobsOfAsync(ada)).Where(j => j.Id != made.Id).ToList(), jobs => jobs.Count == 2 && jobs.All(j => j.State == JobState.Succeeded), () => "two vary jobs");
        Assert.Equal([0.35f, 0.7f], varied.Select(j => j.Settings.Strength).Order());
        Assert.All(varied, j => Assert.Equal((JobMode.MaskedEdit, made.OutputImageId), (j.Mode, j.Settings.SourceImageId)));
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=result]").Count));
    }

    [Fact]
    public async Task Extend_asks_how_far_shows_the_size_and_why_not_and_queues_the_larger_picture()
    {
        await using var studio = await StudioWithResultAsync("a red door");
        var (ada, made, cut) = (studio.Ada, studio.Made, studio.Cut);

        // The click's handler waits for the dialog to close.
        var extending = await OpenExtendAsync(cut, made);
        Assert.Equal("320 × 256 → 480 × 256", cut.Find("[data-testid=extend-size]").TextContent.Trim());
        Assert.Equal(("80", "0", "80", "0"), (Value(cut, "#extend-left"), Value(cut, "#extend-top"), Value(cut, "#extend-right"), Value(cut, "#extend-bottom")));

        await cut.Find("#extend-right").InputAsync(new ChangeEventArgs { Value = "20" });
        cut.WaitForAssertion(() => Assert.Contains("The right margin must be a multiple of 16: 20 is not; use 16 or 32.", cut.Find("[data-testid=extend-problem]").TextContent, StringComparison.Ordinal));
        Assert.True(cut.Find("[data-testid=extend-submit]").HasAttribute("disabled"));

        await cut.Find("[data-testid=extend-taller]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal("320 × 256 → 320 × 384", cut.Find("[data-testid=extend-size]").TextContent.Trim()));
        Assert.Empty(cut.FindAll("[data-testid=extend-problem]"));
        await cut.Find("#extend-prompt").InputAsync(new ChangeEventArgs { Value = "a red door in a tall wall" });
        await cut.Find("[data-testid=extend-submit]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=extend-dialog]")));
        await extending;
        var job = await Eventually.Value(async () => (await JobsOfAsync(ada)).SingleOrDefault(j => j.Id != made.Id), j => j is { State: JobState.Succeeded }, () => "the extension");
        Assert.Equal((JobMode.MaskedEdit, "a red door in a tall wall", 320, 384), (job!.Mode, job.Settings.Prompt, job.ResolvedWidth, job.ResolvedHeight));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=result]").Count));
    }

    [Fact]
    public async Task A_refused_extension_keeps_the_dialog_open_with_the_reason()
    {
        await using var studio = await StudioWithResultAsync("a red door");
        var (ada, made, cut) = (studio.Ada, studio.Made, studio.Cut);
        var extending = await OpenExtendAsync(cut, made);
        await cut.Find("#extend-prompt").InputAsync(new ChangeEventArgs { Value = "kept when refused" });

        // Deleted in another tab while the dialog was open.
        await host.WithDbAsync(db => db.Images.Where(i => i.Id == made.OutputImageId).ExecuteDeleteAsync());
        await cut.Find("[data-testid=extend-submit]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Contains("That image was not found", cut.Find("[data-testid=extend-error]").TextContent, StringComparison.Ordinal));
        Assert.Equal("kept when refused", Value(cut, "#extend-prompt"));
        Assert.Single(await JobsOfAsync(ada));
        await cut.Find("[data-testid=extend-cancel]").ClickAsync(new MouseEventArgs());
        await extending;
    }

    [Fact]
    public async Task A_picture_that_cannot_grow_opens_the_dialog_saying_why()
    {
        // This server makes at most one megapixel: 1024 × 1024 cannot grow.
        await using var studio = await StudioWithResultAsync("as large as it gets", 1024, 1024);
        var (ada, made, cut) = (studio.Ada, studio.Made, studio.Cut);

        var extending = await OpenExtendAsync(cut, made);

        Assert.Contains("This picture cannot grow here", cut.Find("[data-testid=extend-problem]").TextContent, StringComparison.Ordinal);
        Assert.True(cut.Find("[data-testid=extend-submit]").HasAttribute("disabled"));
        await cut.Find("[data-testid=extend-cancel]").ClickAsync(new MouseEventArgs());
        await extending;
        Assert.Single(await JobsOfAsync(ada));
    }

    [Fact]
    public async Task X_in_the_lightbox_closes_it_and_asks_how_far_to_extend()
    {
        await using var studio = await StudioWithResultAsync("a red door");
        var (ada, made, cut) = (studio.Ada, studio.Made, studio.Cut);
        await ClickOnStageAsync(cut, made, "result-open");
        Assert.NotNull(cut.Find("[data-testid=lightbox] [data-testid=loop-extend]"));

        // The key's handler waits for the dialog, which must not open behind the lightbox (it lies above dialogs).
        var pressing = cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "x" });

        cut.WaitForElement("#extend-left");
        Assert.Empty(cut.FindAll("[data-testid=lightbox]"));
        Assert.Equal("320 × 256 → 480 × 256", cut.Find("[data-testid=extend-size]").TextContent.Trim());
        await cut.Find("[data-testid=extend-submit]").ClickAsync(new MouseEventArgs());
        await pressing;
        var job = await Eventually.Value(async () => (await JobsOfAsync(ada)).SingleOrDefault(j => j.Id != made.Id), j => j is { State: JobState.Succeeded }, () => "the extension");
        Assert.Equal((480, 256), (job!.ResolvedWidth, job.ResolvedHeight));
    }

    /// <summary>Puts a result on the stage and clicks "Extend…" there; the click's handler ends when the dialog closes.</summary>
    private static async Task<Task> OpenExtendAsync(IRenderedComponent<ContainerFragment> cut, Job job)
    {
        Task clicked = Task.CompletedTask;
        await cut.InvokeAsync(async () =>
        {
            await cut.Find($"{ResultSelector(job)} [data-testid=result-select]").ClickAsync(new MouseEventArgs());
            clicked = cut.Find("[data-testid=stage] [data-testid=loop-extend]").ClickAsync(new MouseEventArgs());
        });
        cut.WaitForElement("#extend-left");
        return clicked;
    }

    private static string? Value(IRenderedComponent<ContainerFragment> cut, string selector) => cut.Find(selector).GetAttribute("value");

    [Fact]
    public async Task More_like_this_makes_the_forms_image_count_with_the_next_seeds()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var made = await MakeAsync(ada, "a blue bird", seed: 41);
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(made))));
        await cut.Find("#studio-count").InputAsync(new ChangeEventArgs { Value = "2" });

        cut.WaitForAssertion(() => Assert.Equal(2, ctx.Services.GetRequiredService<StudioDraft>().Form.Count));
        await ClickOnStageAsync(cut, made, "loop-more");

        var more = await Eventually.Value(async () => (await JobsOfAsync(ada)).Where(j => j.Id != made.Id).ToList(), jobs => jobs.Count == 2, () => "two more jobs");
        Assert.Equal([42UL, 43UL], more.Select(j => j.Settings.Seed!.Value).Order());
        Assert.All(more, j => Assert.Equal(("a blue bird", 320, 256), (j.Settings.Prompt, j.Settings.Width!.Value, j.Settings.Height!.Value)));
    }

    [Fact]
    public async Task Upscale_beyond_the_limit_says_so_on_the_button_and_when_clicked_and_queues_nothing()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var fits = await MakeAsync(ada, "small", 512, 512);
        var tooLarge = await MakeAsync(ada, "large", 1024, 768);
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=result]").Count));

        var small = cut.Find($"{await OnStageAsync(cut, fits)} [data-testid=loop-upscale]");
        Assert.Equal("false", small.GetAttribute("data-too-large"));
        Assert.Contains("to 1024×1024", small.GetAttribute("aria-label"), StringComparison.Ordinal);
        var large = cut.Find($"{await OnStageAsync(cut, tooLarge)} [data-testid=loop-upscale]");
        Assert.Equal("true", large.GetAttribute("data-too-large"));

        await large.ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("refused", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains("2048×1536", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.Contains("2048×1536", cut.Find(".mud-snackbar").TextContent, StringComparison.Ordinal);
        Assert.Equal(2, (await JobsOfAsync(ada)).Count);

        await ClickOnStageAsync(cut, fits, "loop-upscale");
        var upscale = await Eventually.Value(async () => (await JobsOfAsync(ada)).SingleOrDefault(j => j.Mode == JobMode.Edit), j => j is not null, () => "an upscale job");
        Assert.Equal((1024, 1024), (upscale!.Settings.Width!.Value, upscale.Settings.Height!.Value));
    }

    [Fact]
    public async Task A_commercial_account_is_refused_the_loop_on_a_non_commercial_result_with_the_licence_notice()
    {
        var ada = await host.CreateUserAsync("ada@example.com", accountType: AccountType.NonCommercial);
        var made = await MakeAsync(ada, "nc harbour", model: QueueHost.OtherModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == ada.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        var loop = ctx.Services.GetRequiredService<StudioLoop>();

        var queued = await cut.InvokeAsync(() => loop.RunAsync(made.OutputImageId!.Value, LoopAction.VarySubtle));

        Assert.False(queued);
        cut.WaitForAssertion(() => Assert.Equal("licence", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Single(await JobsOfAsync(ada));
    }

    [Fact]
    public async Task A_result_opens_in_the_lightbox_which_pages_with_the_arrow_keys_lists_its_keys_and_closes_with_escape()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var older = await MakeAsync(ada, "older picture", seed: 1);
        var newer = await MakeAsync(ada, "newer picture", seed: 2);
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=result]").Count));
        Assert.Null(cut.Find($"{await OnStageAsync(cut, newer)} [data-testid=result-open]").GetAttribute("target"));

        await ClickOnStageAsync(cut, newer, "result-open");

        var lightbox = cut.Find("[data-testid=lightbox]");
        Assert.Equal(newer.OutputImageId.ToString(), lightbox.GetAttribute("data-image-id"));
        Assert.Equal("1 / 2", cut.Find("[data-testid=lightbox-count]").TextContent.Trim());
        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowRight" });
        cut.WaitForAssertion(() => Assert.Equal(older.OutputImageId.ToString(), cut.Find("[data-testid=lightbox]").GetAttribute("data-image-id")));
        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowRight" });
        Assert.Equal(older.OutputImageId.ToString(), cut.Find("[data-testid=lightbox]").GetAttribute("data-image-id"));
        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowLeft" });
        cut.WaitForAssertion(() => Assert.Equal(newer.OutputImageId.ToString(), cut.Find("[data-testid=lightbox]").GetAttribute("data-image-id")));

        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "?" });
        var keys = cut.Find("[data-testid=lightbox-keys]").TextContent;
        foreach (var listed in new[] { "← →", "Shift+V", "Vary subtly", "More like this", "Upscale ×2", "Esc" })
        {
            Assert.Contains(listed, keys, StringComparison.Ordinal);
        }

        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "Escape" });
        Assert.Empty(cut.FindAll("[data-testid=lightbox-keys]"));
        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "Escape" });
        Assert.Empty(cut.FindAll("[data-testid=lightbox]"));
    }

    [Fact]
    public async Task The_lightbox_keys_run_the_loop_and_a_varied_result_compares_with_its_source()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var made = await MakeAsync(ada, "a lighthouse");
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(made))));
        await ClickOnStageAsync(cut, made, "result-open");

        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "V", ShiftKey = true });

        var varied = await Eventually.Value(async () => (await JobsOfAsync(ada)).SingleOrDefault(j => j.Id != made.Id && j.State == JobState.Succeeded), j => j is not null, () => "a strong vary");
        Assert.Equal(ResultLoop.StrongStrength, varied!.Settings.Strength);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=lightbox]")));
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(varied))));

        await ClickOnStageAsync(cut, varied, "result-open");
        var compare = cut.Find("[data-testid=lightbox] [data-testid=before-after]");
        Assert.Equal("slider", compare.GetAttribute("data-mode"));
        Assert.EndsWith($"/api/v1/images/{made.OutputImageId}", cut.Find("[data-testid=before-image]").GetAttribute("src"), StringComparison.Ordinal);
        Assert.EndsWith($"/api/v1/images/{varied.OutputImageId}", cut.Find("[data-testid=after-image]").GetAttribute("src"), StringComparison.Ordinal);
        Assert.Contains("inset(0 0 0 50%)", cut.Find("[data-testid=after-image]").GetAttribute("style"), StringComparison.Ordinal);

        await cut.Find("[data-testid=before-after-range]").InputAsync(new ChangeEventArgs { Value = "80" });
        Assert.Contains("inset(0 0 0 80%)", cut.Find("[data-testid=after-image]").GetAttribute("style"), StringComparison.Ordinal);
        await cut.Find("[data-testid=before-after-side-mode]").ClickAsync(new MouseEventArgs());
        Assert.Equal("side-by-side", cut.Find("[data-testid=before-after]").GetAttribute("data-mode"));
        await cut.Find("[data-testid=lightbox]").KeyDownAsync(new KeyboardEventArgs { Key = "c" });
        Assert.Empty(cut.FindAll("[data-testid=before-after]"));
        Assert.NotNull(cut.Find("[data-testid=lightbox-image]"));
    }

    [Fact]
    public async Task A_result_dropped_on_the_reference_slots_is_added_once_and_someone_elses_is_refused()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var mine = await MakeAsync(ada, "mine");
        var bobs = await MakeAsync(bob, "bob's");
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(mine))));
        // The cell carries the image (a thumbnail still loading starts no drag in Chromium), not the picture inside it.
        Assert.Equal("true", cut.Find(ResultSelector(mine)).GetAttribute("draggable"));
        Assert.Equal(mine.OutputImageId.ToString(), cut.Find(ResultSelector(mine)).GetAttribute("data-fw-image-id"));
        Assert.Equal("false", cut.Find($"{ResultSelector(mine)} [data-testid=result-image]").GetAttribute("draggable"));
        var zone = cut.FindComponents<ImageDropZone>().Single(z => z.Instance.TestId == "reference-drop");

        await cut.InvokeAsync(() => zone.Instance.ImageDropped(mine.OutputImageId!.Value.ToString()));

        cut.WaitForAssertion(() => Assert.Equal(mine.OutputImageId.ToString(), cut.Find("[data-testid=reference]").GetAttribute("data-image-id")));
        await cut.InvokeAsync(() => zone.Instance.ImageDropped(bobs.OutputImageId!.Value.ToString()));
        cut.WaitForAssertion(() => Assert.Equal("not-found", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Single(cut.FindAll("[data-testid=reference]"));
    }

    [Fact]
    public void The_before_after_slider_renders_both_pictures_by_url_and_moves_its_cut()
    {
        using var ctx = new BunitContext();
        ctx.AddTestServices();
        var cut = ctx.Render<BeforeAfterSlider>(p => p
            .Add(c => c.BeforeUrl, "/api/v1/images/aaaaaaaa-0000-0000-0000-000000000001")
            .Add(c => c.AfterUrl, "/api/v1/images/aaaaaaaa-0000-0000-0000-000000000002")
            .Add(c => c.AfterWidth, 640)
            .Add(c => c.AfterHeight, 480));

        Assert.Contains("aspect-ratio: 640 / 480", cut.Find(".fw-compare-stack").GetAttribute("style"), StringComparison.Ordinal);
        cut.Find("[data-testid=before-after-range]").Input(new ChangeEventArgs { Value = "150" });
        Assert.Contains("inset(0 0 0 100%)", cut.Find("[data-testid=after-image]").GetAttribute("style"), StringComparison.Ordinal);
        cut.Find("[data-testid=before-after-range]").Input(new ChangeEventArgs { Value = "not a number" });
        Assert.Equal(100, cut.Instance.Split);
        Assert.DoesNotContain("base64", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_masked_edit_sets_the_references_aside_says_so_and_keeps_them_only_when_asked()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var first = await MakeAsync(ada, "first", seed: 1);
        var second = await MakeAsync(ada, "second", seed: 2);
        var source = await MakeAsync(ada, "to edit", seed: 3);
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        var session = ctx.Services.GetRequiredService<StudioSession>();
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=result]").Count));
        await cut.InvokeAsync(() => session.AddReferenceAsync(first.OutputImageId!.Value));
        await cut.InvokeAsync(() => session.AddReferenceAsync(second.OutputImageId!.Value));
        Assert.Equal(2, session.Form.References.Count);

        await ClickOnStageAsync(cut, source, "result-edit");

        cut.WaitForAssertion(() => Assert.Contains("Your 2 reference pictures are not used in this masked edit", cut.Find("[data-testid=references-set-aside]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=reference]"));
        Assert.Empty(session.Form.References);
        Assert.Empty(session.Form.ToRequest(session.SelectedModel!, null, Guid.NewGuid()).Settings.ReferenceImageIds);

        await cut.Find("[data-testid=references-keep]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=reference]").Count));
        Assert.Empty(cut.FindAll("[data-testid=references-set-aside]"));

        // Stopping and starting again: set aside again; stopping brings them back.
        await cut.Find("[data-testid=masked-edit-stop]").ClickAsync(new MouseEventArgs());
        await ClickOnStageAsync(cut, source, "result-edit");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=references-set-aside]")));
        await cut.Find("[data-testid=masked-edit-stop]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal([first.OutputImageId!.Value, second.OutputImageId!.Value], session.Form.References.Select(r => r.Id)));
    }

    [Fact]
    public async Task Use_these_settings_on_a_masked_edit_brings_back_its_mask_instead_of_asking_to_paint_again()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var made = await MakeAsync(ada, "a garden");
        var varied = await host.Services.GetRequiredService<ResultLoop>().SubmitAsync(ada, made.OutputImageId!.Value, LoopAction.VarySubtle);
        var edit = await host.WaitForJobAsync(varied.JobIds.Single(), j => j.State == JobState.Succeeded);
        await using var ctx = BunitWiring.ForApplication(host.Services, ada);
        var cut = RenderStudio(ctx);
        var session = ctx.Services.GetRequiredService<StudioSession>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find(ResultSelector(edit))));

        await ClickOnStageAsync(cut, edit, "result-settings");

        cut.WaitForAssertion(() => Assert.Equal("settings", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains("The picture and its mask are back", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("Paint the mask again", cut.Markup, StringComparison.Ordinal);
        Assert.Equal((made.OutputImageId, edit.Settings.MaskImageId), (session.Form.Source?.Id, session.Form.RestoredMaskId));
        Assert.Equal(ResultLoop.SubtleStrength, session.Form.Strength);
        var editor = cut.FindComponent<MaskEditor>();
        Assert.Equal($"/api/v1/uploads/masks/{edit.Settings.MaskImageId:N}", editor.Instance.InitialMaskUrl);

        // The browser reports the restored mask as paint: the form is ready to generate without painting.
        await cut.InvokeAsync(() => editor.Instance.OnMaskChanged(new MaskState(false, false, true)));
        Assert.True(session.Form.MaskPainted);
        Assert.DoesNotContain(StudioField.Mask, session.Errors.Keys);
    }
}
