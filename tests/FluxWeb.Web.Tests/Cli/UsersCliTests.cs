using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Cli;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Cli;

public sealed class UsersCliTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static FluxWebDbContext OpenDatabase(string dataDirectory)
    {
        var options = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(options, new PersistenceOptions { DataDirectory = dataDirectory });
        return new FluxWebDbContext(options.Options);
    }

    [Fact]
    public async Task Create_admin_on_an_empty_database_makes_an_admin_who_can_sign_in()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");

        var (code, stdout, stderr) = await RunAsync("users", "create-admin", "--email", "root@example.com", "--password", SiteClient.StrongPassword, "--data", data);

        Assert.True(code == 0, stderr);
        Assert.Contains("Created administrator root@example.com", stdout, StringComparison.Ordinal);
        await using var db = OpenDatabase(data);
        var user = await db.Users.SingleAsync();
        Assert.Equal("root@example.com", user.Email);
        Assert.Equal(AccountType.Commercial, user.AccountType);
        var roles = await (from ur in db.UserRoles join r in db.Roles on ur.RoleId equals r.Id where ur.UserId == user.Id select r.Name).ToListAsync();
        Assert.Equal([Roles.Admin], roles);
        Assert.Equal(PasswordVerificationResult.Success, new PasswordHasher<FluxUser>().VerifyHashedPassword(user, user.PasswordHash!, SiteClient.StrongPassword));
    }

    [Fact]
    public async Task Create_admin_refuses_a_duplicate_with_one_clear_line()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        await RunAsync("users", "create-admin", "--email", "root@example.com", "--password", SiteClient.StrongPassword, "--data", data);

        var (code, _, stderr) = await RunAsync("users", "create-admin", "--email", "ROOT@example.com", "--password", SiteClient.StrongPassword, "--data", data);

        Assert.NotEqual(0, code);
        Assert.Equal("error: An account with the e-mail 'ROOT@example.com' already exists.", stderr.Trim());
        await using var db = OpenDatabase(data);
        Assert.Equal(1, await db.Users.CountAsync());
    }

    [Fact]
    public async Task Create_admin_explains_a_weak_password()
    {
        using var folder = new TempFolder();

        var (code, _, stderr) = await RunAsync("users", "create-admin", "--email", "root@example.com", "--password", "weak", "--data", folder.Combine("data"));

        Assert.NotEqual(0, code);
        Assert.StartsWith("error: Passwords must be at least 8 characters.", stderr.Trim(), StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Missing_required_option_fails_without_touching_anything()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");

        var (code, _, stderr) = await RunAsync("users", "create-admin", "--password", SiteClient.StrongPassword, "--data", data);

        Assert.NotEqual(0, code);
        Assert.Contains("--email", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("users", "--help")]
    [InlineData("users", "create-admin", "--help")]
    [InlineData("serve", "--help")]
    public async Task Help_is_available_everywhere(params string[] args)
    {
        var (code, stdout, _) = await RunAsync(args);

        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        Assert.Contains("--data", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Root_help_lists_the_commands()
    {
        var (_, stdout, _) = await RunAsync("--help");

        Assert.Contains("serve", stdout, StringComparison.Ordinal);
        Assert.Contains("users", stdout, StringComparison.Ordinal);
        Assert.Contains("--models", stdout, StringComparison.Ordinal);
        Assert.Contains("--urls", stdout, StringComparison.Ordinal);
    }
}
