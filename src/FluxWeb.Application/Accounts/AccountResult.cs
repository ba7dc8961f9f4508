namespace FluxWeb.Application.Accounts;

/// <summary>The outcome of an account operation: success, or one sentence a person can act on.</summary>
public sealed record AccountResult(bool Succeeded, string? Error, string? UserId = null)
{
    public static AccountResult Ok(string userId) => new(true, null, userId);

    public static AccountResult Fail(string error) => new(false, error);
}
