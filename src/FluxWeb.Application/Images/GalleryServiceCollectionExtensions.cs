using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Images;

public static class GalleryServiceCollectionExtensions
{
    /// <summary>The gallery, prompt history and the API's image listing: reads, favourites and deletion, thumbnails. Needs AddPersistence, AddAccounts and AddJobs.</summary>
    public static IServiceCollection AddGallery(this IServiceCollection services)
    {
        services.AddSingleton<GalleryQuery>();
        services.AddSingleton<GalleryActions>();
        services.AddSingleton<ThumbnailStore>();
        services.AddSingleton<PromptHistoryQuery>();
        services.AddSingleton<ImageListing>();
        return services;
    }
}
