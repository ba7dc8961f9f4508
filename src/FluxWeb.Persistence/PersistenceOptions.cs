namespace FluxWeb.Persistence;

public sealed class PersistenceOptions
{
    public const string SectionName = "FluxWeb";

    /// <summary>Folder for the database, images and keys. Relative paths are resolved against the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>The SQLite file in <see cref="DataDirectory"/> when no <see cref="ConnectionString"/> is given.</summary>
    public const string DatabaseFileName = "fluxweb.db";

    /// <summary>Optional full connection string; when empty a SQLite file <c>fluxweb.db</c> in <see cref="DataDirectory"/> is used.</summary>
    public string? ConnectionString { get; set; }

    public string ResolveConnectionString()
    {
        if (!string.IsNullOrWhiteSpace(ConnectionString))
        {
            return ConnectionString;
        }

        var dataDirectory = Path.GetFullPath(DataDirectory);
        return $"Data Source={Path.Combine(dataDirectory, DatabaseFileName)}";
    }
}
