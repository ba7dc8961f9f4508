using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// One published app for every flow in the <see cref="PublishedAppCollection"/>: published once
/// per source state, started from another working directory with the image's environment, and
/// set up through its own CLI (an administrator and three demo models) before it serves.
/// </summary>
public sealed class PublishedAppSession : AppBrowserSession
{
    public const string AdminEmail = "operator@example.com";
    public const string DistilledModel = "demo";
    public const string BaseModel = "demo-base";
    public const string NonCommercialModel = "demo-nc";

    private PublishedApp? app;

    public PublishedApp App => app ?? throw new InvalidOperationException("The published app has not started.");

    protected override async Task<string> StartAppAsync()
    {
        app = await PublishedApp.CreateAsync();
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

/// <summary>The flows that run against the published executable share one running app (and run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class PublishedAppCollection : ICollectionFixture<PublishedAppSession>
{
    public const string Name = "published app";
}
