using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AddWatermarkSerialLedgerAndMasks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Counters",
                columns: table => new
                {
                    Name = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Value = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Counters", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "WatermarkSerials",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Serial = table.Column<long>(type: "INTEGER", nullable: false),
                    JobId = table.Column<Guid>(type: "TEXT", nullable: true),
                    OwnerId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: true),
                    ModelId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    LicenceId = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    CommercialUse = table.Column<bool>(type: "INTEGER", nullable: true),
                    IssuedUtc = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WatermarkSerials", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_WatermarkSerials_Serial",
                table: "WatermarkSerials",
                column: "Serial");

            // The serials handed out so far, oldest first, so the newest row for a serial is the newest image
            // (as tracing read it before). Then the counter starts above every serial in use: separate processes
            // counting in memory could have handed out the same serial twice, never one above the highest.
            migrationBuilder.Sql("""
                INSERT INTO "WatermarkSerials" ("Serial", "JobId", "OwnerId", "ModelId", "LicenceId", "CommercialUse", "IssuedUtc")
                SELECT "WatermarkSerial", "JobId", "OwnerId", COALESCE("ModelId", ''), "LicenceId", "CommercialUse", "CreatedUtc"
                FROM "Images" WHERE "WatermarkSerial" IS NOT NULL AND "WatermarkSerial" > 0
                ORDER BY "CreatedUtc", "Id";
                """);
            migrationBuilder.Sql("""
                INSERT INTO "Counters" ("Name", "Value")
                SELECT 'watermark-serial', COALESCE(MAX("WatermarkSerial"), 0) FROM "Images";
                """);

            // Masks were stored as uploads; the ones a job used are known to be masks. A mask saved but never
            // used stays an upload (nothing tells it apart) and is painted again if needed.
            migrationBuilder.Sql("""
                UPDATE "Images" SET "Kind" = 'Mask'
                WHERE "Kind" = 'Upload' AND "Id" IN (SELECT "MaskImageId" FROM "Jobs" WHERE "MaskImageId" IS NOT NULL);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE "Images" SET "Kind" = 'Upload' WHERE "Kind" = 'Mask';""");

            migrationBuilder.DropTable(
                name: "Counters");

            migrationBuilder.DropTable(
                name: "WatermarkSerials");
        }
    }
}
