using System.Text.Json;
using FluxWeb.Application.Safety;
using FluxWeb.Provenance.Filters;
using FluxWeb.Testing;
using FluxWeb.Testing.Safety;

namespace FluxWeb.Application.Tests.Safety;

public sealed class ClassifierInstallTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-safety");

    private string Models => folder.Combine("models");

    [Fact]
    public void A_local_tarball_installs_a_package_whose_manifest_names_source_licence_classes_and_every_file_hash()
    {
        var installed = NsfwjsPackage.InstallInto(Models);

        Assert.Equal(Path.Combine(Models, "safety", "nsfwjs-mobilenet-v2"), installed.Folder);
        var manifest = installed.Manifest;
        Assert.Equal("nsfwjs", manifest.Source.Package);
        Assert.Equal("4.4.0", manifest.Source.Version);
        Assert.Null(manifest.Source.Registry);
        Assert.Equal(NsfwjsPackage.LockedIntegrity(), manifest.Source.Integrity);
        Assert.Equal("MIT", manifest.Licence.Id);
        Assert.Contains("Infinite Red", File.ReadAllText(Path.Combine(installed.Folder, manifest.Licence.File)), StringComparison.Ordinal);
        Assert.Equal(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], manifest.Classes);
        Assert.Equal(["LICENSE", "model.onnx", "weights.safetensors"], manifest.Files.Select(f => f.Path));
        foreach (var file in manifest.Files)
        {
            Assert.Equal(ImageClassifierManifest.Sha256(Path.Combine(installed.Folder, file.Path)), file.Sha256);
        }

        // Nothing half-written is left beside it, and the written manifest reads back the same.
        Assert.Equal(["nsfwjs-mobilenet-v2"], Directory.GetFileSystemEntries(Path.Combine(Models, "safety")).Select(Path.GetFileName));
        Assert.Equal(manifest.Files, ImageClassifierManifest.Load(installed.Folder).Files);
    }

    [Fact]
    public void A_second_install_needs_force_and_a_changed_file_stops_the_package_loading()
    {
        var installed = NsfwjsPackage.InstallInto(Models);
        var again = Assert.Throws<ClassifierInstallException>(() => NsfwjsPackage.InstallInto(Models));
        Assert.Contains("--force", again.Message, StringComparison.Ordinal);

        var weights = Path.Combine(installed.Folder, "weights.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        var error = Assert.Throws<InvalidDataException>(() => new PackagedImageClassifier(installed.Folder));
        Assert.Contains("weights.safetensors does not match its SHA-256", error.Message, StringComparison.Ordinal);

        var replaced = NsfwjsPackage.InstallInto(Models, force: true);
        Assert.True(replaced.Replaced);
        using var classifier = new PackagedImageClassifier(replaced.Folder);
    }

    [Fact]
    public async Task The_registry_metadata_names_the_tarball_and_its_sha512_which_is_checked_before_use()
    {
        await using var registry = await FakeNpmRegistry.StartAsync();

        var installed = await NsfwjsPackage.Installer(Models).InstallFromRegistryAsync(registry.Url, "4.4.0");

        Assert.Equal(registry.Url, installed.Manifest.Source.Registry);
        Assert.Equal($"{registry.Url}/nsfwjs/-/nsfwjs-4.4.0.tgz", installed.Manifest.Source.Tarball);
        Assert.Equal(registry.Integrity, installed.Manifest.Source.Integrity);
        Assert.Equal(["/nsfwjs", "/nsfwjs/-/nsfwjs-4.4.0.tgz"], registry.Requests.Select(r => r.Path));
        Assert.Contains("application/vnd.npm.install-v1+json", registry.Requests.First().Accept, StringComparison.Ordinal);
        using var classifier = new PackagedImageClassifier(installed.Folder);
    }

    [Fact]
    public async Task A_tarball_with_one_byte_changed_is_refused_with_the_integrity_error_and_nothing_is_installed()
    {
        await using var registry = await FakeNpmRegistry.StartAsync();
        registry.Tamper = true;

        var error = await Assert.ThrowsAsync<ClassifierInstallException>(() => NsfwjsPackage.Installer(Models).InstallFromRegistryAsync(registry.Url, "4.4.0"));

        Assert.StartsWith("integrity check failed for nsfwjs-4.4.0.tgz", error.Message, StringComparison.Ordinal);
        Assert.Contains(registry.Integrity, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Models, "safety", "nsfwjs-mobilenet-v2")));
    }

    [Fact]
    public async Task A_version_the_registry_does_not_have_and_an_unreachable_registry_are_explained()
    {
        await using var registry = await FakeNpmRegistry.StartAsync();
        var missing = await Assert.ThrowsAsync<ClassifierInstallException>(() => NsfwjsPackage.Installer(Models).InstallFromRegistryAsync(registry.Url, "9.9.9"));
        Assert.Contains("has no nsfwjs 9.9.9", missing.Message, StringComparison.Ordinal);

        var unreachable = await Assert.ThrowsAsync<ClassifierInstallException>(() => NsfwjsPackage.Installer(Models).InstallFromRegistryAsync($"http://127.0.0.1:{ClosedPort()}", "4.4.0"));
        Assert.Contains("cannot be reached", unreachable.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_a_tarball_and_another_package_are_refused()
    {
        var junk = folder.Combine("junk.tgz");
        File.WriteAllBytes(junk, [1, 2, 3, 4]);
        var error = Assert.Throws<ClassifierInstallException>(() => NsfwjsPackage.Installer(Models).InstallFromFileAsync(junk).GetAwaiter().GetResult());
        Assert.Contains("not a readable npm package tarball", error.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ClassifierInstallException>(() => NsfwjsPackage.Installer(Models).InstallFromFileAsync(folder.Combine("absent.tgz")).GetAwaiter().GetResult());
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_manifest_is_plain_json_with_the_documented_fields()
    {
        var installed = NsfwjsPackage.InstallInto(Models);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(installed.Folder, "manifest.json")));
        var root = json.RootElement;
        Assert.Equal("image-classifier", root.GetProperty("kind").GetString());
        Assert.Equal("nsfwjs-infer", root.GetProperty("input").GetProperty("preprocessing").GetString());
        Assert.Equal(224, root.GetProperty("input").GetProperty("size").GetInt32());
        Assert.Equal("MIT", root.GetProperty("licence").GetProperty("id").GetString());
    }

    public static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => folder.Dispose();
}
