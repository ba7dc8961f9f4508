using System.Text.Json;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>What the person took out of "My jobs", as this browser keeps it: everything finished before a time, and single jobs.</summary>
public sealed record DismissedJobs(DateTime? ClearedBeforeUtc, IReadOnlyList<Guid> Ids)
{
    private const int MaxJsonLength = 16 * 1024;

    public string ToJson() => JsonSerializer.Serialize(this, JsonSerializerOptions.Web);

    /// <summary>Null for nothing kept or anything that is not this (the list then shows every job, losing nothing).</summary>
    public static DismissedJobs? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json) || json.Length > MaxJsonLength)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<DismissedJobs>(json, JsonSerializerOptions.Web) is { } kept
                ? kept with { Ids = kept.Ids ?? [] }
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
