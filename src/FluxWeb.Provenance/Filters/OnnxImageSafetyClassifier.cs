using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Provenance.Filters;

/// <summary>
/// The reference NSFW image classifier contract (a ViT-base/16 fine-tune, labels {0: normal, 1: nsfw}): input
/// <c>pixel_values</c> float [N,3,224,224] RGB, made by a bilinear resize to 224×224 ignoring aspect, ×1/255, then
/// (x − 0.5)/0.5; output logits [N,2]. Returns softmax[1].
/// </summary>
public sealed class OnnxImageSafetyClassifier : IImageSafetyClassifier, IDisposable
{
    public const int Size = 224;
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly Lock gate = new();

    public OnnxImageSafetyClassifier(string modelPath)
    {
        session = new InferenceSession(modelPath);
        var (name, metadata) = session.InputMetadata.First();
        var dimensions = metadata.Dimensions;
        if (metadata.ElementDataType != TensorElementType.Float || dimensions.Length != 4 || dimensions[1] != 3 || dimensions[2] != Size || dimensions[3] != Size)
        {
            session.Dispose();
            throw new InvalidDataException($"{modelPath}: the image classifier's input must be float pixel_values [N,3,{Size},{Size}].");
        }

        inputName = name;
        ModelPath = modelPath;
    }

    public const string NormalClass = "normal";
    public const string NsfwClass = "nsfw";

    public string ModelPath { get; }

    public string ModelName => Path.GetFileName(ModelPath);

    public IReadOnlyList<string> Classes { get; } = [NormalClass, NsfwClass];

    public ImageScores Classify(Image<Rgba32> image)
    {
        var nsfw = NsfwProbability(image);
        return new ImageScores(new Dictionary<string, double>(StringComparer.Ordinal) { [NormalClass] = 1 - nsfw, [NsfwClass] = nsfw });
    }

    public double NsfwProbability(Image<Rgba32> image)
    {
        var tensor = Preprocess(image);
        lock (gate)
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
            var logits = results[0].AsTensor<float>();
            return Softmax.SecondOfTwo(logits[0, 0], logits[0, 1]);
        }
    }

    public static DenseTensor<float> Preprocess(Image<Rgba32> image)
    {
        using var resized = image.Clone(x => x.Resize(new ResizeOptions { Size = new Size(Size, Size), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle }));
        var tensor = new DenseTensor<float>([1, 3, Size, Size]);
        resized.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < Size; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < Size; x++)
                {
                    tensor[0, 0, y, x] = Normalise(row[x].R);
                    tensor[0, 1, y, x] = Normalise(row[x].G);
                    tensor[0, 2, y, x] = Normalise(row[x].B);
                }
            }
        });
        return tensor;
    }

    public void Dispose() => session.Dispose();

    private static float Normalise(byte value) => ((value / 255f) - 0.5f) / 0.5f;
}

/// <summary>An image classifier the content filter can run: named classes, one probability each.</summary>
public interface IImageSafetyClassifier
{
    /// <summary>For people: "nsfwjs 4.4.0 MobileNetV2", or the operator's file name.</summary>
    string ModelName { get; }

    IReadOnlyList<string> Classes { get; }

    ImageScores Classify(Image<Rgba32> image);
}
