namespace FluxWeb.Persistence.Administration;

/// <summary>One server-wide policy value set by an administrator (the prompt block list, the image thresholds), kept across restarts.</summary>
public sealed class PolicySetting
{
    public const string PromptBlockList = "prompt-block-list";

    /// <summary>The image classifier's thresholds: <c>[{"classes":["Porn","Hentai"],"threshold":0.7}, …]</c>.</summary>
    public const string ImageThresholds = "image-thresholds";

    /// <summary>The most bytes of images one ZIP download may hold, as a decimal number (replaces <c>Export:MaxZipBytes</c>).</summary>
    public const string ZipLimitBytes = "zip-limit-bytes";

    /// <summary>The model a fresh Studio form starts with for someone who has not generated yet: a JSON string (a model id).</summary>
    public const string StudioDefaultModel = "studio-default-model";

    public required string Key { get; set; }

    /// <summary>JSON; its shape depends on <see cref="Key"/> (the block list is an array of strings).</summary>
    public required string Value { get; set; }

    public DateTime UpdatedUtc { get; set; }

    public string? UpdatedBy { get; set; }
}
