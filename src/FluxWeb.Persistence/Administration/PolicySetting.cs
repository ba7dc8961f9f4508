namespace FluxWeb.Persistence.Administration;

/// <summary>One server-wide policy value set by an administrator (the prompt block list), kept across restarts.</summary>
public sealed class PolicySetting
{
    public const string PromptBlockList = "prompt-block-list";

    public required string Key { get; set; }

    /// <summary>JSON; its shape depends on <see cref="Key"/> (the block list is an array of strings).</summary>
    public required string Value { get; set; }

    public DateTime UpdatedUtc { get; set; }

    public string? UpdatedBy { get; set; }
}
