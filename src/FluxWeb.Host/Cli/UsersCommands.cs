using System.CommandLine;
using FluxWeb.Application.Accounts;

namespace FluxWeb.Host.Cli;

internal static class UsersCommands
{
    public static Command Create(CliOutput output)
    {
        var users = new Command("users", "Manage accounts.");
        users.Subcommands.Add(CreateAdmin(output));
        return users;
    }

    private static Command CreateAdmin(CliOutput output)
    {
        var email = new Option<string>("--email") { Description = "E-mail address (also the user name).", Required = true };
        var password = new Option<string?>("--password")
        {
            Description = "Password. Prefer the FLUXWEB_ADMIN_PASSWORD environment variable: options show up in process lists.",
        };
        var command = new Command("create-admin", "Create an administrator account (Commercial account type). Refuses an e-mail that already exists.")
        {
            email,
            password,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var secret = parse.GetValue(password) ?? Environment.GetEnvironmentVariable("FLUXWEB_ADMIN_PASSWORD");
            if (string.IsNullOrEmpty(secret))
            {
                return output.Fail("a password is required: pass --password or set FLUXWEB_ADMIN_PASSWORD.");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            await using var scope = host.Services.CreateAsyncScope();
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            var result = await accounts.CreateAdminAsync(parse.GetValue(email)!, secret);
            if (!result.Succeeded)
            {
                return output.Fail(result.Error!);
            }

            output.Out.WriteLine($"Created administrator {parse.GetValue(email)!.Trim()} (id {result.UserId}).");
            return 0;
        });
        return command;
    }
}
