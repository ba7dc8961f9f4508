using FluxWeb.Inference.Devices;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// The model packages installed under the models directory, read fresh on each call (folders change
/// while the app runs). With the device probe, each package also says whether this server's
/// inference device can run it (a bf16 package on a CPU cannot), so every listing shows it as
/// unusable with the reason instead of failing its jobs. Only packages computing in something other
/// than float32 ask the probe, so float32 packages (the demo) never start it.
/// </summary>
public sealed class ModelCatalog(IOptions<ModelStoreOptions> options, ExecutionDeviceProbe? devices = null)
{
    public string ModelsDirectory => options.Value.ResolveModelsDirectory();

    public InstalledModel? Find(string id) => List().FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.Ordinal));

    public IReadOnlyList<InstalledModel> List()
    {
        var root = ModelsDirectory;
        if (!Directory.Exists(root))
        {
            return [];
        }

        var models = new List<InstalledModel>();
        foreach (var folder in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            // Packages being built or removed live in hidden folders until they are complete.
            if (Path.GetFileName(folder).StartsWith('.'))
            {
                continue;
            }

            var manifestPath = Path.Combine(folder, ModelPackageManifest.FileName);
            if (!File.Exists(manifestPath))
            {
                continue;
            }

            var id = Path.GetFileName(folder);
            try
            {
                var manifest = ModelPackageManifest.Read(manifestPath, $"{id}/{ModelPackageManifest.FileName}");
                models.Add(manifest.Id == id
                    ? new InstalledModel(manifest.Id, folder, manifest, null) { DeviceProblem = DeviceProblem(manifest) }
                    : new InstalledModel(id, folder, null, $"{id}/{ModelPackageManifest.FileName}: 'id' is '{manifest.Id}' but the folder is '{id}': rename one of them."));
            }
            catch (ModelPackageException ex)
            {
                models.Add(new InstalledModel(id, folder, null, ex.Message));
            }
            catch (IOException ex)
            {
                models.Add(new InstalledModel(id, folder, null, $"{id}/{ModelPackageManifest.FileName}: cannot be read ({ex.GetType().Name})"));
            }
        }

        return models;
    }

    private string? DeviceProblem(ModelPackageManifest manifest)
    {
        if (devices is null || manifest.Precision.Compute == "fp32")
        {
            return null;
        }

        ExecutionDevice device;
        try
        {
            device = devices.Device;
        }
        catch (InvalidOperationException ex)
        {
            // Inference:Device = Cuda without a working GPU: the server refuses to start; a listing says why instead of failing.
            return ex.Message;
        }

        if (device.PrecisionProblem(manifest.Precision.Compute) is not { } why)
        {
            return null;
        }

        return device.IsCuda
            ? $"Unusable on this server's {device.Name}: the package computes in {manifest.Precision.Compute}, and {why}."
            : $"Unusable on this server: inference runs on the CPU ({device.Reason.Replace(" Running on CPU.", "", StringComparison.Ordinal).TrimEnd('.')}), the package computes in {manifest.Precision.Compute}, and {why}.";
    }
}
