using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Boards;

public static class BoardsServiceCollectionExtensions
{
    /// <summary>Boards, sharing with teammates and the team, copying a shared image into one's own uploads, ZIP export. Needs AddGallery.</summary>
    public static IServiceCollection AddBoards(this IServiceCollection services)
    {
        services.AddSingleton<BoardService>();
        services.AddSingleton<SharedImageReuse>();
        return services;
    }
}
