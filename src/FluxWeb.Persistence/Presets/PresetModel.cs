using FluxWeb.Domain.Presets;
using FluxWeb.Persistence.Accounts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace FluxWeb.Persistence.Presets;

/// <summary>
/// Mapping of presets. A person's presets go with their account; a published one stays when the
/// administrator who published it goes. Names are unique per owner and among published presets
/// (SQLite treats nulls as distinct, hence two filtered indexes rather than one).
/// </summary>
internal static class PresetModel
{
    private static readonly ValueConverter<DateTime, DateTime> Utc = new(v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    public static void Configure(ModelBuilder builder)
    {
        builder.Entity<Preset>(preset =>
        {
            preset.ToTable("Presets");
            preset.HasKey(p => p.Id);
            preset.Property(p => p.OwnerId).HasMaxLength(450);
            preset.HasOne<FluxUser>().WithMany().HasForeignKey(p => p.OwnerId).OnDelete(DeleteBehavior.Cascade);
            preset.Property(p => p.Name).HasMaxLength(Preset.MaxNameLength);
            preset.Property(p => p.NameKey).HasMaxLength(Preset.MaxNameLength);
            preset.Property(p => p.PromptTemplate).HasMaxLength(Preset.MaxTemplateLength);
            preset.Property(p => p.NegativePrompt).HasMaxLength(Preset.MaxTemplateLength);
            preset.Property(p => p.ModelId).HasMaxLength(200);
            preset.Property(p => p.PublishedById).HasMaxLength(450);
            preset.Property(p => p.CreatedUtc).HasConversion(Utc);
            preset.Property(p => p.UpdatedUtc).HasConversion(Utc);
            preset.Ignore(p => p.IsPublished);
            preset.HasIndex(p => new { p.OwnerId, p.NameKey }).IsUnique().HasFilter("\"OwnerId\" IS NOT NULL");
            preset.HasIndex(p => p.NameKey).IsUnique().HasFilter("\"OwnerId\" IS NULL").HasDatabaseName("IX_Presets_PublishedName");
        });
    }
}
