using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Images;
using FluxWeb.Persistence.Accounts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace FluxWeb.Persistence.Boards;

/// <summary>Mapping of boards, the images on them and shares. Everything goes when its account, board or image goes.</summary>
internal static class BoardModel
{
    private static readonly ValueConverter<DateTime, DateTime> Utc = new(v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    public static void Configure(ModelBuilder builder)
    {
        builder.Entity<Board>(board =>
        {
            board.ToTable("Boards");
            board.HasKey(b => b.Id);
            board.Property(b => b.OwnerId).HasMaxLength(450);
            board.HasOne<FluxUser>().WithMany().HasForeignKey(b => b.OwnerId).OnDelete(DeleteBehavior.Cascade);
            board.Property(b => b.Name).HasMaxLength(100);
            board.Property(b => b.CreatedUtc).HasConversion(Utc);
            board.HasIndex(b => b.OwnerId);
        });

        builder.Entity<BoardImage>(entry =>
        {
            entry.ToTable("BoardImages");
            entry.HasKey(e => new { e.BoardId, e.ImageId });
            entry.HasOne<Board>().WithMany().HasForeignKey(e => e.BoardId).OnDelete(DeleteBehavior.Cascade);
            entry.HasOne<StoredImage>().WithMany().HasForeignKey(e => e.ImageId).OnDelete(DeleteBehavior.Cascade);
            entry.Property(e => e.AddedById).HasMaxLength(450);
            entry.Property(e => e.AddedUtc).HasConversion(Utc);
            entry.HasIndex(e => e.ImageId);
            entry.HasIndex(e => new { e.BoardId, e.Position });
        });

        builder.Entity<Share>(share =>
        {
            share.ToTable("Shares", table => table.HasCheckConstraint("CK_Shares_OneTarget", "(\"BoardId\" IS NULL) <> (\"ImageId\" IS NULL)"));
            share.HasKey(s => s.Id);
            share.Property(s => s.OwnerId).HasMaxLength(450);
            share.HasOne<FluxUser>().WithMany().HasForeignKey(s => s.OwnerId).OnDelete(DeleteBehavior.Cascade);
            share.Property(s => s.GranteeId).HasMaxLength(450);
            share.HasOne<FluxUser>().WithMany().HasForeignKey(s => s.GranteeId).OnDelete(DeleteBehavior.Cascade);
            share.HasOne<Board>().WithMany().HasForeignKey(s => s.BoardId).OnDelete(DeleteBehavior.Cascade);
            share.HasOne<StoredImage>().WithMany().HasForeignKey(s => s.ImageId).OnDelete(DeleteBehavior.Cascade);
            share.Property(s => s.Role).HasConversion<string>().HasMaxLength(16);
            share.Property(s => s.CreatedUtc).HasConversion(Utc);
            share.HasIndex(s => new { s.BoardId, s.GranteeId });
            share.HasIndex(s => new { s.ImageId, s.GranteeId });
            share.HasIndex(s => s.GranteeId);
        });
    }
}
