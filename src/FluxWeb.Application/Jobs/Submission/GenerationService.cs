using System.Security.Cryptography;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// The one door to the GPU: the Studio, the CLI and the REST API all submit here. A request passes
/// <see cref="JobAdmission"/> (prompt, model access, licence, inputs, quota), is checked by the engine
/// (sizes, steps, pictures) without touching the GPU, then its jobs are written within the owner's
/// quota in one transaction, and the worker is woken.
/// </summary>
public sealed partial class GenerationService(
    JobAdmission admission,
    IImageGenerator generator,
    AuditLog audit,
    QuotaService quotas,
    GpuCostEstimator estimator,
    IJobEvents events,
    JobQueueSignal signal,
    GenerationLimits limits,
    BoardAutoAdd autoAdd,
    AppClock time,
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
        if (limits.BatchProblem(request.Count) is { } batchProblem)
        {
            return SubmitResult.Invalid(batchProblem);
        }

        if (request.AutoAddBoardId is { } boardId && !await autoAdd.MayAddAsync(userId, boardId, cancellationToken))
        {
            // One answer for unknown boards, strangers' boards and boards shared to look at: nothing to learn from it.
            return SubmitResult.Invalid(BoardAutoAdd.UnknownBoard);
        }

        var (admitted, refusal) = await admission.AdmitAsync(userId, request.Settings, AdmissionDoor.Submission(request.Channel, request.Count), cancellationToken);
        if (admitted is null)
        {
            return SubmitResult.From(refusal!);
        }

        var seed = request.Settings.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        var settings = request.Settings with { Seed = seed };
        var model = admitted.Manifest;
        ResolvedGeneration resolved;
        using (admitted)
        {
            try
            {
                resolved = generator.Validate(admitted.Inputs.ToRequest(settings));
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
            AutoAddBoardId = request.AutoAddBoardId,
        }).ToList();

        if (await quotas.EnqueueWithinQuotaAsync(userId, jobs, cancellationToken) is { } quota)
        {
            LogRefused(logger, userId, quota.Limit, request.Count);
            return SubmitResult.Refused(quota);
        }

        LogQueued(logger, userId, jobs.Count, model.Id, batchId);
        foreach (var job in jobs)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.Generate, userId)
            {
                ModelId = model.Id,
                JobId = job.Id,
                Detail = $"{job.Mode} {resolved.Width}×{resolved.Height}, {resolved.Steps} steps, seed {job.Settings.Seed}, licence {model.Licence!.Id}",
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
}
