namespace FluxWeb.Inference.SafeTensors;

/// <summary>A weight file that cannot be used, naming the file (and tensor, when one is at fault) and what is wrong.</summary>
public sealed class SafeTensorsException : Exception
{
    public SafeTensorsException(string file, string problem, string? tensor = null, Exception? inner = null)
        : base(tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}' {problem}", inner)
    {
        File = file;
        Tensor = tensor;
    }

    public string File { get; }

    public string? Tensor { get; }
}
