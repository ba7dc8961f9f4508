using FluxWeb.Application.Audit;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Administration;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Administration;

/// <summary>An installed package as the admin "Models" page shows it.</summary>
public sealed record ModelAdminRow(
    string Id,
    string Label,
    string? Family,
    string? LicenceId,
    bool? CommercialUse,
    bool Demo,
    bool Usable,
    string? Error,
    bool Enabled,
    IReadOnlyList<string>? AllowedRoles,
    long VramBytes,
    long DiskBytes);

/// <summary>Work in progress under the models folder: a package being built, or a pull's downloads.</summary>
public sealed record PackageActivity(string Kind, string Name, int Files, long Bytes, DateTime LastWriteUtc);

/// <summary>The admin side of models: the catalog with the administrator's rules, and changing those rules (the actor must be an administrator now).</summary>
public sealed class ModelAdministration(ModelCatalog catalog, ModelAccessService access, IDbContextFactory<FluxWebDbContext> contexts, AdminAuthorization admins, AuditLog audit, TimeProvider time)
{
    public async Task<IReadOnlyList<ModelAdminRow>> ListAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var rules = await access.RulesAsync(cancellationToken);
        return catalog.List().Select(model =>
        {
            var manifest = model.Manifest;
            var rule = rules.GetValueOrDefault(model.Id) ?? ModelRules.Default;
            return new ModelAdminRow(
                model.Id,
                manifest?.Label ?? model.Id,
                manifest?.Family,
                manifest?.Licence?.Id,
                manifest?.Licence?.CommercialUse,
                manifest?.Demo ?? false,
                model.IsUsable,
                model.Problem,
                rule.Enabled,
                rule.AllowedRoles,
                manifest?.Components.All().Sum(c => c.Component?.WeightBytes ?? 0) ?? 0,
                manifest?.Files.Sum(f => f.Bytes) ?? 0);
        }).ToList();
    }

    /// <summary>Builds in hidden <c>.building-*</c> folders and pulls in <c>.downloads/</c>; a stale entry is what a crashed build or an interrupted pull left.</summary>
    public async Task<IReadOnlyList<PackageActivity>> ActivityAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        // Reads the models folder: off the caller's thread (a circuit's, on the admin page).
        return await Task.Run(Activity, cancellationToken);
    }

    private IReadOnlyList<PackageActivity> Activity()
    {
        var root = catalog.ModelsDirectory;
        if (!Directory.Exists(root))
        {
            return [];
        }

        var activity = new List<PackageActivity>();
        foreach (var folder in Directory.EnumerateDirectories(root, ".building-*"))
        {
            activity.Add(Describe("build", Path.GetFileName(folder), folder));
        }

        var downloads = Path.Combine(root, ModelPuller.DownloadsFolder);
        if (Directory.Exists(downloads))
        {
            foreach (var folder in Directory.EnumerateDirectories(downloads))
            {
                activity.Add(Describe("pull", Path.GetFileName(folder).Replace("--", "/", StringComparison.Ordinal), folder));
            }
        }

        return activity;
    }

    public async Task<string?> SetAsync(string modelId, bool enabled, IReadOnlyList<string>? allowedRoles, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        if (catalog.Find(modelId) is null)
        {
            return $"No model package '{modelId}' is installed.";
        }

        if (allowedRoles is not null)
        {
            if (allowedRoles.Count == 0)
            {
                return "Choose at least one role, or disable the model instead.";
            }

            if (allowedRoles.FirstOrDefault(r => !Roles.All.Contains(r)) is { } unknown)
            {
                return $"Unknown role '{unknown}'.";
            }

            // Every role listed is the same as no restriction; store it as such so new roles are not locked out by accident.
            if (Roles.All.All(allowedRoles.Contains))
            {
                allowedRoles = null;
            }
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.ModelSettings.SingleOrDefaultAsync(s => s.ModelId == modelId, cancellationToken);
        var before = ModelRules.From(row);
        var stored = allowedRoles is null ? null : string.Join(',', allowedRoles.Order(StringComparer.Ordinal));
        if (before.Enabled == enabled && ModelRules.ParseRoles(stored) is var after && Same(before.AllowedRoles, after))
        {
            return null;
        }

        row ??= db.ModelSettings.Add(new ModelSetting { ModelId = modelId }).Entity;
        row.Enabled = enabled;
        row.AllowedRoles = stored;
        row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            ModelId = modelId,
            Detail = $"Model {modelId}: {(enabled ? "enabled" : "disabled")}, for {(stored is null ? "every role" : stored.Replace(",", " and ", StringComparison.Ordinal))}.",
            Channel = actor.Channel,
        }, cancellationToken);
        return null;
    }

    private static bool Same(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.Order(StringComparer.Ordinal).SequenceEqual(b.Order(StringComparer.Ordinal));

    private static PackageActivity Describe(string kind, string name, string folder)
    {
        var files = new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).ToList();
        var last = files.Count == 0 ? Directory.GetLastWriteTimeUtc(folder) : files.Max(f => f.LastWriteTimeUtc);
        return new PackageActivity(kind, name, files.Count, files.Sum(f => f.Length), last);
    }
}
