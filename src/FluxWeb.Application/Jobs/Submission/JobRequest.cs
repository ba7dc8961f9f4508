using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Generation;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// What a door (Studio, CLI, REST API) asks for: the <see cref="GenerationSettings"/> of the images
/// and how many. Input images are referenced by id: they were uploaded first and belong to the same
/// user. <see cref="Count"/> images become that many jobs with seeds <c>Seed … Seed + Count − 1</c>.
/// </summary>
public sealed record JobRequest
{
    public required GenerationSettings Settings { get; init; }

    public int Count { get; init; } = 1;

    /// <summary>A board the caller owns or contributes to: each result is put on it when its job succeeds.</summary>
    public Guid? AutoAddBoardId { get; init; }

    /// <summary>The door the request came through (ui, api, cli), for the audit log.</summary>
    public string Channel { get; init; } = "ui";
}

/// <summary>The answer of <see cref="GenerationService.SubmitAsync"/>: the queued jobs, or why nothing was queued.</summary>
public sealed record SubmitResult(IReadOnlyList<Guid> JobIds, ulong Seed, string? Error, QuotaRefusal? Refusal)
{
    /// <summary>True when the account's licence type does not allow the request (not a quota or a bad input).</summary>
    public bool LicenceRefused { get; init; }

    /// <summary>True when the account is disabled, or an administrator disabled the model or keeps it from the account's role.</summary>
    public bool AccessRefused { get; init; }

    /// <summary>True when the image a request starts from (the loop's) is not one the caller may see: answered like an unknown id.</summary>
    public bool NotFound { get; init; }

    public bool Accepted => Error is null;

    public static SubmitResult Queued(IReadOnlyList<Guid> jobIds, ulong seed) => new(jobIds, seed, null, null);

    public static SubmitResult Invalid(string error) => new([], 0, error, null);

    public static SubmitResult Unknown(string error) => new([], 0, error, null) { NotFound = true };

    public static SubmitResult Refused(QuotaRefusal refusal) => new([], 0, refusal.Message, refusal);

    public static SubmitResult RefusedByLicence(string reason) => new([], 0, reason, null) { LicenceRefused = true };

    public static SubmitResult Forbidden(string reason) => new([], 0, reason, null) { AccessRefused = true };

    /// <summary>What each admission refusal means at the doors: 400, 403 (access or licence) or 429.</summary>
    public static SubmitResult From(AdmissionRefusal refusal) => refusal.Check switch
    {
        AdmissionCheck.ModelAccess => Forbidden(refusal.Message),
        AdmissionCheck.Licence => RefusedByLicence(refusal.Message),
        AdmissionCheck.Quota when refusal.Quota is { } quota => Refused(quota),
        _ => Invalid(refusal.Message),
    };
}
