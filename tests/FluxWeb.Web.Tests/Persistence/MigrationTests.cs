using FluxWeb.Application.Outputs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Images;
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
    public async Task Upgrading_seeds_the_serial_ledger_and_counter_from_the_images_and_marks_the_masks_jobs_used()
    {
        using var folder = new TempFolder();
        var options = Options(folder.Path);
        var at = new DateTime(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);
        Guid usedMask, unusedUpload;
        await using (var db = new FluxWebDbContext(options))
        {
            var migrations = db.Database.GetMigrations().ToList();
            await db.GetService<IMigrator>().MigrateAsync(migrations[migrations.IndexOf("20261204100936_AddWatermarkSerialLedgerAndMasks") - 1]);
            db.Users.Add(new FluxUser { Id = "u", UserName = "u@example.com", Email = "u@example.com" });
            StoredImage Image(StoredImageKind kind, long? serial, DateTime created, string? model = null) => new()
            {
                Id = Guid.NewGuid(),
                OwnerId = "u",
                Kind = kind,
                WatermarkSerial = serial,
                CreatedUtc = created,
                ModelId = model,
                LicenceId = model is null ? null : "FLUX-Non-Commercial",
                CommercialUse = model is null ? null : false,
                RelativePath = "images/x.png",
                ContentType = "image/png",
                Sha256 = "",
            };
            // Two processes counting in memory handed out serial 7 twice; the newer image is the one that counts.
            var images = new[]
            {
                Image(StoredImageKind.Output, 7, at, "nc-model"), Image(StoredImageKind.Output, 7, at.AddMinutes(1), "other-model"),
                Image(StoredImageKind.Output, 5, at.AddMinutes(2), "nc-model"), Image(StoredImageKind.Upload, null, at), Image(StoredImageKind.Upload, null, at),
            };
            (usedMask, unusedUpload) = (images[3].Id, images[4].Id);
            db.Images.AddRange(images);
            await db.SaveChangesAsync();
            // The jobs table as that schema had it (the current model's columns differ).
            await InsertOldJobAsync(db, Guid.NewGuid(), "u", "nc-model", "p", at, sourceImageId: unusedUpload, maskImageId: usedMask);
        }

        await new DatabaseMigrator(new Factory(options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using (var db = new FluxWebDbContext(options))
        {
            Assert.Equal(StoredImageKind.Mask, (await db.Images.SingleAsync(i => i.Id == usedMask)).Kind);
            Assert.Equal(StoredImageKind.Upload, (await db.Images.SingleAsync(i => i.Id == unusedUpload)).Kind);
            Assert.Equal(7, await db.Counters.Where(c => c.Name == Counter.WatermarkSerial).Select(c => c.Value).SingleAsync());
            Assert.Equal([7, 7, 5], await db.IssuedSerials.OrderBy(s => s.Id).Select(s => s.Serial).ToListAsync());
        }

        var serials = new WatermarkSerials(new Factory(options), AppClock.Real);
        Assert.Equal("other-model", (await serials.TraceAsync(7))!.Model.ModelId);
        Assert.False((await serials.TraceAsync(5))!.Model.CommercialUseAllowed);
        Assert.Null(await serials.TraceAsync(6));
        var model = new FluxWeb.Inference.Packages.ModelPackageManifest { Id = "m", Licence = FluxWeb.Inference.Packages.ModelLicence.Apache2() };
        Assert.Equal(8, await serials.IssueAsync(Guid.NewGuid(), "u", model));
        Assert.Equal(9, await serials.IssueAsync(Guid.NewGuid(), "u", model));
        Assert.True((await serials.TraceAsync(9))!.Model.CommercialUseAllowed);
    }

    [Fact]
    public async Task Upgrading_to_generation_settings_keeps_every_jobs_parameters()
    {
        using var folder = new TempFolder();
        var options = Options(folder.Path);
        var at = new DateTime(2026, 12, 1, 9, 30, 0, DateTimeKind.Utc);
        var (finished, waiting, masked) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var (reference1, reference2, source, mask) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using (var db = new FluxWebDbContext(options))
        {
            var migrations = db.Database.GetMigrations().ToList();
            await db.GetService<IMigrator>().MigrateAsync(migrations[migrations.IndexOf("20261204133816_GenerationSettingsOnJobs") - 1]);
            db.Users.Add(new FluxUser { Id = "u", UserName = "u@example.com", Email = "u@example.com" });
            await db.SaveChangesAsync();
            await InsertOldJobAsync(db, finished, "u", "klein-base", "two references", at, width: 1000, height: 777, steps: 28, guidance: 3.5f,
                seed: ulong.MaxValue, references: [reference1, reference2], mode: "MultiReference", state: "Succeeded");
            await InsertOldJobAsync(db, waiting, "u", "klein-base", "still waiting", at, width: 1000, height: 512, seed: 42);
            await InsertOldJobAsync(db, masked, "u", "demo", "masked", at, seed: 7, sourceImageId: source, maskImageId: mask, strength: 0.6f, feather: true, mode: "MaskedEdit");
        }

        await new DatabaseMigrator(new Factory(options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using (var db = new FluxWebDbContext(options))
        {
            var jobs = await db.Jobs.AsNoTracking().ToDictionaryAsync(j => j.Id);
            Assert.Equal(
                new GenerationSettings { ModelId = "klein-base", Prompt = "two references", Width = 1000, Height = 777, Steps = 28, Guidance = 3.5f, Seed = ulong.MaxValue, ReferenceImageIds = [reference1, reference2] },
                jobs[finished].Settings);
            Assert.Equal((JobMode.MultiReference, JobState.Succeeded), (jobs[finished].Mode, jobs[finished].State));
            // A waiting job's size becomes what the engine made of it before sizes had to be multiples of 16.
            Assert.Equal(new GenerationSettings { ModelId = "klein-base", Prompt = "still waiting", Width = 992, Height = 512, Seed = 42 }, jobs[waiting].Settings);
            Assert.Equal(
                new GenerationSettings { ModelId = "demo", Prompt = "masked", Seed = 7, SourceImageId = source, MaskImageId = mask, Strength = 0.6f, Feather = true },
                jobs[masked].Settings);
            Assert.Equal(JobMode.MaskedEdit, jobs[masked].Mode);
            Assert.Equal(at, jobs[masked].EnqueuedUtc);
        }
    }

    /// <summary>A job row as the schema before GenerationSettingsOnJobs stored it (seeds as their 64 bits, references as JSON).</summary>
    private static Task InsertOldJobAsync(
        FluxWebDbContext db, Guid id, string ownerId, string modelId, string prompt, DateTime enqueuedUtc,
        int? width = null, int? height = null, int? steps = null, float? guidance = null, ulong seed = 1, Guid[]? references = null,
        Guid? sourceImageId = null, Guid? maskImageId = null, float strength = 1f, bool feather = false, string mode = "TextToImage", string state = "Queued") =>
        db.Database.ExecuteSqlRawAsync(
            "INSERT INTO Jobs (Id, OwnerId, BatchId, BatchIndex, ModelId, Mode, Prompt, Width, Height, Steps, Guidance, ResolvedWidth, ResolvedHeight, ResolvedSteps, " +
            "Seed, Strength, FeatherComposite, ReferenceImageIds, SourceImageId, MaskImageId, State, EnqueuedUtc, Attempts, Step, TotalSteps, GpuSeconds, EstimatedGpuSeconds, CancelRequested, QuotaDay) " +
            "VALUES ({0}, {1}, {2}, 0, {3}, {4}, {5}, {6}, {7}, {8}, {9}, 1024, 1024, 4, {10}, {11}, {12}, {13}, {14}, {15}, {16}, {17}, 0, 0, 4, 0, 0, 0, '2026-12-01')",
            id, ownerId, Guid.NewGuid(), modelId, mode, prompt, Value(width), Value(height), Value(steps), Value(guidance),
            unchecked((long)seed), strength, feather, System.Text.Json.JsonSerializer.Serialize(references ?? []), Value(sourceImageId), Value(maskImageId), state, enqueuedUtc);

    // EF maps each value to its column type (GUIDs as the text it stores); a null needs a parameter of its own.
    private static object Value(object? value) => value ?? new Microsoft.Data.Sqlite.SqliteParameter { Value = DBNull.Value };

    [Fact]
    public void The_model_has_no_changes_missing_from_the_migrations()
    {
        using var folder = new TempFolder();
        using var db = new FluxWebDbContext(Options(folder.Path));

        Assert.False(db.Database.HasPendingModelChanges(), "The model changed without a migration: run `dotnet ef migrations add`.");
    }
}
