using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Web.Tests.Persistence;

public sealed class MigrationTests
{
    private sealed class Factory(DbContextOptions<FluxWebDbContext> options) : IDbContextFactory<FluxWebDbContext>
    {
        public FluxWebDbContext CreateDbContext() => new(options);
    }

    private static DbContextOptions<FluxWebDbContext> Options(string dataDirectory)
    {
        var builder = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(builder, new PersistenceOptions { DataDirectory = dataDirectory });
        return builder.Options;
    }

    [Fact]
    public async Task An_empty_database_migrates_to_the_latest_migration()
    {
        using var folder = new TempFolder();
        var options = Options(folder.Path);

        await new DatabaseMigrator(new Factory(options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using var db = new FluxWebDbContext(options);
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal(db.Database.GetMigrations().Last(), (await db.Database.GetAppliedMigrationsAsync()).Last());
        Assert.Equal(0, await db.Users.CountAsync());
    }

    [Fact]
    public async Task A_database_at_the_first_migration_upgrades_and_keeps_its_users()
    {
        using var folder = new TempFolder();
        var options = Options(folder.Path);
        string first;
        await using (var db = new FluxWebDbContext(options))
        {
            first = db.Database.GetMigrations().First();
            Assert.True(db.Database.GetMigrations().Count() > 1, "This test needs at least two migrations.");
            await db.GetService<IMigrator>().MigrateAsync(first);
            // A user written by the first schema, before account types existed.
            await db.Database.ExecuteSqlRawAsync(
                "INSERT INTO AspNetUsers (Id, UserName, NormalizedUserName, Email, NormalizedEmail, EmailConfirmed, PhoneNumberConfirmed, TwoFactorEnabled, LockoutEnabled, AccessFailedCount) " +
                "VALUES ('old-user', 'old@example.com', 'OLD@EXAMPLE.COM', 'old@example.com', 'OLD@EXAMPLE.COM', 1, 0, 0, 1, 0)");
        }

        await new DatabaseMigrator(new Factory(options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using (var db = new FluxWebDbContext(options))
        {
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            var user = await db.Users.SingleAsync();
            Assert.Equal("old@example.com", user.Email);
            Assert.Equal(AccountType.Commercial, user.AccountType);
        }
    }

    [Fact]
    public void The_model_has_no_changes_missing_from_the_migrations()
    {
        using var folder = new TempFolder();
        using var db = new FluxWebDbContext(Options(folder.Path));

        Assert.False(db.Database.HasPendingModelChanges(), "The model changed without a migration: run `dotnet ef migrations add`.");
    }
}
