using System.Diagnostics;
using System.Text.Json;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Cli;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// <c>users create|set|list</c>, <c>apikeys create|list|revoke</c> and <c>generate --user</c>, in process on their own data folders,
/// each holding a copy of the migrated database template, as on a server that was set up before (the commands still run their
/// start-up steps, migrations included). A first command on an empty folder is <c>UsersCliTests</c>' create-admin and the
/// published app's set-up; migrating from empty is <c>MigrationTests</c>.
/// </summary>
public sealed class AdminCliTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static FluxWebDbContext OpenDatabase(string dataDirectory)
    {
        var options = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(options, new PersistenceOptions { DataDirectory = dataDirectory });
        return new FluxWebDbContext(options.Options);
    }

    private static async Task<string> CreateAsync(string data, string email, string role = "User", string accountType = "Commercial", string? models = null)
    {
        string[] args = ["users", "create", "--email", email, "--password", SiteClient.StrongPassword, "--role", role, "--account-type", accountType, "--data", data];
        var (code, stdout, stderr) = await RunAsync(models is null ? args : [.. args, "--models", models]);
        Assert.True(code == 0, stderr);
        return stdout;
    }

    [Fact]
    public async Task Users_create_sets_role_and_account_type_and_list_shows_them()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);

        var created = await CreateAsync(data, "artist@example.com", accountType: "NonCommercial");
        await CreateAsync(data, "boss@example.com", role: "admin");

        Assert.StartsWith("Created artist@example.com (User, NonCommercial", created, StringComparison.Ordinal);
        var (code, stdout, _) = await RunAsync("users", "list", "--json", "--data", data);
        Assert.Equal(0, code);
        var users = JsonDocument.Parse(Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement.EnumerateArray().ToDictionary(u => u.GetProperty("email").GetString()!);
        Assert.Equal("NonCommercial", users["artist@example.com"].GetProperty("account_type").GetString());
        Assert.Equal("User", users["artist@example.com"].GetProperty("role").GetString());
        Assert.Equal("Admin", users["boss@example.com"].GetProperty("role").GetString());

        var (_, table, _) = await RunAsync("users", "list", "--data", data);
        Assert.Contains("artist@example.com", table, StringComparison.Ordinal);
        Assert.Contains("role default", table, StringComparison.Ordinal);

        await using var db = OpenDatabase(data);
        var audit = await db.AuditEvents.Where(a => a.Action == AuditActions.AdminChange && a.Channel == "cli").ToListAsync();
        Assert.Contains(audit, a => a.Detail == "Created the account artist@example.com (role User, account type NonCommercial).");
    }

    [Fact]
    public async Task Users_create_refuses_bad_values_with_one_line()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");

        var (code, _, stderr) = await RunAsync("users", "create", "--email", "x@example.com", "--password", SiteClient.StrongPassword, "--account-type", "Personal", "--data", data);

        Assert.NotEqual(0, code);
        Assert.Equal("error: --account-type must be Commercial or NonCommercial, not 'Personal'.", stderr.Trim());
    }

    [Fact]
    public async Task Users_set_changes_role_quotas_disabled_and_asks_before_taking_non_commercial_images_away()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        await CreateAsync(data, "root@example.com", role: "Admin");
        await CreateAsync(data, "artist@example.com", accountType: "NonCommercial");
        string artistId;
        await using (var db = OpenDatabase(data))
        {
            artistId = (await db.Users.SingleAsync(u => u.Email == "artist@example.com")).Id;
            db.Images.Add(new FluxWeb.Domain.Images.StoredImage
            {
                OwnerId = artistId,
                Kind = FluxWeb.Domain.Images.StoredImageKind.Output,
                ModelId = "klein-9b",
                LicenceId = "FLUX-Non-Commercial",
                CommercialUse = false,
                RelativePath = "images/x.png",
                ContentType = "image/png",
                Sha256 = "00",
            });
            await db.SaveChangesAsync();
        }

        var quota = await RunAsync("users", "set", "--email", "artist@example.com", "--images-per-day", "25", "--max-queued-jobs", "unlimited", "--data", data);
        Assert.True(quota.ExitCode == 0, quota.Error);
        Assert.Contains("quota images/day 25, GPU-seconds/day role default, queued jobs unlimited", quota.Out, StringComparison.Ordinal);

        var unconfirmed = await RunAsync("users", "set", "--email", "artist@example.com", "--account-type", "Commercial", "--data", data);
        Assert.NotEqual(0, unconfirmed.ExitCode);
        Assert.Single(unconfirmed.Error.Trim().Split('\n'));
        Assert.Contains("has 1 image made by non-commercial models", unconfirmed.Error, StringComparison.Ordinal);
        Assert.Contains("--confirm", unconfirmed.Error, StringComparison.Ordinal);

        var confirmed = await RunAsync("users", "set", "--email", "artist@example.com", "--account-type", "Commercial", "--confirm", "--role", "Admin", "--disabled", "true", "--data", data);
        Assert.True(confirmed.ExitCode == 0, confirmed.Error);

        await using (var db = OpenDatabase(data))
        {
            var user = await db.Users.SingleAsync(u => u.Id == artistId);
            Assert.Equal(AccountType.Commercial, user.AccountType);
            Assert.True(user.Disabled);
            var quotaRow = await db.UserQuotas.SingleAsync(q => q.UserId == artistId);
            Assert.Equal((25, (double?)null, -1), (quotaRow.ImagesPerDay!.Value, quotaRow.GpuSecondsPerDay, quotaRow.MaxQueuedJobs!.Value));
            var roles = await (from ur in db.UserRoles join r in db.Roles on ur.RoleId equals r.Id where ur.UserId == artistId select r.Name).ToListAsync();
            Assert.Equal([Roles.Admin], roles);
            Assert.Equal(4, await db.AuditEvents.CountAsync(a => a.TargetUserId == artistId && a.Action == AuditActions.AdminChange && a.Channel == "cli" && !a.Detail!.StartsWith("Created")));
        }

        // The last enabled administrator cannot be taken away.
        var lastAdmin = await RunAsync("users", "set", "--email", "root@example.com", "--role", "User", "--data", data);
        Assert.NotEqual(0, lastAdmin.ExitCode);
        Assert.Equal("error: root@example.com is the only enabled administrator: make another account administrator first.", lastAdmin.Error.Trim());

        Environment.SetEnvironmentVariable(UsersCommands.PasswordVariable, "Another-Secret-7");
        try
        {
            var reset = await RunAsync("users", "set", "--email", "root@example.com", "--password", "--data", data);
            Assert.True(reset.ExitCode == 0, reset.Error);
            Assert.Contains("password reset", reset.Out, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(UsersCommands.PasswordVariable, null);
        }

        await using (var db = OpenDatabase(data))
        {
            var root = await db.Users.SingleAsync(u => u.Email == "root@example.com");
            Assert.Equal(PasswordVerificationResult.Success, new PasswordHasher<FluxUser>().VerifyHashedPassword(root, root.PasswordHash!, "Another-Secret-7"));
        }

        var missing = await RunAsync("users", "set", "--email", "nobody@example.com", "--disabled", "false", "--data", data);
        Assert.Equal("error: no account with the e-mail 'nobody@example.com'.", missing.Error.Trim());
    }

    [Fact]
    public async Task Users_delete_asks_for_the_email_again_then_deletes_the_account_and_audits_it()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        await CreateAsync(data, "root@example.com", role: "Admin");
        await CreateAsync(data, "leaving@example.com");

        var unconfirmed = await RunAsync("users", "delete", "--email", "leaving@example.com", "--data", data);
        var mistyped = await RunAsync("users", "delete", "--email", "leaving@example.com", "--confirm", "leaving@example.org", "--data", data);
        var lastAdmin = await RunAsync("users", "delete", "--email", "root@example.com", "--confirm", "root@example.com", "--data", data);
        var deleted = await RunAsync("users", "delete", "--email", "leaving@example.com", "--confirm", "leaving@example.com", "--data", data);
        var again = await RunAsync("users", "delete", "--email", "leaving@example.com", "--confirm", "leaving@example.com", "--data", data);

        Assert.Equal((1, "error: deleting leaving@example.com cannot be undone: run again with --confirm leaving@example.com."), (unconfirmed.ExitCode, unconfirmed.Error.Trim()));
        Assert.Equal((1, "error: Type the account's e-mail, leaving@example.com, to confirm. Deleting it cannot be undone."), (mistyped.ExitCode, mistyped.Error.Trim()));
        Assert.Equal((1, "error: root@example.com is the only enabled administrator: make another account administrator first."), (lastAdmin.ExitCode, lastAdmin.Error.Trim()));
        Assert.Equal((0, "leaving@example.com: account deleted with its 0 images and 0 jobs."), (deleted.ExitCode, deleted.Out.Trim()));
        Assert.Equal((1, "error: no account with the e-mail 'leaving@example.com'."), (again.ExitCode, again.Error.Trim()));
        await using var db = OpenDatabase(data);
        Assert.Equal(["root@example.com"], await db.Users.Select(u => u.Email!).ToListAsync());
        Assert.True(await db.AuditEvents.AnyAsync(a => a.Action == AuditActions.AdminChange && a.Channel == "cli"
            && a.Detail == "Deleted leaving@example.com: account deleted with its 0 images and 0 jobs."));
    }

    [Fact]
    public async Task Apikeys_create_prints_the_key_once_list_never_shows_it_and_revoke_ends_it()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        await CreateAsync(data, "script@example.com");

        var (code, stdout, stderr) = await RunAsync("apikeys", "create", "--user", "script@example.com", "--name", "nightly", "--scope", "read", "--data", data);

        Assert.True(code == 0, stderr);
        var key = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Trim();
        Assert.StartsWith("fw_", key, StringComparison.Ordinal);
        Assert.Contains("not shown again", stderr, StringComparison.Ordinal);
        var listed = await RunAsync("apikeys", "list", "--user", "script@example.com", "--json", "--data", data);
        Assert.DoesNotContain(key[11..], listed.Out, StringComparison.Ordinal);
        var row = JsonDocument.Parse(listed.Out).RootElement.EnumerateArray().Single();
        Assert.Equal("read", row.GetProperty("scope").GetString());
        Assert.Equal(key[..11], row.GetProperty("prefix").GetString());

        var duplicate = await RunAsync("apikeys", "create", "--user", "script@example.com", "--name", "NIGHTLY", "--data", data);
        Assert.NotEqual(0, duplicate.ExitCode);

        var revoked = await RunAsync("apikeys", "revoke", "--user", "script@example.com", "--name", "nightly", "--data", data);
        Assert.True(revoked.ExitCode == 0, revoked.Error);
        var after = await RunAsync("apikeys", "list", "--user", "script@example.com", "--data", data);
        Assert.Contains("revoked", after.Out, StringComparison.Ordinal);
        var again = await RunAsync("apikeys", "revoke", "--user", "script@example.com", "--name", "nightly", "--data", data);
        Assert.Equal("error: The account has no active key named \"nightly\".", again.Error.Trim());

        await using var db = OpenDatabase(data);
        var actions = await db.AuditEvents.Where(a => a.Channel == "cli").Select(a => a.Action).ToListAsync();
        Assert.Contains(AuditActions.ApiKeyCreated, actions);
        Assert.Contains(AuditActions.ApiKeyRevoked, actions);
    }

    [Fact]
    public async Task Generate_as_a_commercial_user_with_a_non_commercial_model_is_refused_in_one_line_and_audited()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        var models = folder.Combine("models");
        QueueHost.InstallModels(models);
        await CreateAsync(data, "corp@example.com", accountType: "Commercial");

        var (code, stdout, stderr) = await RunAsync("generate", "--user", "corp@example.com", "--model", QueueHost.OtherModelId, "--prompt", "a nine-b picture", "--out", folder.Combine("x.png"), "--data", data, "--models", models);

        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("error: Your account is licensed for commercial use, so it may not generate with klein-test-nc", line, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.Combine("x.png")));
        await using var db = OpenDatabase(data);
        var refusal = await db.AuditEvents.SingleAsync(a => a.Action == AuditActions.LicenceRefused);
        Assert.Equal(("cli", QueueHost.OtherModelId, false), (refusal.Channel, refusal.ModelId, refusal.Succeeded));
        Assert.Equal(0, await db.Jobs.CountAsync());
    }

    [Fact]
    public async Task Generate_as_a_user_runs_through_the_queue_and_keeps_the_job_in_their_history()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        var models = folder.Combine("models");
        DemoPackage.Create(models, "demo");
        await CreateAsync(data, "artist@example.com");
        var file = folder.Combine("out", "a.png");

        var started = Stopwatch.StartNew();
        var (code, stdout, stderr) = await RunAsync("generate", "--user", "artist@example.com", "--model", "demo", "--prompt", "a cat", "--width", "256", "--height", "256", "--seed", "5", "--out", file, "--data", data, "--models", models);
        Console.WriteLine($"generate --user on the demo package: {started.ElapsedMilliseconds} ms");

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(file, json.RootElement.GetProperty("file").GetString());
        Assert.Equal(256, json.RootElement.GetProperty("width").GetInt32());
        Assert.Equal([0x89, 0x50, 0x4E, 0x47], File.ReadAllBytes(file)[..4]);
        await using var db = OpenDatabase(data);
        var job = await db.Jobs.SingleAsync();
        Assert.Equal((JobState.Succeeded, 5UL), (job.State, job.Settings.Seed!.Value));
        Assert.Equal(json.RootElement.GetProperty("job").GetGuid(), job.Id);
        Assert.Equal("cli", (await db.AuditEvents.SingleAsync(a => a.Action == AuditActions.Generate)).Channel);
    }
}
