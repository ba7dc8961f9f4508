using FluxWeb.Application.Models;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Administration;
using AngleSharp.Dom;
using Bunit;
using Bunit.Rendering;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Components;

/// <summary>
/// The Studio page on the real application services (SQLite, the fake engine, catalog-only model
/// packages): validation, licence-disabled models, sampling fields per variant, deep links.
/// </summary>
public sealed class StudioPageTests : IAsyncLifetime
{
    private const string BaseModelId = "klein-test-base";

    private readonly TempFolder folder = new("fluxweb-studio");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    public async Task InitializeAsync()
    {
        // QueueHost installs klein-test (Apache-2.0) and klein-test-nc (FLUX Non-Commercial); a base variant joins them.
        TestModelPackages.WriteCatalogOnly(Path.Combine(folder.Path, "models"), BaseModelId, ModelLicence.Apache2(), variant: ModelVariant.Base);
        // One megapixel at most, so the pixel limit is reached below the largest side.
        host = await QueueHost.StartAsync(folder.Path, engine, new Dictionary<string, string?>
        {
            ["Inference:MaxPixels"] = "1048576",
            ["Quotas:Roles:User:ImagesPerDay"] = "3",
        });
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext(JobActor user) => BunitWiring.ForApplication(host.Services, user);

    private static IRenderedComponent<ContainerFragment> RenderStudio(BunitContext ctx) => BunitWiring.RenderStudio(ctx);

    private static Task TypeAsync(IRenderedComponent<ContainerFragment> cut, string inputId, string value) =>
        cut.Find($"#{inputId}").InputAsync(new ChangeEventArgs { Value = value });

    private static async Task GenerateAsync(IRenderedComponent<ContainerFragment> cut) =>
        await cut.Find("[data-testid=generate]").ClickAsync(new MouseEventArgs());

    private static string ErrorText(IRenderedComponent<ContainerFragment> cut) =>
        string.Join(" | ", cut.FindAll(".fw-field-error").Select(e => e.TextContent.Trim()));

    private static async Task OpenModelsAsync(IRenderedComponent<ContainerFragment> cut)
    {
        // The test id sits on the select's input; the menu opens on a mouse-down on its control.
        await cut.Find("[data-testid=model-select]").Closest(".mud-input-control")!.MouseDownAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll(".mud-popover-open [data-testid=model-option]")));
    }

    private static async Task ChooseModelAsync(IRenderedComponent<ContainerFragment> cut, string modelId)
    {
        await OpenModelsAsync(cut);
        var option = cut.Find($".mud-popover-open [data-model-id='{modelId}']");
        await option.Closest(".mud-list-item")!.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(modelId, DraftOf(cut).Form.ModelId));
    }

    private static StudioDraft DraftOf(IRenderedComponent<ContainerFragment> cut) => cut.Services.GetRequiredService<StudioDraft>();

    private async Task<int> JobCountAsync() => await host.WithDbAsync(db => db.Jobs.CountAsync());

    [Fact]
    public async Task The_auto_add_picker_offers_boards_i_may_add_to_and_the_results_land_on_the_chosen_one()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var boards = host.Services.GetRequiredService<BoardService>();
        var picks = (await boards.CreateAsync(ada, "Picks")).Value!.Id;
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var lookOnly = (await boards.CreateAsync(bob, "Bob's look-only board")).Value!.Id;
        await boards.CreateAsync(bob, "Bob's private board");
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Succeeded);
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(lookOnly), "ada@example.com", ShareRole.Viewer, "ui")).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=auto-add-board-select]")));
        Assert.Null(DraftOf(cut).Form.AutoAddBoardId);
        // The same boards take a result dragged from the stage or the filmstrip; a look-only or private one does not.
        cut.WaitForAssertion(() => Assert.Equal(
            [picks.ToString(), contributing.ToString()],
            cut.FindAll("[data-testid=board-drop-target]").Select(t => t.GetAttribute("data-board-id") ?? "").ToArray()));
        // On the filmstrip's heading line, in view with the results (a row under the filmstrip fell below the fold).
        Assert.NotNull(cut.Find(".fw-filmstrip-head [data-testid=board-drops].fw-board-drops-compact"));

        await cut.Find("[data-testid=auto-add-board-select]").Closest(".mud-input-control")!.MouseDownAsync(new MouseEventArgs());
        var options = cut.WaitForElements(".mud-popover-open .mud-list-item");
        Assert.Equal(["None", "Picks", "Bob's moodboard (by bob@example.com)"], options.Select(o => o.TextContent.Trim()));
        await options.Single(o => o.TextContent.Trim() == "Picks").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(picks, DraftOf(cut).Form.AutoAddBoardId));

        await TypeAsync(cut, "studio-prompt", "a harbour for my board");
        await GenerateAsync(cut);
        var job = (await Eventually.Value(() => host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.OwnerId == ada.UserId)), j => j is not null, () => "The Studio queued no job."))!;
        Assert.Equal(picks, job.AutoAddBoardId);
        var done = await host.WaitForEndAsync(job.Id);
        await Eventually.Until(
            async () => await host.WithDbAsync(db => db.BoardImages.AnyAsync(e => e.BoardId == picks && e.ImageId == done.OutputImageId)),
            "The result did not land on the chosen board.");
    }

    [Fact]
    public async Task A_result_that_could_not_go_on_the_chosen_board_says_so_at_the_generate_button()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var boards = host.Services.GetRequiredService<BoardService>();
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var share = (await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Value!.Id;
        await using var ctx = NewContext(ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=auto-add-board-select]")));
        DraftOf(cut).Form.AutoAddBoardId = contributing;
        var hold = engine.HoldNextJob(step: 1);
        await TypeAsync(cut, "studio-prompt", "for a board that will close");
        await GenerateAsync(cut);
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

        // Bob ends Ada's contribution while her job runs: the image is hers, the board does not take it.
        Assert.True((await boards.UnshareAsync(bob, share, "ui")).Succeeded);
        hold.Release();

        cut.WaitForAssertion(() => Assert.Equal("not-added-to-board", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains(BoardAutoAdd.NotAddedNotice, cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.Empty(await host.WithDbAsync(db => db.BoardImages.Where(e => e.BoardId == contributing).ToListAsync()));
    }

    [Fact]
    public async Task Generate_with_a_bad_form_shows_what_to_fix_and_queues_nothing()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await using var ctx = NewContext(ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        // A fresh form does not shout about the empty prompt until Generate is pressed.
        Assert.DoesNotContain("Write a prompt", cut.Markup, StringComparison.Ordinal);
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Contains("Write a prompt first", ErrorText(cut), StringComparison.Ordinal));
        Assert.Equal("validation", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind"));

        await TypeAsync(cut, "studio-prompt", "a quiet harbour");
        await TypeAsync(cut, "studio-width", "1000");
        cut.WaitForAssertion(() => Assert.Contains("Width must be a multiple of 16: 1000 is not; use 992 or 1008.", ErrorText(cut), StringComparison.Ordinal));
        Assert.DoesNotContain("Write a prompt", ErrorText(cut), StringComparison.Ordinal);

        await TypeAsync(cut, "studio-width", "4096");
        cut.WaitForAssertion(() => Assert.Contains("Width must be between 256 and 2048 pixels; 4096 was asked.", ErrorText(cut), StringComparison.Ordinal));
        await TypeAsync(cut, "studio-width", "2048");
        await TypeAsync(cut, "studio-height", "1024");
        cut.WaitForAssertion(() => Assert.Contains("2048×1024 is 2,097,152 pixels; at most 1,048,576 are allowed.", ErrorText(cut), StringComparison.Ordinal));
        Assert.Equal("256–2048 px a side, multiples of 16, at most 1 megapixels", cut.Find("[data-testid=size-limits]").TextContent.Trim());
        await TypeAsync(cut, "studio-width", "1024");
        await TypeAsync(cut, "studio-height", "512");

        await TypeAsync(cut, "studio-count", "9");
        cut.WaitForAssertion(() => Assert.Contains("Ask for between 1 and 8 images at a time.", ErrorText(cut), StringComparison.Ordinal));
        await TypeAsync(cut, "studio-count", "2");

        var seedModes = cut.FindAll("[data-testid=seed-mode] .mud-toggle-item");
        await seedModes.Single(b => b.TextContent.Contains("Reuse last", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Contains("no finished image yet", cut.Find("[data-testid=seed-reuse]").TextContent, StringComparison.Ordinal));
        await cut.FindAll("[data-testid=seed-mode] .mud-toggle-item").Single(b => b.TextContent.Contains("Locked", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        await TypeAsync(cut, "studio-seed", "-3");
        cut.WaitForAssertion(() => Assert.Contains("A seed is a whole number", ErrorText(cut), StringComparison.Ordinal));

        await GenerateAsync(cut);
        Assert.Equal(0, await JobCountAsync());

        // Fixed, the same form queues two jobs with consecutive seeds from the locked one.
        await TypeAsync(cut, "studio-seed", "41");
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=studio-alert]")));
        var jobs = await host.WithDbAsync(db => db.Jobs.AsNoTracking().OrderBy(j => j.BatchIndex).ToListAsync());
        Assert.Equal([41UL, 42UL], jobs.Select(j => j.Settings.Seed!.Value));
        Assert.All(jobs, j => Assert.Equal((1024, 512, "a quiet harbour"), (j.Settings.Width!.Value, j.Settings.Height!.Value, j.Settings.Prompt)));
        var channels = await host.WithDbAsync(db => db.AuditEvents.Where(e => e.Action == AuditActions.Generate).Select(e => e.Channel).ToListAsync());
        Assert.Equal(["ui", "ui"], channels);
    }

    [Fact]
    public async Task Quota_and_licence_refusals_at_submission_are_shown_with_their_reasons()
    {
        var dora = await host.CreateUserAsync("dora@example.com", accountType: AccountType.NonCommercial);
        await using var ctx = NewContext(dora);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));
        await TypeAsync(cut, "studio-prompt", "a night market");
        await TypeAsync(cut, "studio-width", "512");
        await TypeAsync(cut, "studio-height", "512");

        await TypeAsync(cut, "studio-count", "4");
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Equal("quota", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        var quota = cut.Find("[data-testid=studio-alert]").TextContent;
        Assert.Contains("Daily image quota reached: 0 of 3 images used today, 3 left, and this request needs 4.", quota, StringComparison.Ordinal);
        Assert.Contains("It resets at", quota, StringComparison.Ordinal);

        // The non-commercial model was offered to her non-commercial account; an administrator changes the account meanwhile.
        await TypeAsync(cut, "studio-count", "1");
        await ChooseModelAsync(cut, QueueHost.OtherModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == dora.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Equal("licence", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains("may not generate with klein-test-nc", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.Equal(0, await JobCountAsync());
    }

    [Fact]
    public async Task Models_the_account_may_not_use_are_shown_disabled_with_the_licence_reason()
    {
        var carol = await host.CreateUserAsync("carol@example.com", accountType: AccountType.Commercial);
        await using var ctx = NewContext(carol);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        // The default is a model she may use, with its licence badge.
        Assert.NotEqual(QueueHost.OtherModelId, DraftOf(cut).Form.ModelId);
        Assert.Contains("Apache-2.0", cut.Find("[data-testid=model-facts] [data-testid=licence-badge]").TextContent, StringComparison.Ordinal);

        await OpenModelsAsync(cut);
        var refused = cut.Find($".mud-popover-open [data-model-id='{QueueHost.OtherModelId}']");
        Assert.Equal("false", refused.GetAttribute("data-allowed"));
        Assert.Contains("FLUX-Non-Commercial", refused.QuerySelector("[data-testid=licence-badge]")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("Your account is licensed for commercial use, so it may not generate with klein-test-nc", refused.QuerySelector("[data-testid=model-reason]")!.TextContent, StringComparison.Ordinal);
        var refusedItem = refused.Closest(".mud-list-item")!;
        Assert.Contains("mud-list-item-disabled", refusedItem.ClassName, StringComparison.Ordinal);
        var allowed = cut.Find($".mud-popover-open [data-model-id='{QueueHost.ModelId}']");
        Assert.Equal("true", allowed.GetAttribute("data-allowed"));
        Assert.DoesNotContain("mud-list-item-disabled", allowed.Closest(".mud-list-item")!.ClassName, StringComparison.Ordinal);

        // Clicking the disabled model changes nothing; the reason is also listed outside the menu.
        await refusedItem.ClickAsync(new MouseEventArgs());
        Assert.NotEqual(QueueHost.OtherModelId, DraftOf(cut).Form.ModelId);
        Assert.Contains("does not allow commercial use", cut.Find("[data-testid=unavailable-models]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Steps_and_guidance_are_offered_only_for_base_variants()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await using var ctx = NewContext(ada);
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        await ChooseModelAsync(cut, QueueHost.ModelId);
        Assert.Empty(cut.FindAll("#studio-steps"));
        Assert.Empty(cut.FindAll("#studio-guidance"));
        Assert.Contains("4 steps (fixed)", cut.Find("[data-testid=model-facts]").TextContent, StringComparison.Ordinal);

        await ChooseModelAsync(cut, BaseModelId);
        cut.WaitForAssertion(() => Assert.Equal("50", cut.Find("#studio-steps").GetAttribute("value")));
        Assert.Equal("4", cut.Find("#studio-guidance").GetAttribute("value"));
        await TypeAsync(cut, "studio-steps", "101");
        cut.WaitForAssertion(() => Assert.Contains("Steps must be between 1 and 100 for this model.", ErrorText(cut), StringComparison.Ordinal));
        await TypeAsync(cut, "studio-guidance", "12");
        cut.WaitForAssertion(() => Assert.Contains("Guidance must be between 1 and 10 for this model.", ErrorText(cut), StringComparison.Ordinal));

        await ChooseModelAsync(cut, QueueHost.ModelId);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#studio-steps")));
        Assert.DoesNotContain("Steps must be", ErrorText(cut), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_negative_prompt_is_offered_beside_guidance_sent_to_base_models_only_and_comes_back_with_the_settings()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await using var ctx = NewContext(ada);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));
        await ChooseModelAsync(cut, QueueHost.ModelId);
        Assert.Empty(cut.FindAll("#studio-negative-prompt"));

        await ChooseModelAsync(cut, BaseModelId);
        await TypeAsync(cut, "studio-prompt", "a fox in snow");
        await TypeAsync(cut, "studio-negative-prompt", "blurry, text");
        await TypeAsync(cut, "studio-steps", "4");
        await TypeAsync(cut, "studio-guidance", "1");
        cut.WaitForAssertion(() => Assert.Contains("At guidance 1 it has no effect", cut.Markup, StringComparison.Ordinal));
        await TypeAsync(cut, "studio-guidance", "3.5");
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Contains(engine.Started, r => r.ModelId == BaseModelId));
        var steered = await host.WaitForJobAsync(
            await host.WithDbAsync(db => db.Jobs.Where(j => j.OwnerId == ada.UserId).Select(j => j.Id).SingleAsync()), j => j.State == JobState.Succeeded);
        Assert.Equal(("blurry, text", (float?)3.5f), (steered.Settings.NegativePrompt, steered.Settings.Guidance));

        // A distilled model reads no negative prompt: the field goes, the text stays in the form, and nothing is sent.
        await ChooseModelAsync(cut, QueueHost.ModelId);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#studio-negative-prompt")));
        Assert.Equal("blurry, text", DraftOf(cut).Form.NegativePrompt);
        await GenerateAsync(cut);
        cut.WaitForAssertion(() => Assert.Contains(engine.Started, r => r.ModelId == QueueHost.ModelId && r.Prompt == "a fox in snow"));
        Assert.Equal("", engine.Started.Single(r => r.ModelId == QueueHost.ModelId).NegativePrompt);

        // "Use these settings" on the base model's image brings its negative prompt back.
        await TypeAsync(cut, "studio-prompt", "something else");
        DraftOf(cut).Form.NegativePrompt = "";
        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?settings={steered.OutputImageId}"));
        cut.WaitForAssertion(() => Assert.Contains("Replace your current settings?", cut.Markup, StringComparison.Ordinal));
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Contains("Replace", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal("blurry, text", cut.Find("#studio-negative-prompt").GetAttribute("value") ?? cut.Find("#studio-negative-prompt").TextContent));

        await TypeAsync(cut, "studio-negative-prompt", new string('n', 10_001));
        cut.WaitForAssertion(() => Assert.Contains("The negative prompt is too long: it has 10,001 characters", ErrorText(cut), StringComparison.Ordinal));
    }

    [Fact]
    public async Task References_reorder_with_buttons_and_drag_and_are_removed()
    {
        await using var ctx = NewContext(await host.CreateUserAsync("ada@example.com"));
        var form = new StudioForm();
        var (first, second, third) = (new StudioImage(Guid.NewGuid(), 64, 64, "first.png"), new StudioImage(Guid.NewGuid(), 64, 64), new StudioImage(Guid.NewGuid(), 64, 64));
        form.References.AddRange([first, second, third]);
        var changes = 0;
        var cut = ctx.Render<ReferenceList>(p => p
            .Add(r => r.Form, form)
            .Add(r => r.Limits, new GenerationLimits())
            .Add(r => r.MaxUploadBytes, 20 * 1024 * 1024)
            .Add(r => r.OnChanged, () => changes++));
        IReadOnlyList<Guid> Shown() => [.. cut.FindAll("[data-testid=reference]").Select(li => Guid.Parse(li.GetAttribute("data-image-id")!))];
        IElement Item(int index) => cut.FindAll("[data-testid=reference]")[index];

        Assert.Equal([first.Id, second.Id, third.Id], Shown());
        Assert.Equal($"/api/v1/images/{first.Id}", Item(0).QuerySelector("img")!.GetAttribute("src"));
        Assert.Equal("Reference 1: first.png", Item(0).QuerySelector("img")!.GetAttribute("alt"));
        Assert.True(Item(0).QuerySelector("[data-testid=reference-earlier]")!.HasAttribute("disabled"));
        Assert.True(Item(2).QuerySelector("[data-testid=reference-later]")!.HasAttribute("disabled"));

        await Item(0).QuerySelector("[data-testid=reference-later]")!.ClickAsync(new MouseEventArgs());
        Assert.Equal([second.Id, first.Id, third.Id], Shown());
        await Item(2).QuerySelector("[data-testid=reference-earlier]")!.ClickAsync(new MouseEventArgs());
        Assert.Equal([second.Id, third.Id, first.Id], Shown());

        // Dragging the last thumbnail onto the first puts it first.
        await Item(2).DragStartAsync(new DragEventArgs());
        await Item(0).DropAsync(new DragEventArgs());
        Assert.Equal([first.Id, second.Id, third.Id], Shown());
        Assert.Equal([first.Id, second.Id, third.Id], form.References.Select(r => r.Id));

        await Item(1).QuerySelector("[data-testid=reference-remove]")!.ClickAsync(new MouseEventArgs());
        Assert.Equal([first.Id, third.Id], Shown());
        Assert.Equal([first.Id, third.Id], form.References.Select(r => r.Id));
        Assert.Equal("2 of 4", cut.Find("[data-testid=references-count]").TextContent.Trim());
        Assert.Equal(4, changes);
    }

    [Fact]
    public async Task A_settings_link_asks_before_replacing_an_edited_form_and_fills_an_untouched_one()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var finished = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a quiet harbour", seed: 42).With(s => s with { Width = 512, Height = 768 }));
        var imageId = (await host.WaitForJobAsync(finished.JobIds.Single(), j => j.State == JobState.Succeeded)).OutputImageId!.Value;
        await using var ctx = NewContext(ada);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        var cut = RenderStudio(ctx);
        var studio = cut.FindComponent<Studio>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        await TypeAsync(cut, "studio-prompt", "my own idea");
        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?settings={imageId}"));

        cut.WaitForAssertion(() => Assert.Contains("Replace your current settings?", cut.Markup, StringComparison.Ordinal));
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Contains("Keep mine", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.DoesNotContain("Replace your current settings?", cut.Markup, StringComparison.Ordinal));
        Assert.Equal("my own idea", DraftOf(cut).Form.Prompt);
        cut.WaitForAssertion(() => Assert.EndsWith("/studio", navigation.Uri, StringComparison.Ordinal));

        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?settings={imageId}"));
        cut.WaitForAssertion(() => Assert.Contains("Replace your current settings?", cut.Markup, StringComparison.Ordinal));
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Contains("Replace", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal("settings", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        var form = ctx.Services.GetRequiredService<StudioDraft>().Form;
        Assert.Equal(("a quiet harbour", 512, 768, SeedMode.Locked, "42"), (form.Prompt, form.Width!.Value, form.Height!.Value, form.SeedMode, form.SeedText));
        Assert.Equal("42", cut.Find("#studio-seed").GetAttribute("value"));
        Assert.False(ctx.Services.GetRequiredService<StudioDraft>().IsEdited);

        // Now the form holds exactly what was loaded: another image's link fills it without asking.
        var other = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a loud market", seed: 7).With(s => s with { Width = 256, Height = 256 }));
        var otherImage = (await host.WaitForJobAsync(other.JobIds.Single(), j => j.State == JobState.Succeeded)).OutputImageId!.Value;
        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?settings={otherImage}"));
        cut.WaitForAssertion(() => Assert.Equal("a loud market", form.Prompt));
        Assert.DoesNotContain("Replace your current settings?", cut.Markup, StringComparison.Ordinal);
        Assert.Equal("7", form.SeedText);
    }

    [Fact]
    public async Task Reference_links_add_the_users_own_image_and_refuse_others_and_licence_blocked_ones()
    {
        var ada = await host.CreateUserAsync("ada@example.com", accountType: AccountType.Commercial);
        var bob = await host.CreateUserAsync("bob@example.com");
        var store = host.Services.GetRequiredService<ImageStore>();
        var adas = await UploadAsync(store, ada.UserId);
        var bobs = await UploadAsync(store, bob.UserId);
        var nonCommercial = await NonCommercialOutputAsync(ada.UserId);
        await using var ctx = NewContext(ada);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?reference={adas}"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=reference]")));
        Assert.Equal(adas.ToString(), cut.Find("[data-testid=reference]").GetAttribute("data-image-id"));
        cut.WaitForAssertion(() => Assert.EndsWith("/studio", navigation.Uri, StringComparison.Ordinal));

        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?reference={bobs}"));
        cut.WaitForAssertion(() => Assert.Equal("not-found", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        cut.WaitForAssertion(() => Assert.EndsWith("/studio", navigation.Uri, StringComparison.Ordinal));

        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?reference={nonCommercial}"));
        cut.WaitForAssertion(() => Assert.Equal("licence", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains("may not use images made by klein-test-nc as input", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.Single(cut.FindAll("[data-testid=reference]"));

        await cut.InvokeAsync(() => navigation.NavigateTo("/studio?reference=not-an-id"));
        cut.WaitForAssertion(() => Assert.Equal("link", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
    }

    [Fact]
    public async Task A_settings_link_to_a_non_commercial_image_is_refused_for_a_commercial_account_like_reference_and_edit_links()
    {
        // Made while the account was NonCommercial; then an administrator switched it to Commercial.
        var nico = await host.CreateUserAsync("nico@example.com", accountType: AccountType.NonCommercial);
        var made = await host.Generation.SubmitAsync(nico.UserId, QueueHost.Request("a secret non-commercial harbour", seed: 4242, model: QueueHost.OtherModelId));
        var imageId = (await host.WaitForJobAsync(made.JobIds.Single(), j => j.State == JobState.Succeeded)).OutputImageId!.Value;
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == nico.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        await using var ctx = NewContext(nico);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        var cut = RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")));

        await cut.InvokeAsync(() => navigation.NavigateTo($"/studio?settings={imageId}"));

        cut.WaitForAssertion(() => Assert.Equal("licence", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Contains("may not use images made by klein-test-nc as input", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        var form = DraftOf(cut).Form;
        Assert.NotEqual("a secret non-commercial harbour", form.Prompt);
        Assert.NotEqual("4242", form.SeedText);
        Assert.DoesNotContain("a secret non-commercial harbour", cut.Markup, StringComparison.Ordinal);
        // The seed shows in the locked seed's field or the "reuse last" line; "4242" anywhere in the markup could be part of a random id.
        Assert.All(cut.FindAll("#studio-seed"), seed => Assert.NotEqual("4242", seed.GetAttribute("value")));
        Assert.All(cut.FindAll("[data-testid=seed-reuse]"), line => Assert.DoesNotContain("4242", line.TextContent, StringComparison.Ordinal));
        // Nor anywhere else as a number of its own (a result's "Lock seed 4242"); inside an id it has hex digits or hyphens beside it.
        Assert.DoesNotMatch(@"(?<![0-9A-Za-z-])4242(?![0-9A-Za-z-])", cut.Markup);
        cut.WaitForAssertion(() => Assert.EndsWith("/studio", navigation.Uri, StringComparison.Ordinal));
    }

    private static async Task<Guid> UploadAsync(ImageStore store, string ownerId)
    {
        using var picture = new Image<Rgb24>(64, 64, new Rgb24(10, 20, 30));
        using var png = new MemoryStream();
        await picture.SaveAsPngAsync(png);
        png.Position = 0;
        return (await store.SaveUploadAsync(ownerId, png)).Id;
    }

    /// <summary>An output of the non-commercial model that a commercial account owns (made before its account type changed).</summary>
    private async Task<Guid> NonCommercialOutputAsync(string ownerId)
    {
        var id = Guid.NewGuid();
        await host.WithDbAsync(async db =>
        {
            db.Images.Add(new StoredImage
            {
                Id = id,
                OwnerId = ownerId,
                Kind = StoredImageKind.Output,
                ModelId = QueueHost.OtherModelId,
                LicenceId = ModelLicence.FluxNonCommercialId,
                CommercialUse = false,
                Width = 64,
                Height = 64,
                RelativePath = $"images/{id:N}.png",
                ContentType = "image/png",
                Sha256 = "",
            });
            return await db.SaveChangesAsync();
        });
        return id;
    }

    [Fact]
    public async Task With_no_usable_model_Generate_is_off_with_the_reason_and_an_administrators_Studio_installs_the_demo_model()
    {
        var admin = await host.CreateUserAsync("first-admin@example.com", Roles.Admin, AccountType.Commercial);
        var models = host.Services.GetRequiredService<ModelAdministration>();
        foreach (var id in new[] { QueueHost.ModelId, QueueHost.OtherModelId, BaseModelId })
        {
            Assert.Null(await models.SetAsync(id, enabled: false, null, ChangeActor.Ui(admin.UserId)));
        }

        var user = await host.CreateUserAsync("waiting@example.com");
        await using (var userCtx = NewContext(user))
        {
            var page = RenderStudio(userCtx);
            page.WaitForAssertion(() => Assert.Contains("None of the installed models is available to your account.", page.Find("[data-testid=studio-no-models]").TextContent, StringComparison.Ordinal));
            Assert.True(page.Find("[data-testid=generate]").HasAttribute("disabled"));
            Assert.Equal("Generate is off: none of the installed models is available to your account.", page.Find("[data-testid=generate-blocked]").TextContent.Trim());
            // Only administrators are offered the install.
            Assert.Empty(page.FindAll("[data-testid=studio-install-demo]"));
            Assert.Contains("Ask an administrator", page.Find("[data-testid=studio-no-models]").TextContent, StringComparison.Ordinal);
        }

        // The administrator's session installs the demo model, and the picker offers it without a reload.
        await using var ctx = NewContext(admin);
        var session = ctx.Services.GetRequiredService<StudioSession>();
        var view = new InstallView();
        await session.OpenAsync(admin, view);
        Assert.True(session.NoUsableModel);
        await session.InstallDemoAsync();
        await host.Services.GetRequiredService<DemoModelInstaller>().Completion.WaitAsync(TimeSpan.FromMinutes(2));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (session.NoUsableModel && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.False(session.NoUsableModel);
        Assert.Null(session.GenerateBlockedReason);
        Assert.Equal(DemoInstallState.Installed, session.DemoInstall?.State);
        Assert.Equal(DemoModelInstaller.ModelId, session.Form.ModelId);

        // A user's session cannot start it.
        await using var userAgain = NewContext(user);
        var userSession = userAgain.Services.GetRequiredService<StudioSession>();
        await userSession.OpenAsync(user, new InstallView());
        await userSession.InstallDemoAsync();
        Assert.Null(userSession.DemoInstall);
    }

    /// <summary>The page's part for a session opened without one: changes run at once, questions are declined.</summary>
    private sealed class InstallView : IStudioView
    {
        private readonly SemaphoreSlim circuit = new(1, 1);

        public bool IsLive => true;

        public Task<bool> ConfirmAsync(string title, string message, string yes, string no) => Task.FromResult(false);

        public async Task UpdateAsync(Func<Task> change)
        {
            await circuit.WaitAsync();
            try
            {
                await change();
            }
            finally
            {
                circuit.Release();
            }
        }
    }

}
