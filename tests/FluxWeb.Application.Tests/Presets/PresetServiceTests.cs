using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Presets;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Presets;

/// <summary>Presets on the real services and database: validation, isolation between accounts, publishing, the licence.</summary>
public class PresetServiceTests : IAsyncLifetime
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private const string BaseModelId = "klein-test-base";
    private const string Distilled = QueueHost.ModelId;
    private const string NonCommercial = QueueHost.OtherModelId;

    private readonly TempFolder folder = new("fluxweb-presets");
    private QueueHost host = default!;
    private PresetService presets = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;
    private JobActor admin = default!;
    private JobActor commercial = default!;

    public async Task InitializeAsync()
    {
        TestModelPackages.WriteCatalogOnly(Path.Combine(folder.Path, "models"), BaseModelId, ModelLicence.Apache2(), variant: ModelVariant.Base);
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, database: Database);
        presets = host.Services.GetRequiredService<PresetService>();
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.NonCommercial);
        commercial = await host.CreateUserAsync("carla@example.com", accountType: AccountType.Commercial);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private static GenerationSettings Form(string prompt = "a fox", string model = Distilled) => new() { ModelId = model, Prompt = prompt, Width = 512, Height = 512 };

    private async Task<PresetView> SaveAsync(JobActor owner, PresetDraft draft)
    {
        var saved = await presets.CreateAsync(owner, draft);
        Assert.True(saved.Succeeded, saved.Error);
        return saved.Value!;
    }

    public static TheoryData<PresetDraft, string> Refused => new()
    {
        { new PresetDraft { Name = " ", PromptTemplate = "x" }, "Give the preset a name." },
        { new PresetDraft { Name = new string('n', 61), PromptTemplate = "x" }, "at most 60 characters; this one has 61" },
        { new PresetDraft { Name = "two\nlines", PromptTemplate = "x" }, "one line" },
        { new PresetDraft { Name = "Long", PromptTemplate = new string('t', 2001) }, "at most 2,000 are kept" },
        { new PresetDraft { Name = "Empty" }, "would change nothing" },
        { new PresetDraft { Name = "Half", Width = 512 }, "both a width and a height" },
        { new PresetDraft { Name = "Odd", Width = 1000, Height = 512 }, "use 992 or 1008" },
        { new PresetDraft { Name = "Huge", Width = 4096, Height = 512 }, "Width must be between" },
        { new PresetDraft { Name = "Loose steps", PromptTemplate = "x", Steps = 20 }, "include the model too" },
        { new PresetDraft { Name = "Gone", ModelId = "no-such-model" }, "no-such-model is not installed" },
        { new PresetDraft { Name = "Many steps", ModelId = BaseModelId, Steps = 5000 }, "Steps must be between" },
        { new PresetDraft { Name = "Wild guidance", ModelId = BaseModelId, Guidance = 99f }, "Guidance must be between" },
        { new PresetDraft { Name = "Distilled steps", ModelId = Distilled, Steps = 20 }, "leave steps out" },
        { new PresetDraft { Name = "Distilled guidance", ModelId = Distilled, Guidance = 3f }, "takes no guidance" },
        { new PresetDraft { Name = "Distilled negative", ModelId = Distilled, NegativePrompt = "blurry" }, "takes no negative prompt (only models with guidance read one)" },
        { new PresetDraft { Name = "Long negative", NegativePrompt = new string('n', 2001) }, "The negative prompt is too long: it has 2,001 characters; at most 2,000 are kept." },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_preset_is_checked_when_it_is_saved_and_nothing_is_kept_when_it_is_refused(PresetDraft draft, string expected)
    {
        var result = await presets.CreateAsync(ada, draft);

        Assert.Equal(PresetOutcome.Invalid, result.Outcome);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Empty(await presets.ListAsync(ada));
    }

    [Fact]
    public async Task A_commercial_account_cannot_save_a_preset_with_a_non_commercial_model()
    {
        var result = await presets.CreateAsync(commercial, new PresetDraft { Name = "NC", ModelId = NonCommercial });

        Assert.Equal(PresetOutcome.Invalid, result.Outcome);
        Assert.Contains("not available to you", result.Error, StringComparison.Ordinal);
        Assert.Contains("commercial use", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_are_unique_per_owner_whatever_their_case_but_two_people_may_use_the_same()
    {
        await SaveAsync(ada, new PresetDraft { Name = "Noir", PromptTemplate = "film noir" });
        var second = await SaveAsync(ada, new PresetDraft { Name = "Pastel", PromptTemplate = "pastel" });

        var again = await presets.CreateAsync(ada, new PresetDraft { Name = "  noir ", PromptTemplate = "other" });
        var renamed = await presets.RenameAsync(ada, second.Id, "NOIR", "ui");
        var bobs = await presets.CreateAsync(bob, new PresetDraft { Name = "Noir", PromptTemplate = "bob's noir" });

        Assert.Equal(PresetOutcome.Invalid, again.Outcome);
        Assert.Contains("You have a preset called \"noir\" already", again.Error, StringComparison.Ordinal);
        Assert.Equal(PresetOutcome.Invalid, renamed.Outcome);
        Assert.True(bobs.Succeeded, bobs.Error);
        Assert.Equal(["Noir", "Pastel"], (await presets.ListAsync(ada)).Select(p => p.Name));
    }

    [Fact]
    public async Task Another_persons_preset_answers_like_an_unknown_one_to_every_call()
    {
        var adas = await SaveAsync(ada, new PresetDraft { Name = "Ada's style", PromptTemplate = "{prompt}, secret sauce", ModelId = BaseModelId, Steps = 12 });

        Assert.DoesNotContain(await presets.ListAsync(bob), p => p.Id == adas.Id);
        Assert.Equal(PresetOutcome.NotFound, (await presets.GetAsync(bob, adas.Id)).Outcome);
        Assert.Equal(PresetOutcome.NotFound, (await presets.ApplyAsync(bob, adas.Id, Form())).Outcome);
        Assert.Equal(PresetOutcome.NotFound, (await presets.UpdateAsync(bob, adas.Id, new PresetDraft { Name = "Mine now", PromptTemplate = "x" }, "ui")).Outcome);
        Assert.Equal(PresetOutcome.NotFound, (await presets.RenameAsync(bob, adas.Id, "Mine now", "ui")).Outcome);
        Assert.Equal(PresetOutcome.NotFound, (await presets.DeleteAsync(bob, adas.Id, "ui")).Outcome);
        Assert.Equal(PresetOutcome.NotFound, (await presets.PublishAsync(admin, adas.Id, null, "ui")).Outcome);

        var kept = Assert.Single(await presets.ListAsync(ada));
        Assert.Equal(("Ada's style", "{prompt}, secret sauce", 12), (kept.Name, kept.PromptTemplate, kept.Steps));
    }

    [Fact]
    public async Task Applying_expands_the_prompt_and_sets_model_size_steps_and_guidance()
    {
        var style = await SaveAsync(ada, new PresetDraft { Name = "Portrait", PromptTemplate = "A portrait of {prompt}, oil painting", ModelId = BaseModelId, Width = 832, Height = 1216, Steps = 12, Guidance = 3.5f });
        var sizeOnly = await SaveAsync(ada, new PresetDraft { Name = "Wide", Width = 1344, Height = 768 });

        var applied = await presets.ApplyAsync(ada, style.Id, Form() with { Seed = 7 });
        var resized = await presets.ApplyAsync(ada, sizeOnly.Id, Form("keep me"));

        Assert.True(applied.Succeeded);
        Assert.Empty(applied.Value!.LeftOut);
        Assert.Equal(Form("A portrait of a fox, oil painting", BaseModelId) with { Width = 832, Height = 1216, Steps = 12, Guidance = 3.5f, Seed = 7 }, applied.Value.Settings);
        Assert.Equal(Form("keep me") with { Width = 1344, Height = 768 }, resized.Value!.Settings);
    }

    [Fact]
    public async Task A_negative_prompt_applies_with_any_model_that_reads_one_and_is_left_out_with_the_reason_otherwise()
    {
        var clean = await SaveAsync(ada, new PresetDraft { Name = "Clean", NegativePrompt = "  text, watermark " });
        var cleanBase = await SaveAsync(ada, new PresetDraft { Name = "Clean base", NegativePrompt = "text", ModelId = BaseModelId });
        Assert.Equal(("text, watermark", "negative prompt"), (clean.NegativePrompt, clean.Summary));

        // Alone it is a style for whatever model the form has, when that model reads one.
        var onBase = (await presets.ApplyAsync(ada, clean.Id, Form(model: BaseModelId) with { NegativePrompt = "mine" })).Value!;
        var onDistilled = (await presets.ApplyAsync(ada, clean.Id, Form() with { NegativePrompt = "mine" })).Value!;
        // With a base model it comes along, whatever model the form had.
        var withModel = (await presets.ApplyAsync(ada, cleanBase.Id, Form())).Value!;

        Assert.Equal(("text, watermark", 0), (onBase.Settings.NegativePrompt, onBase.LeftOut.Count));
        Assert.Equal("mine", onDistilled.Settings.NegativePrompt);
        Assert.Equal("its negative prompt was not applied: Test model klein-test takes no negative prompt (only models with guidance read one)", Assert.Single(onDistilled.LeftOut));
        Assert.Equal((BaseModelId, "text"), (withModel.Settings.ModelId, withModel.Settings.NegativePrompt));
        Assert.Empty(withModel.LeftOut);
        Assert.Equal("text, watermark", PresetDraft.Of(await host.WithDbAsync(db => db.Presets.SingleAsync(p => p.Id == clean.Id))).NegativePrompt);
    }

    [Fact]
    public async Task A_model_disabled_after_saving_is_not_applied_and_the_rest_still_is()
    {
        var style = await SaveAsync(ada, new PresetDraft { Name = "Base look", PromptTemplate = "matte", ModelId = BaseModelId, Steps = 12, Width = 768, Height = 768 });
        Assert.Null(await host.Services.GetRequiredService<ModelAdministration>().SetAsync(BaseModelId, false, null, ChangeActor.CommandLine));

        var applied = (await presets.ApplyAsync(ada, style.Id, Form())).Value!;
        var listed = Assert.Single(await presets.ListAsync(ada));

        Assert.Equal(Form("a fox, matte") with { Width = 768, Height = 768 }, applied.Settings);
        Assert.False(applied.ModelApplied);
        Assert.Contains("disabled by an administrator", Assert.Single(applied.LeftOut), StringComparison.Ordinal);
        Assert.Contains("nor its steps and guidance", applied.LeftOut[0], StringComparison.Ordinal);
        Assert.Contains("disabled by an administrator", listed.ModelProblem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_value_the_limits_no_longer_allow_is_left_out_when_applied()
    {
        var style = await SaveAsync(ada, new PresetDraft { Name = "Odd size", PromptTemplate = "grainy", Width = 512, Height = 512 });
        await host.WithDbAsync(db => db.Presets.Where(p => p.Id == style.Id).ExecuteUpdateAsync(s => s.SetProperty(p => p.Width, 1000)));

        var applied = (await presets.ApplyAsync(ada, style.Id, Form())).Value!;

        Assert.Equal(Form("a fox, grainy"), applied.Settings);
        Assert.Contains("its size was not applied: Width must be a multiple of 16: 1000 is not; use 992 or 1008.", applied.LeftOut);
    }

    [Fact]
    public async Task Only_administrators_publish_and_a_published_copy_is_read_only_for_everyone_else()
    {
        var own = await SaveAsync(ada, new PresetDraft { Name = "Mine", PromptTemplate = "x" });
        Assert.Equal(PresetOutcome.ReadOnly, (await presets.PublishAsync(ada, own.Id, null, "ui")).Outcome);
        // A role the circuit remembers is not enough: the database decides.
        Assert.Equal(PresetOutcome.ReadOnly, (await presets.PublishAsync(ada with { IsAdmin = true }, own.Id, null, "ui")).Outcome);

        var house = await SaveAsync(admin, new PresetDraft { Name = "House style", PromptTemplate = "{prompt}, house style", Width = 1024, Height = 1024 });
        var published = await presets.PublishAsync(admin, house.Id, "House style (team)", "ui");
        Assert.True(published.Succeeded, published.Error);
        var copy = published.Value!;

        var bobs = await presets.ListAsync(bob);
        var seen = Assert.Single(bobs);
        Assert.Equal((copy.Id, "House style (team)", true, false), (seen.Id, seen.Name, seen.IsPublished, seen.IsMine));
        Assert.Equal("a fox, house style", (await presets.ApplyAsync(bob, copy.Id, Form())).Value!.Settings.Prompt);
        Assert.Equal(PresetOutcome.ReadOnly, (await presets.RenameAsync(bob, copy.Id, "Bob's", "ui")).Outcome);
        Assert.Equal(PresetOutcome.ReadOnly, (await presets.UpdateAsync(bob, copy.Id, new PresetDraft { Name = "Bob's", PromptTemplate = "y" }, "ui")).Outcome);
        Assert.Equal(PresetOutcome.ReadOnly, (await presets.DeleteAsync(bob, copy.Id, "ui")).Outcome);
        // The admin's own stays theirs, beside the published copy.
        Assert.Equal(2, (await presets.ListAsync(admin)).Count);
        var twice = await presets.PublishAsync(admin, house.Id, "house STYLE (team)", "ui");
        Assert.Contains("A published preset is called", twice.Error, StringComparison.Ordinal);

        Assert.True((await presets.DeleteAsync(admin, copy.Id, "ui")).Succeeded);
        Assert.Empty(await presets.ListAsync(bob));
        var audit = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.Action == AuditActions.AdminChange && a.ActorId == admin.UserId).OrderBy(a => a.Id).Select(a => a.Detail).ToListAsync());
        Assert.Collection(audit,
            d => Assert.StartsWith("Published the preset \"House style (team)\"", d, StringComparison.Ordinal),
            d => Assert.StartsWith("Unpublished the preset \"House style (team)\"", d, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_published_preset_naming_a_non_commercial_model_never_selects_it_for_a_commercial_account()
    {
        var nc = await SaveAsync(admin, new PresetDraft { Name = "NC look", PromptTemplate = "{prompt}, dreamy", ModelId = NonCommercial, Width = 768, Height = 768 });
        var published = (await presets.PublishAsync(admin, nc.Id, null, "ui")).Value!;

        // Listed to both (the template and size are theirs to use), with the reason the model is not for the commercial account.
        var carlas = Assert.Single(await presets.ListAsync(commercial));
        Assert.Contains("does not allow commercial use", carlas.ModelProblem, StringComparison.Ordinal);
        Assert.Null(Assert.Single(await presets.ListAsync(bob)).ModelProblem);

        var forCarla = (await presets.ApplyAsync(commercial, published.Id, Form())).Value!;
        var forBob = (await presets.ApplyAsync(bob, published.Id, Form())).Value!;

        Assert.Equal(Form("a fox, dreamy") with { Width = 768, Height = 768 }, forCarla.Settings);
        Assert.Contains("not available to you", Assert.Single(forCarla.LeftOut), StringComparison.Ordinal);
        Assert.Equal(Form("a fox, dreamy", NonCommercial) with { Width = 768, Height = 768 }, forBob.Settings);
        Assert.True(forBob.ModelApplied);
    }

    [Fact]
    public async Task A_prompt_the_template_would_make_too_long_is_kept_as_it_was()
    {
        var style = await SaveAsync(ada, new PresetDraft { Name = "Wordy", PromptTemplate = new string('w', 1500) });
        var prompt = new string('p', GenerationLimits.MaxPromptCharacters - 100);

        var applied = (await presets.ApplyAsync(ada, style.Id, Form(prompt))).Value!;

        Assert.Equal(prompt, applied.Settings.Prompt);
        Assert.Contains("The prompt is too long", Assert.Single(applied.LeftOut), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_account_keeps_at_most_the_preset_limit_and_is_told_to_delete_one_first()
    {
        var now = DateTime.UtcNow;
        await host.WithDbAsync(db =>
        {
            db.Presets.AddRange(Enumerable.Range(0, PresetService.MaxPerAccount).Select(i => new Preset
            {
                Id = Guid.NewGuid(),
                OwnerId = ada.UserId,
                Name = $"Style {i}",
                NameKey = Preset.KeyOf($"Style {i}"),
                PromptTemplate = "x",
                CreatedUtc = now,
                UpdatedUtc = now,
            }));
            return db.SaveChangesAsync();
        });

        var refused = await presets.CreateAsync(ada, new PresetDraft { Name = "One more", PromptTemplate = "y" });
        var bobs = await presets.CreateAsync(bob, new PresetDraft { Name = "One more", PromptTemplate = "y" });

        Assert.Equal(PresetOutcome.Invalid, refused.Outcome);
        Assert.Contains("Delete one you no longer use first", refused.Error, StringComparison.Ordinal);
        Assert.True(bobs.Succeeded, bobs.Error);
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class PresetServiceTestsOnPostgreSql : PresetServiceTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
