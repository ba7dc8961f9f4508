namespace FluxWeb.Provenance.Tests.Support;

public sealed class TempDataFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("fluxweb-provenance-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
