using System.Text.Json.Serialization;

namespace FluxWeb.Host.Hosting;

internal static class WebApiServiceCollectionExtensions
{
    /// <summary>
    /// JSON for the minimal APIs under /api: enums as their names, so a script reads "Queued", not 0;
    /// and unhandled errors there as problem JSON (<see cref="ApiExceptionHandler"/>).
    /// </summary>
    public static IServiceCollection AddWebApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        return services;
    }
}
