using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Persistence;

public sealed class FluxWebDbContext(DbContextOptions<FluxWebDbContext> options)
    : IdentityDbContext<FluxUser>(options)
{
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
    }
}
