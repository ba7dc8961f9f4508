namespace FluxWeb.Provenance.C2pa;

/// <summary>What <see cref="C2paVerifier"/> found; status codes follow the C2PA specification's names.</summary>
public sealed record C2paVerification(C2paValidationState State, IReadOnlyList<C2paStatus> Failures)
{
    public string? ManifestLabel { get; init; }

    public string? ClaimGenerator { get; init; }

    public string? Title { get; init; }

    public string? DigitalSourceType { get; init; }

    public string? ModelId { get; init; }

    public string? ModelLicence { get; init; }

    public IReadOnlyList<C2paIngredient> Ingredients { get; init; } = [];

    public string? Signer { get; init; }

    public string? SignerIssuer { get; init; }

    public static C2paVerification Absent { get; } = new(C2paValidationState.Absent, []);
}

public sealed record C2paStatus(string Code, string Explanation);

public sealed record C2paIngredient(string? Title, string? Format, string? InstanceId, string? Relationship, bool HasThumbnail);
