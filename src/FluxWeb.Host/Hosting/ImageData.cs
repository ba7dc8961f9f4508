namespace FluxWeb.Host.Hosting;

/// <summary>What a route gives out, as far as the licence rule is concerned.</summary>
public enum ImageDataKind
{
    /// <summary>Nothing made from an image or a job: account pages, model lists, documentation, static files.</summary>
    None,

    /// <summary>Image bytes: stored images, thumbnails, masks, previews.</summary>
    Bytes,

    /// <summary>Data about images or jobs: listings, job views and events, settings, pages that show them, uploads that become inputs.</summary>
    Derived,
}

/// <summary>
/// Declares on every route (endpoint metadata, or an attribute on a page) whether it hands out
/// image bytes or image-derived data. A route that does must get them through
/// <see cref="Application.Images.ImageAccess"/>; the licence tests read this from the route table,
/// exercise every image route as an account switched to Commercial, and fail for a route that
/// declares nothing, so a new route cannot skip the decision.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ImageDataAttribute(ImageDataKind kind) : Attribute
{
    public ImageDataKind Kind { get; } = kind;
}

internal static class ImageDataEndpointExtensions
{
    public static TBuilder ServesImageData<TBuilder>(this TBuilder builder, ImageDataKind kind)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new ImageDataAttribute(kind));
}
