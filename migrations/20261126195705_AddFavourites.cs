using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddFavourites : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "Favourite",
                table: "Images",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateIndex(
                name: "IX_Images_OwnerId_Kind_Favourite_CreatedUtc",
                table: "Images",
                columns: new[] { "OwnerId", "Kind", "Favourite", "CreatedUtc" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Images_OwnerId_Kind_Favourite_CreatedUtc",
                table: "Images");

            migrationBuilder.DropColumn(
                name: "Favourite",
                table: "Images");
        }
    }
}
