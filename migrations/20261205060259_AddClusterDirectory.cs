using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddClusterDirectory : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ClusterDirectory",
                columns: table => new
                {
                    ClusterId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    GrainId = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                    SiloAddress = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    ActivationId = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    MembershipVersion = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ClusterDirectory", x => new { x.ClusterId, x.GrainId });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ClusterDirectory");
        }
    }
}
