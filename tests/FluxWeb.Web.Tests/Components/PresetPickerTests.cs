using Bunit;
using Bunit.Rendering;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The Studio's preset picker and its dialog, on the real application services.</summary>
public sealed class PresetPickerTests : IAsyncLifetime
{
    private const string BaseModelId = "klein-test-base";

    private readonly TempFolder folder = new("fluxweb-preset-picker");
    private QueueHost host = default!;
    private PresetService presets = default!;

    public async Task InitializeAsync()
    {
        TestModelPackages.WriteCatalogOnly(Path.Combine(folder.Path, "models"), BaseModelId, ModelLicence.Apache2(), variant: ModelVariant.Base);
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        presets = host.Services.GetRequiredService<PresetService>();
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext(JobActor user) => BunitWiring.ForApplication(host.Services, user);

    private static IRenderedComponent<ContainerFragment> Render(BunitContext ctx)
    {
        var cut = BunitWiring.RenderStudio(ctx);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=model-facts]")), TimeSpan.FromSeconds(10));
        return cut;
    }

    private static StudioForm FormOf(IRenderedComponent<ContainerFragment> cut) => cut.Services.GetRequiredService<StudioDraft>().Form;

    private static async Task OpenPresetsAsync(IRenderedComponent<ContainerFragment> cut)
    {
        cut.WaitForAssertion(() => Assert.False(cut.Find("[data-testid=preset-select]").HasAttribute("disabled")));
        await cut.Find("[data-testid=preset-select]").Closest(".mud-input-control")!.MouseDownAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll(".mud-popover-open [data-testid=preset-option]")));
    }

    private static async Task PickAsync(IRenderedComponent<ContainerFragment> cut, string name)
    {
        await OpenPresetsAsync(cut);
        var option = cut.FindAll(".mud-popover-open [data-testid=preset-option]").Single(o => o.TextContent.Trim() == name);
        await option.Closest(".mud-list-item")!.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Contains(name, cut.Find("[data-testid=preset-select]").GetAttribute("value") ?? "", StringComparison.Ordinal));
    }

    private static Task ClickAsync(IRenderedComponent<ContainerFragment> cut, string testId) =>
        cut.Find($"[data-testid={testId}]").ClickAsync(new MouseEventArgs());

    /// <summary>Clicks a menu item; the returned click ends when the dialog it opens closes, so it is awaited after answering that.</summary>
    private static async Task<Task> ClickMenuItemAsync(IRenderedComponent<ContainerFragment> cut, string testId)
    {
        await cut.Find("[data-testid=preset-menu] button").ClickAsync(new MouseEventArgs());
        var item = cut.WaitForElement($".mud-popover-open [data-testid={testId}]");
        return item.ClickAsync(new MouseEventArgs());
    }

    [Fact]
    public async Task The_picker_groups_my_presets_before_the_published_ones_and_another_persons_never_show()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        Assert.True((await presets.CreateAsync(ada, new PresetDraft { Name = "Noir", PromptTemplate = "film noir" })).Succeeded);
        Assert.True((await presets.CreateAsync(bob, new PresetDraft { Name = "Bob's secret", PromptTemplate = "bob" })).Succeeded);
        var house = (await presets.CreateAsync(admin, new PresetDraft { Name = "House", PromptTemplate = "{prompt}, house style" })).Value!;
        Assert.True((await presets.PublishAsync(admin, house.Id, null, "ui")).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = Render(ctx);

        await OpenPresetsAsync(cut);

        var popover = cut.Find(".mud-popover-open");
        var text = popover.TextContent;
        Assert.True(text.IndexOf("My presets", StringComparison.Ordinal) < text.IndexOf("Noir", StringComparison.Ordinal));
        Assert.True(text.IndexOf("Noir", StringComparison.Ordinal) < text.IndexOf("Published by admins", StringComparison.Ordinal));
        Assert.True(text.IndexOf("Published by admins", StringComparison.Ordinal) < text.IndexOf("House", StringComparison.Ordinal));
        Assert.Equal(["mine:Noir", "published:House"], popover.QuerySelectorAll("[data-testid=preset-option]").Select(o => $"{o.GetAttribute("data-group")}:{o.TextContent.Trim()}"));
        Assert.DoesNotContain("Bob's secret", cut.Markup, StringComparison.Ordinal);
        // The headings are the open list's only: the select renders its items a second time, hidden, beside itself.
        Assert.Empty(cut.FindAll("[data-testid=presets] .mud-list-subheader"));
    }

    [Fact]
    public async Task Saving_the_form_as_a_preset_keeps_what_was_ticked_and_a_refused_name_keeps_the_dialog_open()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        Assert.True((await presets.CreateAsync(ada, new PresetDraft { Name = "Noir", PromptTemplate = "film noir" })).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = Render(ctx);
        await cut.Find("#studio-prompt").InputAsync(new ChangeEventArgs { Value = "a lighthouse" });

        // The click's handler waits for the dialog to close.
        var saving = ClickAsync(cut, "preset-save");
        cut.WaitForElement("#preset-name");
        Assert.Contains("Write {prompt} where your prompt goes", cut.Find("[data-testid=preset-dialog]").TextContent, StringComparison.Ordinal);
        await cut.Find("#preset-name").InputAsync(new ChangeEventArgs { Value = "noir" });
        await cut.Find("#preset-template").InputAsync(new ChangeEventArgs { Value = "{prompt}, watercolour" });
        await ClickAsync(cut, "preset-dialog-save");

        cut.WaitForAssertion(() => Assert.Contains("You have a preset called \"noir\" already", cut.Find("[data-testid=preset-dialog-error]").TextContent, StringComparison.Ordinal));
        Assert.Equal("{prompt}, watercolour", cut.Find("#preset-template").GetAttribute("value") ?? cut.Find("#preset-template").TextContent);

        await cut.Find("#preset-name").InputAsync(new ChangeEventArgs { Value = "Watercolour" });
        var sizeBox = cut.Find("[data-testid=preset-include-size]");
        await (sizeBox.TagName == "INPUT" ? sizeBox : sizeBox.QuerySelector("input")!).ChangeAsync(new ChangeEventArgs { Value = false });
        await ClickAsync(cut, "preset-dialog-save");

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=preset-dialog]")));
        await saving;
        var saved = await host.WithDbAsync(db => db.Presets.AsNoTracking().SingleAsync(p => p.Name == "Watercolour"));
        Assert.Equal((ada.UserId, "{prompt}, watercolour", FormOf(cut).ModelId, (int?)null, (int?)null), (saved.OwnerId, saved.PromptTemplate, saved.ModelId, saved.Width, saved.Height));
        cut.WaitForAssertion(() => Assert.Contains("Watercolour", cut.Find("[data-testid=preset-select]").GetAttribute("value") ?? "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Applying_a_preset_changes_the_form_and_says_so()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        Assert.True((await presets.CreateAsync(ada, new PresetDraft { Name = "Portrait", PromptTemplate = "A portrait of {prompt}, oil painting", NegativePrompt = "text, watermark", ModelId = BaseModelId, Steps = 12, Width = 832, Height = 1216 })).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = Render(ctx);
        await cut.Find("#studio-prompt").InputAsync(new ChangeEventArgs { Value = "a fox" });

        await PickAsync(cut, "Portrait");
        Assert.Contains("negative prompt · ", cut.Find("[data-testid=preset-summary]").TextContent, StringComparison.Ordinal);
        Assert.Contains("832×1216 · 12 steps", cut.Find("[data-testid=preset-summary]").TextContent, StringComparison.Ordinal);
        await ClickAsync(cut, "preset-apply");

        cut.WaitForAssertion(() => Assert.Equal("preset", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        var form = FormOf(cut);
        Assert.Equal(("A portrait of a fox, oil painting", BaseModelId, 832, 1216, 12), (form.Prompt, form.ModelId, form.Width, form.Height, form.Steps));
        cut.WaitForAssertion(() => Assert.Equal("12", cut.Find("#studio-steps").GetAttribute("value")));
        Assert.Contains("\"Portrait\" is in the form", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        Assert.Equal("text, watermark", form.NegativePrompt);
        Assert.Equal("text, watermark", cut.Find("#studio-negative-prompt").GetAttribute("value") ?? cut.Find("#studio-negative-prompt").TextContent);

        // Saving the form again offers its negative prompt, ticked, because its model reads one.
        var saving = ClickAsync(cut, "preset-save");
        cut.WaitForElement("#preset-name");
        Assert.NotNull(cut.Find("[data-testid=preset-include-negative]"));
        Assert.Contains("Negative prompt: text, watermark", cut.Find("[data-testid=preset-dialog]").TextContent, StringComparison.Ordinal);
        await cut.Find("#preset-name").InputAsync(new ChangeEventArgs { Value = "Portrait again" });
        await ClickAsync(cut, "preset-dialog-save");
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=preset-dialog]")));
        await saving;
        var saved = await host.WithDbAsync(db => db.Presets.AsNoTracking().SingleAsync(p => p.Name == "Portrait again"));
        Assert.Equal(("text, watermark", BaseModelId), (saved.NegativePrompt, saved.ModelId));
    }

    [Fact]
    public async Task A_commercial_account_sees_a_published_non_commercial_preset_applied_without_its_model()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.NonCommercial);
        var carla = await host.CreateUserAsync("carla@example.com", accountType: AccountType.Commercial);
        var dreamy = (await presets.CreateAsync(admin, new PresetDraft { Name = "Dreamy", PromptTemplate = "dreamy haze", ModelId = QueueHost.OtherModelId })).Value!;
        Assert.True((await presets.PublishAsync(admin, dreamy.Id, null, "ui")).Succeeded);
        await using var ctx = NewContext(carla);
        var cut = Render(ctx);
        var modelBefore = FormOf(cut).ModelId;
        await cut.Find("#studio-prompt").InputAsync(new ChangeEventArgs { Value = "a fox" });

        await PickAsync(cut, "Dreamy");
        Assert.Contains("does not allow commercial use", cut.Find("[data-testid=preset-model-problem]").TextContent, StringComparison.Ordinal);
        await ClickAsync(cut, "preset-apply");

        cut.WaitForAssertion(() => Assert.Equal("preset", cut.Find("[data-testid=studio-alert]").GetAttribute("data-kind")));
        Assert.Equal(("a fox, dreamy haze", modelBefore), (FormOf(cut).Prompt, FormOf(cut).ModelId));
        Assert.NotEqual(QueueHost.OtherModelId, modelBefore);
        Assert.Contains("the model was not changed", cut.Find("[data-testid=studio-alert]").TextContent, StringComparison.Ordinal);
        // Not theirs to manage either.
        Assert.Empty(cut.FindAll("[data-testid=preset-menu]"));
    }

    [Fact]
    public async Task An_administrator_publishes_a_copy_from_the_picker_and_withdraws_it()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        Assert.True((await presets.CreateAsync(admin, new PresetDraft { Name = "House", PromptTemplate = "house style" })).Succeeded);
        await using var ctx = NewContext(admin);
        var cut = Render(ctx);

        await PickAsync(cut, "House");
        var publishing = await ClickMenuItemAsync(cut, "preset-publish");
        cut.WaitForElement("#preset-name");
        await cut.Find("#preset-name").InputAsync(new ChangeEventArgs { Value = "House (team)" });
        await ClickAsync(cut, "preset-dialog-save");

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=preset-dialog]")));
        await publishing;
        Assert.True(await host.WithDbAsync(db => db.Presets.AnyAsync(p => p.OwnerId == null && p.Name == "House (team)")));
        cut.WaitForAssertion(() => Assert.StartsWith("Published by admins", cut.Find("[data-testid=preset-summary]").TextContent.Trim(), StringComparison.Ordinal));

        var deleting = await ClickMenuItemAsync(cut, "preset-delete");
        cut.WaitForAssertion(() => Assert.Contains("Unpublish this preset?", cut.Markup, StringComparison.Ordinal));
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Unpublish").ClickAsync(new MouseEventArgs());
        await deleting;

        await Eventually.Until(() => host.WithDbAsync(async db => !await db.Presets.AnyAsync(p => p.OwnerId == null)), "The published preset was not withdrawn.");
        Assert.True(await host.WithDbAsync(db => db.Presets.AnyAsync(p => p.OwnerId == admin.UserId && p.Name == "House")));
    }

    [Fact]
    public async Task A_user_is_not_offered_publishing()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        Assert.True((await presets.CreateAsync(ada, new PresetDraft { Name = "Noir", PromptTemplate = "film noir" })).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = Render(ctx);

        await PickAsync(cut, "Noir");
        await cut.Find("[data-testid=preset-menu] button").ClickAsync(new MouseEventArgs());

        cut.WaitForElement(".mud-popover-open [data-testid=preset-rename]");
        Assert.Empty(cut.FindAll("[data-testid=preset-publish]"));
    }

    [Fact]
    public async Task Updating_a_preset_from_the_form_starts_from_its_name_and_template_and_replaces_what_it_holds()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        Assert.True((await presets.CreateAsync(ada, new PresetDraft { Name = "Noir", PromptTemplate = "film noir", Width = 512, Height = 512 })).Succeeded);
        await using var ctx = NewContext(ada);
        var cut = Render(ctx);
        await cut.Find("#studio-width").InputAsync(new ChangeEventArgs { Value = "768" });
        cut.WaitForAssertion(() => Assert.Equal(768, FormOf(cut).Width));

        await PickAsync(cut, "Noir");
        var updating = await ClickMenuItemAsync(cut, "preset-update");
        cut.WaitForElement("#preset-name");
        Assert.Equal("Noir", cut.Find("#preset-name").GetAttribute("value"));
        Assert.Contains("film noir", cut.Find("#preset-template").GetAttribute("value") ?? cut.Find("#preset-template").TextContent, StringComparison.Ordinal);
        await ClickAsync(cut, "preset-dialog-save");

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=preset-dialog]")));
        await updating;
        var stored = await host.WithDbAsync(db => db.Presets.AsNoTracking().SingleAsync());
        Assert.Equal(("Noir", "film noir", 768, 1024, FormOf(cut).ModelId), (stored.Name, stored.PromptTemplate, stored.Width, stored.Height, stored.ModelId));
    }
}
