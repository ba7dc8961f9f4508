using FluxWeb.Application;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Components;
using FluxWeb.Host.Components.Account;
using FluxWeb.Host.Endpoints;
using FluxWeb.Host.Uploads;
using FluxWeb.Inference;
using FluxWeb.Persistence;
using FluxWeb.Provenance;

namespace FluxWeb.Host.Hosting;

/// <summary>The web application: reads like a table of contents, one <c>AddXxx()</c> per module.</summary>
internal static class WebApp
{
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?> overrides)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddAppSettingsBesideExecutable(builder.Environment.ContentRootPath);
        builder.Configuration.AddCommandLineOverrides(overrides);
        // Serve package assets (MudBlazor, Blazor's script) from a plain build too, not only when published.
        builder.WebHost.UseStaticWebAssets();

        builder.Services.AddPersistence();
        builder.Services.AddAccounts();
        builder.Services.AddInference();
        builder.Services.AddInferenceWarmStart();
        builder.Services.AddProvenance();
        builder.Services.AddOutputs();
        builder.Services.AddJobs();
        builder.Services.AddJobWorker();
        builder.Services.AddGallery();
        builder.Services.AddAdministration();
        builder.Services.AddMaskUploads();
        builder.Services.AddWebSecurity();
        builder.Services.AddWebApi();
        builder.Services.AddApiDocsAndHub();
        builder.Services.AddWebUi();

        var app = builder.Build();

        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
        }

        app.UseRequestIdHeader();
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseNoStatusCodePagesForApi();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets().AllowAnonymous();
        app.MapHealth();
        app.MapMaskUploads();
        app.MapImageUploads();
        app.MapAccountEndpoints();
        app.MapJobEndpoints();
        app.MapGalleryEndpoints();
        app.MapGenerationEndpoints();
        app.MapImageApiEndpoints();
        app.MapModelEndpoints();
        app.MapAdminEndpoints();
        app.MapApiDocsAndHub();
        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode();

        return app;
    }

    /// <summary>Migrations and roles before the first request, on every start (logged by the migrator).</summary>
    public static async Task InitialiseAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(cancellationToken);
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AccountService>().EnsureRolesAsync();
        await app.Services.GetRequiredService<ContentPolicy>().ApplyStoredAsync(cancellationToken);
    }
}
