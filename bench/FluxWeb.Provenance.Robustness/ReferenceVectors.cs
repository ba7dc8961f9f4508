using FluxWeb.Provenance.Watermarking;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Robustness;

internal static class ReferenceVectors
{
    public const string InstallationId = "reference-vector-installation";
    public const long Serial = 4242;

    public static void Write(string folder)
    {
        using var image = Image.Load<Rgba32>(Path.Combine(folder, "input_b.png"));
        var bits = WatermarkPayload.Create(WatermarkPayload.TagFor(InstallationId), Serial).ToBits();
        new DwtDctWatermark(DwtDctEmbedMode.CarrierPreserving).Embed(image, bits);
        image.SaveAsPng(Path.Combine(folder, "fluxweb_b.png"));
        File.WriteAllText(Path.Combine(folder, "fluxweb_b.txt"), $"embedded {WatermarkBits.ToString(bits)}\n");
        Console.WriteLine($"wrote fluxweb_b.png with {WatermarkBits.ToString(bits)}");
    }
}
