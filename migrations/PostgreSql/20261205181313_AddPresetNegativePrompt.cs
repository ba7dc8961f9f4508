using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.PostgreSql
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
                type: "text",
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
