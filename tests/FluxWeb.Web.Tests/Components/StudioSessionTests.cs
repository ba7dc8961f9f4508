using Bunit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Components;

/// <summary>
/// The Studio's session without the page: deep links under the licence, validation as the form
/// changes, refusals at submission, and results of jobs that were already running when it opened.
/// Real application services (SQLite, the fake engine); the page is replaced by <see cref="TestView"/>.
/// </summary>
public sealed class StudioSessionTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-studio-session");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    public async Task InitializeAsync() =>
        host = await QueueHost.StartAsync(folder.Path, engine, new Dictionary<string, string?> { ["Quotas:Roles:User:ImagesPerDay"] = "3" });

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext(JobActor user) => BunitWiring.ForApplication(host.Services, user);

    private static async Task<(StudioSession Session, TestView View)> OpenAsync(BunitContext ctx, JobActor user, bool live = true)
    {
        var session = ctx.Services.GetRequiredService<StudioSession>();
        var view = new TestView(live);
        await session.OpenAsync(user, view);
        return (session, view);
    }

    private async Task<Guid> OutputOfAsync(string ownerId, string prompt, ulong seed, string model = QueueHost.ModelId)
    {
        var made = await host.Generation.SubmitAsync(ownerId, QueueHost.Request(prompt, seed: seed, model: model));
        Assert.True(made.Accepted, made.Error);
        return (await host.WaitForJobAsync(made.JobIds.Single(), j => j.State == JobState.Succeeded)).OutputImageId!.Value;
    }

    [Fact]
    public async Task Links_to_a_non_commercial_image_are_refused_for_a_commercial_account_and_change_nothing()
    {
        // Made while the account was NonCommercial; then an administrator switched it to Commercial.
        var nico = await host.CreateUserAsync("nico@example.com", accountType: AccountType.NonCommercial);
        var imageId = await OutputOfAsync(nico.UserId, "a secret non-commercial harbour", 4242, QueueHost.OtherModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == nico.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        await using var ctx = NewContext(nico);
        var (session, view) = await OpenAsync(ctx, nico);
        var before = session.Form.Snapshot();

        foreach (var kind in Enum.GetValues<StudioLinkKind>())
        {
            session.DismissNotice();
            await session.FollowAsync(new StudioLink(kind, imageId.ToString()));
            Assert.Equal("licence", session.Notice?.Kind);
            Assert.Contains("may not use images made by klein-test-nc as input", session.Notice!.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, session.Form.Snapshot());
        Assert.Empty(view.Asked);

        await session.FollowAsync(new StudioLink(StudioLinkKind.Reference, "not-an-id"));
        Assert.Equal("link", session.Notice?.Kind);
    }

    [Fact]
    public async Task An_administrators_picker_and_links_follow_the_licence_of_their_own_account()
    {
        // Administrators are not exempt from the licence when they generate or reuse an image: the output lands in their own account.
        var admin = await host.CreateUserAsync("root@example.com", Roles.Admin, AccountType.NonCommercial);
        var imageId = await OutputOfAsync(admin.UserId, "made before the switch", 7, QueueHost.OtherModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == admin.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        Assert.True(admin.IsAdmin);
        await using var ctx = NewContext(admin);
        var (session, _) = await OpenAsync(ctx, admin);

        var refused = session.Choices!.Single(c => c.Id == QueueHost.OtherModelId);
        Assert.False(refused.Allowed);
        Assert.Contains("may not generate with klein-test-nc", refused.Reason, StringComparison.Ordinal);
        session.ChooseModel(QueueHost.OtherModelId);
        Assert.Equal(QueueHost.ModelId, session.Form.ModelId);

        // What the picker refuses, submission refuses with the same words.
        var direct = await host.Generation.SubmitAsync(admin.UserId, QueueHost.Request("direct", model: QueueHost.OtherModelId));
        Assert.True(direct.LicenceRefused);

        await session.FollowAsync(new StudioLink(StudioLinkKind.Settings, imageId.ToString()));
        Assert.Equal("licence", session.Notice?.Kind);
        Assert.NotEqual("made before the switch", session.Form.Prompt);
        await session.FollowAsync(new StudioLink(StudioLinkKind.Reference, imageId.ToString()));
        Assert.Equal("licence", session.Notice?.Kind);
        Assert.Empty(session.Form.References);
    }

    [Fact]
    public async Task Validation_changes_with_each_edit_and_shows_the_empty_prompt_only_after_generate()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await using var ctx = NewContext(ada);
        var (session, _) = await OpenAsync(ctx, ada);

        Assert.Contains(StudioField.Prompt, session.Errors.Keys);
        Assert.Null(session.VisibleError(StudioField.Prompt));

        session.Change(f => f.Width = 1000);
        Assert.Equal("Width must be a multiple of 16: 1000 is not; use 992 or 1008.", session.VisibleError(StudioField.Width));
        session.Change(f => f.Width = 1024);
        Assert.Null(session.VisibleError(StudioField.Width));

        Assert.False(await session.GenerateAsync(mask: null));
        Assert.Equal("validation", session.Notice?.Kind);
        Assert.Equal("Write a prompt first: describe the picture you want.", session.VisibleError(StudioField.Prompt));

        session.SetPrompt("a quiet harbour");
        Assert.Null(session.VisibleError(StudioField.Prompt));
        session.SetSeedMode(SeedMode.ReuseLast);
        Assert.Equal("There is no finished image yet whose seed could be reused.", session.ErrorFor(StudioField.Seed));
        session.SetSeedMode(SeedMode.Random);
        Assert.Empty(session.Errors);
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync()));
    }

    [Fact]
    public async Task Refusals_at_submission_become_the_notice_and_an_accepted_request_is_remembered()
    {
        var dora = await host.CreateUserAsync("dora@example.com", accountType: AccountType.NonCommercial);
        await using var ctx = NewContext(dora);
        var (session, _) = await OpenAsync(ctx, dora);
        session.SetPrompt("a night market");
        session.Change(f => (f.Width, f.Height, f.Count) = (512, 512, 4));

        Assert.False(await session.GenerateAsync(mask: null));
        Assert.Equal("quota", session.Notice?.Kind);
        Assert.Contains("Daily image quota reached: 0 of 3 images used today, 3 left, and this request needs 4.", session.Notice!.Message, StringComparison.Ordinal);

        session.Change(f => f.Count = 1);
        session.ChooseModel(QueueHost.OtherModelId);
        Assert.Equal(QueueHost.OtherModelId, session.Form.ModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == dora.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        Assert.False(await session.GenerateAsync(mask: null));
        Assert.Equal("licence", session.Notice?.Kind);
        Assert.Contains("may not generate with klein-test-nc", session.Notice!.Message, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync()));

        session.ChooseModel(QueueHost.ModelId);
        Assert.True(await session.GenerateAsync(mask: null));
        Assert.Null(session.Notice);
        Assert.False(session.Attempted);
        Assert.Equal("a night market", session.History[0]);
    }

    [Fact]
    public async Task A_masked_edit_without_paint_or_with_a_refused_mask_is_not_sent()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var picture = await OutputOfAsync(ada.UserId, "a picture to edit", 3);
        await using var ctx = NewContext(ada);
        var (session, _) = await OpenAsync(ctx, ada);
        await session.FollowAsync(new StudioLink(StudioLinkKind.Edit, picture.ToString()));
        Assert.Equal(picture, session.Form.Source?.Id);
        session.SetPrompt("make it blue");
        session.MaskChanged(new MaskState(true, false, Painted: true));
        var jobsBefore = await host.WithDbAsync(db => db.Jobs.CountAsync());

        Assert.False(await session.GenerateAsync(new TestCanvas(painted: false, answer: "")));
        Assert.Equal("validation", session.Notice?.Kind);
        Assert.False(session.Form.MaskPainted);

        session.MaskChanged(new MaskState(true, false, Painted: true));
        Assert.False(await session.GenerateAsync(new TestCanvas(painted: true, refusal: "The mask is not the picture's size.")));
        Assert.Equal(("mask", "The mask is not the picture's size."), (session.Notice?.Kind, session.Notice?.Message));
        Assert.Equal(jobsBefore, await host.WithDbAsync(db => db.Jobs.CountAsync()));
    }

    [Fact]
    public async Task A_session_opened_while_a_job_runs_reattaches_and_gets_its_result_and_seed()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var hold = engine.HoldNextJob(step: 1);
        var running = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("still painting", seed: 99));
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30));

        await using var ctx = NewContext(ada);
        var (session, view) = await OpenAsync(ctx, ada);
        Assert.Empty(session.Results!);
        Assert.Null(session.LastSeed);
        session.SetSeedMode(SeedMode.ReuseLast);
        Assert.Contains(StudioField.Seed, session.Errors.Keys);

        hold.Release();
        var jobId = running.JobIds.Single();
        await Eventually.Until(() => session.Results!.Any(r => r.Id == jobId), "The session never showed the finished job among its results.", TimeSpan.FromSeconds(30));
        Assert.Equal(99UL, session.LastSeed);
        Assert.DoesNotContain(StudioField.Seed, session.Errors.Keys);
        Assert.True(view.Updates > 0);

        // Once the page closes, the session follows nothing.
        session.Close(view);
        var later = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("after closing", seed: 5));
        await host.WaitForJobAsync(later.JobIds.Single(), j => j.State == JobState.Succeeded);
        Assert.DoesNotContain(session.Results!, r => r.Id == later.JobIds.Single());
    }

    [Fact]
    public async Task A_prerendered_session_follows_nothing_and_reading_the_results_needs_no_circuit()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await OutputOfAsync(ada.UserId, "already done", 12);
        await using var ctx = NewContext(ada);
        var (session, _) = await OpenAsync(ctx, ada, live: false);

        Assert.Equal("already done", Assert.Single(session.Results!).Prompt);
        Assert.Equal(12UL, session.LastSeed);
        Assert.False(host.Events.HasSubscribers(ada.UserId));
    }

    /// <summary>The page, as the session sees it: answers to questions are given in advance; changes run one at a time.</summary>
    [Fact]
    public async Task A_fresh_form_starts_with_the_last_model_used_else_the_administrators_default()
    {
        var admin = await host.CreateUserAsync("chief@example.com", Roles.Admin);
        var nico = await host.CreateUserAsync("nico-default@example.com", accountType: AccountType.NonCommercial);
        var carol = await host.CreateUserAsync("carol-default@example.com", accountType: AccountType.Commercial);
        var models = host.Services.GetRequiredService<FluxWeb.Application.Administration.ModelAdministration>();

        // The administrator's choice is validated: only an installed, enabled model.
        Assert.Equal("No model 'no-such-model' is installed.", await models.SetDefaultModelAsync(FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId), "no-such-model"));
        await models.SetAsync(QueueHost.OtherModelId, enabled: false, null, FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId));
        Assert.Contains("is disabled", await models.SetDefaultModelAsync(FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId), QueueHost.OtherModelId), StringComparison.Ordinal);
        await models.SetAsync(QueueHost.OtherModelId, enabled: true, null, FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId));
        Assert.Null(await models.SetDefaultModelAsync(FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId), QueueHost.OtherModelId));
        Assert.Equal(QueueHost.OtherModelId, await models.DefaultModelAsync(FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId)));

        // Someone who has not generated yet gets the administrator's default, alphabet or not.
        await using (var ctx = NewContext(nico))
        {
            var (session, _) = await OpenAsync(ctx, nico);
            Assert.Equal(QueueHost.OtherModelId, session.Form.ModelId);
        }

        // A default the account may not use (a non-commercial model for a commercial account) is passed over.
        await using (var ctx = NewContext(carol))
        {
            var (session, _) = await OpenAsync(ctx, carol);
            Assert.Equal(QueueHost.ModelId, session.Form.ModelId);
        }

        // After generating, the model last used comes first.
        await OutputOfAsync(nico.UserId, "with the commercial model", 5, QueueHost.ModelId);
        await using (var ctx = NewContext(nico))
        {
            var (session, _) = await OpenAsync(ctx, nico);
            Assert.Equal(QueueHost.ModelId, session.Form.ModelId);
        }
    }

    [Fact]
    public async Task The_form_kept_in_the_browser_comes_back_and_its_pictures_pass_the_licence_door_again()
    {
        var nico = await host.CreateUserAsync("nico-restore@example.com", accountType: AccountType.NonCommercial);
        var allowed = await OutputOfAsync(nico.UserId, "a commercial reference", 11, QueueHost.ModelId);
        var nonCommercial = await OutputOfAsync(nico.UserId, "a non-commercial reference", 12, QueueHost.OtherModelId);
        var saved = new SavedStudioForm
        {
            Prompt = "a lighthouse in fog",
            NegativePrompt = "people, boats",
            ModelId = QueueHost.OtherModelId,
            Width = 512,
            Height = 384,
            SeedMode = SeedMode.Locked,
            SeedText = "1234",
            Count = 2,
            References = [allowed, nonCommercial, Guid.NewGuid()],
        };
        var json = SavedStudioForm.From(new StudioForm()).ToJson();
        Assert.NotNull(SavedStudioForm.Parse(json));
        Assert.Equal("", SavedStudioForm.Parse("""{"version":1,"prompt":"kept before negative prompts existed"}""")!.NegativePrompt);
        Assert.Null(SavedStudioForm.Parse("{ not json"));
        Assert.Null(SavedStudioForm.Parse("""{"version":99,"prompt":"from the future"}"""));
        var roundTrip = SavedStudioForm.Parse(saved.ToJson())!;
        Assert.Equal(saved.References, roundTrip.References);

        // The account became Commercial since: the non-commercial model and its image are not brought back.
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == nico.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        await using var ctx = NewContext(nico);
        var (session, _) = await OpenAsync(ctx, nico);
        await session.RestoreAsync(roundTrip);

        Assert.Equal(("a lighthouse in fog", "people, boats"), (session.Form.Prompt, session.Form.NegativePrompt));
        Assert.Equal(QueueHost.ModelId, session.Form.ModelId);
        Assert.Equal((512, 384, 2), (session.Form.Width, session.Form.Height, session.Form.Count));
        Assert.Equal((SeedMode.Locked, "1234"), (session.Form.SeedMode, session.Form.SeedText));
        Assert.Equal([allowed], session.Form.References.Select(r => r.Id));
        Assert.Equal("restored", session.Notice?.Kind);
        Assert.Contains("the model klein-test-nc is not available to you now", session.Notice!.Message, StringComparison.Ordinal);
        Assert.Contains("2 reference pictures are not available any more", session.Notice.Message, StringComparison.Ordinal);

        // Once per circuit: a later visit of the page keeps what the person did meanwhile.
        session.SetPrompt("changed on this visit");
        await session.RestoreAsync(roundTrip);
        Assert.Equal("changed on this visit", session.Form.Prompt);
    }

    [Fact]
    public async Task A_quota_refusal_offers_the_number_that_still_fits_and_the_title_ends_on_done()
    {
        // This host allows 3 images a day.
        var quinn = await host.CreateUserAsync("quinn@example.com");
        await using var ctx = NewContext(quinn);
        var (session, view) = await OpenAsync(ctx, quinn);
        Assert.Equal("Studio · FluxWeb", session.TitleText);
        session.SetPrompt("five kites");
        session.Change(f => f.Count = 5);

        Assert.False(await session.GenerateAsync(null));
        Assert.Equal("quota", session.Notice?.Kind);
        Assert.Equal(3, session.Notice!.Fits);

        Assert.True(await session.GenerateWhatFitsAsync(null));
        Assert.Equal(3, session.Form.Count);
        Assert.Equal(3, (await host.Services.GetRequiredService<JobService>().ListMineAsync(quinn, 20)).Count);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (session.TitleText != "✓ Done · FluxWeb" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal("✓ Done · FluxWeb", session.TitleText);
        Assert.Equal("done", session.FaviconState);

        // Nothing fits any more: the refusal offers nothing.
        session.Change(f => f.Count = 1);
        Assert.False(await session.GenerateAsync(null));
        Assert.Equal("quota", session.Notice?.Kind);
        Assert.Null(session.Notice!.Fits);
        Assert.True(view.Updates > 0);
    }

    private sealed class TestView(bool live) : IStudioView
    {
        private readonly SemaphoreSlim circuit = new(1, 1);
        private int updates;

        public bool IsLive => live;

        public List<string> Asked { get; } = [];

        public Queue<bool> Answers { get; } = new();

        public int Updates => Volatile.Read(ref updates);

        public Task<bool> ConfirmAsync(string title, string message, string yes, string no)
        {
            Asked.Add(title);
            return Task.FromResult(Answers.Count > 0 && Answers.Dequeue());
        }

        public async Task UpdateAsync(Func<Task> change)
        {
            await circuit.WaitAsync();
            try
            {
                await change();
                Interlocked.Increment(ref updates);
            }
            finally
            {
                circuit.Release();
            }
        }
    }

    private sealed class TestCanvas(bool painted, string answer = "", string? refusal = null) : IMaskCanvas
    {
        public Task<bool> HasPaintAsync() => Task.FromResult(painted);

        public Task<string> UploadMaskAsync(string uploadUrl, CancellationToken cancellationToken = default) =>
            refusal is null ? Task.FromResult(answer) : throw new MaskUploadException(refusal);
    }
}
