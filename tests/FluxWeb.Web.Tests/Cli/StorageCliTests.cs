using System.Text.Json;
using FluxWeb.Domain.Images;
using FluxWeb.Host.Cli;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// <c>storage check</c> on a data folder holding every case: a stored image with its thumbnail, an upload whose row was never
/// written (old), the same but written a minute ago, a thumbnail left by a deleted image, an abandoned partial write, and a
/// row whose file is gone.
/// </summary>
public sealed class StorageCliTests
{
    private static async Task<(int ExitCode, JsonElement Report, string Error)> CheckAsync(string data, params string[] extra)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(["storage", "check", "--data", data, .. extra], new CliOutput(stdout, stderr));
        return (code, JsonDocument.Parse(Assert.Single(stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement, stderr.ToString());
    }

    [Fact]
    public async Task Storage_check_reports_files_without_rows_and_rows_without_files_and_removes_only_old_unrecorded_files()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        TestDatabase.CopyInto(data);
        var stdout = new StringWriter();
        Assert.Equal(0, await FluxWebCli.RunAsync(["users", "create", "--email", "ada@example.com", "--password", SiteClient.StrongPassword, "--data", data], new CliOutput(stdout, new StringWriter())));
        var old = DateTime.UtcNow - TimeSpan.FromHours(3);
        string File(string relativePath, DateTime? written = null)
        {
            var path = Path.Combine(data, relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            System.IO.File.WriteAllBytes(path, new byte[100]);
            System.IO.File.SetLastWriteTimeUtc(path, written ?? old);
            return path;
        }

        var kept = File("images/2026/11/job-kept-1.png");
        var keptThumbnail = File("images/2026/11/job-kept-1.thumb320.webp");
        var unrecorded = File("images/2026/11/upload-without-row.png");
        var young = File("images/2026/12/written-a-minute-ago.png", DateTime.UtcNow - TimeSpan.FromMinutes(1));
        var strayThumbnail = File("images/2026/10/deleted-image.thumb320.webp");
        var partial = File("images/2026/10/job-crashed-3.png.partial");
        Guid keptId, goneId;
        await using (var db = OpenDatabase(data))
        {
            var owner = await db.Users.Select(u => u.Id).SingleAsync();
            var rows = new[] { "images/2026/11/job-kept-1.png", "images/2026/09/restored-without-its-file.png" }
                .Select(path => new StoredImage { OwnerId = owner, RelativePath = path, ContentType = "image/png", Sha256 = "00", CreatedUtc = old })
                .ToList();
            db.Images.AddRange(rows);
            await db.SaveChangesAsync();
            (keptId, goneId) = (rows[0].Id, rows[1].Id);
        }

        var (code, report, error) = await CheckAsync(data);

        Assert.Equal(1, code);
        Assert.Equal(
            ["images/2026/10/deleted-image.thumb320.webp", "images/2026/11/upload-without-row.png"],
            report.GetProperty("unrecorded").EnumerateArray().Select(p => p.GetString()!).ToArray());
        Assert.Equal((5, 2, 2, 200, 1, 0), (
            report.GetProperty("files").GetInt32(), report.GetProperty("image_rows").GetInt32(), report.GetProperty("unrecorded_count").GetInt32(),
            report.GetProperty("unrecorded_bytes").GetInt32(), report.GetProperty("too_recent_to_judge").GetInt32(), report.GetProperty("removed").GetInt32()));
        var missing = Assert.Single(report.GetProperty("missing").EnumerateArray());
        Assert.Equal((goneId, "ada@example.com", "images/2026/09/restored-without-its-file.png"), (missing.GetProperty("image").GetGuid(), missing.GetProperty("owner").GetString(), missing.GetProperty("path").GetString()));
        Assert.Equal("error: 1 image row(s) have no file (restore them from a backup of the data folder, or delete those images); 2 file(s) without a row (200 bytes); --remove-unrecorded removes them.", error.Trim());
        Assert.All(new[] { kept, keptThumbnail, unrecorded, young, strayThumbnail }, path => Assert.True(System.IO.File.Exists(path), path));
        // Every command's start-up removes abandoned partial writes, as a server's does.
        Assert.False(System.IO.File.Exists(partial));

        (code, report, _) = await CheckAsync(data, "--remove-unrecorded");

        Assert.Equal(2, report.GetProperty("removed").GetInt32());
        Assert.Equal(1, code);
        Assert.All(new[] { unrecorded, strayThumbnail }, path => Assert.False(System.IO.File.Exists(path), path));
        Assert.All(new[] { kept, keptThumbnail, young }, path => Assert.True(System.IO.File.Exists(path), path));
        await using (var db = OpenDatabase(data))
        {
            Assert.Equal(new[] { goneId, keptId }.Order(), (await db.Images.Select(i => i.Id).ToListAsync()).Order());
            var audited = await db.AuditEvents.SingleAsync(a => a.Action == FluxWeb.Domain.Audit.AuditActions.AdminChange && a.Channel == "cli" && a.Detail!.StartsWith("Removed"));
            Assert.Equal("Removed 2 image files without a row from the data folder.", audited.Detail);
        }

        // Once the broken row is dealt with (here: the image deleted), the folder is clean and the exit code says so.
        await using (var db = OpenDatabase(data))
        {
            await db.Images.Where(i => i.Id == goneId).ExecuteDeleteAsync();
        }

        (code, report, error) = await CheckAsync(data);
        Assert.Equal(0, code);
        Assert.True(report.GetProperty("clean").GetBoolean(), error);
    }

    private static FluxWebDbContext OpenDatabase(string dataDirectory)
    {
        var options = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(options, new PersistenceOptions { DataDirectory = dataDirectory });
        return new FluxWebDbContext(options.Options);
    }
}
