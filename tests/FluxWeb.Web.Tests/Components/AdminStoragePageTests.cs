using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Host.Components.Pages.Admin;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The admin "Storage" page: what <c>fluxweb storage check</c> reports, and removing files without rows, audited.</summary>
public sealed class AdminStoragePageTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-admin-storage");
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Fact]
    public async Task An_administrator_sees_files_without_rows_and_rows_without_files_and_removes_the_files()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        var ada = await host.CreateUserAsync("ada@example.com");
        var root = host.Services.GetRequiredService<ImageStore>().Root;
        var lost = Path.Combine(root, "2026", "11", "lost-upload.png");
        Directory.CreateDirectory(Path.GetDirectoryName(lost)!);
        await File.WriteAllBytesAsync(lost, new byte[2048]);
        File.SetLastWriteTimeUtc(lost, DateTime.UtcNow - TimeSpan.FromHours(3));
        var broken = new StoredImage { OwnerId = ada.UserId, RelativePath = "images/2026/10/gone.png", ContentType = "image/png", Sha256 = "00" };
        await host.WithDbAsync(async db =>
        {
            db.Images.Add(broken);
            return await db.SaveChangesAsync();
        });
        await using var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized("admin@example.com");
        auth.SetRoles(Roles.Admin);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, admin.UserId));

        var cut = ctx.Render<AdminStorage>();

        cut.WaitForAssertion(() => Assert.Equal("1 (2.0 KiB)", cut.Find("[data-testid=storage-unrecorded]").TextContent.Trim()));
        Assert.Equal("images/2026/11/lost-upload.png", cut.Find("[data-testid=storage-unrecorded-list] li").TextContent.Trim());
        Assert.Equal("1", cut.Find("[data-testid=storage-missing]").TextContent.Trim());
        var row = cut.Find("[data-testid=storage-missing-list] tbody tr").TextContent;
        Assert.Contains("ada@example.com", row, StringComparison.Ordinal);
        Assert.Contains(broken.Id.ToString(), row, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=storage-clean]"));

        await cut.Find("[data-testid=storage-remove]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("Removed 1 file(s) without a row.", cut.Find("[data-testid=storage-message]").TextContent.Trim()));
        Assert.False(File.Exists(lost));
        Assert.Equal("0 (0 bytes)", cut.Find("[data-testid=storage-unrecorded]").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=storage-remove]"));
        Assert.Equal("1", cut.Find("[data-testid=storage-missing]").TextContent.Trim());
        var audit = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().SingleAsync(a => a.Action == AuditActions.AdminChange));
        Assert.Equal((admin.UserId, "Removed 1 image file without a row from the data folder."), (audit.ActorId, audit.Detail));

        // The broken row dealt with (here: deleted), the page says all is well.
        await host.WithDbAsync(db => db.Images.Where(i => i.Id == broken.Id).ExecuteDeleteAsync());
        await cut.Find("[data-testid=storage-check]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=storage-clean]")));
    }
}
