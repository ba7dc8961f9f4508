using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Watermarking;

namespace FluxWeb.Provenance.Inspection;

/// <summary>Checks a file sent to "verify": C2PA on the exact bytes, the watermark on the safely decoded pixels.</summary>
public sealed class ProvenanceInspector(SafeImageDecoder decoder, InvisibleWatermarker watermarker, C2paVerifier verifier)
{
    public async Task<ProvenanceReport> InspectAsync(Stream file, string? fileName = null, CancellationToken cancellationToken = default) =>
        Inspect(await decoder.ReadBoundedAsync(file, cancellationToken), fileName);

    public ProvenanceReport Inspect(byte[] bytes, string? fileName = null)
    {
        var c2pa = verifier.Verify(bytes);
        try
        {
            using var image = decoder.Decode(bytes, fileName);
            return new ProvenanceReport(watermarker.Detect(image), null, c2pa);
        }
        catch (UnsafeImageException refused)
        {
            return new ProvenanceReport(null, refused.Message, c2pa);
        }
    }
}
