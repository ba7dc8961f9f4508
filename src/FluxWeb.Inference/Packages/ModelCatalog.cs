using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Packages;

/// <summary>The model packages installed under the models directory, read fresh on each call (folders change while the app runs).</summary>
public sealed class ModelCatalog(IOptions<ModelStoreOptions> options)
{
    public string ModelsDirectory => options.Value.ResolveModelsDirectory();

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
            var manifestPath = Path.Combine(folder, ModelPackageManifest.FileName);
            if (!File.Exists(manifestPath))
            {
                continue;
            }

            var id = Path.GetFileName(folder);
            try
            {
                var manifest = ModelPackageManifest.Read(manifestPath, $"{id}/{ModelPackageManifest.FileName}");
                models.Add(new InstalledModel(manifest.Id, folder, manifest, null));
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
}
