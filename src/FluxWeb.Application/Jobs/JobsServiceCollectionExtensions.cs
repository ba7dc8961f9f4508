using FluxWeb.Application.Images;
using FluxWeb.Application.Quotas;
using FluxWeb.Application.Scheduling;
using FluxWeb.Domain.Time;
using FluxWeb.Inference;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// The queue's services: submission (<see cref="GenerationService"/>), reading and cancelling
    /// (<see cref="JobService"/>), quotas, the image store with its one licence-checked door
    /// (<see cref="ImageAccess"/>) and live events. Needs AddPersistence and
    /// AddInference. The workers are separate (<see cref="AddJobWorker"/>) so a CLI command can submit
    /// without draining the queue itself.
    /// </summary>
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddOptions<QueueOptions>()
            .BindConfiguration(QueueOptions.SectionName)
            .Validate(o => o.MaxConcurrentJobs is >= 1 and <= 16, "Queue:MaxConcurrentJobs must be between 1 and 16.")
            .Validate(o => o.MaxBatchSize is >= 1 and <= 64, "Queue:MaxBatchSize must be between 1 and 64.")
            .Validate(o => o.MaxAttempts is >= 1 and <= 10, "Queue:MaxAttempts must be between 1 and 10.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "Queue:PollInterval must be positive.")
            .Validate(o => o.LeaseDuration >= TimeSpan.FromSeconds(5) && o.LeaseDuration <= TimeSpan.FromMinutes(10), "Queue:LeaseDuration must be between 00:00:05 and 00:10:00.")
            .Validate(o => o.Scheduling.FairShareWindow > TimeSpan.Zero, "Queue:Scheduling:FairShareWindow must be positive.")
            .Validate(o => o.Scheduling.ModelSwitchMaxWait >= TimeSpan.Zero, "Queue:Scheduling:ModelSwitchMaxWait must not be negative.")
            .ValidateOnStart();
        services.AddOptions<QuotaOptions>()
            .BindConfiguration(QuotaOptions.SectionName)
            .Validate(o => o.TryResolveTimeZone(out _), "Quotas:TimeZone is not a time zone this machine knows (use an IANA id such as Europe/Berlin).")
            .Validate(o => o.DayStartsAt >= TimeSpan.Zero && o.DayStartsAt < TimeSpan.FromDays(1), "Quotas:DayStartsAt must be a time of day (00:00:00 to 23:59:59).")
            .Validate(o => Valid(o.Roles.User) && Valid(o.Roles.Admin), "Quotas:Roles limits must not be negative (leave a limit out for unlimited).")
            .ValidateOnStart();

        services.TryAddSingleton(AppClock.Real);
        // The inference engine registers the real generator; until then requests get a clear refusal.
        services.TryAddSingleton<IImageGenerator, UnavailableImageGenerator>();

        // One set of limits for the Studio, every door and the engine: the inference options' sizes and pictures, the queue's batch.
        services.AddSingleton(sp =>
        {
            var maxBatch = sp.GetRequiredService<IOptions<QueueOptions>>().Value.MaxBatchSize;
            return sp.GetRequiredService<IOptions<InferenceOptions>>().Value.ToGenerationLimits() with { MaxBatch = maxBatch };
        });
        services.AddSingleton<IJobSchedulingPolicy>(sp =>
            new FairSchedulingPolicy(sp.GetRequiredService<IOptions<QueueOptions>>().Value.Scheduling.ModelSwitchMaxWait));
        services.AddSingleton<QuotaClock>();
        services.AddSingleton<QuotaService>();
        services.AddSingleton<Licensing.UploadLicenceCheck>();
        services.TryAddSingleton<IImageFiles, DiskImageFiles>();
        services.AddSingleton<ImageStore>();
        services.AddSingleton<WholeImageMasks>();
        services.AddSingleton<ImageAccess>();
        services.AddSingleton<GpuCostEstimator>();
        services.AddSingleton<JobEvents>();
        services.AddSingleton<IJobEvents>(sp => sp.GetRequiredService<JobEvents>());
        services.AddSingleton<LiveJobBoard>();
        services.AddSingleton<RunningJobs>();
        services.AddSingleton<JobQueueSignal>();
        services.AddSingleton<QueuePositions>();
        services.AddSingleton<SchedulingSnapshotReader>();
        // The cluster names the process and carries cancels and events to other nodes; without it, both stay here.
        services.TryAddSingleton<IWorkerNode, LocalWorkerNode>();
        services.TryAddSingleton<IJobClusterRelay, NoClusterRelay>();
        services.TryAddSingleton<IWorkerDirectory, LocalWorkerDirectory>();
        services.AddSingleton<JobService>();
        services.AddSingleton<JobSettingsReader>();
        services.AddSingleton<JobAdmission>();
        services.AddSingleton<GenerationService>();
        services.AddSingleton<Loop.ResultLoop>();
        services.AddScoped<JobRunner>();
        services.AddSingleton<JobReclaimer>();
        return services;
    }

    /// <summary>
    /// This process's queue workers, one per device (<see cref="JobWorkers"/>; the cluster's dispatcher offers them
    /// jobs), and the lease sweeper that takes back running jobs whose worker is gone. Only a process that owns
    /// devices adds them.
    /// </summary>
    public static IServiceCollection AddJobWorker(this IServiceCollection services)
    {
        services.AddSingleton<JobWorkers>();
        services.AddHostedService(sp => sp.GetRequiredService<JobWorkers>());
        services.AddHostedService<JobLeaseSweeper>();
        return services;
    }

    private static bool Valid(QuotaLimits limits) =>
        limits.ImagesPerDay is null or >= 0 && limits.GpuSecondsPerDay is null or >= 0 && limits.MaxQueuedJobs is null or >= 0;
}
