using System.Globalization;

namespace FluxWeb.Application.Jobs;

/// <summary>The authorised URLs that images travel by (never bytes over a circuit). The host maps these routes.</summary>
public static class JobUrls
{
    public const string ApiPrefix = "/api/v1";

    /// <summary>The step in the query only changes the URL so browsers fetch the newer preview.</summary>
    public static string Preview(Guid jobId, int step) => string.Create(CultureInfo.InvariantCulture, $"{ApiPrefix}/jobs/{jobId}/preview?step={step}");

    public static string Image(Guid imageId) => $"{ApiPrefix}/images/{imageId}";
}
