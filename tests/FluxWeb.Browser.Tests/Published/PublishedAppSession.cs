using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// One published app for every flow in a collection (<see cref="PublishedAppCollection"/> or
/// <see cref="SecondPublishedAppCollection"/>): published once per source state, started from another
/// working directory with the image's environment, and set up through its own CLI (an administrator and
/// three demo models) before it serves.
/// </summary>
public sealed class PublishedAppSession : AppBrowserSession
{
    public const string AdminEmail = "operator@example.com";
    public const string DistilledModel = "demo";
    public const string BaseModel = "demo-base";
    public const string NonCommercialModel = "demo-nc";

    private static int started;

    private PublishedApp? app;

    public PublishedApp App => app ?? throw new InvalidOperationException("The published app has not started.");

    protected override async Task<string> StartAppAsync()
    {
        // Each collection has its own app; their logs are kept side by side in the artefacts folder.
        var number = Interlocked.Increment(ref started);
        app = await PublishedApp.CreateAsync(number == 1 ? "published-app" : $"published-app-{number}");
        await app.RunCommandAsync(new Dictionary<string, string> { ["FLUXWEB_ADMIN_PASSWORD"] = SiteClient.StrongPassword }, "users", "create-admin", "--email", AdminEmail);
        await app.RunCommandAsync(null, "models", "create-demo", "--id", DistilledModel);
        await app.RunCommandAsync(null, "models", "create-demo", "--id", BaseModel, "--variant", "base");
        await app.RunCommandAsync(null, "models", "create-demo", "--id", NonCommercialModel, "--licence", "FLUX-Non-Commercial");
        await app.StartAsync();
        return app.BaseUrl;
    }

    public override async Task CreateAccountAsync(string email, string role = "User", string accountType = "Commercial") =>
        await App.RunCommandAsync(
            new Dictionary<string, string> { ["FLUXWEB_USER_PASSWORD"] = SiteClient.StrongPassword },
            "users", "create", "--email", email, "--role", role, "--account-type", accountType);

    protected override async Task StopAppAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }
}

/// <summary>
/// The flows that run against the published executable, in two lanes: each lane shares one running app and runs
/// its flows one after another, and the two lanes run side by side (xUnit runs collections in parallel). One lane
/// took about 4.5 minutes on 2 busy cores and was the whole test run's longest path; a second app costs one start
/// (about 20 s). A flow may go in either lane: none depends on another's accounts, images or settings.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PublishedAppCollection : ICollectionFixture<PublishedAppSession>
{
    public const string Name = "published app";
}

/// <summary>The second lane of published-app flows (see <see cref="PublishedAppCollection"/>).</summary>
[CollectionDefinition(Name)]
public sealed class SecondPublishedAppCollection : ICollectionFixture<PublishedAppSession>
{
    public const string Name = "published app, second lane";
}
