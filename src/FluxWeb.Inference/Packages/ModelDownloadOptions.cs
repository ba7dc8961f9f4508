namespace FluxWeb.Inference.Packages;

/// <summary>How <c>fluxweb models pull</c> reaches the Hugging Face Hub (section <c>Models</c>).</summary>
public sealed class ModelDownloadOptions
{
    public const string SectionName = "Models";

    /// <summary>The hub's address; a mirror or a local test server can stand in (<c>--endpoint</c>).</summary>
    public string HuggingFaceEndpoint { get; set; } = "https://huggingface.co";

    /// <summary>Attempts after a dropped connection or a server error, each resuming where the file stopped.</summary>
    public int Retries { get; set; } = 5;

    /// <summary>Wait before the first retry; it doubles with each further failure in a row.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A transfer that delivers no byte for this long counts as dropped.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
