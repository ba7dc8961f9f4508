using System.Security.Claims;
using System.Text.Encodings.Web;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Domain.ApiKeys;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// API keys next to the sign-in cookie. A key is read only by the <c>/api/v1</c> endpoints and the
/// job hub, which use <see cref="ApiPolicy"/>: with <c>Authorization: Bearer fw_…</c> (or, for the
/// hub's WebSocket, <c>?access_token=</c>) the key decides alone, otherwise the cookie does. Pages,
/// the admin endpoints and everything else use the cookie only, and a key's principal carries no
/// role, so a key never reaches an administrator function, even one made by an administrator.
/// </summary>
internal static class ApiAuthentication
{
    public const string KeyScheme = "ApiKey";

    /// <summary>Forwards to <see cref="KeyScheme"/> when a key is presented, else to the cookie; one identity per request, never both.</summary>
    public const string ApiScheme = "ApiKeyOrCookie";

    /// <summary>A signed-in user or a valid key of any scope.</summary>
    public const string ApiPolicy = "Api";

    /// <summary>Requests that change something (submit, upload, cancel): a signed-in user or a key with the generate scope.</summary>
    public const string ApiWritePolicy = "ApiWrite";

    /// <summary>Administrators, signed in with the cookie.</summary>
    public const string AdminPolicy = "Admin";

    public const string KeyIdClaim = "fluxweb:api-key";
    public const string ScopeClaim = "fluxweb:api-key-scope";
    public const string HubPath = "/api/v1/hub";

    public static bool IsApiKey(ClaimsPrincipal principal) => principal.HasClaim(c => c.Type == KeyIdClaim);

    /// <summary>The key a request presents, if any; null also for a non-bearer Authorization header.</summary>
    public static string? PresentedKey(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        // Browsers cannot set headers on a WebSocket, so SignalR sends the token in the query; only the hub reads it there.
        return request.Path.StartsWithSegments(HubPath, StringComparison.OrdinalIgnoreCase) && request.Query["access_token"].ToString() is { Length: > 0 } token
            ? token
            : null;
    }

    public static AuthenticationBuilder AddApiKeys(this AuthenticationBuilder authentication)
    {
        authentication.AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(KeyScheme, null);
        authentication.AddPolicyScheme(ApiScheme, "API key or sign-in cookie", options =>
            options.ForwardDefaultSelector = context => PresentedKey(context.Request) is not null ? KeyScheme : IdentityConstants.ApplicationScheme);
        return authentication;
    }

    public static AuthorizationBuilder AddApiPolicies(this AuthorizationBuilder authorization) =>
        authorization
            .AddPolicy(ApiPolicy, policy => policy.AddAuthenticationSchemes(ApiScheme).RequireAuthenticatedUser())
            .AddPolicy(ApiWritePolicy, policy => policy.AddAuthenticationSchemes(ApiScheme).RequireAuthenticatedUser()
                .RequireAssertion(context => !IsApiKey(context.User) || context.User.HasClaim(ScopeClaim, ApiKeyService.Describe(ApiKeyScope.Generate))))
            .AddPolicy(AdminPolicy, policy => policy.AddAuthenticationSchemes(IdentityConstants.ApplicationScheme).RequireRole(Domain.Accounts.Roles.Admin));
}

/// <summary>Checks a presented key against the database on every request: a revoked key or a disabled account fails at once.</summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory loggers, UrlEncoder encoder, ApiKeyService keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggers, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = ApiAuthentication.PresentedKey(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        var key = await keys.AuthenticateAsync(presented, Context.RequestAborted);
        if (key is null)
        {
            // Never log the presented value: it may be a real key with one character wrong.
            return AuthenticateResult.Fail("The API key is not valid: unknown, revoked, or its account is disabled.");
        }

        // No role claim: whatever its owner is, a key acts as a plain user of that account.
        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, key.UserId),
            new Claim(ClaimTypes.Name, key.Email ?? key.UserId),
            new Claim(ApiAuthentication.KeyIdClaim, key.KeyId.ToString()),
            new Claim(ApiAuthentication.ScopeClaim, ApiKeyService.Describe(key.Scope)),
        ], ApiAuthentication.KeyScheme);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiAuthentication.KeyScheme));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in",
            detail: "The API key is missing, unknown or revoked, or its account is disabled. Send Authorization: Bearer fw_… with an active key.").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed with this key",
            detail: "This API key has the read scope: it can list and download, but not submit, upload or cancel. Create a key with the generate scope.").ExecuteAsync(Context);
}
