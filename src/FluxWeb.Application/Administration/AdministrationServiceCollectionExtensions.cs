using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Administration;

public static class AdministrationServiceCollectionExtensions
{
    /// <summary>
    /// Accounts, models (and installing the demo model), usage, audit, queue and content policy for administrators, and API keys.
    /// Needs AddPersistence, AddAccounts, AddInference, AddProvenance, AddOutputs and AddJobs.
    /// Singletons that open a database context (or a scope) per operation.
    /// </summary>
    public static IServiceCollection AddAdministration(this IServiceCollection services)
    {
        services.AddSingleton<AdminAuthorization>();
        services.AddSingleton<ApiKeyService>();
        services.AddSingleton<UserAdministration>();
        services.AddSingleton<ModelAdministration>();
        services.AddSingleton<UsageReport>();
        services.AddSingleton<AuditQuery>();
        services.AddSingleton<ContentPolicy>();
        services.AddSingleton<ImageCheck>();
        services.AddSingleton<QueueOverview>();
        services.AddSingleton<WorkerAdministration>();
        services.AddSingleton<Models.DemoModelInstaller>();
        return services;
    }
}
