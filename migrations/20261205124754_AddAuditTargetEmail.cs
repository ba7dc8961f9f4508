using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddAuditTargetEmail : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TargetEmail",
                table: "AuditEvents",
                type: "TEXT",
                maxLength: 256,
                nullable: true);

            // Events written before the column existed name their target too, so they still do once it is deleted.
            migrationBuilder.Sql("""UPDATE "AuditEvents" SET "TargetEmail" = (SELECT "Email" FROM "AspNetUsers" WHERE "AspNetUsers"."Id" = "AuditEvents"."TargetUserId") WHERE "TargetUserId" IS NOT NULL""");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "TargetEmail",
                table: "AuditEvents");
        }
    }
}
