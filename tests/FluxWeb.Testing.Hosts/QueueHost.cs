using FluxWeb.Application;
using FluxWeb.Application.Jobs;
using FluxWeb.Cluster;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Testing;

/// <summary>
/// The queue without the web server: the web app's composition and start-up steps without the web
/// layer (<see cref="FluxWebProcess.QueueServer"/>) on a data folder the test owns, with the fake
/// engine swapped in through the composition's hook. Start a second one on the same folder to see
/// what survives a restart.
/// </summary>
public sealed class QueueHost : IAsyncDisposable
{
    public const string ModelId = "klein-test";
    public const string OtherModelId = "klein-test-nc";

    private readonly IHost host;
    private bool stopped;

    private QueueHost(IHost host, CapturingLoggerProvider logs)
    {
        this.host = host;
        Logs = logs;
    }

    public IServiceProvider Services => host.Services;

    public CapturingLoggerProvider Logs { get; }

    public GenerationService Generation => Services.GetRequiredService<GenerationService>();

    public JobService Jobs => Services.GetRequiredService<JobService>();

    public IJobEvents Events => Services.GetRequiredService<IJobEvents>();

    /// <summary>
    /// Builds and starts a host. <paramref name="settings"/> adds settings (e.g. quotas); <paramref name="services"/>
    /// replaces services (e.g. the scheduling policy); <paramref name="logs"/> collects its log lines with those of
    /// other hosts (the silos of one <see cref="QueueCluster"/>). A host with a worker is an Orleans silo, as every
    /// server is; one without is not, unless <paramref name="silo"/> makes it one: a web node of a cluster
    /// (<c>serve --no-workers</c>) without the web layer. <paramref name="time"/> becomes the application's
    /// <see cref="AppClock"/> only: Orleans keeps the real clock, so a test moving a fake one never moves the cluster's
    /// membership and timers.
    /// </summary>
    public static async Task<QueueHost> StartAsync(
        string folder,
        IImageGenerator engine,
        IReadOnlyDictionary<string, string?>? settings = null,
        TimeProvider? time = null,
        bool worker = true,
        Action<IServiceCollection>? services = null,
        TestDatabaseProvider database = TestDatabaseProvider.Sqlite,
        CapturingLoggerProvider? logs = null,
        bool silo = false)
    {
        var dataDirectory = Path.Combine(folder, "data");
        var modelsDirectory = Path.Combine(folder, "models");
        InstallModels(modelsDirectory);
        var databaseSettings = database == TestDatabaseProvider.PostgreSql ? await PostgreSqlTestDatabase.SettingsForAsync(dataDirectory) : null;
        if (databaseSettings is null)
        {
            TestDatabase.CopyInto(dataDirectory);
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", Args = [] });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FluxWeb:DataDirectory"] = dataDirectory,
            ["FluxWeb:ModelsDirectory"] = modelsDirectory,
            ["Inference:Device"] = "Cpu",
            ["Provenance:Filters:AutoInstall"] = "false",
            ["Provenance:Filters:Registry"] = "http://127.0.0.1:9/unreachable-in-tests",
        });
        if (databaseSettings is not null)
        {
            builder.Configuration.AddInMemoryCollection(databaseSettings);
        }

        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Logging.ClearProviders();
        logs ??= new CapturingLoggerProvider();
        builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        var process = worker ? FluxWebProcess.QueueServer : FluxWebProcess.QueueServer with { Name = "queue server without its worker", RunsWorker = false };
        builder.Services.AddFluxWeb(process, replace =>
        {
            replace.AddSingleton(engine);
            if (time is not null)
            {
                replace.AddSingleton(new AppClock(time));
            }

            if (silo && !process.IsSilo)
            {
                // The composition makes only web servers and workers silos; this stands in for a web server.
                replace.AddCluster();
            }

            services?.Invoke(replace);
        });
        var built = builder.Build();
        await built.Services.InitialiseAsync(process);
        await built.StartAsync();
        return new QueueHost(built, logs);
    }

    /// <summary>Two catalog-only packages: an Apache-2.0 model and a non-commercial one.</summary>
    public static void InstallModels(string modelsDirectory)
    {
        Directory.CreateDirectory(modelsDirectory);
        if (!Directory.Exists(Path.Combine(modelsDirectory, ModelId)))
        {
            TestModelPackages.WriteCatalogOnly(modelsDirectory, ModelId, ModelLicence.Apache2());
            TestModelPackages.WriteCatalogOnly(modelsDirectory, OtherModelId, ModelLicence.FluxNonCommercial());
        }
    }

    /// <summary>
    /// A user straight in the database (no password hashing: tests create many). Non-commercial by
    /// default so queue tests may use both test models; licence tests pass Commercial.
    /// </summary>
    public async Task<JobActor> CreateUserAsync(string email, string role = Roles.User, AccountType accountType = AccountType.NonCommercial)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        var user = new FluxUser { UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(), SecurityStamp = Guid.NewGuid().ToString(), AccountType = accountType };
        db.Users.Add(user);
        var roleId = await db.Roles.Where(r => r.Name == role).Select(r => r.Id).SingleAsync();
        db.UserRoles.Add(new IdentityUserRole<string> { UserId = user.Id, RoleId = roleId });
        await db.SaveChangesAsync();
        return new JobActor(user.Id, role == Roles.Admin);
    }

    public async Task<T> WithDbAsync<T>(Func<FluxWebDbContext, Task<T>> read)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await read(db);
    }

    public Task<Job> JobAsync(Guid id) => WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));

    /// <summary>Polls the job row until <paramref name="until"/> holds (the worker runs in the background).</summary>
    public async Task<Job> WaitForJobAsync(Guid id, Func<Job, bool> until, TimeSpan? timeout = null)
    {
        Job? last = null;
        return await Eventually.Value(
            async () => last = await JobAsync(id),
            until,
            () => $"Job {id} is {last?.State} (step {last?.Step}, error '{last?.Error}').",
            timeout);
    }

    public Task<Job> WaitForEndAsync(Guid id, TimeSpan? timeout = null) => WaitForJobAsync(id, j => j.State.IsFinished(), timeout);

    public static JobRequest Request(string prompt, int count = 1, ulong? seed = 1, string model = ModelId) =>
        new() { Settings = new GenerationSettings { ModelId = model, Prompt = prompt, Seed = seed }, Count = count };

    /// <summary>This host's silo endpoint, for another host to join its cluster (<see cref="JoinClusterOf"/>).</summary>
    public System.Net.IPEndPoint SiloEndpoint
    {
        get
        {
            var endpoints = Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.EndpointOptions>>().Value;
            return new System.Net.IPEndPoint(endpoints.AdvertisedIPAddress, endpoints.SiloPort);
        }
    }

    /// <summary>
    /// Makes a host a second silo of <paramref name="primary"/>'s cluster (development membership held by the
    /// primary), on the same data folder: several processes of one cluster without a PostgreSQL membership table.
    /// </summary>
    public static Action<IServiceCollection> JoinClusterOf(QueueHost primary)
    {
        var endpoint = primary.SiloEndpoint;
        return services => services.PostConfigure<Orleans.Configuration.DevelopmentClusterMembershipOptions>(o => o.PrimarySiloEndpoint = endpoint);
    }

    public async Task StopAsync()
    {
        if (!stopped)
        {
            stopped = true;
            await host.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        host.Dispose();
    }
}
