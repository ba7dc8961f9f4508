using System.Text.Json;
using System.Text.Json.Nodes;
using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Watermarking;

namespace FluxWeb.Provenance.Inspection;

/// <summary>What <c>fluxweb verify</c> and the admin "Check an image" page report about one file.</summary>
public sealed record ProvenanceReport(WatermarkDetection? Watermark, string? WatermarkError, C2paVerification C2pa)
{
    /// <summary>The job the watermark serial belongs to, filled in by the host (the library has no database).</summary>
    public string? Job { get; init; }

    /// <summary>One JSON line: <c>{"watermark": {"present", "bits", "job", …}, "c2pa": {"state", …}}</c>.</summary>
    public string ToJson()
    {
        var watermark = new JsonObject
        {
            ["present"] = Watermark?.Present ?? false,
            ["bits"] = Watermark?.Bits,
            ["job"] = Job,
            ["serial"] = Watermark?.Serial,
            ["thisInstallation"] = Watermark?.FromThisInstallation ?? false,
            ["known"] = Watermark?.KnownMark?.Name,
            ["confidence"] = Watermark is null ? null : Math.Round(Watermark.Confidence, 3),
        };
        if (WatermarkError is not null)
        {
            watermark["error"] = WatermarkError;
        }

        var c2pa = new JsonObject
        {
            ["state"] = C2pa.State.ToString(),
            ["failures"] = new JsonArray(C2pa.Failures.Select(f => (JsonNode)new JsonObject { ["code"] = f.Code, ["explanation"] = f.Explanation }).ToArray()),
            ["manifest"] = C2pa.ManifestLabel,
            ["generator"] = C2pa.ClaimGenerator,
            ["model"] = C2pa.ModelId,
            ["licence"] = C2pa.ModelLicence,
            ["digitalSourceType"] = C2pa.DigitalSourceType,
            ["ingredients"] = new JsonArray(C2pa.Ingredients.Select(i => (JsonNode)new JsonObject { ["title"] = i.Title, ["format"] = i.Format, ["instanceId"] = i.InstanceId }).ToArray()),
            ["signer"] = C2pa.Signer,
            ["issuer"] = C2pa.SignerIssuer,
        };
        return new JsonObject { ["watermark"] = watermark, ["c2pa"] = c2pa }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
