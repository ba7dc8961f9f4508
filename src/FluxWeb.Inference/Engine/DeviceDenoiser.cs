using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>What one job's denoising starts from (host arrays, uploaded once).</summary>
public sealed record DenoiseInputs(
    float[] Latents,
    IReadOnlyList<(float[] Tokens, int Height, int Width)> References,
    float[] Context,
    float[]? Unconditional,
    int TextTokens,
    int GridHeight,
    int GridWidth,
    float[] Sigmas,
    int Start,
    float? Guidance,
    (float[] Noise, float[] Clean, float[] Mask)? Inpainting,
    LatentPreviewInfo? Preview)
{
    public int Batch => Unconditional is null ? 1 : 2;

    public int ImageTokens => Latents.Length / LatentLayout.Channels;

    public int Tokens => ImageTokens + References.Sum(r => r.Tokens.Length / LatentLayout.Channels);

    public TransformerShape Shape => new(Batch, Tokens, TextTokens, Context.Length / TextTokens);
}

/// <summary>
/// The sampling loop with everything on the inference device: latents, timesteps, prompt
/// embeddings and position ids are uploaded once; each step runs the transformer and then the
/// sampler step graph (<see cref="SamplerStepGraph"/>), which writes the next step's input in
/// device memory, so nothing crosses to the host between steps except a 12-values-a-token preview.
/// On the CPU provider the same code runs with "device" memory being host memory: one loop, one
/// set of sampling maths for both.
/// </summary>
public static class DeviceDenoiser
{
    /// <summary>Runs one ONNX Runtime call: the engine wraps it in its failure handling, timing and cancellation; the graph id is set for CUDA graph replay.</summary>
    public delegate void RunCall(string what, int? cudaGraphId, bool lastTransformerRun, Action<RunOptions> run);

    /// <param name="afterStep">Step k (0-based) is done; its preview as RGB [image tokens, 4, 3]. Called on the loop's thread: hand heavy work off.</param>
    /// <param name="observe">For tests: host copies of the latents after each step and of the (first batch entry's) velocity it used: downloads per step, so never in production.</param>
    /// <returns>The final image-token latents, on the host.</returns>
    public static float[] Run(
        InferenceSession transformer,
        ComponentInfo component,
        DeviceGraphs graphs,
        TransformerBuffers buffers,
        DenoiseInputs job,
        bool cudaGraphs,
        RunCall run,
        Action<int, float[]>? afterStep = null,
        Action<int, float[], float[]>? observe = null,
        CancellationToken cancellationToken = default)
    {
        using var host = new HostValues();
        var (b, s, l) = (job.Batch, job.Tokens, job.ImageTokens);
        Upload(graphs, buffers, job, host, run);

        using var transformerBinding = transformer.CreateIoBinding();
        transformerBinding.BindInput(component.Inputs["encoderHiddenStates"], buffers.Context);
        transformerBinding.BindInput(component.Inputs["imageIds"], buffers.ImageIds);
        transformerBinding.BindInput(component.Inputs["textIds"], buffers.TextIds);
        transformerBinding.BindOutput(component.Outputs["output"], buffers.Velocity);

        var step = graphs.Step(job.Guidance is not null, job.Inpainting is not null);
        using var stepBinding = step.CreateIoBinding();
        stepBinding.BindInput(SamplerStepGraph.Velocity, buffers.Velocity);
        stepBinding.BindInput(SamplerStepGraph.Sigmas, host.Add(job.Sigmas, job.Sigmas.Length));
        stepBinding.BindInput(SamplerStepGraph.ImageTokens, host.Add([(long)l], 1));
        if (job.Guidance is { } guidance)
        {
            stepBinding.BindInput(SamplerStepGraph.Guidance, host.Add([guidance], 1));
        }

        if (job.Inpainting is { } edit)
        {
            stepBinding.BindInput(SamplerStepGraph.Noise, host.Add(edit.Noise, 1, l, LatentLayout.Channels));
            stepBinding.BindInput(SamplerStepGraph.Clean, host.Add(edit.Clean, 1, l, LatentLayout.Channels));
            stepBinding.BindInput(SamplerStepGraph.Mask, host.Add(edit.Mask, 1, l, 1));
        }

        var (factors, bias) = SamplerStepGraph.PreviewProjection(job.Preview);
        stepBinding.BindInput(SamplerStepGraph.PreviewFactors, host.Add(factors, LatentPreview.VaeChannels, 3));
        stepBinding.BindInput(SamplerStepGraph.PreviewBias, host.Add(bias, 3));
        var preview = new float[l * 12];
        stepBinding.BindOutput(SamplerStepGraph.Preview, host.Add(preview, 1, l, 4, 3));

        var current = 0;
        var steps = job.Sigmas.Length - 1;
        for (var index = job.Start; index < steps; index++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            transformerBinding.BindInput(component.Inputs["hiddenStates"], buffers.Hidden[current]);
            transformerBinding.BindInput(component.Inputs["timestep"], buffers.Timestep[current]);
            run("transformer", cudaGraphs ? buffers.FirstGraphId + current : null, index == steps - 1, options => transformer.RunWithBinding(options, transformerBinding));

            stepBinding.BindInput(SamplerStepGraph.Hidden, buffers.Hidden[current]);
            stepBinding.BindInput(SamplerStepGraph.Step, buffers.Step[current]);
            stepBinding.BindOutput(SamplerStepGraph.NextHidden, buffers.Hidden[1 - current]);
            stepBinding.BindOutput(SamplerStepGraph.NextTimestep, buffers.Timestep[1 - current]);
            stepBinding.BindOutput(SamplerStepGraph.NextStep, buffers.Step[1 - current]);
            run("sampler step", null, false, options => step.RunWithBinding(options, stepBinding));
            current = 1 - current;

            afterStep?.Invoke(index, (float[])preview.Clone());
            if (observe is not null)
            {
                observe(index, Download(graphs, buffers.Hidden[current], b, s, l, run), Download(graphs, buffers.Velocity, b, s, l, run));
            }
        }

        return Download(graphs, buffers.Hidden[current], b, s, l, run);
    }

