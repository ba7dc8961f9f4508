using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddPresetNegativePrompt : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "NegativePrompt",
                table: "Presets",
                type: "TEXT",
                maxLength: 2000,
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "NegativePrompt",
                table: "Presets");
        }
    }
}
