using FluxWeb.Application.Licensing;
using FluxWeb.Inference.Packages;

namespace FluxWeb.Application.Models;

/// <summary>An installed model as one account sees it: usable or not, and why not.</summary>
public sealed record ModelChoice(string Id, string Label, string LicenceId, bool CommercialUse, bool Demo, ModelVariant Variant, SamplingInfo Sampling, bool Allowed, string? Reason);

/// <summary>
/// Which installed models an account may use, with the reason for each one it may not: the model
/// picker shows them disabled with that reason, and submission refuses them with the same words.
/// </summary>
public sealed class ModelAccessService(ModelCatalog catalog, LicenceGate licences)
{
    public async Task<IReadOnlyList<ModelChoice>> ChoicesAsync(string userId, CancellationToken cancellationToken = default)
    {
        var account = await licences.AccountTypeAsync(userId, cancellationToken);
        var choices = new List<ModelChoice>();
        foreach (var model in catalog.List())
        {
            if (model.Manifest is not { } manifest)
            {
                continue;
            }

            var decision = LicencePolicy.Decide(account, LicenceGate.Facts(manifest), LicencedAction.Generate);
            choices.Add(new ModelChoice(manifest.Id, manifest.Label, manifest.Licence!.Id, manifest.AllowsCommercialUse, manifest.Demo, manifest.Variant, manifest.Sampling, decision.Allowed, decision.Reason));
        }

        return choices.OrderByDescending(c => c.Allowed).ThenBy(c => c.Demo).ThenBy(c => c.Label, StringComparer.OrdinalIgnoreCase).ToList();
    }
}
