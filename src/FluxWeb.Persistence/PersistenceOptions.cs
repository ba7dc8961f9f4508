namespace FluxWeb.Persistence;

public sealed class PersistenceOptions
{
    public const string SectionName = "FluxWeb";

    /// <summary>Folder for the SQLite database, images and keys. Relative paths are resolved against the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>The SQLite file in <see cref="DataDirectory"/> when no connection string is given.</summary>
    public const string DatabaseFileName = "fluxweb.db";

    /// <summary>
    /// The older name of <see cref="DatabaseOptions.ConnectionString"/> (<c>FluxWeb:ConnectionString</c>), still read
    /// when that is empty so an existing configuration keeps its database.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The default SQLite connection string: <see cref="DatabaseFileName"/> in <see cref="DataDirectory"/>.</summary>
    public string DefaultSqliteConnectionString() => $"Data Source={Path.Combine(Path.GetFullPath(DataDirectory), DatabaseFileName)}";

    /// <summary>The SQLite database this folder's settings name (tools and tests that open it directly).</summary>
    public string ResolveConnectionString() =>
        !string.IsNullOrWhiteSpace(ConnectionString) ? ConnectionString : DefaultSqliteConnectionString();
}
