using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Images;
using FluxWeb.Persistence.Jobs;
using FluxWeb.Persistence.Quotas;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Persistence;

public sealed class FluxWebDbContext(DbContextOptions<FluxWebDbContext> options)
    : IdentityDbContext<FluxUser>(options)
{
    public DbSet<Job> Jobs => Set<Job>();

    public DbSet<StoredImage> Images => Set<StoredImage>();

    public DbSet<UserQuota> UserQuotas => Set<UserQuota>();

    public DbSet<DailyUsage> DailyUsage => Set<DailyUsage>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);

        builder.Entity<FluxUser>(user =>
        {
            // Stored as text so the database reads the same as the code and a new value
            // cannot silently shift the meaning of existing rows.
            user.Property(u => u.AccountType)
                .HasConversion<string>()
                .HasMaxLength(32)
                .HasDefaultValue(AccountType.Commercial)
                .HasSentinel((AccountType)(-1));
            user.Property(u => u.CreatedUtc);
        });

        JobModel.Configure(builder);
    }
}
