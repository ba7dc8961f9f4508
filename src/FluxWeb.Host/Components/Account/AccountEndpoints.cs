using FluxWeb.Host.Hosting;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace FluxWeb.Host.Components.Account;

internal static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var account = endpoints.MapGroup("/Account").ServesImageData(ImageDataKind.None);

        // A POST with the antiforgery token (the layout's sign-out button), never a GET a link could trigger
        // nor a form on another site: without a valid token the session stays as it is.
        account.MapPost("/Logout", async (HttpContext context, [FromServices] IAntiforgery antiforgery, [FromServices] SignInManager<FluxUser> signInManager, [FromServices] FluxWeb.Application.Audit.AuditLog audit, [FromServices] ILoggerFactory loggers) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.Text("The sign-out form had no valid antiforgery token (it came from another site, or the page is stale): you are still signed in. Reload the page and sign out again.", "text/plain", statusCode: StatusCodes.Status400BadRequest);
            }

            var userId = signInManager.UserManager.GetUserId(context.User);
            await signInManager.SignOutAsync();
            await audit.RecordAsync(new FluxWeb.Application.Audit.AuditEntry(FluxWeb.Domain.Audit.AuditActions.SignOut, userId) { Channel = "ui" });
            loggers.CreateLogger("FluxWeb.Account").LogInformation("User signed out");
            return Results.LocalRedirect("~/Account/Login");
        }).RequireAuthorization();

        return endpoints;
    }
}
