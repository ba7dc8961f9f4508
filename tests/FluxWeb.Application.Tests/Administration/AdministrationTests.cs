using System.Reflection;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Jobs;
using FluxWeb.Provenance.Filters;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Administration;

/// <summary>The administrators' rules at the queue's doors (model enabled, roles), the rejection count, the stored block list, and the usage and audit views.</summary>
public class AdministrationTests : IAsyncLifetime
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private readonly TempFolder folder = new("fluxweb-admin");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await StartAsync();

    private Task<QueueHost> StartAsync() => QueueHost.StartAsync(folder.Path, engine, database: Database);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private T Service<T>()
        where T : notnull => host.Services.GetRequiredService<T>();

    [Fact]
    public async Task A_disabled_model_and_a_model_kept_from_a_role_are_refused_with_the_reason_and_audited()
    {
        var user = await host.CreateUserAsync("user@example.com");
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        var models = Service<ModelAdministration>();

        Assert.Null(await models.SetAsync(QueueHost.ModelId, enabled: false, null, ChangeActor.Ui(admin.UserId)));
        var disabled = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("x"));
        Assert.Null(await models.SetAsync(QueueHost.ModelId, enabled: true, [Roles.Admin], ChangeActor.Ui(admin.UserId)));
        var forUsers = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("x"));
        var forAdmins = await host.Generation.SubmitAsync(admin.UserId, QueueHost.Request("x"));

        Assert.True(disabled.AccessRefused);
        Assert.Equal("The model klein-test is disabled by an administrator.", disabled.Error);
        Assert.True(forUsers.AccessRefused);
        Assert.Equal("The model klein-test is only available to administrators. Ask an administrator.", forUsers.Error);
        Assert.True(forAdmins.Accepted);
        var choices = await Service<ModelAccessService>().ChoicesAsync(user.UserId);
        Assert.False(choices.Single(c => c.Id == QueueHost.ModelId).Allowed);
        Assert.True(choices.Single(c => c.Id == QueueHost.OtherModelId).Allowed);
        var audit = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().ToListAsync());
        Assert.Equal(2, audit.Count(a => a.Action == AuditActions.GenerateRefused && a.ActorId == user.UserId && !a.Succeeded));
        Assert.Contains(audit, a => a.Action == AuditActions.AdminChange && a.Detail == "Model klein-test: enabled, for Admin.");
        Assert.Equal(2, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == user.UserId).SumAsync(u => u.Rejected)));
    }

    [Fact]
    public async Task A_waiting_job_whose_model_was_disabled_meanwhile_is_refused_when_it_would_start()
    {
        var user = await host.CreateUserAsync("waiting@example.com");
        var hold = engine.HoldNextJob(step: 1);
        var blocker = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("first", model: QueueHost.OtherModelId))).JobIds.Single();
        await hold.Reached;
        var waiting = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("second"))).JobIds.Single();

        await Service<ModelAdministration>().SetAsync(QueueHost.ModelId, enabled: false, null, ChangeActor.CommandLine);
        hold.Release();
        await host.WaitForEndAsync(blocker);
        var job = await host.WaitForEndAsync(waiting);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal("The model klein-test is disabled by an administrator.", job.Error);
        Assert.DoesNotContain(engine.Started, g => g.Prompt == "second");
        Assert.Contains(await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.JobId == waiting).ToListAsync()),
            a => a.Action == AuditActions.GenerateRefused && a.Channel == "worker");
    }

    [Fact]
    public async Task The_worker_admits_a_waiting_job_by_the_doors_checks_in_the_doors_order()
    {
        var user = await host.CreateUserAsync("changing@example.com", accountType: AccountType.NonCommercial);
        var hold = engine.HoldNextJob(step: 1);
        var blocker = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("first"))).JobIds.Single();
        await hold.Reached;
        var lighthouse = QueueHost.Request("a red lighthouse");
        var harbour = QueueHost.Request("a harbour", model: QueueHost.OtherModelId);
        var blockedJob = (await host.Generation.SubmitAsync(user.UserId, lighthouse)).JobIds.Single();
        var refusedJob = (await host.Generation.SubmitAsync(user.UserId, harbour)).JobIds.Single();

        // While they wait: the content policy blocks a word of one prompt; the other job's model (non-commercial)
        // is disabled and the account becomes Commercial, so two checks would refuse it: the first one decides.
        Assert.Null(await Service<ContentPolicy>().SaveBlockedTermsAsync(["lighthouse"], ChangeActor.CommandLine));
        await Service<ModelAdministration>().SetAsync(QueueHost.OtherModelId, enabled: false, null, ChangeActor.CommandLine);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        hold.Release();
        await host.WaitForEndAsync(blocker);
        var blocked = await host.WaitForEndAsync(blockedJob);
        var refused = await host.WaitForEndAsync(refusedJob);

        var blockedAtDoor = await host.Generation.SubmitAsync(user.UserId, lighthouse);
        var refusedAtDoor = await host.Generation.SubmitAsync(user.UserId, harbour);
        Assert.True(refusedAtDoor.AccessRefused, "Model access is checked before the licence.");
        Assert.Equal((JobState.Failed, blockedAtDoor.Error), (blocked.State, blocked.Error));
        Assert.Equal((JobState.Failed, refusedAtDoor.Error), (refused.State, refused.Error));
        Assert.DoesNotContain(engine.Started, g => g.Prompt is "a red lighthouse" or "a harbour");
    }

    [Fact]
    public async Task Every_kind_of_refusal_counts_as_a_rejected_request_on_the_usage_view()
    {
        var user = await host.CreateUserAsync("refused@example.com", accountType: AccountType.Commercial);
        await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("licence", model: QueueHost.OtherModelId));
        await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("size").With(s => s with { Width = 100_000 }));
        await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("batch", count: 1000));
        var made = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("fine"));
        await host.WaitForEndAsync(made.JobIds.Single());

        var rows = await Service<UsageReport>().QueryAsync(ChangeActor.CommandLine, user: "REFUSED@");
        var row = Assert.Single(rows);
        Assert.Equal(("refused@example.com", 1, 3), (row.Email, row.Images, row.Rejected));
        var csv = UsageReport.ToCsv(rows).Split("\r\n");
        Assert.Equal("day,user,images,gpu_seconds,rejected_requests", csv[0]);
        Assert.StartsWith($"{row.Day:yyyy-MM-dd},refused@example.com,1,", csv[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_saved_block_list_applies_at_once_and_again_after_a_restart()
    {
        var user = await host.CreateUserAsync("writer@example.com");
        var admin = await host.CreateUserAsync("policy@example.com", Roles.Admin);
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("a purple dragon"))).Accepted);

        Assert.Null(await Service<ContentPolicy>().SaveBlockedTermsAsync(["dragon", "  ", "Dragon", "sea serpent"], ChangeActor.Ui(admin.UserId)));

        Assert.Equal(["dragon", "sea serpent"], Service<ContentPolicy>().BlockedTerms);
        Assert.False((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("a purple d r a g o n"))).Accepted);
        await host.DisposeAsync();
        // Loaded by the start-up every process runs, not by a call of the test's own.
        host = await StartAsync();
        Assert.Equal(["dragon", "sea serpent"], Service<PromptFilter>().BlockedTerms);
        var refused = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("a sea serpent"));
        Assert.Contains("blocked term", refused.Error, StringComparison.Ordinal);
        Assert.Contains(await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().ToListAsync()),
            a => a.Action == AuditActions.AdminChange && a.Detail == "Prompt block list saved: 2 terms (2 added, 0 removed).");
    }

    [Fact]
    public async Task The_audit_view_filters_by_user_action_and_day_and_exports_csv_that_spreadsheets_read_as_text()
    {
        var user = await host.CreateUserAsync("mallory@example.com");
        var audit = Service<AuditLog>();
        await audit.RecordAsync(new AuditEntry(AuditActions.Download, user.UserId) { Detail = "=HYPERLINK(\"http://evil\")", Channel = "api" });
        await audit.RecordAsync(new AuditEntry(AuditActions.SignIn, user.UserId) { Channel = "ui" });
        var query = Service<AuditQuery>();

        var downloads = await query.SearchAsync(ChangeActor.CommandLine, new AuditFilter("MALLORY", AuditActions.Download));
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var none = await query.SearchAsync(ChangeActor.CommandLine, new AuditFilter("mallory", null, today.AddDays(1)));
        var csv = await query.ExportCsvAsync(ChangeActor.CommandLine, new AuditFilter("mallory"));

        Assert.Equal(1, downloads.Total);
        Assert.Equal(0, none.Total);
        Assert.Contains(",\"'=HYPERLINK(\"\"http://evil\"\")\"", csv, StringComparison.Ordinal);
        Assert.Equal(3, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task The_last_enabled_administrator_cannot_be_demoted_or_disabled()
    {
        var only = await host.CreateUserAsync("only-admin@example.com", Roles.Admin);
        var users = Service<UserAdministration>();

        var demote = await users.ChangeAsync(only.UserId, new UserChange { Role = Roles.User }, ChangeActor.CommandLine);
        var disable = await users.ChangeAsync(only.UserId, new UserChange { Disabled = true }, ChangeActor.CommandLine);
        await host.CreateUserAsync("second-admin@example.com", Roles.Admin);
        var afterSecond = await users.ChangeAsync(only.UserId, new UserChange { Role = Roles.User }, ChangeActor.CommandLine);

        Assert.False(demote.Succeeded);
        Assert.False(disable.Succeeded);
        Assert.Contains("only enabled administrator", demote.Error, StringComparison.Ordinal);
        Assert.True(afterSecond.Succeeded, afterSecond.Error);
        Assert.Equal(["role Admin → User"], afterSecond.Changes);
    }

    [Theory]
    [InlineData("demoted")]
    [InlineData("disabled")]
    public async Task A_demoted_or_disabled_administrator_can_no_longer_use_any_admin_service(string how)
    {
        var chief = await host.CreateUserAsync("chief@example.com", Roles.Admin);
        var former = await host.CreateUserAsync("former@example.com", Roles.Admin);
        var user = await host.CreateUserAsync("someone@example.com");
        var (key, _) = await Service<ApiKeyService>().CreateAsync(user.UserId, "nightly", ApiKeyScope.Read, ChangeActor.CommandLine);
        var hold = engine.HoldNextJob(step: 1);
        var running = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("running"))).JobIds.Single();
        await hold.Reached;
        var waiting = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("waiting"))).JobIds.Single();
        var actor = ChangeActor.Ui(former.UserId);
        // While an administrator, the circuit's actor may do everything.
        Assert.Contains(await Service<QueueOverview>().ListAsync(actor), e => e.Job.Id == waiting);

        var change = how == "demoted" ? new UserChange { Role = Roles.User } : new UserChange { Disabled = true };
        var changed = await Service<UserAdministration>().ChangeAsync(former.UserId, change, ChangeActor.Ui(chief.UserId));
        Assert.True(changed.Succeeded, changed.Error);

        // The page still holds the same actor (its circuit remembers the Admin role); every service asks the database.
        var calls = new Dictionary<string, Func<Task>>
        {
            ["queue list"] = () => Service<QueueOverview>().ListAsync(actor),
            ["queue cancel waiting"] = () => Service<QueueOverview>().CancelAsync(actor, waiting),
            ["queue cancel running"] = () => Service<QueueOverview>().CancelAsync(actor, running),
            ["users search"] = () => Service<UserAdministration>().SearchAsync(actor),
            ["users find"] = () => Service<UserAdministration>().FindByEmailAsync("someone@example.com", actor),
            ["users get"] = () => Service<UserAdministration>().GetAsync(user.UserId, actor),
            ["users outputs"] = () => Service<UserAdministration>().NonCommercialOutputsAsync(user.UserId, actor),
            ["users create"] = () => Service<UserAdministration>().CreateAsync("new@example.com", "Sunflower-42!", Roles.Admin, AccountType.Commercial, actor),
            ["users change"] = () => Service<UserAdministration>().ChangeAsync(user.UserId, new UserChange { Role = Roles.Admin }, actor),
            ["users re-promote self"] = () => Service<UserAdministration>().ChangeAsync(former.UserId, new UserChange { Role = Roles.Admin, Disabled = false }, actor),
            ["models list"] = () => Service<ModelAdministration>().ListAsync(actor),
            ["models activity"] = () => Service<ModelAdministration>().ActivityAsync(actor),
            ["models set"] = () => Service<ModelAdministration>().SetAsync(QueueHost.ModelId, enabled: false, null, actor),
            ["usage"] = () => Service<UsageReport>().QueryAsync(actor),
            ["audit search"] = () => Service<AuditQuery>().SearchAsync(actor, new AuditFilter()),
            ["audit csv"] = () => Service<AuditQuery>().ExportCsvAsync(actor, new AuditFilter()),
            ["audit emails"] = () => Service<AuditQuery>().TargetEmailsAsync(actor, []),
            ["block list"] = () => Service<ContentPolicy>().SaveBlockedTermsAsync(["harmless"], actor),
            ["review list"] = () => Service<ContentPolicy>().ReviewListAsync(actor),
            ["review keep"] = () => Service<ContentPolicy>().MarkReviewedAsync(Guid.NewGuid(), actor),
            ["review delete"] = () => Service<ContentPolicy>().DeleteFlaggedAsync(Guid.NewGuid(), actor),
            ["check image"] = () => Service<ImageCheck>().CheckAsync(actor, new MemoryStream([1, 2, 3]), "x.png"),
            ["storage check"] = () => Service<StorageCheck>().RunAsync(actor, removeUnrecorded: true),
            ["keys of another"] = () => Service<ApiKeyService>().ListAsync(user.UserId, actor),
            ["key for another"] = () => Service<ApiKeyService>().CreateAsync(user.UserId, "sneaky", ApiKeyScope.Generate, actor),
            ["revoke another's"] = () => Service<ApiKeyService>().RevokeAsync(user.UserId, key!.Info.Id, null, actor),
        };
        foreach (var (what, call) in calls)
        {
            var refused = await Record.ExceptionAsync(call);
            Assert.True(refused is AdminAccessDeniedException, $"{what}: {refused?.GetType().Name ?? "allowed"}");
        }

        // Nothing happened.
        Assert.Equal(JobState.Queued, (await host.JobAsync(waiting)).State);
        Assert.Equal(JobState.Running, (await host.JobAsync(running)).State);
        Assert.True((await Service<ModelAccessService>().ChoicesAsync(user.UserId)).Single(c => c.Id == QueueHost.ModelId).Allowed);
        Assert.Empty(Service<ContentPolicy>().BlockedTerms);
        var someone = await Service<UserAdministration>().GetAsync(user.UserId, ChangeActor.Ui(chief.UserId));
        Assert.Equal(Roles.User, someone!.Role);
        Assert.Equal(1, someone.ActiveApiKeys);
        var formerNow = await Service<UserAdministration>().GetAsync(former.UserId, ChangeActor.Ui(chief.UserId));
        Assert.Equal(how == "demoted" ? (Roles.User, false) : (Roles.Admin, true), (formerNow!.Role, formerNow.Disabled));
        Assert.Null(await Service<UserAdministration>().FindByEmailAsync("new@example.com", ChangeActor.CommandLine));

        // The one who is still an administrator goes on as before.
        Assert.Equal(CancelOutcome.Cancelled, await Service<QueueOverview>().CancelAsync(ChangeActor.Ui(chief.UserId), waiting));
        hold.Release();
        await host.WaitForEndAsync(running);
    }

    [Fact]
    public async Task Deleting_an_account_removes_what_it_made_everywhere_keeps_the_audit_and_stops_its_running_job()
    {
        var admin = await host.CreateUserAsync("chief@example.com", Roles.Admin);
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var users = Service<UserAdministration>();
        var boards = Service<BoardService>();
        var store = Service<ImageStore>();
        var done = await host.WaitForEndAsync((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("ada's harbour"))).JobIds.Single());
        var image = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == done.OutputImageId));
        var file = store.FullPath(image.RelativePath);
        var adasBoard = (await boards.CreateAsync(ada, "Ada's picks")).Value!.Id;
        await boards.AddImagesAsync(ada, adasBoard, [image.Id]);
        Assert.True((await boards.ShareAsync(ada, ShareTarget.Board(adasBoard), "bob@example.com", ShareRole.Viewer, "api")).Succeeded);
        var bobsBoard = (await boards.CreateAsync(bob, "Bob's board")).Value!.Id;
        Assert.True((await boards.ShareAsync(ada, ShareTarget.Image(image.Id), "bob@example.com", ShareRole.Viewer, "api")).Succeeded);
        await boards.AddImagesAsync(bob, bobsBoard, [image.Id]);
        Assert.Null((await Service<ApiKeyService>().CreateAsync(ada.UserId, "script", ApiKeyScope.Generate, ChangeActor.CommandLine)).Error);
        var hold = engine.HoldNextJob(step: 1);
        var running = (await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("still running"))).JobIds.Single();
        await hold.Reached;
        var waiting = (await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("still waiting"))).JobIds.Single();

        // Refused, and nothing changes: no confirmation, one's own account, the last administrator.
        var unconfirmed = await users.DeleteAsync(ada.UserId, "ada", ChangeActor.Ui(admin.UserId));
        var own = await users.DeleteAsync(admin.UserId, "chief@example.com", ChangeActor.Ui(admin.UserId));
        var lastAdmin = await users.DeleteAsync(admin.UserId, "chief@example.com", ChangeActor.CommandLine);
        Assert.Equal("Type the account's e-mail, ada@example.com, to confirm. Deleting it cannot be undone.", unconfirmed.Error);
        Assert.Equal("You cannot delete your own account here: delete it from your account page, which asks for your password.", own.Error);
        Assert.Equal("chief@example.com is the only enabled administrator: make another account administrator first.", lastAdmin.Error);
        Assert.NotNull(await users.GetAsync(ada.UserId, ChangeActor.CommandLine));
        Assert.True(File.Exists(file));

        var changes = new System.Collections.Concurrent.ConcurrentQueue<AccountChange>();
        using var listening = Service<AccountChanges>().Subscribe(changes.Enqueue);

        var deleted = await users.DeleteAsync(ada.UserId, " ADA@example.com ", ChangeActor.Ui(admin.UserId));

        Assert.True(deleted.Succeeded, deleted.Error);
        // Its open pages and hub connections are told at once (they then find no account).
        Assert.Contains(changes, c => c.UserId == ada.UserId);
        Assert.Equal(["account deleted with its 1 image and 3 jobs"], deleted.Changes);
        Assert.Null(await users.GetAsync(ada.UserId, ChangeActor.CommandLine));
        Assert.False(File.Exists(file), "the image's file outlived its account");
        Assert.Equal(
            (0, 0, 0, 0, 0, 0),
            await host.WithDbAsync(async db => (
                await db.Jobs.CountAsync(j => j.OwnerId == ada.UserId),
                await db.Images.CountAsync(i => i.OwnerId == ada.UserId),
                await db.Boards.CountAsync(b => b.OwnerId == ada.UserId),
                await db.Shares.CountAsync(x => x.OwnerId == ada.UserId),
                await db.BoardImages.CountAsync(e => e.BoardId == bobsBoard),
                await db.ApiKeys.CountAsync(k => k.UserId == ada.UserId))));
        // The audit log still names the account: what it did, and that it was deleted and by whom.
        var audit = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.ActorId == ada.UserId || a.TargetUserId == ada.UserId).ToListAsync());
        Assert.Contains(audit, a => a.Action == AuditActions.AdminChange && a.ActorId == admin.UserId
            && a.Detail == "Deleted ada@example.com: account deleted with its 1 image and 3 jobs.");
        Assert.Contains(audit, a => a.ActorId == ada.UserId);
        // An administrator still finds it all by the e-mail, and reads the e-mail where the account was the target.
        var byEmail = await Service<AuditQuery>().SearchAsync(ChangeActor.Ui(admin.UserId), new AuditFilter(User: "ada@example"), pageSize: 500);
        Assert.Equal(audit.Count, byEmail.Total);
        var targets = await Service<AuditQuery>().TargetEmailsAsync(ChangeActor.Ui(admin.UserId), byEmail.Events);
        Assert.Equal("ada@example.com", targets[ada.UserId]);

        // The job that was running stops and leaves nothing behind; the worker goes on with others' jobs.
        hold.Release();
        await Eventually.Until(() => Task.FromResult(!Directory.EnumerateFiles(store.Root, $"job-{running:N}*", SearchOption.AllDirectories).Any()), "the running job's output is not kept");
        var bobs = await host.WaitForEndAsync((await host.Generation.SubmitAsync(bob.UserId, QueueHost.Request("bob's next"))).JobIds.Single());
        Assert.Equal(JobState.Succeeded, bobs.State);
        Assert.Null(await host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == waiting || j.Id == running)));
        Assert.DoesNotContain(host.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_person_deletes_their_own_account_with_its_password_and_e_mail_but_never_the_last_administrators()
    {
        const string password = "Sunflower-42!";
        var chief = await host.CreateUserAsync("chief@example.com", Roles.Admin);
        var ada = await host.CreateUserAsync("ada@example.com");
        await SetPasswordAsync(chief.UserId, password);
        await SetPasswordAsync(ada.UserId, password);
        var deletion = Service<AccountDeletion>();
        var done = await host.WaitForEndAsync((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("ada's harbour"))).JobIds.Single());
        var image = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == done.OutputImageId));
        var file = Service<ImageStore>().FullPath(image.RelativePath);
        Assert.True((await Service<BoardService>().CreateAsync(ada, "Ada's picks")).Succeeded);
        Assert.Equal(new AccountContents(Images: 1, Boards: 1, Jobs: 1, ApiKeys: 0), await deletion.ContentsAsync(ada.UserId));

        // Refused, and nothing changes: the e-mail not typed, a wrong password (it counts towards the lockout), the only administrator.
        var unconfirmed = await deletion.DeleteOwnAsync(ada.UserId, password, "ada");
        var wrongPassword = await deletion.DeleteOwnAsync(ada.UserId, "Sunflower-43!", "ada@example.com");
        var onlyAdmin = await deletion.DeleteOwnAsync(chief.UserId, password, "chief@example.com");
        Assert.Equal("Type your e-mail, ada@example.com, to confirm. Nothing was deleted.", unconfirmed.Error);
        Assert.Equal("That is not your current password. Nothing was deleted.", wrongPassword.Error);
        Assert.Equal("You are the only enabled administrator: make another account administrator first, then delete yours. Nothing was deleted.", onlyAdmin.Error);
        Assert.Equal(1, await host.WithDbAsync(db => db.Users.Where(u => u.Id == ada.UserId).Select(u => u.AccessFailedCount).SingleAsync()));
        Assert.Equal(2, await host.WithDbAsync(db => db.Users.CountAsync(u => !u.Disabled)));
        Assert.True(File.Exists(file));

        var changes = new System.Collections.Concurrent.ConcurrentQueue<AccountChange>();
        using var listening = Service<AccountChanges>().Subscribe(changes.Enqueue);
        var deleted = await deletion.DeleteOwnAsync(ada.UserId, password, " ADA@example.com ");

        Assert.True(deleted.Succeeded, deleted.Error);
        Assert.Contains(changes, c => c.UserId == ada.UserId);
        Assert.Null(await host.WithDbAsync(db => db.Users.SingleOrDefaultAsync(u => u.Id == ada.UserId)));
        Assert.False(File.Exists(file), "the image's file outlived its account");
        Assert.Equal(
            (0, 0, 0),
            await host.WithDbAsync(async db => (
                await db.Jobs.CountAsync(j => j.OwnerId == ada.UserId),
                await db.Images.CountAsync(i => i.OwnerId == ada.UserId),
                await db.Boards.CountAsync(b => b.OwnerId == ada.UserId))));
        var entry = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().SingleAsync(a => a.Action == AuditActions.AccountDeleted));
        Assert.Equal(
            (ada.UserId, "ada@example.com", ada.UserId, "ada@example.com", "Deleted own account ada@example.com: account deleted with its 1 image and 1 job.", "ui"),
            (entry.ActorId, entry.ActorEmail, entry.TargetUserId, entry.TargetEmail, entry.Detail, entry.Channel));

        // With another enabled administrator, an administrator may go too.
        var deputy = await host.CreateUserAsync("deputy@example.com", Roles.Admin);
        Assert.True((await deletion.DeleteOwnAsync(chief.UserId, password, "chief@example.com")).Succeeded);
        Assert.True(await Service<AdminAuthorization>().IsCurrentAdminAsync(deputy.UserId));
        Assert.Null(await host.WithDbAsync(db => db.Users.SingleOrDefaultAsync(u => u.Id == chief.UserId)));
    }

    private async Task SetPasswordAsync(string userId, string password)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<FluxWeb.Persistence.Accounts.FluxUser>>();
        var added = await users.AddPasswordAsync((await users.FindByIdAsync(userId))!, password);
        Assert.True(added.Succeeded, string.Join(" ", added.Errors.Select(e => e.Description)));
    }

    /// <summary>The rule above holds for methods added later: every public operation of an admin service names its actor.</summary>
    [Fact]
    public void Every_admin_service_operation_takes_the_actor_it_checks()
    {
        Type[] services = [typeof(UserAdministration), typeof(QueueOverview), typeof(ModelAdministration), typeof(UsageReport), typeof(AuditQuery), typeof(ContentPolicy), typeof(ImageCheck), typeof(StorageCheck)];
        // Start-up and the static helpers are not operations an administrator asks for.
        string[] exempt = [nameof(ContentPolicy.ApplyStoredAsync)];

        var unchecked_ = services
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => !m.IsSpecialName && typeof(Task).IsAssignableFrom(m.ReturnType) && !exempt.Contains(m.Name))
            .Where(m => !m.GetParameters().Any(p => p.ParameterType == typeof(ChangeActor)))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .ToList();

        Assert.Empty(unchecked_);
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class AdministrationTestsOnPostgreSql : AdministrationTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
