using FluxWeb.Domain.Accounts;

namespace FluxWeb.Application.Licensing;

/// <summary>What an account wants to do with a model or with an image a model produced.</summary>
public enum LicencedAction
{
    /// <summary>Run the model (submit a job, or the worker starting one).</summary>
    Generate,

    /// <summary>See the image in the gallery or its detail view.</summary>
    View,

    /// <summary>Download the file.</summary>
    Download,

    /// <summary>Receive it through the API.</summary>
    Export,

    /// <summary>Feed it back in as a reference or source image.</summary>
    UseAsReference,
}

/// <summary>The licence facts the policy needs about a model (or about the model that made an image).</summary>
public sealed record ModelLicenceFacts(string ModelId, string LicenceId, bool CommercialUseAllowed);

public sealed record LicenceDecision(bool Allowed, string? Reason)
{
    public static LicenceDecision Allow { get; } = new(true, null);
}

/// <summary>
/// The one place that decides licensing: a Commercial account never generates with a
/// non-commercial model and never receives anything such a model produced — in any form (view,
/// download, export, reuse as input). NonCommercial accounts may use both. Every door calls this.
/// </summary>
public static class LicencePolicy
{
    public static LicenceDecision Decide(AccountType account, ModelLicenceFacts model, LicencedAction action)
    {
        if (model.CommercialUseAllowed || account == AccountType.NonCommercial)
        {
            return LicenceDecision.Allow;
        }

        var what = action switch
        {
            LicencedAction.Generate => $"generate with {model.ModelId}",
            LicencedAction.View => $"view images made by {model.ModelId}",
            LicencedAction.Download => $"download images made by {model.ModelId}",
            LicencedAction.Export => $"export images made by {model.ModelId}",
            _ => $"use images made by {model.ModelId} as input",
        };
        return new LicenceDecision(false,
            $"Your account is licensed for commercial use, so it may not {what}: the model is under the {model.LicenceId} licence, which does not allow commercial use. Ask an administrator if your account type is wrong.");
    }
}
