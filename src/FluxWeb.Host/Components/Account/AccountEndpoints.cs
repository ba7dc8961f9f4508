using FluxWeb.Host.Hosting;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace FluxWeb.Host.Components.Account;

internal static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var account = endpoints.MapGroup("/Account").ServesImageData(ImageDataKind.None);

        // A POST with the antiforgery token (the layout's sign-out button), never a GET a link could trigger.
        account.MapPost("/Logout", async (HttpContext context, [FromServices] SignInManager<FluxUser> signInManager, [FromServices] FluxWeb.Application.Audit.AuditLog audit, [FromServices] ILoggerFactory loggers) =>
        {
            var userId = signInManager.UserManager.GetUserId(context.User);
            await signInManager.SignOutAsync();
            await audit.RecordAsync(new FluxWeb.Application.Audit.AuditEntry(FluxWeb.Persistence.Audit.AuditActions.SignOut, userId) { Channel = "ui" });
            loggers.CreateLogger("FluxWeb.Account").LogInformation("User signed out");
            return TypedResults.LocalRedirect("~/Account/Login");
        }).RequireAuthorization();

        return endpoints;
    }
}
