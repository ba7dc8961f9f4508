namespace FluxWeb.Application.Accounts;

public enum RegistrationMode
{
    /// <summary>Anyone may register until the first admin exists (the first account becomes that admin).</summary>
    UntilAdminExists = 0,

    /// <summary>Self-registration always allowed; new accounts are plain users.</summary>
    Open = 1,

    /// <summary>Only admins (UI or CLI) create accounts.</summary>
    Closed = 2,
}

public sealed class AccountOptions
{
    public const string SectionName = "Accounts";

    public RegistrationMode Registration { get; set; } = RegistrationMode.UntilAdminExists;

    public int PasswordMinimumLength { get; set; } = 8;

    public int MaxFailedSignInAttempts { get; set; } = 5;

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How often an open page (circuit) or job-hub connection re-checks its account and session in
    /// the database: a change made in another process (the CLI) reaches it within this time; one made
    /// through this server reaches it at once.
    /// </summary>
    public TimeSpan SessionRevalidationInterval { get; set; } = TimeSpan.FromSeconds(5);
}
