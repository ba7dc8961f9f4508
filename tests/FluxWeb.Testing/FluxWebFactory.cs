using FluxWeb.Inference.Pipeline;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Testing;

/// <summary>
/// The real app on its own SQLite file and models folder. Tests configure it through ordinary
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

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            folder.Dispose();
        }
    }
}
