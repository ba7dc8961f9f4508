using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace FluxWeb.Migrations;

/// <summary>Lets <c>dotnet ef</c> create migrations without starting the web host.</summary>
public sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<FluxWebDbContext>
{
    public FluxWebDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<FluxWebDbContext>();
        var persistence = new PersistenceOptions { ConnectionString = "Data Source=design-time.db" };
        PersistenceServiceCollectionExtensions.Configure(options, persistence);
        return new FluxWebDbContext(options.Options);
    }
}
