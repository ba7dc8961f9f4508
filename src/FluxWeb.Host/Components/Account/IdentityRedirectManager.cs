using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using FluxWeb.Persistence.Accounts;

namespace FluxWeb.Host.Components.Account;

internal sealed class IdentityRedirectManager(NavigationManager navigationManager)
{
    public const string StatusCookieName = "Identity.StatusMessage";

    private static readonly CookieBuilder StatusCookieBuilder = new()
    {
        SameSite = SameSiteMode.Strict,
        HttpOnly = true,
        IsEssential = true,
        MaxAge = TimeSpan.FromSeconds(5),
    };

    /// <summary>Names a deleted account to the next page this browser loads, so sign-out.js forgets what the Studio kept here for it.</summary>
    public const string ForgetUserCookieName = "FluxWeb.ForgetUser";

    public void RedirectTo(string? uri) => navigationManager.NavigateTo(OnThisSite(uri));

    /// <summary>
    /// The account was deleted from this browser: like a sign-out, it should leave nothing of the person here (ADR 0017).
    /// The deletion is known only once the form has been handled, so the page the browser goes to next carries the
    /// instruction (<see cref="TakeUserToForget"/>, read by sign-out.js), not the form.
    /// </summary>
    public static void ForgetUserInThisBrowser(string userId, HttpContext context) =>
        context.Response.Cookies.Append(ForgetUserCookieName, userId, StatusCookieBuilder.Build(context));

    public static string? TakeUserToForget(HttpContext context)
    {
        var userId = context.Request.Cookies[ForgetUserCookieName];
        if (userId is not null)
        {
            context.Response.Cookies.Delete(ForgetUserCookieName);
        }

        return userId;
    }

    /// <summary>
    /// <paramref name="uri"/> as a path on this site, or the home page when it leads anywhere else
    /// (another host, //host, /\host, javascript:, a malformed address). Judged by where the browser
    /// would actually go, so no spelling of an off-site address gets through, and none turns a
    /// successful sign-in into an error page.
    /// </summary>
    public string OnThisSite(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri) || uri.Any(char.IsControl))
        {
            return "";
        }

        var site = new Uri(navigationManager.BaseUri);
        if (!Uri.TryCreate(site, uri.Trim(), out var target)
            || target.Scheme != site.Scheme
            || !string.Equals(target.Authority, site.Authority, StringComparison.OrdinalIgnoreCase)
            || !target.AbsolutePath.StartsWith(site.AbsolutePath, StringComparison.Ordinal))
        {
            return "";
        }

        return target.PathAndQuery[site.AbsolutePath.Length..] + target.Fragment;
    }

    public void RedirectTo(string uri, Dictionary<string, object?> queryParameters)
    {
        var uriWithoutQuery = navigationManager.ToAbsoluteUri(uri).GetLeftPart(UriPartial.Path);
        var newUri = navigationManager.GetUriWithQueryParameters(uriWithoutQuery, queryParameters);
        RedirectTo(newUri);
    }

    public void RedirectToWithStatus(string uri, string message, HttpContext context)
    {
        context.Response.Cookies.Append(StatusCookieName, message, StatusCookieBuilder.Build(context));
        RedirectTo(uri);
    }

    private string CurrentPath => navigationManager.ToAbsoluteUri(navigationManager.Uri).GetLeftPart(UriPartial.Path);

    public void RedirectToCurrentPage() => RedirectTo(CurrentPath);

    public void RedirectToCurrentPageWithStatus(string message, HttpContext context)
        => RedirectToWithStatus(CurrentPath, message, context);

    public void RedirectToInvalidUser(UserManager<FluxUser> userManager, HttpContext context)
        => RedirectToWithStatus("Account/InvalidUser", $"Error: Unable to load user with ID '{userManager.GetUserId(context.User)}'.", context);
}
