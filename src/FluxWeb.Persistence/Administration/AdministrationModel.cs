using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace FluxWeb.Persistence.Administration;

/// <summary>Mapping of the administration tables: API keys, model settings and policy settings.</summary>
internal static class AdministrationModel
{
    private static readonly ValueConverter<DateTime, DateTime> Utc = new(v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    private static readonly ValueConverter<DateTime?, DateTime?> NullableUtc = new(
        v => v.HasValue ? v.Value.ToUniversalTime() : v,
        v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);

    public static void Configure(ModelBuilder builder)
    {
        builder.Entity<ApiKey>(key =>
        {
            key.ToTable("ApiKeys");
            key.HasKey(k => k.Id);
            key.Property(k => k.UserId).HasMaxLength(450);
            key.HasOne(k => k.User).WithMany().HasForeignKey(k => k.UserId).OnDelete(DeleteBehavior.Cascade);
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Scope).HasConversion<string>().HasMaxLength(16);
            key.Property(k => k.Prefix).HasMaxLength(16);
            key.Property(k => k.Hash).HasMaxLength(32);
            key.Property(k => k.CreatedUtc).HasConversion(Utc);
            key.Property(k => k.LastUsedUtc).HasConversion(NullableUtc);
            key.Property(k => k.RevokedUtc).HasConversion(NullableUtc);
            key.HasIndex(k => k.Prefix).IsUnique();
            key.HasIndex(k => k.UserId);
        });

        builder.Entity<ModelSetting>(setting =>
        {
            setting.ToTable("ModelSettings");
            setting.HasKey(s => s.ModelId);
            setting.Property(s => s.ModelId).HasMaxLength(200);
            setting.Property(s => s.AllowedRoles).HasMaxLength(200);
            setting.Property(s => s.UpdatedUtc).HasConversion(Utc);
        });

        builder.Entity<PolicySetting>(setting =>
        {
            setting.ToTable("PolicySettings");
            setting.HasKey(s => s.Key);
            setting.Property(s => s.Key).HasMaxLength(100);
            setting.Property(s => s.UpdatedUtc).HasConversion(Utc);
            setting.Property(s => s.UpdatedBy).HasMaxLength(256);
        });
    }
}
