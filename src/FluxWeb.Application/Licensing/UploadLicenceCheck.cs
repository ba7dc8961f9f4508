using FluxWeb.Application.Audit;
using FluxWeb.Application.Outputs;
using FluxWeb.Domain.Audit;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Logging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Licensing;

/// <summary>
/// Every upload's invisible watermark is read before it is stored. A picture this server made
/// carries its serial, and the serial names the model that made it: a copy of a non-commercial
/// output uploaded by a commercial account (its own, downloaded before its account type changed, or
/// a colleague's) would otherwise come back in as an ordinary picture and carry the non-commercial
/// model's work into a commercial output. Such an upload is refused with the reason and audited.
/// </summary>
public sealed partial class UploadLicenceCheck(
    InvisibleWatermarker watermarker,
    WatermarkSerials serials,
    LicenceGate licences,
    AuditLog audit,
    ILogger<UploadLicenceCheck> logger)
{
    /// <summary>The serial of this installation's mark in the picture, if it carries one. Pixel work only: call it while the decoded picture is at hand.</summary>
    public long? SerialIn(Image<Rgba32> picture) => watermarker.FindOwnSerial(picture);

    /// <summary>Why <paramref name="userId"/> may not upload a picture carrying <paramref name="serial"/>; null when it may (no mark, another installation's, or a licence the account may use).</summary>
    public async Task<string?> RefusalAsync(string userId, long? serial, string channel, CancellationToken cancellationToken = default)
    {
        if (serial is not { } value || await serials.TraceAsync(value, cancellationToken) is not { } trace)
        {
            return null;
        }

        // An upload becomes an input, so administrators are not exempt: the output would land in their own account.
        var decision = LicencePolicy.Decide(await licences.AccountTypeAsync(userId, cancellationToken), trace.Model, LicencedAction.UseAsReference);
        if (decision.Allowed)
        {
            return null;
        }

        // The reason names the model and its licence, never the job, its owner or its prompt: the picture may be someone else's.
        var reason = $"This picture carries this server's invisible watermark: it was made here with {trace.Model.ModelId}, so it counts as that model's output. {decision.Reason}";
        LogRefused(logger, userId, value, trace.Model.ModelId, trace.JobId);
        await audit.RecordAsync(new AuditEntry(AuditActions.LicenceRefused, userId)
        {
            Succeeded = false,
            ModelId = trace.Model.ModelId,
            JobId = trace.JobId,
            Detail = $"Upload refused (watermark serial {value}): {reason}",
            Channel = channel,
        }, CancellationToken.None);
        return reason;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload of user {UserId} refused: its watermark (serial {Serial}) traces it to job {JobId} of model {ModelId}, which the account's licence does not allow")]
    private static partial void LogRefused(ILogger logger, string userId, long serial, string modelId, Guid? jobId);
}
