namespace FluxWeb.Inference.Engine;

/// <summary>The four graphs of a package, in the order they are worth keeping resident (least first).</summary>
public enum ModelComponent
{
    TextEncoder = 0,
    VaeEncoder = 1,
    VaeDecoder = 2,
    Transformer = 3,
}
