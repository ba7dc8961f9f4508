namespace FluxWeb.Host.Uploads;

internal static class MaskUploadsServiceCollectionExtensions
{
    /// <summary>The mask store behind <c>/api/v1/uploads/masks</c>; needs <c>AddPersistence</c> and <c>AddProvenance</c>.</summary>
    public static IServiceCollection AddMaskUploads(this IServiceCollection services)
    {
        services.AddSingleton<MaskUploadStore>();
        return services;
    }
}
