using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class GenerationSettingsOnJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The job's parameters become its GenerationSettings, stored in the columns they always had;
            // only the feather flag takes the settings' name. Every row is kept as it was.
            migrationBuilder.RenameColumn(
                name: "FeatherComposite",
                table: "Jobs",
                newName: "Feather");

            // Sizes that are not multiples of 16 used to be floored by the engine; now they are refused.
            // A job still waiting gets the size the engine would have made, so it runs as it would have;
            // finished jobs keep the size that was asked (the gallery shows it).
            migrationBuilder.Sql("UPDATE Jobs SET Width = Width / 16 * 16 WHERE Width % 16 <> 0 AND State IN ('Queued', 'Running')");
            migrationBuilder.Sql("UPDATE Jobs SET Height = Height / 16 * 16 WHERE Height % 16 <> 0 AND State IN ('Queued', 'Running')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // The floored sizes of waiting jobs stay floored: the older engine makes the same image from them.
            migrationBuilder.RenameColumn(
                name: "Feather",
                table: "Jobs",
                newName: "FeatherComposite");
        }
    }
}
