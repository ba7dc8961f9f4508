using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace FluxWeb.Migrations.PostgreSql;

/// <summary>Lets <c>dotnet ef</c> create PostgreSQL migrations without a server (adding a migration never connects).</summary>
public sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<FluxWebDbContext>
{
    public FluxWebDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(options, new DatabaseConnection(DatabaseProvider.PostgreSql, "Host=localhost;Database=fluxweb_design_time"));
        return new FluxWebDbContext(options.Options);
    }
}
