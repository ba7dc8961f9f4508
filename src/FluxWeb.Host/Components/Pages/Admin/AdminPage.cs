using System.Security.Claims;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Host.Components.Account;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace FluxWeb.Host.Components.Pages.Admin;

/// <summary>
/// The admin pages' base: every admin service call names its actor, and the services check in the
/// database that the actor is still an administrator. When they refuse, the page drops what it shows
/// and has its session re-checked at once, which sends the browser to the sign-in page with the reason.
/// </summary>
public abstract class AdminPage : ComponentBase
{
    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [Inject]
    private AuthenticationStateProvider Authentication { get; set; } = default!;

    /// <summary>Set once an admin service refused this page's user: show nothing more.</summary>
    protected bool AccessEnded { get; private set; }

    protected async Task<ChangeActor> ActorAsync() =>
        ChangeActor.Ui((await AuthenticationState).User.FindFirstValue(ClaimTypes.NameIdentifier)!);

    /// <summary>Runs <paramref name="work"/> as this page's administrator; false (and the page ended) when they no longer are one.</summary>
    protected async Task<bool> AsAdminAsync(Func<ChangeActor, Task> work)
    {
        if (AccessEnded)
        {
            return false;
        }

        try
        {
            await work(await ActorAsync());
            return true;
        }
        catch (AdminAccessDeniedException)
        {
            AccessEnded = true;
            OnAccessEnded();
            (Authentication as SessionAuthenticationStateProvider)?.RevalidateNow();
            return false;
        }
    }

    /// <summary>Forget what the page loaded (other users' data) the moment access ends.</summary>
    protected abstract void OnAccessEnded();
}
