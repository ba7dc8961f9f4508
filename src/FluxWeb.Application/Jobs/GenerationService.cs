using System.Security.Cryptography;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Application.Models;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// The one door to the GPU: the Studio, the CLI and the REST API all submit here. A request is
/// checked by the engine (sizes, steps, images) without touching the GPU, then its jobs are
/// written within the owner's quota in one transaction, and the worker is woken.
/// </summary>
public sealed partial class GenerationService(
    IImageGenerator generator,
    ModelCatalog catalog,
    PromptFilter promptFilter,
    LicenceGate licences,
    ModelAccessService modelAccess,
    AuditLog audit,
    ImageAccess access,
    QuotaService quotas,
    GpuCostEstimator estimator,
    IJobEvents events,
    JobQueueSignal signal,
    GenerationLimits limits,
    TimeProvider time,
    ILogger<GenerationService> logger)
{
    public async Task<SubmitResult> SubmitAsync(string userId, JobRequest request, CancellationToken cancellationToken = default)
    {
        var result = await SubmitCheckedAsync(userId, request, cancellationToken);
        if (!result.Accepted)
        {
            // Every refusal counts on the usage view ("rejected requests"), whichever check made it.
            await quotas.CountRejectionAsync(userId, CancellationToken.None);
        }

        return result;
    }

    private async Task<SubmitResult> SubmitCheckedAsync(string userId, JobRequest request, CancellationToken cancellationToken)
    {
        var asked = request.Settings;
        if (GenerationLimits.PromptProblem(asked.Prompt) is { } tooLong)
        {
            return SubmitResult.Invalid(tooLong);
        }

        if (promptFilter.Check(asked.Prompt) is { Blocked: true } blocked)
        {
            LogPromptBlocked(logger, userId, blocked.MatchedTerm ?? "(classifier)");
            return SubmitResult.Invalid(blocked.Message ?? "The prompt was refused by the content policy of this server.");
        }

        if (limits.BatchProblem(request.Count) is { } batchProblem)
        {
            return SubmitResult.Invalid(batchProblem);
        }

        if (await quotas.PrecheckAsync(userId, request.Count, cancellationToken) is { } early)
        {
            LogRefused(logger, userId, early.Limit, request.Count);
            return SubmitResult.Refused(early);
        }

        var model = catalog.List().FirstOrDefault(m => string.Equals(m.Id, asked.ModelId, StringComparison.Ordinal));
        if (model is null || !model.IsUsable)
        {
            return SubmitResult.Invalid($"The model '{asked.ModelId}' is not installed on this server.");
        }

        if (await modelAccess.AdminRefusalAsync(userId, model.Id, cancellationToken) is { } accessRefusal)
        {
            LogAccessRefused(logger, userId, model.Id);
            await audit.RecordAsync(new AuditEntry(AuditActions.GenerateRefused, userId) { Succeeded = false, ModelId = model.Id, Detail = accessRefusal, Channel = request.Channel }, cancellationToken);
            return SubmitResult.Forbidden(accessRefusal);
        }

        var licenceRefusal = (await licences.MayGenerateAsync(userId, model.Manifest!, cancellationToken)).Reason;
        var (inputs, inputProblem) = licenceRefusal is null
            ? await JobInputs.LoadAsync(access, userId, asked, cancellationToken)
            : (null, null);
        licenceRefusal ??= inputProblem is { LicenceRefused: true } ? inputProblem.Message : null;
        if (licenceRefusal is not null)
        {
            LogLicenceRefused(logger, userId, model.Id);
            await audit.RecordAsync(new AuditEntry(AuditActions.LicenceRefused, userId) { Succeeded = false, ModelId = model.Id, Detail = licenceRefusal, Channel = request.Channel }, cancellationToken);
            return SubmitResult.RefusedByLicence(licenceRefusal);
        }

        if (inputs is null)
        {
            return SubmitResult.Invalid(inputProblem!.Message);
        }

        var seed = asked.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        var settings = asked with { ModelId = model.Id, Seed = seed };
        ResolvedGeneration resolved;
        using (inputs)
        {
            try
            {
                resolved = generator.Validate(inputs.ToRequest(settings));
            }
            catch (GenerationRequestException ex)
            {
                return SubmitResult.Invalid(ex.Message);
            }
        }

        var estimate = await estimator.EstimateAsync(model.Id, resolved, cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var batchId = Guid.NewGuid();
        var jobs = Enumerable.Range(0, request.Count).Select(index => new Job
        {
            Id = Guid.NewGuid(),
            OwnerId = userId,
            BatchId = batchId,
            BatchIndex = index,
            Settings = settings.ForBatchImage(seed, index),
            Mode = settings.Mode,
            ResolvedWidth = resolved.Width,
            ResolvedHeight = resolved.Height,
            ResolvedSteps = resolved.Steps,
            State = JobState.Queued,
            EnqueuedUtc = now,
            TotalSteps = resolved.Steps,
            EstimatedGpuSeconds = estimate,
        }).ToList();

        var refusal = await quotas.EnqueueWithinQuotaAsync(userId, jobs, cancellationToken);
        if (refusal is not null)
        {
            LogRefused(logger, userId, refusal.Limit, request.Count);
            return SubmitResult.Refused(refusal);
        }

        LogQueued(logger, userId, jobs.Count, model.Id, batchId);
        foreach (var job in jobs)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.Generate, userId)
            {
                ModelId = model.Id,
                JobId = job.Id,
                Detail = $"{job.Mode} {resolved.Width}×{resolved.Height}, {resolved.Steps} steps, seed {job.Settings.Seed}, licence {model.Manifest!.Licence!.Id}",
                Channel = request.Channel,
            }, CancellationToken.None);
        }

        foreach (var job in jobs)
        {
            events.Publish(new JobEvent(JobEventKind.Queued, job.Id, userId, JobState.Queued, now) { TotalSteps = job.TotalSteps });
        }

        signal.Notify();
        return SubmitResult.Queued([.. jobs.Select(j => j.Id)], seed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} queued {Count} job(s) for model {ModelId} (batch {BatchId})")]
    private static partial void LogQueued(ILogger logger, string userId, int count, string modelId, Guid batchId);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} was refused {Count} job(s) by the {Limit} limit")]
    private static partial void LogRefused(ILogger logger, string userId, QuotaLimitKind limit, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prompt of user {UserId} refused by the content policy (matched {Term})")]
    private static partial void LogPromptBlocked(ILogger logger, string userId, string term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId} was refused model {ModelId} by the account or model settings")]
    private static partial void LogAccessRefused(ILogger logger, string userId, string modelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId} was refused model {ModelId} (or a non-commercial input) by the licence policy")]
    private static partial void LogLicenceRefused(ILogger logger, string userId, string modelId);
}
