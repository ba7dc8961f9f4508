using Bunit;
using Bunit.TestDoubles;
using Microsoft.AspNetCore.Components;
using FluxWeb.Host.Components.Pages.Studio;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>
/// The one bUnit wiring for FluxWeb's components (MudBlazor's <c>TestContextExtensions.AddTestServices</c>):
/// MudBlazor's services, loose JS interop, the interactive server renderer, authorization, and, given a test
/// host, every service a page injects from the app's own container, as in the running app, so no test keeps a
/// list of services to forward by hand.
/// </summary>
internal static class BunitTestServices
{
    public static BunitAuthorizationContext AddTestServices(this BunitContext ctx, IServiceProvider? app = null, bool interactive = true)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        var authorization = ctx.AddAuthorization();
        if (app is not null)
        {
            // The per-circuit UI state the web app registers (the loop's buttons appear on gallery pages too).
            var before = ctx.Services.Count;
            ctx.Services.AddStudio();
            BunitWiring.ForwardDependencies(ctx.Services, ctx.Services.Skip(before).ToList(), app);
            ctx.Services.AddFallbackServiceProvider(app);
        }

        // Last: setting the renderer builds the service provider, after which nothing can be added.
        ctx.SetRendererInfo(new RendererInfo(interactive ? "Server" : "Static", interactive));
        return authorization;
    }
}
