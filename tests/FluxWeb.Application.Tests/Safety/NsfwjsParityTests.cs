using FluxWeb.Provenance.Filters;
using FluxWeb.Testing;
using FluxWeb.Testing.Safety;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Application.Tests.Safety;

/// <summary>
/// The classifier FluxWeb builds from nsfwjs's published package gives nsfwjs's own answers: the same
/// pictures through nsfwjs 4.4.0 in Node (TensorFlow.js CPU backend) and through FluxWeb's preprocessing
/// and ONNX graph agree on all five probabilities within 1e-4.
/// </summary>
public sealed class NsfwjsParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-parity");

    [Fact]
    public void Twenty_four_varied_pictures_match_nsfwjs_in_node_within_1e_4()
    {
        var installed = NsfwjsPackage.InstallInto(folder.Combine("models"));
        using var classifier = new PackagedImageClassifier(installed.Folder);
        var pictures = TestPictures.All();
        try
        {
            Assert.True(pictures.Count >= 20);
            // Through PNG and back, as an upload arrives (alpha kept, then ignored by both sides).
            var decoded = pictures.Select(p =>
            {
                using var stream = new MemoryStream();
                p.Image.SaveAsPng(stream);
                return (p.Name, Image: Image.Load<Rgba32>(stream.ToArray()));
            }).ToList();
            var reference = NsfwjsPackage.Reference(decoded.Select(p => (p.Name, p.Image.Width, p.Image.Height, TestPictures.Rgb(p.Image))));

            var worst = 0.0;
            foreach (var (name, image) in decoded)
            {
                var ours = classifier.Classify(image).Classes;
                var theirs = reference[name];
                output.WriteLine($"{name,-28} nsfwjs [{string.Join(", ", theirs.Select(p => p.ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture)))}]");
                Assert.Equal(5, theirs.Length);
                for (var i = 0; i < 5; i++)
                {
                    var difference = Math.Abs(ours[classifier.Classes[i]] - theirs[i]);
                    worst = Math.Max(worst, difference);
                    Assert.True(difference <= 1e-4, $"{name}: {classifier.Classes[i]} is {ours[classifier.Classes[i]]:0.000000} here and {theirs[i]:0.000000} in nsfwjs.");
                }

                image.Dispose();
            }

            output.WriteLine($"largest difference: {worst:E2}");
            Assert.Equal(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], classifier.Classes);
        }
        finally
        {
            foreach (var (_, image) in pictures)
            {
                image.Dispose();
            }
        }
    }

    public void Dispose() => folder.Dispose();
}
