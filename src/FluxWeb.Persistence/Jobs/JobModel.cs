using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Images;
using FluxWeb.Persistence.Quotas;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace FluxWeb.Persistence.Jobs;

/// <summary>Mapping of the queue's tables: jobs, stored images, issued watermark serials, quota overrides and the usage ledger.</summary>
internal static class JobModel
{
    // SQLite has no unsigned 64-bit integer: seeds keep all 64 bits by reinterpreting them as signed.
    private static readonly ValueConverter<ulong, long> SeedBits = new(v => unchecked((long)v), v => unchecked((ulong)v));

    // Timestamps are written and read as UTC; SQLite keeps text without a kind, and DateTime
    // (unlike DateTimeOffset) can be ordered and compared inside SQLite queries.
    private static readonly ValueConverter<DateTime, DateTime> Utc = new(v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    private static readonly ValueConverter<DateTime?, DateTime?> NullableUtc = new(
        v => v.HasValue ? v.Value.ToUniversalTime() : v,
        v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);

    public static void Configure(ModelBuilder builder)
    {
        builder.Entity<Job>(job =>
        {
            job.ToTable("Jobs");
            job.HasKey(j => j.Id);
            job.Property(j => j.OwnerId).HasMaxLength(450);
            job.HasOne<FluxUser>().WithMany().HasForeignKey(j => j.OwnerId).OnDelete(DeleteBehavior.Cascade);
            // The settings keep the columns the job's parameters always had (no prefix): one column per property.
            job.ComplexProperty(j => j.Settings, settings =>
            {
                settings.Property(s => s.ModelId).HasColumnName("ModelId").HasMaxLength(200);
                settings.Property(s => s.Prompt).HasColumnName("Prompt");
                settings.Property(s => s.Width).HasColumnName("Width");
                settings.Property(s => s.Height).HasColumnName("Height");
                // Every job has its own seed (a request without one gets a random one before it is stored).
                settings.Property(s => s.Seed).HasColumnName("Seed").HasConversion(SeedBits).IsRequired();
                settings.Property(s => s.Steps).HasColumnName("Steps");
                settings.Property(s => s.Guidance).HasColumnName("Guidance");
                settings.PrimitiveCollection(s => s.ReferenceImageIds).HasColumnName("ReferenceImageIds");
                settings.Property(s => s.SourceImageId).HasColumnName("SourceImageId");
                settings.Property(s => s.MaskImageId).HasColumnName("MaskImageId");
                settings.Property(s => s.Strength).HasColumnName("Strength");
                settings.Property(s => s.Feather).HasColumnName("Feather");
            });
            job.Property(j => j.Mode).HasConversion<string>().HasMaxLength(32);
            job.Property(j => j.State).HasConversion<string>().HasMaxLength(16);
            job.Property(j => j.EnqueuedUtc).HasConversion(Utc);
            job.Property(j => j.StartedUtc).HasConversion(NullableUtc);
            job.Property(j => j.FinishedUtc).HasConversion(NullableUtc);
            job.Property(j => j.CancelledBy).HasMaxLength(450);
            job.Property(j => j.WorkerId).HasMaxLength(300);
            job.Property(j => j.LeaseExpiresUtc).HasConversion(NullableUtc);
            job.Property(j => j.Error).HasMaxLength(2000);
            job.Property(j => j.Notice).HasMaxLength(500);
            // The scheduler reads every queued job; listings read one owner's jobs.
            job.HasIndex(j => new { j.State, j.EnqueuedUtc });
            job.HasIndex(j => new { j.OwnerId, j.State });
            job.HasIndex(j => new { j.State, j.FinishedUtc });
            // Every process's lease sweeper looks for running jobs whose lease has passed.
            job.HasIndex(j => new { j.State, j.LeaseExpiresUtc });
        });

        builder.Entity<StoredImage>(image =>
        {
            image.ToTable("Images");
            image.HasKey(i => i.Id);
            image.Property(i => i.OwnerId).HasMaxLength(450);
            image.HasOne<FluxUser>().WithMany().HasForeignKey(i => i.OwnerId).OnDelete(DeleteBehavior.Cascade);
            image.HasOne<Job>().WithMany().HasForeignKey(i => i.JobId).OnDelete(DeleteBehavior.SetNull);
            image.Property(i => i.Kind).HasConversion<string>().HasMaxLength(16);
            image.Property(i => i.ModelId).HasMaxLength(200);
            image.Property(i => i.LicenceId).HasMaxLength(100);
            image.Property(i => i.Seed).HasConversion(new ValueConverter<ulong?, long?>(
                v => v.HasValue ? unchecked((long)v.Value) : null,
                v => v.HasValue ? unchecked((ulong)v.Value) : null));
            image.Property(i => i.CreatedUtc).HasConversion(Utc);
            image.Property(i => i.RelativePath).HasMaxLength(500);
            image.Property(i => i.ContentType).HasMaxLength(64);
            image.Property(i => i.Sha256).HasMaxLength(64);
            image.HasIndex(i => new { i.OwnerId, i.Kind, i.CreatedUtc });
            // The gallery's "favourites only" listing: one owner's favourite outputs, newest first.
            image.HasIndex(i => new { i.OwnerId, i.Kind, i.Favourite, i.CreatedUtc });
            image.HasIndex(i => i.JobId);
            image.Property(i => i.SafetyVerdict).HasMaxLength(32);
            image.HasIndex(i => i.WatermarkSerial);
        });

        builder.Entity<IssuedSerial>(serial =>
        {
            serial.ToTable("WatermarkSerials");
            serial.HasKey(s => s.Id);
            serial.Property(s => s.OwnerId).HasMaxLength(450);
            serial.Property(s => s.ModelId).HasMaxLength(200);
            serial.Property(s => s.LicenceId).HasMaxLength(100);
            serial.Property(s => s.IssuedUtc).HasConversion(Utc);
            serial.HasIndex(s => s.Serial);
        });

        builder.Entity<Counter>(counter =>
        {
            counter.ToTable("Counters");
            counter.HasKey(c => c.Name);
            counter.Property(c => c.Name).HasMaxLength(64);
        });

        builder.Entity<UserQuota>(quota =>
        {
            quota.ToTable("UserQuotas");
            quota.HasKey(q => q.UserId);
            quota.Property(q => q.UserId).HasMaxLength(450);
            quota.HasOne(q => q.User).WithOne().HasForeignKey<UserQuota>(q => q.UserId).OnDelete(DeleteBehavior.Cascade);
            quota.Property(q => q.UpdatedUtc).HasConversion(Utc);
        });

        builder.Entity<DailyUsage>(usage =>
        {
            usage.ToTable("DailyUsage");
            usage.HasKey(u => new { u.UserId, u.Day });
            usage.Property(u => u.UserId).HasMaxLength(450);
            usage.HasOne(u => u.User).WithMany().HasForeignKey(u => u.UserId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
