using FluxWeb.Domain.Time;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FluxWeb.Application.Boards;

public static class BoardsServiceCollectionExtensions
{
    /// <summary>Boards, sharing with teammates and the team, copying a shared image into one's own uploads, ZIP export. Needs AddGallery.</summary>
    public static IServiceCollection AddBoards(this IServiceCollection services)
    {
        services.AddSingleton<BoardService>();
        services.AddSingleton<BoardAutoAdd>();
        services.AddSingleton<SharedImageReuse>();
        services.AddOptions<ExportOptions>()
            .BindConfiguration(ExportOptions.SectionName)
            .Validate(o => ExportOptions.ValidLimit(o.MaxZipBytes), "Export:MaxZipBytes must be between 1048576 (1 MiB) and 1099511627776 (1 TiB).")
            .Validate(o => o.MaxImages is >= 1 and <= 10_000, "Export:MaxImages must be between 1 and 10000.")
            .ValidateOnStart();
        services.TryAddSingleton(AppClock.Real);
        services.AddSingleton<ZipExport>();
        return services;
    }
}
