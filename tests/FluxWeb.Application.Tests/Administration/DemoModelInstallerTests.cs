using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Models;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Tests.Administration;

/// <summary>"Install the demo model": what <c>models create-demo</c> does, for administrators only, in the background, once, audited.</summary>
public sealed class DemoModelInstallerTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-demo-install");
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, services: s => s.AddAdministration());

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private DemoModelInstaller Installer => host.Services.GetRequiredService<DemoModelInstaller>();

    private ModelCatalog Catalog => host.Services.GetRequiredService<ModelCatalog>();

    private Task<List<AuditEvent>> DemoAuditAsync() =>
        host.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.ModelId == DemoModelInstaller.ModelId).ToListAsync());

    [Fact]
    public async Task An_administrator_installs_the_demo_package_in_the_background_once_with_its_steps_shown_and_audited()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        var seen = new List<DemoInstallStatus>();
        using var subscription = Installer.Subscribe(status =>
        {
            lock (seen)
            {
                seen.Add(status);
            }
        });
        Assert.Equal(DemoInstallState.NotStarted, (await Installer.CurrentAsync(ChangeActor.Ui(admin.UserId))).State);

        var started = await Installer.StartAsync(ChangeActor.Ui(admin.UserId));
        // A second click (or another admin) while it runs joins the install in progress.
        var again = await Installer.StartAsync(ChangeActor.Ui(admin.UserId));
        await Installer.Completion.WaitAsync(TimeSpan.FromMinutes(2));
        var after = await Installer.StartAsync(ChangeActor.Ui(admin.UserId));

        Assert.Equal(DemoInstallState.Installing, started.State);
        Assert.NotEqual(DemoInstallState.NotStarted, again.State);
        Assert.Equal(DemoInstallState.Installed, after.State);
        var demo = Catalog.Find(DemoModelInstaller.ModelId);
        Assert.NotNull(demo);
        Assert.True(demo.IsUsable, demo.Error);
        Assert.True(demo.Manifest!.Demo);
        Assert.True(demo.Manifest.AllowsCommercialUse);
        lock (seen)
        {
            Assert.Contains(seen, s => s.State == DemoInstallState.Installing && s.Step is { } step && step != "starting");
            Assert.Equal(DemoInstallState.Installed, seen[^1].State);
            Assert.Contains("'demo'", seen[^1].Message, StringComparison.Ordinal);
        }

        var audit = Assert.Single(await DemoAuditAsync());
        Assert.Equal(AuditActions.AdminChange, audit.Action);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.True(audit.Succeeded);
        Assert.Equal("ui", audit.Channel);
        Assert.Empty(Directory.EnumerateDirectories(Catalog.ModelsDirectory, ".building-*"));

        // Removed by hand afterwards: the page offers the install again.
        Directory.Delete(demo.Folder, recursive: true);
        Assert.Equal(DemoInstallState.NotStarted, (await Installer.CurrentAsync(ChangeActor.Ui(admin.UserId))).State);
    }

    [Fact]
    public async Task A_user_who_is_not_an_administrator_is_refused_and_nothing_is_installed()
    {
        var user = await host.CreateUserAsync("user@example.com", Roles.User);

        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => Installer.StartAsync(ChangeActor.Ui(user.UserId)));
        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => Installer.CurrentAsync(ChangeActor.Ui(user.UserId)));

        await Installer.Completion;
        Assert.Null(Catalog.Find(DemoModelInstaller.ModelId));
        Assert.Empty(await DemoAuditAsync());
    }

    [Fact]
    public async Task A_demo_folder_that_does_not_load_is_reported_and_left_alone()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        var broken = Path.Combine(Catalog.ModelsDirectory, DemoModelInstaller.ModelId);
        Directory.CreateDirectory(broken);
        await File.WriteAllTextAsync(Path.Combine(broken, ModelPackageManifest.FileName), "{ \"schemaVersion\": 1, \"id\": \"demo\" }");

        var status = await Installer.StartAsync(ChangeActor.Ui(admin.UserId));

        Assert.Equal(DemoInstallState.Failed, status.State);
        Assert.Contains("does not load", status.Message, StringComparison.Ordinal);
        Assert.Contains("Remove that folder", status.Message, StringComparison.Ordinal);
        Assert.Equal(["manifest.json"], Directory.EnumerateFileSystemEntries(broken).Select(Path.GetFileName));
        Assert.Empty(await DemoAuditAsync());
    }

    [Fact]
    public async Task An_install_that_fails_says_why_records_the_failure_and_can_be_tried_again()
    {
        // A models "folder" that is a file: the staging folder cannot be made.
        var notAFolder = Path.Combine(folder.Path, "models-is-a-file");
        await File.WriteAllTextAsync(notAFolder, "");
        var installer = new DemoModelInstaller(
            new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = notAFolder })),
            host.Services.GetRequiredService<AdminAuthorization>(),
            host.Services.GetRequiredService<AuditLog>(),
            NullLogger<DemoModelInstaller>.Instance);

        await installer.StartAsync(ChangeActor.CommandLine);
        await installer.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        var failed = await installer.CurrentAsync(ChangeActor.CommandLine);

        Assert.Equal(DemoInstallState.Failed, failed.State);
        Assert.StartsWith("The demo model could not be installed: ", failed.Message, StringComparison.Ordinal);
        var audit = Assert.Single(await DemoAuditAsync());
        Assert.False(audit.Succeeded);
        Assert.Equal("cli", audit.Channel);
        Assert.Equal(DemoInstallState.Installing, (await installer.StartAsync(ChangeActor.CommandLine)).State);
        await installer.Completion.WaitAsync(TimeSpan.FromMinutes(1));
    }
}
