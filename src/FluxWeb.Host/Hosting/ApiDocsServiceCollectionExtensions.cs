using FluxWeb.Host.Endpoints;
using FluxWeb.Host.Hubs;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace FluxWeb.Host.Hosting;

/// <summary>The REST API's OpenAPI document and its docs page, and the hub API clients follow jobs on.</summary>
internal static class ApiDocsServiceCollectionExtensions
{
    public const string DocumentPath = "/api/openapi/{documentName}.json";
    public const string DocsPath = "/api/docs";

    public static IServiceCollection AddApiDocsAndHub(this IServiceCollection services)
    {
        services.AddOpenApi("v1", options =>
        {
            // The REST API only: pages, account forms and admin exports are not for scripts.
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/v1/", StringComparison.OrdinalIgnoreCase) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "FluxWeb API",
                    Version = "v1",
                    Description = "Generate with the FLUX.2 [klein] models from scripts. Authenticate with a personal API key: `Authorization: Bearer fw_…` " +
                        "(create one under Account → API keys). Keys have the `read` or `generate` scope and obey the same quotas, fairness, licence policy and audit as the Studio. " +
                        $"Live job events: the SignalR hub at {ApiAuthentication.HubPath} (method `{JobHub.EventMethod}`), with the key as `access_token`.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiAuthentication.KeyScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A FluxWeb API key (fw_…).",
                };
                document.Security ??= [];
                document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiAuthentication.KeyScheme, document)] = [] });
                return Task.CompletedTask;
            });
        });

        services.AddSignalR().AddJsonProtocol(json => json.PayloadSerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        services.AddSingleton<JobHubConnections>();
        services.AddHostedService<JobHubGuard>();
        services.AddOptions<JobHubOptions>()
            .BindConfiguration(JobHubOptions.SectionName)
            .Validate(o => o.AllowedOrigins.All(JobHubOptions.IsOrigin), "Hub:AllowedOrigins takes origins only, such as https://tools.example.com (scheme and host, an optional port, no path).")
            .ValidateOnStart();
        return services;
    }

    /// <summary>The document and the docs page need a signed-in user (the docs page is for people, with the cookie).</summary>
    public static IEndpointRouteBuilder MapApiDocsAndHub(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi(DocumentPath).RequireAuthorization(ApiAuthentication.ApiPolicy).ServesImageData(ImageDataKind.None);
        endpoints.MapScalarApiReference(DocsPath, options => options
                .WithTitle("FluxWeb API")
                .WithOpenApiRoutePattern(DocumentPath)
                .AddPreferredSecuritySchemes(ApiAuthentication.KeyScheme))
            .RequireAuthorization()
            .ServesImageData(ImageDataKind.None);
        // Job events: each one licence-checked as it is sent (IJobEvents).
        endpoints.MapHub<JobHub>(ApiAuthentication.HubPath).ServesImageData(ImageDataKind.Derived);
        return endpoints;
    }
}
