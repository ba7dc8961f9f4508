using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Packages;

/// <summary>The model packages installed under the models directory, read fresh on each call (folders change while the app runs).</summary>
public sealed class ModelCatalog(IOptions<ModelStoreOptions> options)
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
                    ? new InstalledModel(manifest.Id, folder, manifest, null)
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
}
