namespace FluxWeb.Persistence.Images;

public enum StoredImageKind
{
    /// <summary>An input the user uploaded: reference, source or mask.</summary>
    Upload = 0,

    /// <summary>A generated image.</summary>
    Output = 1,
}
