using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Cli;
using FluxWeb.Host.Hosting;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Filters;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FluxWeb.Web.Tests.Hosting;

/// <summary>A CLI command starts as the server does: the same services and the same start-up steps (<see cref="FluxWebComposition"/>).</summary>
public sealed class CompositionTests : IDisposable
{
    private readonly TempFolder folder = new();

    private Dictionary<string, string?> Settings => new()
    {
        [FluxWebConfiguration.DataDirectoryKey] = folder.Combine("data"),
        [FluxWebConfiguration.ModelsDirectoryKey] = folder.Combine("models"),
    };

    [Fact]
    public async Task A_command_runs_the_servers_start_up_steps()
    {
        // A server ran once on this folder: the admins' block list is stored; a crash left an old half-written image.
        using (var first = await CliHost.StartAsync(Settings, CancellationToken.None))
        {
            Assert.Null(await first.Services.GetRequiredService<ContentPolicy>().SaveBlockedTermsAsync(["kraken"], ChangeActor.CommandLine));
        }

        var partial = Path.Combine(folder.Combine("data"), ImageStore.Folder, "2024", "crashed.png" + ImageStore.PartialSuffix);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        await File.WriteAllBytesAsync(partial, [1, 2, 3]);
        File.SetLastWriteTimeUtc(partial, DateTime.UtcNow - ImageStore.AbandonedPartialAge - TimeSpan.FromMinutes(5));
        var recent = partial.Replace("crashed", "in-progress", StringComparison.Ordinal);
        await File.WriteAllBytesAsync(recent, [1, 2, 3]);

        using var host = await CliHost.StartAsync(Settings, CancellationToken.None);

        Assert.Equal(["kraken"], host.Services.GetRequiredService<PromptFilter>().BlockedTerms);
        Assert.False(File.Exists(partial), "An abandoned partial file is removed at start, by a command as by the server.");
        Assert.True(File.Exists(recent), "A recent partial file may be another process's write in progress.");
        await using var db = await host.Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        Assert.Equal([Roles.Admin, Roles.User], (await db.Roles.Select(r => r.Name!).ToListAsync()).Order());
    }

    [Fact]
    public async Task A_command_refuses_bad_settings_before_it_touches_the_data_folder()
    {
        var settings = Settings;
        settings["Queue:MaxBatchSize"] = "0";

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CliHost.StartAsync(settings, CancellationToken.None));

        Assert.Contains("Queue:MaxBatchSize must be between 1 and 64.", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.Combine("data")) && Directory.EnumerateFileSystemEntries(folder.Combine("data")).Any());
    }

    [Fact]
    public void Processes_differ_only_in_what_their_role_says()
    {
        static HashSet<string> Services(FluxWebProcess process)
        {
            var services = new ServiceCollection();
            services.AddFluxWeb(process);
            // A factory is named by the type it returns: two hosted services made by factories must not look the same.
            return services.Select(d => d.ServiceType.FullName + " <- " + (d.ImplementationType?.FullName ?? "factory of " + d.ImplementationFactory?.Method.ReturnType.FullName)).ToHashSet();
        }

        var server = Services(FluxWebProcess.WebServer);
        var queue = Services(FluxWebProcess.QueueServer);
        var command = Services(FluxWebProcess.Command);
        var withWorker = Services(FluxWebProcess.CommandWithWorker);

        Assert.Subset(server, queue);
        Assert.Subset(queue, withWorker);
        Assert.Subset(withWorker, command);
        Assert.Equal(command, Services(FluxWebProcess.InferenceCommand));
        // Running workers adds the workers, the lease sweeper that takes back jobs whose worker is gone, and makes
        // the process a silo (issue 18): Orleans and FluxWeb.Cluster, nothing of FluxWeb's other modules.
        var workerOnly = withWorker.Except(command).ToList();
        Assert.Contains("Microsoft.Extensions.Hosting.IHostedService <- FluxWeb.Application.Jobs.JobLeaseSweeper", workerOnly);
        Assert.Contains("FluxWeb.Application.Jobs.JobWorkers <- FluxWeb.Application.Jobs.JobWorkers", workerOnly);
        Assert.Contains("FluxWeb.Cluster.ClusterNode <- FluxWeb.Cluster.ClusterNode", workerOnly);
        Assert.Contains(workerOnly, s => s.StartsWith("Orleans.", StringComparison.Ordinal));
        Assert.DoesNotContain(workerOnly, s => s.StartsWith("FluxWeb.", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Cluster.", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Application.Jobs.JobWorkers ", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Application.Jobs.IWorkerNode ", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Application.Jobs.IJobClusterRelay ", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Application.Accounts.IAccountChangeRelay ", StringComparison.Ordinal)
            && !s.StartsWith("FluxWeb.Application.Jobs.IWorkerDirectory ", StringComparison.Ordinal));
        // A server also installs the classifier on a first start and warms the most used model on a GPU.
        Assert.Equal(
            [
                "FluxWeb.Inference.Engine.WarmStart <- FluxWeb.Inference.Engine.WarmStart",
                "Microsoft.Extensions.Hosting.IHostedService <- FluxWeb.Application.Safety.ImageClassifierAutoInstall",
                "Microsoft.Extensions.Hosting.IHostedService <- factory of FluxWeb.Inference.Engine.WarmStart",
            ],
            queue.Except(withWorker).Order(StringComparer.Ordinal));
        // What only the web server adds is the web layer: nothing the queue, the gallery or administration needs.
        Assert.DoesNotContain(server.Except(queue), s => s.StartsWith("FluxWeb.Application.", StringComparison.Ordinal));
    }

    public void Dispose() => folder.Dispose();
}
