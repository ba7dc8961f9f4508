using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Images;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Images;

public sealed record ImageListPage(IReadOnlyList<StoredImage> Images, int Page, int PageSize, int Total);

/// <summary>
/// A user's own stored images for the API, newest first, with the licence policy applied to the
/// listing itself: an image the account may not receive is left out, not just refused on fetch.
/// </summary>
public sealed class ImageListing(IDbContextFactory<FluxWebDbContext> contexts, LicenceGate licences)
{
    public const int MaxPageSize = 200;

    public async Task<ImageListPage> ListOwnAsync(JobActor viewer, StoredImageKind? kind, int page, int pageSize, CancellationToken cancellationToken = default)
    {
        page = Math.Max(0, page);
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        var hideNonCommercial = LicenceQueries.HidesNonCommercialOutputs(viewer.IsAdmin, await licences.AccountTypeAsync(viewer.UserId, cancellationToken));
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Images.AsNoTracking().Where(i => i.OwnerId == viewer.UserId);
        if (kind is { } wanted)
        {
            query = query.Where(i => i.Kind == wanted);
        }

        if (hideNonCommercial)
        {
            query = query.Where(LicenceQueries.ReceivableByCommercialAccount);
        }

        var total = await query.CountAsync(cancellationToken);
        var images = Paging.Offset(page, pageSize) is { } offset
            ? await query.OrderByDescending(i => i.CreatedUtc).ThenByDescending(i => i.Id).Skip(offset).Take(pageSize).ToListAsync(cancellationToken)
            : [];
        return new ImageListPage(images, page, pageSize, total);
    }
}
