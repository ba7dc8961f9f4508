using FluxWeb.Application.Accounts;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace FluxWeb.Host.Components.Account;

/// <summary>
/// In the interactive layout: when the circuit's session ends (an administrator changed or disabled the
/// account, or it was signed out elsewhere), the page is left for the sign-in page, which says why.
/// Every page, not only those with [Authorize]: an open Studio or Gallery must not outlive the session either.
/// </summary>
public sealed class SessionWatch : ComponentBase, IDisposable
{
    [Inject]
    private AuthenticationStateProvider Authentication { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    private int leaving;

    protected override void OnInitialized()
    {
        if (RendererInfo.IsInteractive)
        {
            Authentication.AuthenticationStateChanged += OnChanged;
            // The session may have ended while the circuit started.
            LeaveIfEnded();
        }
    }

    private void OnChanged(Task<AuthenticationState> state) => LeaveIfEnded();

    private void LeaveIfEnded()
    {
        // Once: a second navigation would interrupt the first.
        if (Authentication is SessionAuthenticationStateProvider { Ended: { } reason } && Interlocked.Exchange(ref leaving, 1) == 0)
        {
            _ = InvokeAsync(() => Navigation.NavigateTo(SignInUrl(reason), forceLoad: true));
        }
    }

    /// <summary>
    /// The sign-in page with the reason it shows (a fixed text per reason: the address carries no message
    /// of its own). A plain sign-out needs no explanation: it may be this very tab's own.
    /// </summary>
    public static string SignInUrl(SessionEnd reason) => Code(reason) is { } code ? $"Account/Login?ended={code}" : "Account/Login";

    public static string? Code(SessionEnd reason) => reason switch
    {
        SessionEnd.RoleChanged => "role",
        SessionEnd.Disabled => "disabled",
        SessionEnd.AccountChanged => "account-changed",
        SessionEnd.Deleted => "deleted",
        _ => null,
    };

    /// <summary>What the sign-in page says for a reason code; null for none or an unknown code.</summary>
    public static string? Describe(string? code) => code switch
    {
        "role" => "You were signed out because an administrator changed your role. Sign in again to go on with your new permissions.",
        "disabled" => "You were signed out because an administrator disabled your account.",
        "account-changed" => "You were signed out because your account changed (for example, its password was reset). Sign in again.",
        "deleted" => "You were signed out because your account no longer exists.",
        _ => null,
    };

    public void Dispose() => Authentication.AuthenticationStateChanged -= OnChanged;
}
