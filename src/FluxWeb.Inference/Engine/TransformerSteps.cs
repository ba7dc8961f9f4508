using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// The transformer's inputs for one job, allocated once and bound once: prompt embeddings, position
/// ids and reference tokens never change between steps, so only the latents and sigma are re-bound
/// (on CUDA, binding is where the one host → device copy happens). The output lands in a buffer
/// that is reused every step. With guidance the conditional and unconditional passes run as one
/// batch of two.
/// </summary>
internal sealed class TransformerSteps : IDisposable
{
    private readonly InferenceSession session;
    private readonly OrtIoBinding binding;
    private readonly List<IDisposable> owned = [];
    private readonly float[] hidden;
    private readonly float[] timestep;
    private readonly float[] output;
    private readonly OrtValue hiddenValue;
    private readonly OrtValue timestepValue;
    private readonly string hiddenName;
    private readonly string timestepName;
    private readonly int batch;
    private readonly int imageValues;
    private readonly int tokenCount;

    public TransformerSteps(InferenceSession session, ComponentInfo component, int imageTokens, int gridHeight, int gridWidth, IReadOnlyList<(float[] Tokens, int Height, int Width)> references, float[] context, float[]? unconditional)
    {
        this.session = session;
        batch = unconditional is null ? 1 : 2;
        imageValues = imageTokens * LatentLayout.Channels;
        tokenCount = imageTokens + references.Sum(r => r.Tokens.Length / LatentLayout.Channels);
        var textTokens = context.Length / ContextWidth(context, component, session);
        hiddenName = component.Inputs["hiddenStates"];
        timestepName = component.Inputs["timestep"];

        hidden = new float[batch * tokenCount * LatentLayout.Channels];
        var ids = new float[tokenCount * 4];
        LatentLayout.GridIds(gridHeight, gridWidth).CopyTo(ids, 0);
        var offset = imageTokens;
        for (var k = 0; k < references.Count; k++)
        {
            var (tokens, height, width) = references[k];
            for (var b = 0; b < batch; b++)
            {
                tokens.CopyTo(hidden, (b * tokenCount + offset) * LatentLayout.Channels);
            }

            LatentLayout.GridIds(height, width, LatentLayout.ReferenceTime(k)).CopyTo(ids, offset * 4);
            offset += tokens.Length / LatentLayout.Channels;
        }

        var contextBatch = unconditional is null ? context : [.. context, .. unconditional];
        timestep = new float[batch];
        output = new float[hidden.Length];

        binding = session.CreateIoBinding();
        hiddenValue = Own(OrtValue.CreateTensorValueFromMemory(hidden, [batch, tokenCount, LatentLayout.Channels]));
        timestepValue = Own(OrtValue.CreateTensorValueFromMemory(timestep, [batch]));
        binding.BindInput(component.Inputs["encoderHiddenStates"], Own(OrtValue.CreateTensorValueFromMemory(contextBatch, [batch, textTokens, contextBatch.Length / batch / textTokens])));
        binding.BindInput(component.Inputs["imageIds"], Own(OrtValue.CreateTensorValueFromMemory(ids, [tokenCount, 4])));
        binding.BindInput(component.Inputs["textIds"], Own(OrtValue.CreateTensorValueFromMemory(LatentLayout.TextIds(textTokens), [textTokens, 4])));
        binding.BindOutput(component.Outputs["output"], Own(OrtValue.CreateTensorValueFromMemory(output, [batch, tokenCount, LatentLayout.Channels])));
    }

    /// <summary>The velocity for the image tokens (guided when a second batch entry exists); reference tokens are not returned.</summary>
    public float[] Run(float[] latents, float sigma, float? guidance, RunOptions runOptions)
    {
        for (var b = 0; b < batch; b++)
        {
            latents.CopyTo(hidden, b * tokenCount * LatentLayout.Channels);
            timestep[b] = sigma;
        }

        binding.BindInput(hiddenName, hiddenValue);
        binding.BindInput(timestepName, timestepValue);
        session.RunWithBinding(runOptions, binding);
        var velocity = output.AsSpan(0, imageValues).ToArray();
        if (guidance is { } scale)
        {
            FlowMatchEuler.Guide(velocity, output.AsSpan(tokenCount * LatentLayout.Channels, imageValues), scale);
        }

        return velocity;
    }

    private static int ContextWidth(float[] context, ComponentInfo component, InferenceSession session)
    {
        var dims = session.InputMetadata[component.Inputs["encoderHiddenStates"]].Dimensions;
        return dims[^1] > 0 ? dims[^1] : throw new InvalidOperationException("The transformer's encoder_hidden_states must have a fixed width.");
    }

    private OrtValue Own(OrtValue value)
    {
        owned.Add(value);
        return value;
    }

    public void Dispose()
    {
        binding.Dispose();
        foreach (var value in owned)
        {
            value.Dispose();
        }
    }
}
