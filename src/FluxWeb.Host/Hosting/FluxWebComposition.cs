using FluxWeb.Application;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using FluxWeb.Cluster;
using FluxWeb.Host.Uploads;
using FluxWeb.Inference;
using FluxWeb.Persistence;
using FluxWeb.Provenance;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// What one process built from <see cref="FluxWebComposition"/> does besides the services every process
/// shares. These are the only differences between the web app, the CLI and the test hosts.
/// </summary>
/// <param name="Name">For messages and tests.</param>
/// <param name="ServesWeb">The web layer: cookies and API keys, the API, the hub, the pages, reverse-proxy support.</param>
/// <param name="RunsWorker">Drains the queue in this process (the process that owns the GPU; <c>generate --user</c> waits for its own job).</param>
/// <param name="InstallsImageClassifier">Installs the image classifier in the background on a first start. A server does; a CLI command never downloads by itself.</param>
/// <param name="UsesDatabase">Runs the database start-up steps; pure inference and model commands leave the data folder alone.</param>
/// <param name="WarmStartsModels">Loads the most used package in the background on a GPU at start (<c>Inference:WarmStart</c>): a server does, so the first job of the day does not wait for gigabytes of weights; a command runs one job and would only delay it.</param>
public sealed record FluxWebProcess(string Name, bool ServesWeb, bool RunsWorker, bool InstallsImageClassifier, bool UsesDatabase, bool WarmStartsModels)
{
    /// <summary>Every process that serves the web or runs workers is an Orleans silo (issue 18): the same code path on one box and many.</summary>
    public bool IsSilo => ServesWeb || RunsWorker;

    /// <summary><c>fluxweb serve</c>, and the tests' <c>WebApplicationFactory</c> hosts (which run the same entry point).</summary>
    public static readonly FluxWebProcess WebServer = new("web server", ServesWeb: true, RunsWorker: true, InstallsImageClassifier: true, UsesDatabase: true, WarmStartsModels: true);

    /// <summary><c>fluxweb serve --no-workers</c>: the web layer and a silo, no workers (a web node of a cluster whose GPUs are elsewhere).</summary>
    public static readonly FluxWebProcess WebServerWithoutWorkers = WebServer with { Name = "web server without workers", RunsWorker = false };

    /// <summary>The queue and everything behind it without the web layer: a server as the worker sees it (the queue tests).</summary>
    public static readonly FluxWebProcess QueueServer = WebServer with { Name = "queue server", ServesWeb = false };

    /// <summary><c>fluxweb worker</c>: a silo with this box's workers and no web layer (a GPU node of a cluster).</summary>
    public static readonly FluxWebProcess Worker = QueueServer with { Name = "worker" };

    /// <summary>A CLI command on the accounts, keys, jobs or images of a data folder.</summary>
    public static readonly FluxWebProcess Command = new("command", ServesWeb: false, RunsWorker: false, InstallsImageClassifier: false, UsesDatabase: true, WarmStartsModels: false);

    /// <summary><c>generate --user</c>: a command that runs its own job through the queue.</summary>
    public static readonly FluxWebProcess CommandWithWorker = Command with { Name = "command with worker", RunsWorker = true };

    /// <summary>A CLI command that needs models or images but not the database (<c>generate</c> without a user, <c>models</c>, <c>safety install</c>).</summary>
    public static readonly FluxWebProcess InferenceCommand = Command with { Name = "inference command", UsesDatabase = false };
}

/// <summary>
/// The one composition of FluxWeb: every process (the web app, every CLI command, the test hosts) gets its
/// services from <see cref="AddFluxWeb"/> and runs <see cref="InitialiseAsync"/> before it starts, so no
/// module or start-up step can be in one and missing from another. Tests swap what they must (the engine,
/// the clock, a policy) through the <c>replace</c> hook, applied after every module.
/// </summary>
public static class FluxWebComposition
{
    public static IServiceCollection AddFluxWeb(this IServiceCollection services, FluxWebProcess process, Action<IServiceCollection>? replace = null)
    {
        services.AddPersistence();
        services.AddAccounts();
        services.AddInference();
        if (process.WarmStartsModels)
        {
            services.AddInferenceWarmStart();
        }

        services.AddProvenance();
        services.AddOutputs();
        if (process.InstallsImageClassifier)
        {
            services.AddImageClassifierAutoInstall();
        }

        services.AddJobs();
        if (process.IsSilo)
        {
            // Before the workers: hosted services stop in reverse order, so the workers stop (and requeue what they
            // run, telling the dispatcher) while the silo is still up.
            services.AddCluster();
        }

        if (process.RunsWorker)
        {
            services.AddJobWorker();
        }

        services.AddGallery();
        services.AddBoards();
        services.AddAdministration();
        services.AddPresets();
        if (process.ServesWeb)
        {
            services.AddMaskUploads();
            services.AddWebSecurity();
            services.AddWebApi();
            services.AddApiDocsAndHub();
            services.AddWebUi();
            services.AddReverseProxySupport();
        }

        replace?.Invoke(services);
        return services;
    }

    /// <summary>
    /// The start-up steps, in order, before the host starts and before the first request or job: settings
    /// checked (a CLI command that never starts its host still refuses bad settings), then, where the process
    /// uses the database, migrations (logged by the migrator), roles, the stored content policy (so a prompt
    /// from any door meets the admins' block list), and the removal of half-written files an interrupted write
    /// left behind (old ones only: a recent one may be another process's write in progress).
    /// </summary>
    public static async Task InitialiseAsync(this IServiceProvider services, FluxWebProcess process, CancellationToken cancellationToken = default)
    {
        services.GetService<IStartupValidator>()?.Validate();
        if (!process.UsesDatabase)
        {
            return;
        }

        await services.GetRequiredService<DatabaseMigrator>().MigrateAsync(cancellationToken);
        await using (var scope = services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>().EnsureRolesAsync();
        }

        await services.GetRequiredService<ContentPolicy>().ApplyStoredAsync(cancellationToken);
        services.GetRequiredService<ImageStore>().RemoveAbandonedPartialFiles();
    }
}