    private static void Upload(DeviceGraphs graphs, TransformerBuffers buffers, DenoiseInputs job, HostValues host, RunCall run)
    {
        var (b, s, l, t) = (job.Batch, job.Tokens, job.ImageTokens, job.TextTokens);
        var hidden = new float[b * s * LatentLayout.Channels];
        var ids = new float[s * 4];
        LatentLayout.GridIds(job.GridHeight, job.GridWidth).CopyTo(ids, 0);
        var offset = l;
        for (var k = 0; k < job.References.Count; k++)
        {
            var (tokens, height, width) = job.References[k];
            LatentLayout.GridIds(height, width, LatentLayout.ReferenceTime(k)).CopyTo(ids, offset * 4);
            offset += tokens.Length / LatentLayout.Channels;
        }

        for (var batch = 0; batch < b; batch++)
        {
            job.Latents.CopyTo(hidden, batch * s * LatentLayout.Channels);
            offset = l;
            foreach (var (tokens, _, _) in job.References)
            {
                tokens.CopyTo(hidden, (batch * s + offset) * LatentLayout.Channels);
                offset += tokens.Length / LatentLayout.Channels;
            }
        }

        float[] context = job.Unconditional is null ? job.Context : [.. job.Context, .. job.Unconditional];
        var uploads = graphs.Uploads;
        using var binding = uploads.CreateIoBinding();
        var sources = new[]
        {
            host.Add(hidden, b, s, LatentLayout.Channels),
            host.Add(Enumerable.Repeat(job.Sigmas[job.Start], b).ToArray(), b),
            host.Add([(long)job.Start], 1),
            host.Add(context, b, t, job.Shape.ContextWidth),
            host.Add(ids, s, 4),
            host.Add(LatentLayout.TextIds(t), t, 4),
        };
        var targets = new[] { buffers.Hidden[0], buffers.Timestep[0], buffers.Step[0], buffers.Context, buffers.ImageIds, buffers.TextIds };
        for (var i = 0; i < sources.Length; i++)
        {
            binding.BindInput(DeviceGraphs.UploadInputs[i].Name, sources[i]);
            binding.BindOutput(DeviceGraphs.UploadInputs[i].Name + "_out", targets[i]);
        }

        run("upload", null, false, options => uploads.RunWithBinding(options, binding));
    }

    private static float[] Download(DeviceGraphs graphs, OrtValue hidden, int batch, int tokens, int imageTokens, RunCall run)
    {
        var all = new float[batch * tokens * LatentLayout.Channels];
        using var target = OrtValue.CreateTensorValueFromMemory(all, [batch, tokens, LatentLayout.Channels]);
        var downloads = graphs.Downloads;
        using var binding = downloads.CreateIoBinding();
        binding.BindInput("hidden", hidden);
        binding.BindOutput("hidden_out", target);
        run("download", null, false, options => downloads.RunWithBinding(options, binding));
        return all.AsSpan(0, imageTokens * LatentLayout.Channels).ToArray();
    }

    /// <summary>Host arrays wrapped as OrtValues for one job (they pin the arrays until disposed).</summary>
    private sealed class HostValues : IDisposable
    {
        private readonly List<OrtValue> values = [];

        public OrtValue Add<T>(T[] data, params long[] shape)
            where T : unmanaged
        {
            var value = OrtValue.CreateTensorValueFromMemory(data, shape);
            values.Add(value);
            return value;
        }

        public void Dispose()
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }
}
