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
/// nsfwjs in Node takes minutes of CPU for these pictures, so its answers are recorded beside this file
/// (<c>nsfwjs-reference.json</c>, with a hash of each picture's pixels) and the everyday run compares with
/// them; the test in category <c>Reference</c> (<c>./build.sh test --all</c>) runs nsfwjs again and checks
/// the record is what it says today (run it with <c>FLUXWEB_RECORD_REFERENCE=1</c> to write a new record).
/// </summary>
public sealed class NsfwjsParityTests(ITestOutputHelper output) : IDisposable
{
    private const double Tolerance = 1e-4;

    private static readonly string RecordPath = Path.Combine(NsfwjsPackage.RepositoryRoot(), "tests", "FluxWeb.Application.Tests", "Safety", "nsfwjs-reference.json");

    private readonly TempFolder folder = new("fluxweb-parity");

    [Fact]
    public void Twenty_four_varied_pictures_match_nsfwjs_within_1e_4()
    {
        var record = NsfwjsRecord.Read(RecordPath);
        var installed = NsfwjsPackage.InstallInto(folder.Combine("models"));
        using var classifier = new PackagedImageClassifier(installed.Folder);
        var pictures = Pictures();
        try
        {
            Assert.True(pictures.Count >= 20);
            Assert.Equal(pictures.Select(p => p.Name).Order(), record.Probabilities.Keys.Order());
            var worst = 0.0;
            foreach (var (name, image) in pictures)
            {
                Assert.True(record.PixelHashes[name] == PixelHash(image), $"The picture '{name}' is not the one nsfwjs's answers were recorded for: run ./build.sh test --all with FLUXWEB_RECORD_REFERENCE=1 to record them again.");
                var ours = classifier.Classify(image).Classes;
                var theirs = record.Probabilities[name];
                output.WriteLine($"{name,-28} nsfwjs [{string.Join(", ", theirs.Select(p => p.ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture)))}]");
                Assert.Equal(5, theirs.Length);
                for (var i = 0; i < 5; i++)
                {
                    var difference = Math.Abs(ours[classifier.Classes[i]] - theirs[i]);
                    worst = Math.Max(worst, difference);
                    Assert.True(difference <= Tolerance, $"{name}: {classifier.Classes[i]} is {ours[classifier.Classes[i]]:0.000000} here and {theirs[i]:0.000000} in nsfwjs.");
                }
            }

            output.WriteLine($"largest difference: {worst:E2}");
            Assert.Equal(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], classifier.Classes);
        }
        finally
        {
            Dispose(pictures);
        }
    }

    [Fact]
    [Trait("Category", "Reference")]
    public void The_recorded_answers_are_what_nsfwjs_in_node_gives_today()
    {
        var pictures = Pictures();
        try
        {
            var reference = NsfwjsPackage.Reference(pictures.Select(p => (p.Name, p.Image.Width, p.Image.Height, TestPictures.Rgb(p.Image))));
            var now = new NsfwjsRecord(reference, pictures.ToDictionary(p => p.Name, p => PixelHash(p.Image)));
            if (Environment.GetEnvironmentVariable("FLUXWEB_RECORD_REFERENCE") == "1")
            {
                now.Write(RecordPath);
                output.WriteLine($"recorded {RecordPath}");
            }

            var record = NsfwjsRecord.Read(RecordPath);
            Assert.Equal(now.PixelHashes.OrderBy(p => p.Key), record.PixelHashes.OrderBy(p => p.Key));
            foreach (var (name, probabilities) in now.Probabilities)
            {
                Assert.Equal(probabilities, record.Probabilities[name], (a, b) => Math.Abs(a - b) <= 1e-7);
            }
        }
        finally
        {
            Dispose(pictures);
        }
    }

    /// <summary>Through PNG and back, as an upload arrives (alpha kept, then ignored by both sides).</summary>
    private static List<(string Name, Image<Rgba32> Image)> Pictures()
    {
        var pictures = TestPictures.All();
        try
        {
            return pictures.Select(p =>
            {
                using var stream = new MemoryStream();
                p.Image.SaveAsPng(stream);
                return (p.Name, Image: Image.Load<Rgba32>(stream.ToArray()));
            }).ToList();
        }
        finally
        {
            foreach (var (_, image) in pictures)
            {
                image.Dispose();
            }
        }
    }

    private static string PixelHash(Image<Rgba32> image) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(TestPictures.Rgb(image)));

    private static void Dispose(List<(string Name, Image<Rgba32> Image)> pictures)
    {
        foreach (var (_, image) in pictures)
        {
            image.Dispose();
        }
    }

    public void Dispose() => folder.Dispose();

    private sealed record NsfwjsRecord(Dictionary<string, double[]> Probabilities, Dictionary<string, string> PixelHashes)
    {
        private static readonly System.Text.Json.JsonSerializerOptions Json = new() { WriteIndented = true };

        public static NsfwjsRecord Read(string path) =>
            System.Text.Json.JsonSerializer.Deserialize<NsfwjsRecord>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"{path} is empty.");

        public void Write(string path) => File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(this, Json) + "\n");
    }
}
