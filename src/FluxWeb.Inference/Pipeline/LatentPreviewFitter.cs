using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Randomness;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// Fits the preview's 32→RGB map against a package's own VAE: encode smooth random colour fields,
/// pair each latent pixel with the mean colour of the 8×8 block it covers, and solve a small ridge
/// regression. Every package gets a map that matches its VAE, with no numbers copied from elsewhere.
/// </summary>
public static class LatentPreviewFitter
{
    private const int Side = 64;
    private const int Samples = 24;

    public static LatentPreviewInfo Fit(InferenceSession vaeEncoder, string inputName, string outputName, ulong seed = 7)
    {
        const int unknowns = LatentPreview.VaeChannels + 1;
        var normal = new double[unknowns, unknowns];
        var right = new double[unknowns, 3];
        var random = new SplitMix64(seed);
        for (var sample = 0; sample < Samples; sample++)
        {
            var image = SmoothColourField(ref random);
            using var results = vaeEncoder.Run([NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(image, [1, 3, Side, Side]))]);
            var latents = results.First(r => r.Name == outputName).AsTensor<float>().ToArray();
            var grid = Side / 16;
            for (var h = 0; h < grid; h++)
            {
                for (var w = 0; w < grid; w++)
                {
                    for (var pi = 0; pi < 2; pi++)
                    {
                        for (var pj = 0; pj < 2; pj++)
                        {
                            var features = new double[unknowns];
                            for (var c = 0; c < LatentPreview.VaeChannels; c++)
                            {
                                features[c] = latents[((c * 4 + pi * 2 + pj) * grid + h) * grid + w];
                            }

                            features[^1] = 1;
                            var target = BlockMean(image, 2 * h + pi, 2 * w + pj);
                            for (var i = 0; i < unknowns; i++)
                            {
                                for (var j = 0; j < unknowns; j++)
                                {
                                    normal[i, j] += features[i] * features[j];
                                }

                                for (var k = 0; k < 3; k++)
                                {
                                    right[i, k] += features[i] * target[k];
                                }
                            }
                        }
                    }
                }
            }
        }

        for (var i = 0; i < unknowns; i++)
        {
            normal[i, i] += 1e-3;
        }

        var solution = Solve(normal, right);
        var factors = new float[3 * LatentPreview.VaeChannels];
        for (var k = 0; k < 3; k++)
        {
            for (var c = 0; c < LatentPreview.VaeChannels; c++)
            {
                factors[k * LatentPreview.VaeChannels + c] = (float)solution[c, k];
            }
        }

        return new LatentPreviewInfo { Factors = factors, Bias = [(float)solution[unknowns - 1, 0], (float)solution[unknowns - 1, 1], (float)solution[unknowns - 1, 2]] };
    }

    private static float[] SmoothColourField(ref SplitMix64 random)
    {
        // Random colours at the four corners, blended bilinearly: smooth like real images' low frequencies.
        var corners = new double[4, 3];
        for (var i = 0; i < 4; i++)
        {
            for (var k = 0; k < 3; k++)
            {
                corners[i, k] = random.NextUnit() * 2 - 1;
            }
        }

        var plane = Side * Side;
        var image = new float[3 * plane];
        for (var y = 0; y < Side; y++)
        {
            var v = y / (double)(Side - 1);
            for (var x = 0; x < Side; x++)
            {
                var u = x / (double)(Side - 1);
                for (var k = 0; k < 3; k++)
                {
                    var top = corners[0, k] * (1 - u) + corners[1, k] * u;
                    var bottom = corners[2, k] * (1 - u) + corners[3, k] * u;
                    image[k * plane + y * Side + x] = (float)(top * (1 - v) + bottom * v);
                }
            }
        }

        return image;
    }

    private static double[] BlockMean(float[] image, int blockRow, int blockColumn)
    {
        var plane = Side * Side;
        var mean = new double[3];
        for (var y = blockRow * 8; y < blockRow * 8 + 8; y++)
        {
            for (var x = blockColumn * 8; x < blockColumn * 8 + 8; x++)
            {
                for (var k = 0; k < 3; k++)
                {
                    mean[k] += image[k * plane + y * Side + x] / 64.0;
                }
            }
        }

        return mean;
    }

    /// <summary>Gaussian elimination with partial pivoting for the (small, regularised, positive definite) normal equations.</summary>
    private static double[,] Solve(double[,] a, double[,] b)
    {
        var n = a.GetLength(0);
        var m = b.GetLength(1);
        for (var column = 0; column < n; column++)
        {
            var pivot = column;
            for (var row = column + 1; row < n; row++)
            {
                if (Math.Abs(a[row, column]) > Math.Abs(a[pivot, column]))
                {
                    pivot = row;
                }
            }

            for (var j = 0; j < n; j++)
            {
                (a[column, j], a[pivot, j]) = (a[pivot, j], a[column, j]);
            }

            for (var j = 0; j < m; j++)
            {
                (b[column, j], b[pivot, j]) = (b[pivot, j], b[column, j]);
            }

            for (var row = column + 1; row < n; row++)
            {
                var factor = a[row, column] / a[column, column];
                for (var j = column; j < n; j++)
                {
                    a[row, j] -= factor * a[column, j];
                }

                for (var j = 0; j < m; j++)
                {
                    b[row, j] -= factor * b[column, j];
                }
            }
        }

        var x = new double[n, m];
        for (var row = n - 1; row >= 0; row--)
        {
            for (var j = 0; j < m; j++)
            {
                var sum = b[row, j];
                for (var k = row + 1; k < n; k++)
                {
                    sum -= a[row, k] * x[k, j];
                }

                x[row, j] = sum / a[row, row];
            }
        }

        return x;
    }
}
