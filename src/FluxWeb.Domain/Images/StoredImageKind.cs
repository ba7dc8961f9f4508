namespace FluxWeb.Domain.Images;

public enum StoredImageKind
{
    /// <summary>A picture the user uploaded: a reference or the source of a masked edit.</summary>
    Upload = 0,

    /// <summary>A generated image.</summary>
    Output = 1,

    /// <summary>A mask painted in the mask editor (or given to <c>generate --user --mask</c>): white repaints, black keeps.</summary>
    Mask = 2,
}
