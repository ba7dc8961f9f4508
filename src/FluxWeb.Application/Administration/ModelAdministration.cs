using FluxWeb.Application.Audit;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Time;
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
public sealed class ModelAdministration(ModelCatalog catalog, ModelAccessService access, IDbContextFactory<FluxWebDbContext> contexts, AdminAuthorization admins, AuditLog audit, AppClock time)
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

    /// <summary>The model fresh Studio forms start with for people who have not generated yet; null when the Studio picks the fastest distilled model.</summary>
    public async Task<string?> DefaultModelAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await access.DefaultModelIdAsync(cancellationToken);
    }

    /// <summary>
    /// Sets (or, with null, clears) the Studio's default model. Only an installed, usable, enabled
    /// model can be the default; the reason otherwise, or null when done. Each person's own last
    /// model still comes first, and a default a person may not use is passed over for them.
    /// </summary>
    public async Task<string?> SetDefaultModelAsync(ChangeActor actor, string? modelId, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        modelId = string.IsNullOrWhiteSpace(modelId) ? null : modelId.Trim();
        if (modelId is not null)
        {
            var model = catalog.List().FirstOrDefault(m => string.Equals(m.Id, modelId, StringComparison.Ordinal));
            if (model is null)
            {
                return $"No model '{modelId}' is installed.";
            }

            if (!model.IsUsable)
            {
                return $"The model {modelId} cannot be used: {model.Problem}";
            }

            if (!((await access.RulesAsync(cancellationToken)).GetValueOrDefault(modelId) ?? ModelRules.Default).Enabled)
            {
                return $"The model {modelId} is disabled; enable it before making it the default.";
            }
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.PolicySettings.SingleOrDefaultAsync(s => s.Key == PolicySetting.StudioDefaultModel, cancellationToken);
        var before = await access.DefaultModelIdAsync(cancellationToken);
        if (string.Equals(before, modelId, StringComparison.Ordinal) && (row is not null || modelId is null))
        {
            return null;
        }

        if (modelId is null)
        {
            db.PolicySettings.Remove(row!);
        }
        else
        {
            row ??= db.PolicySettings.Add(new PolicySetting { Key = PolicySetting.StudioDefaultModel, Value = "null" }).Entity;
            row.Value = System.Text.Json.JsonSerializer.Serialize(modelId);
            row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
            row.UpdatedBy = actor.UserId;
        }

        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            ModelId = modelId ?? before,
            Detail = $"Studio default model: {modelId ?? "the fastest distilled model"} (was {before ?? "the fastest distilled model"}).",
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
