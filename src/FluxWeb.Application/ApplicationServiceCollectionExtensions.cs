using FluxWeb.Application.Accounts;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application;

public static class ApplicationServiceCollectionExtensions
{
    /// <summary>
    /// Identity core (users, roles, stores, password/lockout rules) and the account services.
    /// Cookie authentication is added by the web host; the CLI uses this alone.
    /// </summary>
    /// <summary>The steps every generated image takes before it is stored or written (safety, watermark, C2PA), and the image classifier's installer.</summary>
    public static IServiceCollection AddOutputs(this IServiceCollection services)
    {
        services.AddSingleton<Outputs.OutputFinisher>();
        services.AddSingleton<Outputs.WatermarkSerials>();
        services.AddSingleton<Safety.ImageClassifierInstaller>();
        return services;
    }

    /// <summary>The server's first start installs the image classifier in the background (the web app only: a CLI command never downloads by itself).</summary>
    public static IServiceCollection AddImageClassifierAutoInstall(this IServiceCollection services)
    {
        services.AddHostedService<Safety.ImageClassifierAutoInstall>();
        return services;
    }

    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.AddOptions<AccountOptions>()
            .BindConfiguration(AccountOptions.SectionName)
            .Validate(o => o.PasswordMinimumLength >= 6, "Accounts:PasswordMinimumLength must be at least 6.")
            .Validate(o => o.SessionRevalidationInterval >= TimeSpan.FromMilliseconds(100) && o.SessionRevalidationInterval <= TimeSpan.FromHours(1), "Accounts:SessionRevalidationInterval must be between 00:00:00.1 and 01:00:00.")
            .ValidateOnStart();

        // Identity's EF stores want a scoped context; hand them one from the factory.
        services.AddScoped(sp => sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<FluxWebDbContext>>().CreateDbContext());

        services.AddIdentityCore<FluxUser>()
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<FluxWebDbContext>()
            .AddSignInManager<FluxSignInManager>()
            .AddDefaultTokenProviders();

        services.AddOptions<IdentityOptions>()
            .Configure<IOptions<AccountOptions>>((identity, accounts) =>
            {
                identity.SignIn.RequireConfirmedAccount = false;
                identity.User.RequireUniqueEmail = true;
                identity.Password.RequiredLength = accounts.Value.PasswordMinimumLength;
                identity.Lockout.AllowedForNewUsers = true;
                identity.Lockout.MaxFailedAccessAttempts = accounts.Value.MaxFailedSignInAttempts;
                identity.Lockout.DefaultLockoutTimeSpan = accounts.Value.LockoutDuration;
            });

        // Identity's tokens and the sign-in cookie are protected with keys kept in the data folder,
        // so sessions survive restarts and container rebuilds. Resolved through options (not read
        // here) so every configuration source, tests' included, is seen.
        services.AddDataProtection().SetApplicationName("FluxWeb");
        services.AddOptions<KeyManagementOptions>()
            .Configure<IOptions<PersistenceOptions>, ILoggerFactory>((keys, persistence, loggers) =>
            {
                var folder = new DirectoryInfo(Path.Combine(Path.GetFullPath(persistence.Value.DataDirectory), "keys", "data-protection"));
                keys.XmlRepository = new FileSystemXmlRepository(folder, loggers);
            });

        services.AddScoped<AccountService>();
        services.TryAddSingleton(AppClock.Real);
        services.AddSingleton<AccountChanges>();
        services.TryAddSingleton<IAccountChangeRelay, NoAccountChangeRelay>();
        services.AddSingleton<AccountSessions>();
        services.AddSingleton<Licensing.LicenceGate>();
        services.AddSingleton<Audit.AuditLog>();
        services.AddSingleton<Models.ModelAccessService>();
        return services;
    }
}
