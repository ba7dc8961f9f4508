using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Licensing;

/// <summary>
/// Applies <see cref="LicencePolicy"/> with the account type as it is now in the database (an admin
/// may change it while a session or a queued job waits). Administrators manage every image and
/// are not refused; they see non-commercial outputs marked as such.
/// </summary>
public sealed class LicenceGate(IDbContextFactory<FluxWebDbContext> contexts)
{
    public static ModelLicenceFacts Facts(ModelPackageManifest model) =>
        new(model.Id, model.Licence?.Id ?? "unknown", model.AllowsCommercialUse);

    /// <summary>
    /// The facts an image carries from the model that made it: an output's, and a picture's made here from an output (an
    /// extension's canvas, <see cref="Images.ImageStore.SaveDerivedPictureAsync"/>). Null for uploads and masks, which no
    /// model licence covers.
    /// </summary>
    public static ModelLicenceFacts? Facts(StoredImage image) =>
        image.Kind != StoredImageKind.Mask && image.ModelId is not null
            ? new ModelLicenceFacts(image.ModelId, image.LicenceId ?? "unknown", image.CommercialUse == true)
            : null;

    public async Task<AccountType> AccountTypeAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // An account that no longer exists gets the safe side.
        return await db.Users.Where(u => u.Id == userId).Select(u => (AccountType?)u.AccountType).SingleOrDefaultAsync(cancellationToken) ?? AccountType.Commercial;
    }

    public async Task<LicenceDecision> MayGenerateAsync(string userId, ModelPackageManifest model, CancellationToken cancellationToken = default) =>
        LicencePolicy.Decide(await AccountTypeAsync(userId, cancellationToken), Facts(model), LicencedAction.Generate);

    public async Task<LicenceDecision> MayReceiveAsync(string userId, bool isAdmin, StoredImage image, LicencedAction action, CancellationToken cancellationToken = default)
    {
        if (isAdmin || Facts(image) is not { } facts)
        {
            return LicenceDecision.Allow;
        }

        return LicencePolicy.Decide(await AccountTypeAsync(userId, cancellationToken), facts, action);
    }
}
