using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity;
using FluxWeb.Application.Images;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Testing;

/// <summary>
/// The real app (its entry point, so its one composition and start-up steps) on its own SQLite file
/// (a copy of the migrated template) and models folder. Tests configure it through ordinary
/// configuration keys, exactly as an operator would.
/// </summary>
public class FluxWebFactory : WebApplicationFactory<Program>
{
    private readonly TempFolder folder = new("fluxweb-web");
    private readonly Dictionary<string, string?> settings = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<Action<IServiceCollection>> serviceOverrides = [];

    public FluxWebFactory()
    {
        settings["FluxWeb:DataDirectory"] = DataDirectory;
        settings["FluxWeb:ModelsDirectory"] = ModelsDirectory;
        // The CPU is the device under test; skipping the CUDA probe keeps start-up fast and deterministic.
        settings["Inference:Device"] = "Cpu";
        // Tiny test models: one thread avoids thread-pool spinning on a busy 2-core CI machine (4× faster here).
        settings["Inference:CpuThreads"] = "1";
        // Tests never reach the internet: a test that wants the background install turns it on with a local registry.
        settings["Provenance:Filters:AutoInstall"] = "false";
        settings["Provenance:Filters:Registry"] = "http://127.0.0.1:9/unreachable-in-tests";
        Directory.CreateDirectory(ModelsDirectory);
        TestDatabase.CopyInto(DataDirectory);
    }

    public string DataDirectory => folder.Combine("data");

    public string ModelsDirectory => folder.Combine("models");

    public CapturingLoggerProvider Logs { get; } = new();

    public FluxWebFactory With(string key, string? value)
    {
        settings[key] = value;
        return this;
    }

    /// <summary>Replaces the "engine not available" stand-in with <paramref name="engine"/> (usually a <see cref="FakeImageGenerator"/>) and installs the test model packages.</summary>
    public FluxWebFactory WithEngine(IImageGenerator engine)
    {
        QueueHost.InstallModels(ModelsDirectory);
        serviceOverrides.Add(services => services.AddSingleton(engine));
        return this;
    }

    public FluxWebFactory WithServices(Action<IServiceCollection> configure)
    {
        serviceOverrides.Add(configure);
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(settings));
        builder.ConfigureLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        builder.ConfigureTestServices(services => serviceOverrides.ForEach(configure => configure(services)));
    }

    public HttpClient CreateBrowserClient() =>
        CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    public T Service<T>()
        where T : notnull => Services.GetRequiredService<T>();

    /// <summary>The id of the account with this e-mail (which must exist).</summary>
    public async Task<string> UserIdAsync(string email)
    {
        await using var scope = Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync(email);
        return user?.Id ?? throw new InvalidOperationException($"No account {email}.");
    }

    /// <summary>A context of its own for one look at (or change to) the app's database.</summary>
    public async Task<T> WithDbAsync<T>(Func<FluxWebDbContext, Task<T>> work)
    {
        await using var db = await Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await work(db);
    }

    /// <summary>A new API key of <paramref name="userId"/>'s, made as the command line makes them.</summary>
    public async Task<string> CreateKeyAsync(string userId, string name, ApiKeyScope scope)
    {
        var (created, error) = await Service<ApiKeyService>().CreateAsync(userId, name, scope, ChangeActor.CommandLine);
        return created?.Key ?? throw new InvalidOperationException($"The key was not made: {error}");
    }

    /// <summary>A script's client: no cookies, the key as a bearer token.</summary>
    public HttpClient KeyClient(string key)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>
    /// Back to a freshly started app for the next test of a class that shares this host (CleanArchitecture's
    /// <c>DatabaseResetter</c>): every row gone except the schema's and the roles the start-up creates, the
    /// stored content policy re-applied, stored files removed, the captured log cleared. Only for tests of
    /// what lives in the database and on disk: state a test keeps in memory of its own (clients, subscriptions)
    /// is the test's to dispose.
    /// </summary>
    public async Task ResetAsync()
    {
        await TestDatabase.DeleteRowsAsync(Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>());
        await Services.GetRequiredService<ContentPolicy>().ApplyStoredAsync();
        var images = Service<ImageStore>().Root;
        if (Directory.Exists(images))
        {
            Directory.Delete(images, recursive: true);
        }

        Logs.Lines.Clear();
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            folder.Dispose();
        }
    }
}
