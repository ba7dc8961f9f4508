using FluxWeb.Application.Accounts;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Administration;

public static class AdministrationServiceCollectionExtensions
{
    /// <summary>
    /// Accounts, models (and installing the demo model), usage, audit, queue and content policy for administrators, API keys,
    /// account deletion (by an administrator or by the person, <see cref="AccountDeletion"/>: it stops the account's jobs), and
    /// the operator's check of the image folder against its rows (<c>fluxweb storage check</c>).
    /// Needs AddPersistence, AddAccounts, AddInference, AddProvenance, AddOutputs and AddJobs.
    /// Singletons that open a database context (or a scope) per operation.
    /// </summary>
    public static IServiceCollection AddAdministration(this IServiceCollection services)
    {
        services.AddSingleton<AdminAuthorization>();
        services.AddSingleton<ApiKeyService>();
        services.AddSingleton<AccountDeletion>();
        services.AddSingleton<UserAdministration>();
        services.AddSingleton<ModelAdministration>();
        services.AddSingleton<UsageReport>();
        services.AddSingleton<AuditQuery>();
        services.AddSingleton<ContentPolicy>();
        services.AddSingleton<ImageCheck>();
        services.AddSingleton<QueueOverview>();
        services.AddSingleton<WorkerAdministration>();
        services.AddSingleton<Images.StorageCheck>();
        services.AddSingleton<Models.DemoModelInstaller>();
        return services;
    }
}
