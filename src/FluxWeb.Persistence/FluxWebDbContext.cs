using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Presets;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Administration;
using FluxWeb.Persistence.Boards;
using FluxWeb.Persistence.Cluster;
using FluxWeb.Persistence.Images;
using FluxWeb.Persistence.Jobs;
using FluxWeb.Persistence.Presets;
using FluxWeb.Persistence.Quotas;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Persistence;

public sealed class FluxWebDbContext(DbContextOptions<FluxWebDbContext> options)
    : IdentityDbContext<FluxUser>(options)
{
    public DbSet<Job> Jobs => Set<Job>();

    public DbSet<StoredImage> Images => Set<StoredImage>();

    public DbSet<IssuedSerial> IssuedSerials => Set<IssuedSerial>();

    public DbSet<Counter> Counters => Set<Counter>();

    public DbSet<UserQuota> UserQuotas => Set<UserQuota>();

    public DbSet<DailyUsage> DailyUsage => Set<DailyUsage>();

    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<ModelSetting> ModelSettings => Set<ModelSetting>();

    public DbSet<PolicySetting> PolicySettings => Set<PolicySetting>();

    public DbSet<UserSession> UserSessions => Set<UserSession>();

    public DbSet<Board> Boards => Set<Board>();

    public DbSet<BoardImage> BoardImages => Set<BoardImage>();

    public DbSet<Share> Shares => Set<Share>();

    public DbSet<Preset> Presets => Set<Preset>();

    public DbSet<ClusterDirectoryEntry> ClusterDirectory => Set<ClusterDirectoryEntry>();

    public DbSet<ExportTicketRow> ExportTickets => Set<ExportTicketRow>();

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

        builder.Entity<UserSession>(session =>
        {
            session.ToTable("UserSessions");
            session.HasKey(s => s.Id);
            session.Property(s => s.Id).HasMaxLength(64);
            session.Property(s => s.UserId).HasMaxLength(450);
            session.HasOne(s => s.User).WithMany().HasForeignKey(s => s.UserId).OnDelete(DeleteBehavior.Cascade);
            session.Property(s => s.CreatedUtc).HasConversion(v => v, v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
            session.Property(s => s.RenewedUtc).HasConversion(v => v, v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
            session.Property(s => s.ExpiresUtc).HasConversion(v => v, v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);
            session.HasIndex(s => s.UserId);
            session.HasIndex(s => s.ExpiresUtc);
        });

        JobModel.Configure(builder);
        AdministrationModel.Configure(builder);
        BoardModel.Configure(builder);
        PresetModel.Configure(builder);
        ClusterDirectoryModel.Configure(builder);
        ExportTicketModel.Configure(builder);

        builder.Entity<AuditEvent>(audit =>
        {
            audit.ToTable("AuditEvents");
            audit.HasKey(a => a.Id);
            audit.Property(a => a.TimeUtc).HasConversion(v => v, v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
            audit.Property(a => a.ActorId).HasMaxLength(450);
            audit.Property(a => a.ActorEmail).HasMaxLength(256);
            audit.Property(a => a.Action).HasMaxLength(64);
            audit.Property(a => a.TargetUserId).HasMaxLength(450);
            audit.Property(a => a.TargetEmail).HasMaxLength(256);
            audit.Property(a => a.ModelId).HasMaxLength(200);
            audit.Property(a => a.Detail).HasMaxLength(1000);
            audit.Property(a => a.Channel).HasMaxLength(16);
            audit.HasIndex(a => a.TimeUtc);
            audit.HasIndex(a => new { a.ActorId, a.TimeUtc });
            audit.HasIndex(a => new { a.Action, a.TimeUtc });
        });

        DatabaseDialect.Of(this).ConfigureModel(builder);
    }
}
