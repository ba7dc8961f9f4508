using System.Security.Claims;
using Bunit;
using Bunit.Rendering;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Components.Pages.Studio;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>
/// One bUnit wiring for pages on the real application: MudBlazor and loose JS interop, a live
/// (interactive) renderer, a signed-in user, the web app's own registrations of per-circuit UI state,
/// and every other service taken from a running application host (a <see cref="FluxWeb.Testing.QueueHost"/>),
/// so a page's dependencies are not listed by hand per test.
/// </summary>
internal static class BunitWiring
{
    public static BunitContext ForApplication(IServiceProvider application, JobActor user)
    {
        var ctx = new BunitContext();
        var auth = ctx.AddAuthorization();
        auth.SetAuthorized(user.UserId);
        if (user.IsAdmin)
        {
            auth.SetRoles(FluxWeb.Domain.Accounts.Roles.Admin);
        }

        // After the roles: bUnit's SetRoles builds the claims afresh, so set before it the user id was lost and an
        // administrator's Studio opened as an anonymous page.
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, user.UserId));

        ctx.Services.AddMudServices();
        var before = ctx.Services.Count;
        ctx.Services.AddStudio();
        ForwardDependencies(ctx.Services, ctx.Services.Skip(before).ToList(), application);
        // Components inject application services directly too (the jobs panel, the server panel).
        ctx.Services.AddFallbackServiceProvider(application);
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.SetRendererInfo(new RendererInfo("Server", true));
        return ctx;
    }

    /// <summary>The Studio page with the providers its menus, dialogs and snackbars render into, as the layout has them.</summary>
    public static IRenderedComponent<ContainerFragment> RenderStudio(BunitContext ctx) =>
        ctx.Render(builder =>
        {
            builder.OpenComponent<MudPopoverProvider>(0);
            builder.CloseComponent();
            builder.OpenComponent<MudDialogProvider>(1);
            builder.CloseComponent();
            builder.OpenComponent<MudSnackbarProvider>(2);
            builder.CloseComponent();
            builder.OpenComponent<Studio>(3);
            builder.CloseComponent();
        });

    /// <summary>
    /// The constructor dependencies of <paramref name="added"/> that the test context does not register
    /// itself come from the application, the same instances its worker and events use (a fallback
    /// provider only serves a component's own injections, not a registered service's constructor).
    /// </summary>
    internal static void ForwardDependencies(IServiceCollection services, IReadOnlyList<ServiceDescriptor> added, IServiceProvider application)
    {
        var dependencies = added
            .Select(d => d.ImplementationType)
            .OfType<Type>()
            .SelectMany(t => t.GetConstructors().Single().GetParameters())
            .Select(p => p.ParameterType)
            .Distinct();
        foreach (var type in dependencies.Where(t => services.All(d => d.ServiceType != t)).ToList())
        {
            var instance = application.GetService(type) ?? throw new InvalidOperationException($"The application host does not provide {type}.");
            services.AddSingleton(type, instance);
        }
    }
}
