using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Filters;

/// <summary>
/// An installed classifier package (by default nsfwjs's MobileNetV2, see <c>fluxweb safety install</c>)
/// run on ONNX Runtime's CPU provider. The picture is prepared exactly as nsfwjs's <c>infer</c> does
/// it, so the probabilities are nsfwjs's own: RGB (alpha ignored, as <c>tf.browser.fromPixels</c>
/// does), each value /255 in float32, then <c>tf.image.resizeBilinear(…, [224, 224], alignCorners =
/// true)</c> with TensorFlow.js's CPU arithmetic (double-precision interpolation of float32 values,
/// rounded once). A picture already 224×224 is not resized, as in nsfwjs.
/// </summary>
public sealed class PackagedImageClassifier : IImageSafetyClassifier, IDisposable
{
    private readonly InferenceSession session;

    public PackagedImageClassifier(string folder)
    {
        Manifest = ImageClassifierManifest.Load(folder);
        Folder = folder;
        using var options = new SessionOptions();
        // A small model beside a big one: a few threads are enough and leave the CPU to the rest.
        options.IntraOpNumThreads = Math.Clamp(Environment.ProcessorCount / 2, 1, 4);
        session = new InferenceSession(Path.Combine(folder, Manifest.Graph), options);
        try
        {
            if (!session.InputMetadata.TryGetValue(Manifest.Input.Name, out var input) || input.ElementDataType != TensorElementType.Float
                || input.Dimensions is not [_, var h, var w, 3] || h != Manifest.Input.Size || w != Manifest.Input.Size)
            {
                throw new InvalidDataException($"{Manifest.Id}: the graph's input '{Manifest.Input.Name}' must be float [N,{Manifest.Input.Size},{Manifest.Input.Size},3].");
            }

            if (!session.OutputMetadata.TryGetValue(Manifest.Output, out var output) || output.Dimensions is not [_, var classes] || classes != Manifest.Classes.Count)
            {
                throw new InvalidDataException($"{Manifest.Id}: the graph's output '{Manifest.Output}' must be [N,{Manifest.Classes.Count}], one score per class.");
            }
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public ImageClassifierManifest Manifest { get; }

    public string Folder { get; }

    public string ModelName => Manifest.DisplayName;

    public IReadOnlyList<string> Classes => Manifest.Classes;

    public ImageScores Classify(Image<Rgba32> image)
    {
        var size = Manifest.Input.Size;
        var input = new DenseTensor<float>(Preprocess(image, size), [1, size, size, 3]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(Manifest.Input.Name, input)], [Manifest.Output]);
        var scores = results[0].AsTensor<float>();
        return new ImageScores(Manifest.Classes.Select((name, i) => (name, (double)scores[0, i])).ToDictionary(p => p.name, p => p.Item2, StringComparer.Ordinal));
    }

    /// <summary>The classifier's input, NHWC [size, size, 3] as a flat array, made exactly as nsfwjs's <c>infer</c> makes it.</summary>
    public static float[] Preprocess(Image<Rgba32> image, int size)
    {
        var (height, width) = (image.Height, image.Width);
        var source = new float[height * width * 3];
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    var offset = ((y * width) + x) * 3;
                    // tfjs divides in double and stores float32: (float)(v / 255.0), not v / 255f.
                    source[offset] = (float)(row[x].R / 255.0);
                    source[offset + 1] = (float)(row[x].G / 255.0);
                    source[offset + 2] = (float)(row[x].B / 255.0);
                }
            }
        });

        if (height == size && width == size)
        {
            return source;
        }

        // tfjs-backend-cpu's ResizeBilinear with alignCorners = true, halfPixelCenters = false.
        var result = new float[size * size * 3];
        double rowRatio = size > 1 ? (double)(height - 1) / (size - 1) : (double)height / size;
        double colRatio = size > 1 ? (double)(width - 1) / (size - 1) : (double)width / size;
        var index = 0;
        for (var r = 0; r < size; r++)
        {
            var sourceRow = rowRatio * r;
            var rowFloor = Math.Max(0, (int)Math.Floor(sourceRow));
            var rowFraction = sourceRow - rowFloor;
            var rowCeil = Math.Min(height - 1, (int)Math.Ceiling(sourceRow));
            for (var c = 0; c < size; c++)
            {
                var sourceCol = colRatio * c;
                var colFloor = Math.Max(0, (int)Math.Floor(sourceCol));
                var colFraction = sourceCol - colFloor;
                var colCeil = Math.Min(width - 1, (int)Math.Ceiling(sourceCol));
                for (var d = 0; d < 3; d++)
                {
                    double topLeft = source[(((rowFloor * width) + colFloor) * 3) + d];
                    double bottomLeft = source[(((rowCeil * width) + colFloor) * 3) + d];
                    double topRight = source[(((rowFloor * width) + colCeil) * 3) + d];
                    double bottomRight = source[(((rowCeil * width) + colCeil) * 3) + d];
                    var top = topLeft + ((topRight - topLeft) * colFraction);
                    var bottom = bottomLeft + ((bottomRight - bottomLeft) * colFraction);
                    result[index++] = (float)(top + ((bottom - top) * rowFraction));
                }
            }
        }

        return result;
    }

    public void Dispose() => session.Dispose();
}
