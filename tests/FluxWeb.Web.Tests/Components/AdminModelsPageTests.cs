using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Models;
using FluxWeb.Host.Components.Pages.Admin;
using FluxWeb.Inference.Packages;
using FluxWeb.Domain.Accounts;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The admin "Models" page on a fresh install: it says nobody can generate and installs the demo model on request.</summary>
public sealed class AdminModelsPageTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-admin-models");
    private QueueHost host = default!;
    private Application.Jobs.JobActor admin = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, services: s => s.AddAdministration());
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.Commercial);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext()
    {
        var ctx = new BunitContext();
        var auth = ctx.AddAuthorization();
        auth.SetAuthorized("admin@example.com");
        auth.SetRoles(Roles.Admin);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, admin.UserId));
        ctx.Services.AddMudServices();
        ctx.Services.AddSingleton(host.Services.GetRequiredService<ModelAdministration>());
        ctx.Services.AddSingleton(host.Services.GetRequiredService<ModelCatalog>());
        ctx.Services.AddSingleton(host.Services.GetRequiredService<DemoModelInstaller>());
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.SetRendererInfo(new RendererInfo("Server", true));
        return ctx;
    }

    [Fact]
    public async Task With_no_usable_model_the_page_says_so_and_installs_the_demo_model_with_its_progress_shown()
    {
        // A fresh install: the models folder is empty.
        var models = host.Services.GetRequiredService<ModelCatalog>().ModelsDirectory;
        foreach (var package in Directory.EnumerateDirectories(models))
        {
            Directory.Delete(package, recursive: true);
        }

        await using var ctx = NewContext();
        var cut = ctx.Render<AdminModels>();
        cut.WaitForAssertion(() =>
        {
            cut.Find("[data-testid=no-usable-model]");
            cut.Find("[data-testid=install-demo]");
        });
        Assert.Contains("nobody can generate", cut.Find("[data-testid=no-usable-model]").TextContent, StringComparison.Ordinal);
        Assert.Equal("admin/models#install-models", cut.Find("[data-testid=install-instructions-link]").GetAttribute("href"));
        Assert.Contains("fluxweb models pull", cut.Find("[data-testid=install-instructions]").TextContent, StringComparison.Ordinal);

        await cut.Find("[data-testid=install-demo]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("Installed", cut.Find("[data-testid=demo-install]").GetAttribute("data-state")), TimeSpan.FromMinutes(2));
        Assert.Contains("Installed FLUX.2 [klein] demo", cut.Find("[data-testid=demo-install-message]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=no-usable-model]"));
        Assert.Single(cut.FindAll("[data-testid=model-row][data-model=demo]"));
        Assert.Empty(cut.FindAll("[data-testid=install-demo]"));
    }

    [Fact]
    public async Task With_the_demo_model_installed_before_the_page_opened_no_install_panel_is_shown()
    {
        var installer = host.Services.GetRequiredService<DemoModelInstaller>();
        await installer.StartAsync(Application.Audit.ChangeActor.CommandLine);
        await installer.Completion.WaitAsync(TimeSpan.FromMinutes(2));

        await using var ctx = NewContext();
        var cut = ctx.Render<AdminModels>();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=model-row][data-model=demo]")));
        Assert.Empty(cut.FindAll("[data-testid=demo-install]"));
        Assert.Empty(cut.FindAll("[data-testid=no-usable-model]"));
    }
}
