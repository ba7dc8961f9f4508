using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Administration;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Models;

/// <summary>An installed model as one account sees it: usable or not, and why not.</summary>
public sealed record ModelChoice(string Id, string Label, string LicenceId, bool CommercialUse, bool Demo, ModelVariant Variant, SamplingInfo Sampling, bool Allowed, string? Reason)
{
    /// <summary>Whether steps are a choice (base models); distilled models run a fixed number.</summary>
    public bool StepsAdjustable => Sampling.MinSteps < Sampling.MaxSteps;

    /// <summary>Whether the model takes classifier-free guidance (base models).</summary>
    public bool GuidanceAdjustable => Sampling.UsesGuidance;
}

/// <summary>An administrator's rules for one model, as read from <see cref="ModelSetting"/> (defaults when there is no row).</summary>
public sealed record ModelRules(bool Enabled, IReadOnlyList<string>? AllowedRoles)
{
    public static ModelRules Default { get; } = new(true, null);

    public bool RoleMayUse(IEnumerable<string> roles) => AllowedRoles is null || roles.Any(r => AllowedRoles.Contains(r, StringComparer.Ordinal));

    public static ModelRules From(ModelSetting? setting) => setting is null
        ? Default
        : new ModelRules(setting.Enabled, ParseRoles(setting.AllowedRoles));

    public static IReadOnlyList<string>? ParseRoles(string? stored) =>
        string.IsNullOrWhiteSpace(stored) ? null : stored.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// Which installed models an account may use, with the reason for each one it may not: the model
/// picker shows them disabled with that reason, and submission refuses them with the same words.
/// Four rules, in this order: the account is enabled, the server's inference device can run the
/// package (a bf16 package on a CPU cannot), the administrator's model settings (enabled, roles),
/// then the licence (<see cref="LicencePolicy"/>).
/// </summary>
public sealed class ModelAccessService(ModelCatalog catalog, LicenceGate licences, IDbContextFactory<FluxWebDbContext> contexts)
{
    public const string AccountDisabled = "This account is disabled. Ask an administrator.";

    public async Task<IReadOnlyList<ModelChoice>> ChoicesAsync(string userId, CancellationToken cancellationToken = default)
    {
        var account = await licences.AccountTypeAsync(userId, cancellationToken);
        var (disabled, roles, rules) = await StandingAsync(userId, cancellationToken);
        var choices = new List<ModelChoice>();
        foreach (var model in catalog.List())
        {
            if (model.Manifest is not { } manifest)
            {
                continue;
            }

            var reason = disabled ? AccountDisabled
                : model.DeviceProblem ?? AdminRefusal(manifest.Id, rules.GetValueOrDefault(manifest.Id) ?? ModelRules.Default, roles)
                ?? LicencePolicy.Decide(account, LicenceGate.Facts(manifest), LicencedAction.Generate).Reason;
            choices.Add(new ModelChoice(manifest.Id, manifest.Label, manifest.Licence!.Id, manifest.AllowsCommercialUse, manifest.Demo, manifest.Variant, manifest.Sampling, reason is null, reason));
        }

        return choices.OrderByDescending(c => c.Allowed).ThenBy(c => c.Demo).ThenBy(c => c.Label, StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>
    /// Why <paramref name="userId"/> may not use <paramref name="modelId"/> under the account and
    /// administrator rules (disabled account, disabled model, role not allowed), or null. The
    /// licence is <see cref="LicenceGate"/>'s decision and is checked (and audited) separately.
    /// </summary>
    public async Task<string?> AdminRefusalAsync(string userId, string modelId, CancellationToken cancellationToken = default)
    {
        var (disabled, roles, rules) = await StandingAsync(userId, cancellationToken, modelId);
        return disabled ? AccountDisabled : AdminRefusal(modelId, rules.GetValueOrDefault(modelId) ?? ModelRules.Default, roles);
    }

    /// <summary>The administrator's choice of model for fresh Studio forms (<see cref="PolicySetting.StudioDefaultModel"/>), or null when none is set.</summary>
    public async Task<string?> DefaultModelIdAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stored = await db.PolicySettings.AsNoTracking()
            .Where(s => s.Key == PolicySetting.StudioDefaultModel)
            .Select(s => s.Value)
            .SingleOrDefaultAsync(cancellationToken);
        try
        {
            return stored is null ? null : System.Text.Json.JsonSerializer.Deserialize<string?>(stored);
        }
        catch (System.Text.Json.JsonException)
        {
            // A value this app did not write is no choice at all; the Studio falls back to its own.
            return null;
        }
    }

    public async Task<IReadOnlyDictionary<string, ModelRules>> RulesAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.ModelSettings.AsNoTracking().ToListAsync(cancellationToken);
        return rows.ToDictionary(r => r.ModelId, ModelRules.From, StringComparer.Ordinal);
    }

    private static string? AdminRefusal(string modelId, ModelRules rules, IReadOnlyList<string> roles)
    {
        if (!rules.Enabled)
        {
            return $"The model {modelId} is disabled by an administrator.";
        }

        return rules.RoleMayUse(roles)
            ? null
            : $"The model {modelId} is only available to {string.Join(" and ", rules.AllowedRoles!.Select(r => r == Roles.Admin ? "administrators" : "users"))}. Ask an administrator.";
    }

    private async Task<(bool Disabled, IReadOnlyList<string> Roles, Dictionary<string, ModelRules> Rules)> StandingAsync(string userId, CancellationToken cancellationToken, string? onlyModel = null)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // An account that no longer exists gets the safe side: disabled.
        var disabled = await db.Users.Where(u => u.Id == userId).Select(u => (bool?)u.Disabled).SingleOrDefaultAsync(cancellationToken) ?? true;
        var roles = await db.UserRoles.Where(ur => ur.UserId == userId)
            .Join(db.Roles, ur => ur.RoleId, r => r.Id, (_, r) => r.Name!)
            .ToListAsync(cancellationToken);
        var settings = await db.ModelSettings.AsNoTracking()
            .Where(s => onlyModel == null || s.ModelId == onlyModel)
            .ToListAsync(cancellationToken);
        return (disabled, roles, settings.ToDictionary(s => s.ModelId, ModelRules.From, StringComparer.Ordinal));
    }
}
