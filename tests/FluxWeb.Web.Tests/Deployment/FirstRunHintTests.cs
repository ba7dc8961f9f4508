using FluxWeb.Host.Hosting;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>The start-up line on a server with no usable model, and the command it names for each way of starting FluxWeb.</summary>
public sealed class FirstRunHintTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-first-run");

    private string[] StartAndRead()
    {
        using var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var catalog = new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = Path.Combine(folder.Path, "models") }));
        new FirstRunHint(catalog, factory.CreateLogger<FirstRunHint>()).StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return [.. logs.Lines];
    }

    [Fact]
    public void With_no_model_one_warning_says_nobody_can_generate_and_how_to_install_the_demo()
    {
        var line = Assert.Single(StartAndRead());

        Assert.StartsWith("Warning ", line, StringComparison.Ordinal);
        Assert.Contains($"No model is usable in {Path.Combine(folder.Path, "models")}: nobody can generate", line, StringComparison.Ordinal);
        Assert.Contains("\"Install the demo model\" on the admin Models page (/admin/models)", line, StringComparison.Ordinal);
        // These tests run from a build under the checkout, so the command is the checkout's.
        Assert.Contains($"cd {DockerfileTests.RepositoryRoot()} && dotnet run --project src/FluxWeb.Host/FluxWeb.Host.csproj -c Release -- models create-demo --models {Path.Combine(folder.Path, "models")}", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Packages_that_do_not_load_are_counted_and_a_usable_one_silences_the_line()
    {
        var models = Path.Combine(folder.Path, "models");
        Directory.CreateDirectory(Path.Combine(models, "broken"));
        File.WriteAllText(Path.Combine(models, "broken", ModelPackageManifest.FileName), "{}");
        Assert.Contains("(1 package folder(s) there do not load", Assert.Single(StartAndRead()), StringComparison.Ordinal);

        TestModelPackages.WriteCatalogOnly(models, "ok", ModelLicence.Apache2());
        Assert.Empty(StartAndRead());
    }

    [Fact]
    public void The_command_matches_how_the_server_was_started()
    {
        var checkout = Path.Combine(folder.Path, "my checkout");
        var bin = Path.Combine(checkout, "src", "FluxWeb.Host", "bin", "Release", "net10.0");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(checkout, "FluxWeb.sln"), "");
        File.WriteAllText(Path.Combine(checkout, "build.sh"), "");

        Assert.Equal(
            $"cd '{checkout}' && dotnet run --project src/FluxWeb.Host/FluxWeb.Host.csproj -c Release -- models create-demo --models /srv/models",
            new LaunchCommand(Path.Combine(bin, "fluxweb"), Path.Combine(bin, "fluxweb.dll"), bin, InContainer: false, "host").CreateDemo("/srv/models"));
        Assert.Equal(
            "/opt/fluxweb/fluxweb models create-demo --models '/srv/fluxweb models'",
            new LaunchCommand("/opt/fluxweb/fluxweb", "/opt/fluxweb/fluxweb.dll", "/opt/fluxweb/", InContainer: false, "host").CreateDemo("/srv/fluxweb models"));
        Assert.Equal(
            "/usr/share/dotnet/dotnet /opt/fluxweb/fluxweb.dll models create-demo --models /srv/models",
            new LaunchCommand("/usr/share/dotnet/dotnet", "/opt/fluxweb/fluxweb.dll", "/opt/fluxweb/", InContainer: false, "host").CreateDemo("/srv/models"));
        Assert.StartsWith(
            "docker exec 3f2a9c1d7e44 /app/fluxweb models create-demo ",
            new LaunchCommand("/app/fluxweb", "/app/fluxweb.dll", "/app/", InContainer: true, "3f2a9c1d7e44").CreateDemo("/models"), StringComparison.Ordinal);
    }

    public void Dispose() => folder.Dispose();
}
