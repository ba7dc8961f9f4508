using System.Linq.Expressions;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;

namespace FluxWeb.Application.Licensing;

/// <summary>
/// <see cref="LicenceGate.Facts(StoredImage)"/> and <see cref="LicencePolicy"/> as database filters,
/// so a listing (gallery, prompt history, the API, the admin's count) hides exactly what the image
/// endpoint would refuse, and never disagrees with it on an image without a model or a licence flag.
/// </summary>
public static class LicenceQueries
{
    /// <summary>
    /// An output (or a picture made here from one, which carries its facts) whose model is known and whose licence does
    /// not say "commercial use allowed".
    /// </summary>
    public static readonly Expression<Func<StoredImage, bool>> NonCommercialOutput =
        i => i.Kind != StoredImageKind.Mask && i.ModelId != null && i.CommercialUse != true;

    /// <summary>Everything a commercial account may receive: the negation of <see cref="NonCommercialOutput"/>.</summary>
    public static readonly Expression<Func<StoredImage, bool>> ReceivableByCommercialAccount =
        Expression.Lambda<Func<StoredImage, bool>>(Expression.Not(NonCommercialOutput.Body), NonCommercialOutput.Parameters);

    private static readonly Func<StoredImage, bool> IsNonCommercial = NonCommercialOutput.Compile();

    /// <summary>Some non-commercial model, for asking the policy about outputs in general.</summary>
    private static readonly ModelLicenceFacts AnyNonCommercialModel = new("any", "FLUX-Non-Commercial", CommercialUseAllowed: false);

    public static bool IsNonCommercialOutput(StoredImage image) => IsNonCommercial(image);

    /// <summary>Whether listings for this viewer leave non-commercial outputs out (administrators see them, marked).</summary>
    public static bool HidesNonCommercialOutputs(bool isAdmin, AccountType account) =>
        !isAdmin && !LicencePolicy.Decide(account, AnyNonCommercialModel, LicencedAction.View).Allowed;
}
