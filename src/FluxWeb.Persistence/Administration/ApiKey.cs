using FluxWeb.Domain.ApiKeys;
using FluxWeb.Persistence.Accounts;

namespace FluxWeb.Persistence.Administration;

/// <summary>
/// A per-user key for scripts. Only the SHA-256 of the key is stored: the key itself is shown once
/// when it is created and cannot be recovered. The prefix is random too and only identifies the key
/// (for display and lookup); it proves nothing on its own.
/// </summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public required string UserId { get; set; }

    public FluxUser? User { get; set; }

    public required string Name { get; set; }

    public ApiKeyScope Scope { get; set; }

    /// <summary>The key's first characters (<c>fw_</c> and 8 random ones), unique; shown in lists so a person can tell keys apart.</summary>
    public required string Prefix { get; set; }

    /// <summary>SHA-256 of the whole key.</summary>
    public required byte[] Hash { get; set; }

    public DateTime CreatedUtc { get; set; }

    /// <summary>Updated at most once a minute per key, so a busy script does not turn every read into a write.</summary>
    public DateTime? LastUsedUtc { get; set; }

    public DateTime? RevokedUtc { get; set; }
}
