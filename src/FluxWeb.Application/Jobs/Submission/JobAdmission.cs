using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Application.Models;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Packages;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>The admission check that refused a generation, in the order they run.</summary>
public enum AdmissionCheck
{
    /// <summary>The prompt is too long, or the content policy blocks it.</summary>
    Prompt,

    /// <summary>The model is not installed (or its package is broken).</summary>
    ModelMissing,

    /// <summary>The account is disabled, or an administrator disabled the model or keeps it from the account's role.</summary>
    ModelAccess,

    /// <summary>The account's licence type may not use the model or one of the input pictures.</summary>
    Licence,

    /// <summary>An input picture is missing, not the owner's, or of the wrong kind.</summary>
    Inputs,

    /// <summary>The owner's quota has no room (at submission only: a queued job already holds its place).</summary>
    Quota,
}

/// <summary>Why a generation was not admitted: the check, the reason for the user, and the quota's details when it was the quota.</summary>
public sealed record AdmissionRefusal(AdmissionCheck Check, string Message, QuotaRefusal? Quota = null);

/// <summary>A generation that passed every check: its model and its decoded input pictures, disposed by the caller.</summary>
internal sealed class Admitted(InstalledModel model, JobInputs inputs) : IDisposable
{
    public InstalledModel Model { get; } = model;

    public ModelPackageManifest Manifest => Model.Manifest!;

    public JobInputs Inputs { get; } = inputs;

    public void Dispose() => Inputs.Dispose();
}

/// <summary>Where a generation is checked: at a door (Studio, API, CLI) before it is queued, or at the GPU's door before a queued job runs.</summary>
public sealed record AdmissionDoor(string Channel, int Images, Guid? JobId)
{
    public static AdmissionDoor Submission(string channel, int images) => new(channel, images, null);

    /// <summary>The worker: the job was counted in the quota when it was queued, so the quota is not asked again.</summary>
    public static AdmissionDoor Run(Guid jobId) => new("worker", 0, jobId);

    public bool IsRun => JobId is not null;
}

/// <summary>
/// The rules a generation must pass, composed once and run in one order, at submission
/// (<see cref="GenerationService"/>) and again by the worker before a queued job reaches the GPU
/// (<see cref="JobRunner"/>), since the account, the model's settings, the licence and the inputs may
/// change while a job waits: 1. the prompt (length, content policy), 2. the model (installed, then an
/// administrator's access rules), 3. the licence (the model, then every input picture), 4. the inputs
/// (there, the owner's, the right kind, decodable), 5. the quota (at submission). The first refusal
/// wins; model-access and licence refusals are audited with the door's channel.
/// </summary>
public sealed partial class JobAdmission(
    ModelCatalog catalog,
    PromptFilter promptFilter,
    ModelAccessService modelAccess,
    LicenceGate licences,
    ImageAccess access,
    QuotaService quotas,
    AuditLog audit,
    ILogger<JobAdmission> logger)
{
    internal async Task<(Admitted? Admitted, AdmissionRefusal? Refusal)> AdmitAsync(string userId, GenerationSettings settings, AdmissionDoor door, CancellationToken cancellationToken)
    {
        if (GenerationLimits.PromptProblem(settings.Prompt) is { } tooLong)
        {
            return Refuse(AdmissionCheck.Prompt, tooLong);
        }

        if (GenerationLimits.NegativePromptProblem(settings.NegativePrompt) is { } negativeTooLong)
        {
            return Refuse(AdmissionCheck.Prompt, negativeTooLong);
        }

        // The negative prompt is not put to the content policy: guidance is at least 1 for every model (the package
        // validator's rule), so it only steers away from what it names, and "nsfw, nudity" there is a safety aid (ADR 0030).

        if (promptFilter.Check(settings.Prompt) is { Blocked: true } blocked)
        {
            LogPromptBlocked(logger, userId, blocked.MatchedTerm ?? "(classifier)", door.Channel);
            return Refuse(AdmissionCheck.Prompt, blocked.Message ?? "The prompt was refused by the content policy of this server.");
        }

        if (catalog.Find(settings.ModelId) is not { Manifest: not null } model)
        {
            return Refuse(AdmissionCheck.ModelMissing, $"The model '{settings.ModelId}' is not installed on this server.");
        }

        // Installed but broken, or computing in a precision this device cannot run (bf16 on the CPU): say which.
        if (model.Problem is { } unusable)
        {
            return Refuse(AdmissionCheck.ModelMissing, $"The model '{settings.ModelId}' cannot be used: {unusable}");
        }

        if (await modelAccess.AdminRefusalAsync(userId, model.Id, cancellationToken) is { } accessRefusal)
        {
            LogAccessRefused(logger, userId, model.Id, door.Channel);
            await AuditAsync(AuditActions.GenerateRefused, userId, model.Id, accessRefusal, door);
            return Refuse(AdmissionCheck.ModelAccess, accessRefusal);
        }

        // The licence decides before any input is decoded: for the model, then for each input picture.
        var licenceRefusal = (await licences.MayGenerateAsync(userId, model.Manifest!, cancellationToken)).Reason;
        var (inputs, inputProblem) = licenceRefusal is null
            ? await JobInputs.LoadAsync(access, userId, settings, cancellationToken)
            : (null, null);
        licenceRefusal ??= inputProblem is { LicenceRefused: true } ? inputProblem.Message : null;
        if (licenceRefusal is not null)
        {
            inputs?.Dispose();
            LogLicenceRefused(logger, userId, model.Id, door.Channel);
            await AuditAsync(AuditActions.LicenceRefused, userId, model.Id, licenceRefusal, door);
            return Refuse(AdmissionCheck.Licence, licenceRefusal);
        }

        if (inputs is null)
        {
            return Refuse(AdmissionCheck.Inputs, inputProblem!.Message);
        }

        if (!door.IsRun && await quotas.PrecheckAsync(userId, door.Images, cancellationToken) is { } quota)
        {
            inputs.Dispose();
            LogQuotaRefused(logger, userId, quota.Limit, door.Images);
            return (null, new AdmissionRefusal(AdmissionCheck.Quota, quota.Message, quota));
        }

        return (new Admitted(model, inputs), null);
    }

    private static (Admitted?, AdmissionRefusal?) Refuse(AdmissionCheck check, string message) => (null, new AdmissionRefusal(check, message));

    // Recorded even when the caller stops waiting: the refusal happened.
    private Task AuditAsync(string action, string userId, string modelId, string detail, AdmissionDoor door) =>
        audit.RecordAsync(new AuditEntry(action, userId) { Succeeded = false, ModelId = modelId, JobId = door.JobId, Detail = detail, Channel = door.Channel }, CancellationToken.None);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prompt of user {UserId} refused by the content policy (matched {Term}) at {Channel}")]
    private static partial void LogPromptBlocked(ILogger logger, string userId, string term, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId} was refused model {ModelId} by the account or model settings at {Channel}")]
    private static partial void LogAccessRefused(ILogger logger, string userId, string modelId, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId} was refused model {ModelId} (or a non-commercial input) by the licence policy at {Channel}")]
    private static partial void LogLicenceRefused(ILogger logger, string userId, string modelId, string channel);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} was refused {Count} job(s) by the {Limit} limit")]
    private static partial void LogQuotaRefused(ILogger logger, string userId, QuotaLimitKind limit, int count);
}
