namespace FluxWeb.Domain.Audit;

/// <summary>Who did what, when: one row per sign-in, generation, download, deletion, licence refusal or admin change.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }

    public DateTime TimeUtc { get; set; }

    /// <summary>The acting user; null for anonymous actions (a failed sign-in) and the system.</summary>
    public string? ActorId { get; set; }

    /// <summary>Copied so the log stays readable after an account is deleted.</summary>
    public string? ActorEmail { get; set; }

    public required string Action { get; set; }

    public bool Succeeded { get; set; } = true;

    /// <summary>The account an action was done to (an admin's change, an image's owner).</summary>
    public string? TargetUserId { get; set; }

    /// <summary>The target's e-mail, copied like <see cref="ActorEmail"/>: it still names the account once it is deleted.</summary>
    public string? TargetEmail { get; set; }

    public string? ModelId { get; set; }

    public Guid? ImageId { get; set; }

    public Guid? JobId { get; set; }

    /// <summary>One sentence for people (the refusal reason, what changed).</summary>
    public string? Detail { get; set; }

    /// <summary>How the action came in: ui, api, cli, worker.</summary>
    public string? Channel { get; set; }
}

/// <summary>The actions the audit log records (stored as these strings).</summary>
public static class AuditActions
{
    public const string SignIn = "sign-in";
    public const string SignInFailed = "sign-in-failed";
    public const string SignOut = "sign-out";
    public const string Generate = "generate";
    public const string GenerateRefused = "generate-refused";
    public const string LicenceRefused = "licence-refused";
    public const string Download = "download";

    /// <summary>An image handed to a script through an API key.</summary>
    public const string Export = "export";
    public const string Delete = "delete";
    public const string AdminChange = "admin-change";
    public const string ApiKeyCreated = "api-key-created";
    public const string ApiKeyRevoked = "api-key-revoked";

    /// <summary>A board or an image shown to a teammate or the team, or the share changed.</summary>
    public const string Share = "share";

    /// <summary>A share ended by its owner (or by an administrator).</summary>
    public const string Unshare = "unshare";

    /// <summary>A teammate's shared image copied into one's own uploads to use as a reference.</summary>
    public const string Reuse = "reuse";

    /// <summary>Several images taken out at once as a ZIP file.</summary>
    public const string DownloadZip = "download-zip";

    /// <summary>An administrator opened someone else's images in the "All images" view.</summary>
    public const string AdminView = "admin-view";

    /// <summary>A person deleted their own account from its page (an administrator's deletion is an <see cref="AdminChange"/>).</summary>
    public const string AccountDeleted = "account-deleted";
}
