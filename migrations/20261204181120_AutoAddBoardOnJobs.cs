using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FluxWeb.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AutoAddBoardOnJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "AutoAddBoardId",
                table: "Jobs",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "AutoAddBoardId",
                table: "Jobs");
        }
    }
}
