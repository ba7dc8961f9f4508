using System.Security.Claims;
using AngleSharp.Dom;
using Bunit;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Components.Pages.Admin;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The admin "Users" page on the real administration services (SQLite).</summary>
public sealed class AdminUsersPageTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-admin-users");
    private QueueHost host = default!;
    private Application.Jobs.JobActor admin = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.Commercial);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext()
    {
        var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized("admin@example.com");
        auth.SetRoles(Roles.Admin);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, admin.UserId));
        return ctx;
    }

    private static IElement Radio(IRenderedComponent<AdminUsers> cut, string group, string label) =>
        cut.FindAll($"[data-testid={group}] .mud-radio").Single(r => r.TextContent.Trim() == label).QuerySelector("input")!;

    private static async Task CreateAsync(IRenderedComponent<AdminUsers> cut, string email, string? accountType = null)
    {
        await cut.Find("[data-testid=new-user]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => cut.Find("[data-testid=create-user]"));
        await cut.Find("input[data-testid=new-email]").ChangeAsync(new ChangeEventArgs { Value = email });
        await cut.Find("input[data-testid=new-password]").ChangeAsync(new ChangeEventArgs { Value = SiteClient.StrongPassword });
        if (accountType is not null)
        {
            await Radio(cut, "new-account-type", accountType).ClickAsync(new MouseEventArgs());
        }

        await cut.Find("[data-testid=create-submit]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Contains(email, cut.Find("[data-testid=users-message]").TextContent, StringComparison.Ordinal));
    }

    private Task<AccountType> AccountTypeAsync(string email) =>
        host.WithDbAsync(db => db.Users.Where(u => u.Email == email).Select(u => u.AccountType).SingleAsync());

    [Fact]
    public async Task The_new_user_form_starts_from_the_defaults_again_after_each_create()
    {
        await using var ctx = NewContext();
        var cut = ctx.Render<AdminUsers>();
        cut.WaitForAssertion(() => Assert.Contains("admin@example.com", cut.Find("[data-testid=admin-users]").TextContent, StringComparison.Ordinal));

        await CreateAsync(cut, "student@example.com", accountType: "Non-commercial");
        Assert.Equal(AccountType.NonCommercial, await AccountTypeAsync("student@example.com"));

        // The next account is created without touching the account type: it gets the default, Commercial.
        await CreateAsync(cut, "designer@example.com");
        Assert.Equal(AccountType.Commercial, await AccountTypeAsync("designer@example.com"));
    }

    [Fact]
    public async Task An_account_is_deleted_only_after_its_email_is_typed_and_leaves_the_list()
    {
        var leaving = await host.CreateUserAsync("leaving@example.com");
        await using var ctx = NewContext();
        var cut = ctx.Render<AdminUsers>();
        cut.WaitForAssertion(() => Assert.Contains("leaving@example.com", cut.Find("[data-testid=admin-users]").TextContent, StringComparison.Ordinal));
        await cut.Find("[data-testid=edit-user][data-email='leaving@example.com']").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => cut.Find("[data-testid=delete-user]"));

        await cut.Find("[data-testid=delete-user]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Contains("cannot be undone", cut.Find("[data-testid=delete-warning]").TextContent, StringComparison.Ordinal));
        Assert.True(cut.Find("[data-testid=delete-submit]").HasAttribute("disabled"), "Delete is offered before the e-mail is typed.");
        await cut.Find("input[data-testid=delete-confirmation]").InputAsync(new ChangeEventArgs { Value = "leaving@example" });
        cut.WaitForAssertion(() => Assert.True(cut.Find("[data-testid=delete-submit]").HasAttribute("disabled"), "A different text confirms nothing."));
        await cut.Find("input[data-testid=delete-confirmation]").InputAsync(new ChangeEventArgs { Value = "leaving@example.com" });
        cut.WaitForAssertion(() => Assert.False(cut.Find("[data-testid=delete-submit]").HasAttribute("disabled")));
        Assert.NotNull(await host.WithDbAsync(db => db.Users.SingleOrDefaultAsync(u => u.Id == leaving.UserId)));

        await cut.Find("[data-testid=delete-submit]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("leaving@example.com: account deleted with its 0 images and 0 jobs.", cut.Find("[data-testid=users-message]").TextContent.Trim()));
        Assert.DoesNotContain("leaving@example.com", cut.Find("[data-testid=admin-users]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=user-editor]"));
        Assert.Null(await host.WithDbAsync(db => db.Users.SingleOrDefaultAsync(u => u.Id == leaving.UserId)));
    }

    [Fact]
    public async Task An_administrator_cannot_delete_their_own_account_and_is_told_why()
    {
        await using var ctx = NewContext();
        var cut = ctx.Render<AdminUsers>();
        cut.WaitForAssertion(() => cut.Find("[data-testid=edit-user][data-email='admin@example.com']"));
        await cut.Find("[data-testid=edit-user][data-email='admin@example.com']").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=delete-user]").ClickAsync(new MouseEventArgs());
        await cut.Find("input[data-testid=delete-confirmation]").InputAsync(new ChangeEventArgs { Value = "admin@example.com" });

        await cut.Find("[data-testid=delete-submit]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("You cannot delete your own account here: delete it from your account page, which asks for your password.", cut.Find("[data-testid=delete-error]").TextContent.Trim()));
        Assert.NotNull(await host.WithDbAsync(db => db.Users.SingleOrDefaultAsync(u => u.Id == admin.UserId)));
    }
}
