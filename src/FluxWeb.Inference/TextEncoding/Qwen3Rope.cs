namespace FluxWeb.Inference.TextEncoding;

/// <summary>
/// Qwen3's default rotary tables, computed the way transformers does: inverse frequencies
/// <c>1 / theta^(2i/d)</c> and angles <c>position · inv_freq</c> in float32, cos/sin of the float32
/// angle. Float64 angles would move the output by ~2e-6 at position 511; float32 keeps us on the
/// reference's rounding.
/// </summary>
public static class Qwen3Rope
{
    public static float[] InverseFrequencies(Qwen3Config config)
    {
        var half = config.HeadDim / 2;
        var result = new float[half];
        for (var i = 0; i < half; i++)
        {
            var exponent = (float)(2 * i) / config.HeadDim;
            result[i] = 1f / (float)Math.Pow(config.RopeTheta, exponent);
        }

        return result;
    }

    /// <summary>
    /// Tables [positions, head_dim/2] as ONNX Runtime's RotaryEmbedding reads them; the reference's
    /// [positions, head_dim] tables are these repeated twice (<c>cat(freqs, freqs)</c>).
    /// </summary>
    public static (float[] Cos, float[] Sin) Tables(Qwen3Config config, int positions)
    {
        var inverse = InverseFrequencies(config);
        var half = inverse.Length;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (var p = 0; p < positions; p++)
        {
            for (var i = 0; i < half; i++)
            {
                var angle = (float)p * inverse[i];
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        }

        return (cos, sin);
    }
}
