using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddImageProvenance : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "NsfwScore",
                table: "Images",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SafetyVerdict",
                table: "Images",
                type: "TEXT",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "WatermarkSerial",
                table: "Images",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Images_WatermarkSerial",
                table: "Images",
                column: "WatermarkSerial");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Images_WatermarkSerial",
                table: "Images");

            migrationBuilder.DropColumn(
                name: "NsfwScore",
                table: "Images");

            migrationBuilder.DropColumn(
                name: "SafetyVerdict",
                table: "Images");

            migrationBuilder.DropColumn(
                name: "WatermarkSerial",
                table: "Images");
        }
    }
}
