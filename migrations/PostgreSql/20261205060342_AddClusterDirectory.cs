using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.PostgreSql
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
                    ClusterId = table.Column<string>(type: "text", nullable: false),
                    GrainId = table.Column<string>(type: "text", nullable: false),
                    SiloAddress = table.Column<string>(type: "text", nullable: false),
                    ActivationId = table.Column<string>(type: "text", nullable: false),
                    MembershipVersion = table.Column<long>(type: "bigint", nullable: false)
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
