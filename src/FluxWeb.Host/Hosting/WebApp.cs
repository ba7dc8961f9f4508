using FluxWeb.Application;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Components;
using FluxWeb.Host.Components.Account;
using FluxWeb.Host.Endpoints;
using FluxWeb.Host.Hubs;
using FluxWeb.Host.Uploads;
using FluxWeb.Inference;
using FluxWeb.Persistence;
using FluxWeb.Provenance;

namespace FluxWeb.Host.Hosting;

/// <summary>The web application: reads like a table of contents, one <c>AddXxx()</c> per module.</summary>
internal static class WebApp
{
    /// <param name="process"><see cref="FluxWebProcess.WebServer"/>, or <see cref="FluxWebProcess.WebServerWithoutWorkers"/> for a web node whose workers run elsewhere.</param>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?> overrides, FluxWebProcess? process = null)
    {
        var builder = WebApplication.CreateBuilder(WebHostLayout.Options(args));
        builder.Configuration.AddAppSettingsBesideExecutable(builder.Environment.ContentRootPath);
        builder.Configuration.AddCommandLineOverrides(overrides);
        builder.UseDevelopmentStaticWebAssets();
        // Only the assets the build lists, as a published app serves them: without this a plain build also maps a
        // catch-all GET route for files added later, so its route table (which the licence tests read) would differ.
        builder.Configuration["DisableStaticAssetNotFoundRuntimeFallback"] ??= "true";

        builder.Services.AddSingleton(process ?? FluxWebProcess.WebServer);
        builder.Services.AddFluxWeb(process ?? FluxWebProcess.WebServer);

        var app = builder.Build();

        app.UseReverseProxySupport();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
        }

        app.UseRequestIdHeader();
        app.UseJobHubOriginCheck();
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseNoStatusCodePagesForApi();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapCheckedStaticAssets();
        app.MapHealth();
        app.MapMaskUploads();
        app.MapImageUploads();
        app.MapAccountEndpoints();
        app.MapJobEndpoints();
        app.MapGalleryEndpoints();
        app.MapGenerationEndpoints();
        app.MapLoopEndpoints();
        app.MapImageApiEndpoints();
        app.MapBoardEndpoints();
        app.MapPresetEndpoints();
        app.MapExportEndpoints();
        app.MapModelEndpoints();
        app.MapUsageEndpoints();
        app.MapAdminEndpoints();
        app.MapApiDocsAndHub();
        // Pages declare what they show with [ImageData]; the framework's own endpoints (the circuit's hub, its
        // script) carry only what those pages render, so they declare nothing of their own.
        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode()
            .Add(endpoint =>
            {
                if (!endpoint.Metadata.OfType<Microsoft.AspNetCore.Components.Endpoints.ComponentTypeMetadata>().Any())
                {
                    endpoint.Metadata.Add(new ImageDataAttribute(ImageDataKind.None));
                }
            });

        return app;
    }

    /// <summary>The start-up steps every process runs (<see cref="FluxWebComposition.InitialiseAsync"/>), on every start before the first request.</summary>
    public static Task InitialiseAsync(this WebApplication app, CancellationToken cancellationToken = default) =>
        app.Services.InitialiseAsync(app.Services.GetRequiredService<FluxWebProcess>(), cancellationToken);
}
