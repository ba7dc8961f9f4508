using FluxWeb.Application.Boards;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Images;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FluxWeb.Web.Tests.Persistence;

/// <summary>PostgreSQL as FluxWeb's database: its migrations match the model, the app migrates an empty database at start, and bad settings stop the start with a clear message.</summary>
public sealed class PostgreSqlDatabaseTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-postgresql");

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_model_has_no_changes_missing_from_the_postgresql_migrations()
    {
        var builder = new DbContextOptionsBuilder<FluxWebDbContext>();
        // Comparing the model with the snapshot never connects, so no server is needed.
        PersistenceServiceCollectionExtensions.Configure(builder, new DatabaseConnection(DatabaseProvider.PostgreSql, "Host=127.0.0.1;Port=1;Database=unused"));
        using var db = new FluxWebDbContext(builder.Options);

        Assert.False(db.Database.HasPendingModelChanges(),
            "The model changed without a PostgreSQL migration: run `dotnet ef migrations add <Name> -p migrations/PostgreSql -s migrations/PostgreSql -o .`.");
    }

    [Fact]
    public async Task The_app_migrates_an_empty_postgresql_database_at_start_and_runs_a_job_on_it()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        // PostgreSQL's default membership (Orleans' table in this database, installed by the start-up step below),
        // on free ports: other test runs share the machine.
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Provider"] = "PostgreSQL",
            ["Cluster:ConnectionString"] = connectionString,
            ["Cluster:SiloPort"] = "0",
            ["Cluster:GatewayPort"] = "0",
        };

        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), settings);

        var applied = await host.WithDbAsync(db => db.Database.GetAppliedMigrationsAsync());
        var all = await host.WithDbAsync(db => Task.FromResult(db.Database.GetMigrations()));
        Assert.NotEmpty(all);
        Assert.Equal(all, applied);
        Assert.Equal("Npgsql.EntityFrameworkCore.PostgreSQL", await host.WithDbAsync(db => Task.FromResult(db.Database.ProviderName)));
        Assert.Equal(0, await host.WithDbAsync(db => db.Counters.Where(c => c.Name == Counter.WatermarkSerial).Select(c => c.Value).SingleAsync()));
        // The same start-up step installs Orleans' clustering schema, which the cluster's silos need before they start.
        Assert.Equal(
            ["orleansmembershiptable", "orleansmembershipversiontable", "orleansquery"],
            await host.WithDbAsync(db => db.Database.SqlQueryRaw<string>("SELECT tablename::text AS \"Value\" FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'orleans%' ORDER BY 1").ToListAsync()));

        var user = await host.CreateUserAsync("ada@example.com");
        var submitted = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("on postgres"));
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        // The silo joined through the database: its row in Orleans' membership table says it is active.
        Assert.Equal(1, await host.WithDbAsync(db => db.Database.SqlQueryRaw<int>("SELECT COUNT(*)::int AS \"Value\" FROM orleansmembershiptable WHERE status = 3").SingleAsync()));
        Assert.Equal(1, await host.WithDbAsync(db => db.IssuedSerials.Select(s => s.Serial).SingleAsync()));

        // ZIP download tickets are rows (ADR 0027): their eviction and lookup run on PostgreSQL too.
        var export = host.Services.GetRequiredService<ZipExport>();
        var selection = ExportSelection.Of([job.OutputImageId!.Value]);
        var tickets = new List<ExportTicket>();
        for (var i = 0; i < 21; i++)
        {
            var (plan, ticket) = await export.PrepareAsync(user, selection, ExportVia.Api);
            Assert.False(plan.Refused, plan.Refusal);
            tickets.Add(ticket!);
        }

        Assert.Null(await export.TicketAsync(user, tickets[0].Id));
        Assert.Equal(selection.ImageIds, (await export.TicketAsync(user, tickets[^1].Id))!.Selection.ImageIds);
        Assert.Equal(20, await host.WithDbAsync(db => db.ExportTickets.CountAsync(t => t.UserId == user.UserId)));
    }

    [Theory]
    [InlineData("PostgreSQL", "", "Cluster:Provider is PostgreSQL but Cluster:ConnectionString is empty")]
    [InlineData("PostgreSQL", "Data Source=/tmp/fluxweb.db", "is a SQLite connection string but Cluster:Provider is PostgreSQL")]
    [InlineData("PostgreSQL", "Database=fluxweb;Username=fluxweb", "names no server")]
    [InlineData("Sqlite", "Host=db;Database=fluxweb;Username=fluxweb", "is a PostgreSQL connection string but Cluster:Provider is Sqlite")]
    [InlineData("Oracle", "", "Cluster:Provider")]
    public async Task Database_settings_that_connect_nowhere_stop_the_start_with_a_message_naming_the_setting(string provider, string connectionString, string expected)
    {
        var settings = new Dictionary<string, string?> { ["Cluster:Provider"] = provider, ["Cluster:ConnectionString"] = connectionString };

        var error = await Assert.ThrowsAnyAsync<Exception>(() => QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), settings));

        var messages = error is OptionsValidationException validation ? string.Join("\n", validation.Failures) : error.ToString();
        Assert.Contains(expected, messages, StringComparison.Ordinal);
    }
}
