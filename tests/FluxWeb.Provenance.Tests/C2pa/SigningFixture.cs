using System.Security.Cryptography.X509Certificates;
using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Certificates;
using FluxWeb.Provenance.Tests.Support;

namespace FluxWeb.Provenance.Tests.C2pa;

/// <summary>One local CA and signer for the C2PA tests, plus freshly encoded outputs to sign.</summary>
public sealed class SigningFixture : IDisposable
{
    public SigningFixture()
    {
        var (root, signer) = LocalCertificateAuthority.Create("tests", DateTimeOffset.UtcNow);
        Root = root;
        Credentials = new SigningCredentials(signer, [], "test CA");
        Signer = new C2paSigner(Credentials);
        using var photo = TestImages.Photo(320, 240, seed: 4);
        Png = TestImages.Png(photo);
        Jpeg = TestImages.Jpeg(photo, 92);
    }

    public X509Certificate2 Root { get; }

    public string RootPem => Root.ExportCertificatePem();

    public SigningCredentials Credentials { get; }

    public C2paSigner Signer { get; }

    public byte[] Png { get; }

    public byte[] Jpeg { get; }

    public static ManifestDescription Description => new()
    {
        ModelId = "black-forest-labs/FLUX.2-klein-4B",
        ModelLicence = "Apache-2.0",
        SoftwareVersion = "1.2.3",
        Title = "a lighthouse at dusk",
        Ingredients =
        [
            IngredientDescription.FromBytes("reference.png", TestImages.Png(TestImages.Flat(8, 8, new SixLabors.ImageSharp.PixelFormats.Rgba32(1, 2, 3)))) with
            {
                ThumbnailJpeg = IngredientDescription.CreateThumbnail(TestImages.Photo(400, 300, seed: 2), maxSide: 64),
            },
            new IngredientDescription("mask.png", "image/png", "sha256:00ff"),
        ],
    };

    public byte[] Output(string mimeType) => mimeType == "image/png" ? Png : Jpeg;

    public void Dispose()
    {
        Root.Dispose();
        Credentials.Dispose();
    }
}
