using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Classifiers;
using FluxWeb.Provenance;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Safety;

/// <summary>What an install wrote and where it came from.</summary>
public sealed record InstalledClassifier(string Folder, ImageClassifierManifest Manifest, long Bytes, TimeSpan Elapsed, bool Replaced);

/// <summary>
/// Installs the image classifier package from nsfwjs's published npm tarball: from the registry (its
/// metadata names the tarball and its sha512, checked before a byte is used) or from a local
/// <c>.tgz</c>. The MobileNetV2 model is converted to ONNX with our own graph builder, its weights
/// dequantised once into the package, checked by running it, and only then moved into place, so a
/// half-written package is never seen. Used by <c>fluxweb safety install</c>, the server's first start
/// and the Docker build.
/// </summary>
public sealed partial class ImageClassifierInstaller(
    IOptions<ContentFilterOptions> filterOptions,
    IOptions<ProvenanceStorageOptions> storage,
    AppClock time,
    ILogger<ImageClassifierInstaller> logger)
{
    public const string PackageName = "nsfwjs";
    public const string ModelFolder = "dist/models/mobilenet_v2";
    public const string ClassesFile = "dist/esm/nsfw_classes.js";
    public const long MaxTarballBytes = 256L * 1024 * 1024;

    private static readonly HttpClient Http = CreateClient();

    public string ClassifiersDirectory => storage.Value.ResolveClassifiersDirectory(filterOptions.Value);

    public string PackageFolder => ImageClassifierLoader.PackageFolder(filterOptions.Value, ClassifiersDirectory);

    /// <summary>Downloads nsfwjs <paramref name="version"/> through <paramref name="registry"/>'s metadata and installs it.</summary>
    public async Task<InstalledClassifier> InstallFromRegistryAsync(string? registry = null, string? version = null, bool force = false, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        registry = (registry ?? filterOptions.Value.Registry).TrimEnd('/');
        version ??= filterOptions.Value.ClassifierVersion;
        if (!Uri.TryCreate(registry, UriKind.Absolute, out var registryUri) || registryUri.Scheme is not ("http" or "https"))
        {
            throw new ClassifierInstallException($"the registry '{registry}' is not an http(s) address.");
        }

        var metadataUrl = $"{registry}/{PackageName}";
        LogDownloading(logger, PackageName, version, metadataUrl);
        var (tarballUrl, integrity) = await ReadMetadataAsync(metadataUrl, version, cancellationToken);
        var tgz = await DownloadAsync(tarballUrl, cancellationToken);
        NpmTarball.VerifyIntegrity(tgz, integrity, Path.GetFileName(new Uri(tarballUrl).AbsolutePath));
        return await InstallAsync(tgz, new ClassifierSource(PackageName, version, registry, tarballUrl, NpmTarball.Sha512Integrity(tgz)), version, force, stopwatch, cancellationToken);
    }

    /// <summary>Installs from a local tarball (offline machines); its sha512 is recorded in the manifest.</summary>
    public async Task<InstalledClassifier> InstallFromFileAsync(string tgzPath, bool force = false, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        var path = Path.GetFullPath(tgzPath);
        if (!File.Exists(path))
        {
            throw new ClassifierInstallException($"'{tgzPath}' does not exist.");
        }

        if (new FileInfo(path).Length > MaxTarballBytes)
        {
            throw new ClassifierInstallException($"'{tgzPath}' is larger than {MaxTarballBytes / (1024 * 1024)} MiB; that is not nsfwjs's package.");
        }

        var tgz = await File.ReadAllBytesAsync(path, cancellationToken);
        return await InstallAsync(tgz, new ClassifierSource(PackageName, "", null, Path.GetFileName(path), NpmTarball.Sha512Integrity(tgz)), expectedVersion: null, force, stopwatch, cancellationToken);
    }

    private async Task<InstalledClassifier> InstallAsync(byte[] tgz, ClassifierSource source, string? expectedVersion, bool force, Stopwatch stopwatch, CancellationToken cancellationToken)
    {
        var shown = source.Tarball.Contains('/', StringComparison.Ordinal) ? Path.GetFileName(new Uri(source.Tarball).AbsolutePath) : source.Tarball;
        var files = NpmTarball.Read(tgz, path => path is "package.json" or "LICENSE" or ClassesFile || path.StartsWith(ModelFolder + "/", StringComparison.Ordinal), shown);
        var package = ReadPackageJson(files, shown);
        if (package.Name != PackageName)
        {
            throw new ClassifierInstallException($"{shown} is the npm package '{package.Name}', not {PackageName}.");
        }

        if (expectedVersion is not null && package.Version != expectedVersion)
        {
            throw new ClassifierInstallException($"{shown} holds {PackageName} {package.Version}, but {expectedVersion} was asked for.");
        }

        if (string.IsNullOrWhiteSpace(package.Licence) || !files.TryGetValue("LICENSE", out var licenceText))
        {
            throw new ClassifierInstallException($"{shown} declares no licence or has no LICENSE file; FluxWeb installs only models whose licence it can show.");
        }

        source = source with { Version = package.Version };
        var classes = ReadClasses(files, shown);
        var model = TfjsLayersModel.Parse(JsLiterals.ModuleExports(Text(files, $"{ModelFolder}/model.min.js", shown), "model.min.js"), $"{shown}: {ModelFolder}/model.min.js");

        var root = ClassifiersDirectory;
        Directory.CreateDirectory(root);
        var staging = Path.Combine(root, $".staging-{Guid.NewGuid():N}");
        try
        {
            var converted = KerasOnnxConverter.Convert(model, path => Shard(files, path, shown), staging);
            if (converted.OutputSize != classes.Count)
            {
                throw new ClassifierInstallException($"{shown}: the model gives {converted.OutputSize} scores but {ClassesFile} names {classes.Count} classes.");
            }

            await File.WriteAllBytesAsync(Path.Combine(staging, "LICENSE"), licenceText, cancellationToken);
            var manifest = new ImageClassifierManifest
            {
                Id = filterOptions.Value.ClassifierId,
                DisplayName = $"{PackageName} {package.Version} MobileNetV2",
                Model = "MobileNetV2",
                Source = source,
                Licence = new ClassifierLicence(package.Licence, "LICENSE"),
                Classes = classes,
                Input = new ClassifierInput(converted.InputName, "NHWC", (int)converted.InputShape[1], ImageClassifierManifest.NsfwjsPreprocessing),
                Output = converted.OutputName,
                Graph = converted.GraphFile,
                Files = ImageClassifierManifest.Describe(staging),
                InstalledUtc = time.GetUtcNow().UtcDateTime,
            };
            manifest.Write(staging);
            SmokeTest(staging);

            var replaced = MoveIntoPlace(staging, PackageFolder, force);
            var bytes = manifest.Files.Sum(f => f.Bytes);
            LogInstalled(logger, manifest.DisplayName, PackageFolder, converted.LayerCount, converted.ParameterCount, stopwatch.ElapsedMilliseconds);
            return new InstalledClassifier(PackageFolder, manifest, bytes, stopwatch.Elapsed, replaced);
        }
        catch (Exception ex) when (ex is TfjsModelException or JsLiteralException or FormatException)
        {
            throw new ClassifierInstallException($"{shown}: {ex.Message}", ex);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    /// <summary>The package must load and classify before anyone relies on it.</summary>
    private static void SmokeTest(string folder)
    {
        try
        {
            using var classifier = new PackagedImageClassifier(folder);
            using var grey = new Image<Rgba32>(64, 48, new Rgba32(128, 128, 128));
            var sum = classifier.Classify(grey).Classes.Values.Sum();
            if (!(Math.Abs(sum - 1) < 1e-3))
            {
                throw new ClassifierInstallException($"the converted classifier's probabilities sum to {sum}, not 1; not installed.");
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new ClassifierInstallException($"the converted classifier does not run ({ex.Message}); not installed.", ex);
        }
    }

    /// <summary>Swaps the staged package in; another process that finished first wins unless <paramref name="force"/>.</summary>
    private static bool MoveIntoPlace(string staging, string target, bool force)
    {
        if (!Directory.Exists(target))
        {
            try
            {
                Directory.Move(staging, target);
                return false;
            }
            catch (IOException) when (Directory.Exists(target) && !force)
            {
                // Installed by someone else in the meantime (the server and a CLI on the same folder).
                return false;
            }
        }

        if (!force)
        {
            throw new ClassifierInstallException($"a classifier is already installed in {target}; add --force to replace it.");
        }

        var old = Path.Combine(Path.GetDirectoryName(target)!, $".old-{Guid.NewGuid():N}");
        Directory.Move(target, old);
        Directory.Move(staging, target);
        Directory.Delete(old, recursive: true);
        return true;
    }

    private async Task<(string Tarball, string? Integrity)> ReadMetadataAsync(string url, string version, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        // npm's abbreviated metadata: versions with their dist, without every README.
        request.Headers.Accept.ParseAdd("application/vnd.npm.install-v1+json; q=1.0");
        request.Headers.Accept.ParseAdd("application/json; q=0.8");
        JsonNode? metadata;
        try
        {
            using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ClassifierInstallException($"the registry answered {(int)response.StatusCode} {response.ReasonPhrase} for {url}.");
            }

            metadata = JsonNode.Parse(await ReadCappedAsync(response, 64L * 1024 * 1024, url, cancellationToken));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ClassifierInstallException($"the registry {new Uri(url).GetLeftPart(UriPartial.Authority)} cannot be reached ({ex.Message}).", ex);
        }
        catch (JsonException ex)
        {
            throw new ClassifierInstallException($"the registry's metadata at {url} is not JSON ({ex.Message}).", ex);
        }

        var dist = metadata?["versions"]?[version]?["dist"];
        if (dist is null)
        {
            throw new ClassifierInstallException($"the registry has no {PackageName} {version} (metadata at {url}).");
        }

        var tarball = dist["tarball"]?.GetValue<string>();
        if (!Uri.TryCreate(tarball, UriKind.Absolute, out var tarballUri) || tarballUri.Scheme is not ("http" or "https"))
        {
            throw new ClassifierInstallException($"the registry's metadata names no usable tarball for {PackageName} {version} ('{tarball}').");
        }

        return (tarball!, dist["integrity"]?.GetValue<string>());
    }

    private static async Task<byte[]> DownloadAsync(string url, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ClassifierInstallException($"downloading {url} failed: {(int)response.StatusCode} {response.ReasonPhrase}.");
            }

            return await ReadCappedAsync(response, MaxTarballBytes, url, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ClassifierInstallException($"downloading {url} failed ({ex.Message}).", ex);
        }
    }

    private static async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, long cap, string url, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > cap)
        {
            throw new ClassifierInstallException($"{url} is {response.Content.Headers.ContentLength} bytes, more than {cap}.");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > cap)
            {
                throw new ClassifierInstallException($"{url} is more than {cap} bytes.");
            }
        }

        return buffer.ToArray();
    }

    private static (string Name, string Version, string Licence) ReadPackageJson(Dictionary<string, byte[]> files, string shown)
    {
        if (!files.TryGetValue("package.json", out var bytes))
        {
            throw new ClassifierInstallException($"{shown} has no package.json: not an npm package.");
        }

        try
        {
            var json = JsonNode.Parse(bytes);
            var licence = json?["license"] switch
            {
                JsonValue value => value.GetValue<string>(),
                JsonObject legacy => legacy["type"]?.GetValue<string>(),
                _ => null,
            };
            return (json?["name"]?.GetValue<string>() ?? "", json?["version"]?.GetValue<string>() ?? "", licence ?? "");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new ClassifierInstallException($"{shown}: package.json is not valid ({ex.Message}).", ex);
        }
    }

    /// <summary>nsfwjs's class names in output order, from <c>NSFW_CLASSES = {0: 'Drawing', …}</c>.</summary>
    private static List<string> ReadClasses(Dictionary<string, byte[]> files, string shown)
    {
        var node = JsLiterals.Variable(Text(files, ClassesFile, shown), Path.GetFileName(ClassesFile), "NSFW_CLASSES") as JsonObject
            ?? throw new ClassifierInstallException($"{shown}: NSFW_CLASSES in {ClassesFile} is not an object.");
        var classes = new SortedDictionary<int, string>();
        foreach (var (key, value) in node)
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) || value?.GetValue<string>() is not { Length: > 0 } name)
            {
                throw new ClassifierInstallException($"{shown}: NSFW_CLASSES has an entry '{key}' that is not index: name.");
            }

            classes[index] = name;
        }

        if (classes.Count == 0 || classes.Keys.First() != 0 || classes.Keys.Last() != classes.Count - 1)
        {
            throw new ClassifierInstallException($"{shown}: NSFW_CLASSES must number its classes 0…n−1.");
        }

        return [.. classes.Values];
    }

    private static byte[] Shard(Dictionary<string, byte[]> files, string path, string shown)
    {
        var text = Text(files, $"{ModelFolder}/{path}.min.js", shown);
        if (JsLiterals.ModuleExports(text, $"{path}.min.js") is not JsonValue value || value.GetValue<string>() is not { } base64)
        {
            throw new ClassifierInstallException($"{shown}: {path}.min.js does not export the weights as a base64 string.");
        }

        return Convert.FromBase64String(base64);
    }

    private static string Text(Dictionary<string, byte[]> files, string path, string shown) =>
        files.TryGetValue(path, out var bytes) ? Encoding.UTF8.GetString(bytes) : throw new ClassifierInstallException($"{shown} has no {path}: not the nsfwjs package this FluxWeb knows.");

    private static HttpClient CreateClient()
    {
        var client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(20), AutomaticDecompression = System.Net.DecompressionMethods.All })
        {
            Timeout = TimeSpan.FromMinutes(10),
        };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("FluxWeb", "1.0"));
        return client;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloading the image classifier {Package} {Version} (registry metadata {Url})")]
    private static partial void LogDownloading(ILogger logger, string package, string version, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "Image classifier {Model} installed in {Folder}: {Layers} layers, {Parameters} parameters, {Milliseconds} ms")]
    private static partial void LogInstalled(ILogger logger, string model, string folder, int layers, long parameters, long milliseconds);
}
