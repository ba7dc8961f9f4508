using FluxWeb.Application.Accounts;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;

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

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

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
            _ = InvokeAsync(() => LeaveForAsync(SignInUrl(reason)));
        }
    }

    /// <summary>
    /// A full page load of <paramref name="url"/>, as <c>NavigateTo(url, forceLoad: true)</c> does, except when the
    /// browser is gone already. A session often ends because this very tab signed out: its page is leaving and its
    /// circuit is torn down while we ask. NavigateTo would report that cancelled call as an unhandled circuit error
    /// (logged twice at Error); here the browser that left needs taking nowhere, so it is not an error.
    /// </summary>
    private async Task LeaveForAsync(string url)
    {
        try
        {
            await JS.InvokeVoidAsync("location.assign", Navigation.ToAbsoluteUri(url).AbsoluteUri);
        }
        catch (Exception ex) when (ex is JSDisconnectedException or OperationCanceledException)
        {
            // The browser left (or stopped answering) before it could be sent anywhere.
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
