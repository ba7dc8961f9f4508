using System.Text.Json;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// How often each model package generated, kept in <c>.usage.json</c> in the models folder (beside
/// the packages, ignored by the catalog), so a restarted server can load the one its users use most
/// before anybody asks. Counts only; written after each image; a folder that cannot be written just
/// means no warm start.
/// </summary>
public sealed class ModelUsage(IOptions<ModelStoreOptions> options, AppClock time)
{
    public const string FileName = ".usage.json";

    private readonly Lock gate = new();

    public sealed record Entry(long Images, DateTimeOffset LastUsed);

    private string FilePath => Path.Combine(options.Value.ResolveModelsDirectory(), FileName);

    public IReadOnlyDictionary<string, Entry> Read()
    {
        lock (gate)
        {
            try
            {
                return File.Exists(FilePath)
                    ? JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(FilePath)) ?? []
                    : new Dictionary<string, Entry>();
            }
            catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
            {
                return new Dictionary<string, Entry>();
            }
        }
    }

    public void Record(string modelId)
    {
        lock (gate)
        {
            var usage = new Dictionary<string, Entry>(Read(), StringComparer.Ordinal);
            var previous = usage.GetValueOrDefault(modelId);
            usage[modelId] = new Entry((previous?.Images ?? 0) + 1, time.GetUtcNow());
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
                var temporary = FilePath + ".tmp";
                File.WriteAllText(temporary, JsonSerializer.Serialize(usage));
                File.Move(temporary, FilePath, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A read-only models folder: usage is a convenience, generation goes on.
            }
        }
    }

    /// <summary>The usable package with the most images (ties: the most recently used), or null.</summary>
    public InstalledModel? MostUsed(IEnumerable<InstalledModel> installed)
    {
        var usage = Read();
        return installed.Where(m => m.IsUsable && usage.ContainsKey(m.Id))
            .OrderByDescending(m => usage[m.Id].Images)
            .ThenByDescending(m => usage[m.Id].LastUsed)
            .FirstOrDefault();
    }
}
