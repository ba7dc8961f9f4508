using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Packages;

/// <summary>The standard component wiring of packages FluxWeb builds itself (graph names from its own builders).</summary>
public static class ManifestTemplates
{
    public const string TextEncoderFile = "text_encoder.onnx";
    public const string TransformerFile = "transformer.onnx";
    public const string VaeEncoderFile = "vae_encoder.onnx";
    public const string VaeDecoderFile = "vae_decoder.onnx";
    public const string TokenizerFile = "tokenizer.json";

    public static ComponentSet StandardComponents() => new()
    {
        TextEncoder = new ComponentInfo
        {
            File = TextEncoderFile,
            Inputs = new() { ["inputIds"] = "input_ids", ["attentionMask"] = "attention_mask" },
            Outputs = new() { ["promptEmbeds"] = "prompt_embeds" },
        },
        Transformer = new ComponentInfo
        {
            File = TransformerFile,
            Inputs = new()
            {
                ["hiddenStates"] = "hidden_states",
                ["encoderHiddenStates"] = "encoder_hidden_states",
                ["timestep"] = "timestep",
                ["imageIds"] = "img_ids",
                ["textIds"] = "txt_ids",
            },
            Outputs = new() { ["output"] = "output" },
        },
        VaeEncoder = new ComponentInfo
        {
            File = VaeEncoderFile,
            Inputs = new() { ["image"] = "image" },
            Outputs = new() { ["latents"] = "latents" },
        },
        VaeDecoder = new ComponentInfo
        {
            File = VaeDecoderFile,
            Inputs = new() { ["latents"] = "latents" },
            Outputs = new() { ["image"] = "image" },
        },
    };

    /// <summary>Sampling rules of a variant: distilled klein takes exactly 4 steps and no guidance; base defaults to 50 steps with CFG 4.</summary>
    public static SamplingInfo SamplingFor(ModelVariant variant) => variant == ModelVariant.Distilled
        ? new SamplingInfo { DefaultSteps = 4, MinSteps = 4, MaxSteps = 4 }
        : new SamplingInfo { DefaultSteps = 50, MinSteps = 1, MaxSteps = 100, DefaultGuidance = 4f, MinGuidance = 1f, MaxGuidance = 10f };

    public static string PrecisionName(ComputePrecision precision) => precision.ManifestName();
}
