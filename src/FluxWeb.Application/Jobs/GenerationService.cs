using System.Security.Cryptography;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Application.Models;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    IOptions<QueueOptions> options,
    TimeProvider time,
    ILogger<GenerationService> logger)
{
    /// <summary>Far beyond what the text encoder reads (512 tokens); only keeps absurd prompts out of the database.</summary>
    public const int MaxPromptCharacters = 10_000;

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
        if (request.Prompt.Length > MaxPromptCharacters)
        {
            return SubmitResult.Invalid($"The prompt is too long: at most {MaxPromptCharacters} characters.");
        }

        if (promptFilter.Check(request.Prompt) is { Blocked: true } blocked)
        {
            LogPromptBlocked(logger, userId, blocked.MatchedTerm ?? "(classifier)");
            return SubmitResult.Invalid(blocked.Message ?? "The prompt was refused by the content policy of this server.");
        }

        var maxBatch = options.Value.MaxBatchSize;
        if (request.Count < 1 || request.Count > maxBatch)
        {
            return SubmitResult.Invalid($"Ask for between 1 and {maxBatch} images at a time.");
        }

        if (await quotas.PrecheckAsync(userId, request.Count, cancellationToken) is { } early)
        {
            LogRefused(logger, userId, early.Limit, request.Count);
            return SubmitResult.Refused(early);
        }

        var model = catalog.List().FirstOrDefault(m => string.Equals(m.Id, request.ModelId, StringComparison.Ordinal));
        if (model is null || model.Manifest is null)
        {
            return SubmitResult.Invalid($"The model '{request.ModelId}' is not installed on this server.");
        }

        if (model.Problem is { } unusable)
        {
            return SubmitResult.Invalid($"The model '{request.ModelId}' cannot be used: {unusable}");
        }

        if (await modelAccess.AdminRefusalAsync(userId, model.Id, cancellationToken) is { } accessRefusal)
        {
            LogAccessRefused(logger, userId, model.Id);
            await audit.RecordAsync(new AuditEntry(AuditActions.GenerateRefused, userId) { Succeeded = false, ModelId = model.Id, Detail = accessRefusal, Channel = request.Channel }, cancellationToken);
            return SubmitResult.Forbidden(accessRefusal);
        }

        var licenceRefusal = (await licences.MayGenerateAsync(userId, model.Manifest!, cancellationToken)).Reason;
        var (inputs, inputProblem) = licenceRefusal is null
            ? await JobInputs.LoadAsync(access, userId, request.ReferenceImageIds, request.SourceImageId, request.MaskImageId, cancellationToken)
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

        var seed = request.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        var template = new Job
        {
            OwnerId = userId,
            ModelId = model.Id,
            Prompt = request.Prompt,
            Width = request.Width,
            Height = request.Height,
            Steps = request.Steps,
            Guidance = request.Guidance,
            Seed = seed,
            Strength = request.Strength,
            FeatherComposite = request.FeatherComposite,
            ReferenceImageIds = [.. request.ReferenceImageIds],
            SourceImageId = request.SourceImageId,
            MaskImageId = request.MaskImageId,
        };

        ResolvedGeneration resolved;
        JobMode mode;
        using (inputs)
        {
            var generation = inputs.ToRequest(template);
            mode = JobInputs.ModeOf(generation);
            try
            {
                resolved = generator.Validate(generation);
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
            ModelId = model.Id,
            Mode = mode,
            Prompt = request.Prompt,
            Width = request.Width,
            Height = request.Height,
            Steps = request.Steps,
            Guidance = request.Guidance,
            ResolvedWidth = resolved.Width,
            ResolvedHeight = resolved.Height,
            ResolvedSteps = resolved.Steps,
            Seed = unchecked(seed + (ulong)index),
            Strength = request.Strength,
            FeatherComposite = request.FeatherComposite,
            ReferenceImageIds = [.. request.ReferenceImageIds],
            SourceImageId = request.SourceImageId,
            MaskImageId = request.MaskImageId,
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
                Detail = $"{job.Mode} {resolved.Width}×{resolved.Height}, {resolved.Steps} steps, seed {job.Seed}, licence {model.Manifest!.Licence!.Id}",
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
