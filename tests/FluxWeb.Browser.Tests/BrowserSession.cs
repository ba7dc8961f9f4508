using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// The app in this process (<see cref="FluxWebFactory"/>) on a real Kestrel port: flows that also
/// look inside (the database, a fake engine, the image store) run against this one.
/// </summary>
public class BrowserSession : AppBrowserSession
{
    public FluxWebFactory Factory { get; private set; } = default!;

    protected override Task<string> StartAppAsync()
    {
        Factory = CreateFactory();
        Factory.UseKestrel(0);
        Factory.StartServer();
        var addresses = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        return Task.FromResult(addresses.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <summary>The app under test; a session for a feature may configure it (e.g. a fake engine).</summary>
    protected virtual FluxWebFactory CreateFactory() => new();

    public override async Task CreateAccountAsync(string email, string role = "User", string accountType = "Commercial")
    {
        var result = await Factory.Services.GetRequiredService<UserAdministration>()
            .CreateAsync(email, SiteClient.StrongPassword, role, Enum.Parse<AccountType>(accountType), ChangeActor.CommandLine);
        Assert.True(result.Succeeded, result.Error);
    }

    protected override Task StopAppAsync()
    {
        // Kept beside the screenshots, as the published app's log is: a page that shows "An unhandled error has
        // occurred" is explained only by what the server logged.
        if (Factory is not null)
        {
            File.WriteAllLines(Path.Combine(ArtefactsDirectory, $"in-process-{GetType().Name}.log"), Factory.Logs.Lines);
        }

        Factory?.Dispose();
        return Task.CompletedTask;
    }
}
