using System.Net;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Jobs;
using FluxWeb.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;

namespace FluxWeb.Cluster;

public static class ClusterServiceCollectionExtensions
{
    /// <summary>Orleans' default longest probe period (four times its 5 s probe timeout).</summary>
    private static readonly TimeSpan MaxProbePeriod = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Makes this process an Orleans silo (issue 18; docs/decisions/0021): with SQLite, a one-silo cluster on
    /// localhost on free ports; with PostgreSQL, a member of the cluster whose membership is in that database
    /// (<c>Cluster:ConnectionString</c>). Adds the job dispatcher grain and this process's node (its workers'
    /// reports, cancels and live events across processes). Needs AddPersistence and AddJobs.
    /// </summary>
    public static IServiceCollection AddCluster(this IServiceCollection services)
    {
        services.AddOptions<ClusterSettings>().BindConfiguration(ClusterSettings.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClusterSettings>, ClusterSettingsValidator>();
        // Resolved once: the free ports are picked here and used by the silo's endpoints and the dispatcher alike.
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ClusterSettings>>().Value.Resolve(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.Provider));

        services.AddOrleans(silo =>
        {
            silo.UseDevelopmentClustering((OptionsBuilder<DevelopmentClusterMembershipOptions> options) => options
                .Configure<ResolvedCluster>((o, resolved) => o.PrimarySiloEndpoint = new IPEndPoint(resolved.Advertised, resolved.SiloPort)));
            UseDatabaseMembershipWhenShared(silo.Services);
            silo.Services.AddOptions<EndpointOptions>().Configure<ResolvedCluster>((options, resolved) =>
            {
                options.AdvertisedIPAddress = resolved.Advertised;
                options.SiloPort = resolved.SiloPort;
                options.GatewayPort = resolved.GatewayPort;
                options.SiloListeningEndpoint = new IPEndPoint(resolved.Listening, resolved.SiloPort);
                options.GatewayListeningEndpoint = new IPEndPoint(resolved.Listening, resolved.GatewayPort);
            });
            silo.Services.AddOptions<Orleans.Configuration.ClusterOptions>().Configure<IOptions<ClusterSettings>>((options, settings) =>
            {
                options.ClusterId = settings.Value.ClusterId;
                options.ServiceId = "fluxweb";
            });
            // Failure detection (docs/decisions/0023): a killed process's jobs are requeued when membership declares it
            // dead, so its probes decide how fast that is. The rest stays Orleans' (votes, indirect probes, the
            // extension while the prober is overloaded, and no vote against a silo whose connection is still talking).
            silo.Services.AddOptions<ClusterMembershipOptions>().Configure<IOptions<ClusterSettings>>((options, settings) =>
            {
                options.ProbeTimeout = settings.Value.ProbeTimeout;
                options.NumMissedProbesLimit = settings.Value.MissedProbesLimit;
                // The longest probe period, and (times the missed probes) how long a silo whose connection is still
                // open but silent is spared: kept at Orleans' own 20 s (60 s spared), so only the healthy period
                // shrinks and a process frozen for less than a minute (a long pause, kill -STOP) is not voted dead.
                options.MaxProbeTimeout = TimeSpan.FromTicks(Math.Max(settings.Value.ProbeTimeout.Ticks * 4, MaxProbePeriod.Ticks));
            });
            silo.Services.AddOptions<AdoNetClusteringSiloOptions>().Configure<IOptions<DatabaseOptions>, IOptions<PersistenceOptions>>((options, database, persistence) =>
            {
                if (database.Value.Provider == DatabaseProvider.PostgreSql)
                {
                    options.Invariant = "Npgsql";
                    options.ConnectionString = database.Value.Resolve(persistence.Value).ConnectionString;
                }
            });
        });

        // Added after AddJobs' process-local defaults, so these win (a command's services stay a subset of a silo's).
        services.AddSingleton<IWorkerNode, SiloWorkerNode>();
        services.AddSingleton<ClusterRelay>();
        services.AddSingleton<IJobClusterRelay>(sp => sp.GetRequiredService<ClusterRelay>());
        services.AddSingleton<IAccountChangeRelay>(sp => sp.GetRequiredService<ClusterRelay>());
        services.AddSingleton<IWorkerDirectory, ClusterWorkerDirectory>();
        services.AddSingleton<DispatcherDirectory>();
        services.AddSingleton<Orleans.Runtime.GrainDirectory.IGrainDirectoryResolver, DispatcherDirectoryResolver>();
        services.AddSingleton<ClusterNode>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        return services;
    }

    /// <summary>
    /// Development membership (the silo itself holds the table) with SQLite; the ADO.NET table in the PostgreSQL
    /// database otherwise. Chosen when the table is first needed, because the provider is a setting: the
    /// composition is built before configuration is read.
    /// </summary>
    private static void UseDatabaseMembershipWhenShared(IServiceCollection services)
    {
        var development = services.Last(d => d.ServiceType == typeof(IMembershipTable));
        services.Remove(development);
        services.AddSingleton<IMembershipTable>(sp => sp.GetRequiredService<ResolvedCluster>().Shared
            ? ActivatorUtilities.CreateInstance<Orleans.Runtime.MembershipService.AdoNetClusteringTable>(sp)
            : (IMembershipTable)development.ImplementationFactory!(sp));
    }
}
