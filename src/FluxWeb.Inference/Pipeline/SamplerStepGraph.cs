using FluxWeb.Inference.Onnx;
using Google.Protobuf;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// One step of the klein sampler as a small ONNX graph, so the latents never leave the device the
/// transformer runs on: it reads the transformer's input and output, and writes the next input
/// (image tokens advanced by Euler, reference tokens as they were, the next timestep and step
/// index) plus a small RGB preview of the clean estimate. The engine runs this graph on every
/// device (on the CPU too), so there is one implementation of the sampling maths; it computes
/// exactly what <see cref="FlowMatchEuler"/>, <see cref="Sampler.BlendOutsideMask"/> and
/// <see cref="LatentPreview.PredictClean"/> specify, operation for operation in float32 (a test
/// holds them bit for bit equal).
/// </summary>
public static class SamplerStepGraph
{
    public const string Hidden = "hidden";
    public const string Velocity = "velocity";
    public const string Step = "step";
    public const string Sigmas = "sigmas";
    public const string ImageTokens = "image_tokens";
    public const string Guidance = "guidance";
    public const string Noise = "noise";
    public const string Clean = "clean";
    public const string Mask = "mask";
    public const string PreviewFactors = "preview_factors";
    public const string PreviewBias = "preview_bias";

    public const string NextHidden = "hidden_next";
    public const string NextTimestep = "timestep_next";
    public const string NextStep = "step_next";

    /// <summary>[1, image tokens, 4, 3]: RGB of each token's 2×2 latent pixels, from the projection given as input (see <see cref="LatentPreview"/>).</summary>
    public const string Preview = "preview";

    /// <param name="guided">Batch of two (conditional, unconditional) combined with classifier-free guidance.</param>
    /// <param name="inpaint">A masked edit: outside the mask the latents are reset to the source noised to the next sigma.</param>
    public static byte[] Build(bool guided, bool inpaint)
    {
        var g = new OnnxGraphBuilder($"sampler_step{(guided ? "_guided" : "")}{(inpaint ? "_inpaint" : "")}", ComputePrecision.Float32, Path.GetTempPath());
        var hidden = g.Input(Hidden, DataType.Float, "batch", "tokens", LatentLayout.Channels);
        var velocity = g.Input(Velocity, DataType.Float, "batch", "tokens", LatentLayout.Channels);
        var step = g.Input(Step, DataType.Int64, 1);
        var sigmas = g.Input(Sigmas, DataType.Float, "steps_plus_one");
        var imageTokens = g.Input(ImageTokens, DataType.Int64, 1);

        var nextStep = g.Op("Add", [step, g.Int64(1)]);
        var sigma = g.Op("Gather", [sigmas, step], a => a.Int("axis", 0));
        var sigmaNext = g.Op("Gather", [sigmas, nextStep], a => a.Int("axis", 0));
        // As the reference: the difference in float64, rounded once, then float32 multiply and add.
        var dt = g.Cast(g.Op("Sub", [g.Cast(sigmaNext, DataType.Double), g.Cast(sigma, DataType.Double)]), DataType.Float);

        string Rows(string x, long batch) => g.Op("Slice", [x, g.Int64(batch, 0), g.Op("Concat", [g.Int64(batch + 1), imageTokens], a => a.Int("axis", 0)), g.Int64(0, 1)]);
        var latents = Rows(hidden, 0);
        var v = Rows(velocity, 0);
        if (guided)
        {
            var unconditional = Rows(velocity, 1);
            v = g.Op("Add", [unconditional, g.Op("Mul", [g.Input(Guidance, DataType.Float, 1), g.Op("Sub", [v, unconditional])])]);
        }

        var clean = g.Op("Sub", [latents, g.Op("Mul", [sigma, v])]);
        var next = g.Op("Add", [latents, g.Op("Mul", [dt, v])]);
        if (inpaint)
        {
            var mask = g.Input(Mask, DataType.Float, 1, "image_tokens", 1);
            var kept = g.Op("Add", [g.Op("Mul", [sigmaNext, g.Input(Noise, DataType.Float, 1, "image_tokens", LatentLayout.Channels)]), g.Op("Mul", [g.Op("Sub", [g.Float32Constant([1f]), sigmaNext]), g.Input(Clean, DataType.Float, 1, "image_tokens", LatentLayout.Channels)])]);
            next = g.Op("Add", [g.Op("Mul", [g.Op("Sub", [g.Float32Constant([1f]), mask]), kept]), g.Op("Mul", [mask, next])]);
        }

        var batch = g.Dim(hidden, 0);
        var everyBatch = g.Op("Expand", [next, g.Op("Concat", [batch, g.Int64(1, 1)], a => a.Int("axis", 0))]);
        var references = g.Op("Slice", [hidden, imageTokens, g.Int64(long.MaxValue), g.Int64(1)]);
        g.Output(g.Op("Concat", [everyBatch, references], a => a.Int("axis", 1)), NextHidden, DataType.Float, "batch", "tokens", LatentLayout.Channels);
        g.Output(g.Op("Expand", [sigmaNext, batch]), NextTimestep, DataType.Float, "batch");
        g.Output(nextStep, NextStep, DataType.Int64, 1);

        // Each token is 32 VAE channels × a 2×2 patch (channel index c·4 + pixel): project the 32 channels of each pixel to RGB.
        var pixels = g.Op("Transpose", [g.Op("Reshape", [clean, g.Int64(1, -1, LatentPreview.VaeChannels, 4)])], a => a.Ints("perm", 0, 1, 3, 2));
        var rgb = g.Op("Add", [g.Op("MatMul", [pixels, g.Input(PreviewFactors, DataType.Float, LatentPreview.VaeChannels, 3)]), g.Input(PreviewBias, DataType.Float, 3)]);
        g.Output(rgb, Preview, DataType.Float, 1, "image_tokens", 4, 3);
        return g.Build().ToByteArray();
    }

    /// <summary>[32, 3] factors and [3] bias for the graph's preview: the package's fitted map, or channel 0 as grey (<see cref="LatentPreview"/>'s fallback).</summary>
    public static (float[] Factors, float[] Bias) PreviewProjection(Packages.LatentPreviewInfo? projection)
    {
        var factors = new float[LatentPreview.VaeChannels * 3];
        if (!LatentPreview.HasFittedProjection(projection))
        {
            factors[0] = factors[1] = factors[2] = 1f;
            return (factors, [0f, 0f, 0f]);
        }

        for (var c = 0; c < LatentPreview.VaeChannels; c++)
        {
            for (var k = 0; k < 3; k++)
            {
                factors[c * 3 + k] = projection!.Factors[k * LatentPreview.VaeChannels + c];
            }
        }

        return (factors, projection!.Bias.ToArray());
    }
}
