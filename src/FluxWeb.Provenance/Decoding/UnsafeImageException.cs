namespace FluxWeb.Provenance.Decoding;

/// <summary>
/// An uploaded image was refused. <see cref="Exception.Message"/> is written for the person who uploaded it:
/// it says what was wrong and what to do instead, and never echoes file content.
/// </summary>
public sealed class UnsafeImageException : Exception
{
    public UnsafeImageException(UnsafeImageReason reason, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    public UnsafeImageReason Reason { get; }

    /// <summary>The HTTP status a host should answer with: 413 for size, 415 for format, 400 otherwise.</summary>
    public int SuggestedStatusCode => Reason switch
    {
        UnsafeImageReason.TooLarge => 413,
        UnsafeImageReason.UnsupportedFormat => 415,
        _ => 400,
    };
}
