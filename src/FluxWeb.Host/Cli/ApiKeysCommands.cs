using System.CommandLine;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;

namespace FluxWeb.Host.Cli;

/// <summary><c>fluxweb apikeys create | revoke | list</c>: a user's API keys; the key itself is printed once, at creation.</summary>
internal static class ApiKeysCommands
{
    public static Command Create(CliOutput output)
    {
        var keys = new Command("apikeys", "Manage users' API keys for scripts (REST API and job hub).");
        keys.Subcommands.Add(CreateKey(output));
        keys.Subcommands.Add(Revoke(output));
        keys.Subcommands.Add(List(output));
        return keys;
    }

    private static Option<string> UserOption() => new("--user") { Description = "The owner's e-mail.", Required = true };

    private static Command CreateKey(CliOutput output)
    {
        var user = UserOption();
        var name = new Option<string>("--name") { Description = "What the key is for, e.g. \"nightly batch\" (unique among the user's active keys).", Required = true };
        var scope = new Option<string>("--scope") { Description = "generate (submit jobs, upload, cancel, read) or read (list and download only).", DefaultValueFactory = _ => "generate" };
        var command = new Command("create", "Create an API key and print it once on stdout (only its hash is stored: it cannot be shown again).") { user, name, scope };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!ApiKeyService.TryParseScope(parse.GetValue(scope), out var keyScope))
            {
                return output.Fail($"--scope must be generate or read, not '{parse.GetValue(scope)}'.");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var owner = await host.Services.GetRequiredService<UserAdministration>().FindByEmailAsync(parse.GetValue(user)!, ChangeActor.CommandLine, cancellationToken);
            if (owner is null)
            {
                return output.Fail($"no account with the e-mail '{parse.GetValue(user)!.Trim()}'.");
            }

            var (created, error) = await host.Services.GetRequiredService<ApiKeyService>().CreateAsync(owner.Id, parse.GetValue(name)!, keyScope, ChangeActor.CommandLine, cancellationToken);
            if (created is null)
            {
                return output.Fail(error!);
            }

            // The key alone on stdout, so `KEY=$(fluxweb apikeys create …)` works; the explanation goes to stderr.
            output.Out.WriteLine(created.Key);
            output.Error.WriteLine($"Created API key \"{created.Info.Name}\" ({created.Info.Prefix}…, scope {ApiKeyService.Describe(created.Info.Scope)}) for {owner.Email}. Store it now: it is not shown again.");
            return 0;
        });
        return command;
    }

    private static Command Revoke(CliOutput output)
    {
        var user = UserOption();
        var name = new Option<string?>("--name") { Description = "The active key's name." };
        var id = new Option<Guid?>("--id") { Description = "The key's id (from `apikeys list`)." };
        var command = new Command("revoke", "Revoke a key by name or id; it stops working with the next request.") { user, name, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(name) is null == parse.GetValue(id) is null)
            {
                return output.Fail("give the key's --name or its --id (one of them).");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var owner = await host.Services.GetRequiredService<UserAdministration>().FindByEmailAsync(parse.GetValue(user)!, ChangeActor.CommandLine, cancellationToken);
            if (owner is null)
            {
                return output.Fail($"no account with the e-mail '{parse.GetValue(user)!.Trim()}'.");
            }

            var (key, error) = await host.Services.GetRequiredService<ApiKeyService>().RevokeAsync(owner.Id, parse.GetValue(id), parse.GetValue(name), ChangeActor.CommandLine, cancellationToken);
            if (key is null)
            {
                return output.Fail(error!);
            }

            output.Out.WriteLine($"Revoked API key \"{key.Name}\" ({key.Prefix}…) of {owner.Email}.");
            return 0;
        });
        return command;
    }

    private static Command List(CliOutput output)
    {
        var user = UserOption();
        var json = new Option<bool>("--json") { Description = "One JSON line (an array) instead of a table." };
        var command = new Command("list", "List a user's API keys (never the keys themselves): name, prefix, scope, created, last used, revoked.") { user, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var owner = await host.Services.GetRequiredService<UserAdministration>().FindByEmailAsync(parse.GetValue(user)!, ChangeActor.CommandLine, cancellationToken);
            if (owner is null)
            {
                return output.Fail($"no account with the e-mail '{parse.GetValue(user)!.Trim()}'.");
            }

            var keys = await host.Services.GetRequiredService<ApiKeyService>().ListAsync(owner.Id, ChangeActor.CommandLine, cancellationToken: cancellationToken);
            if (parse.GetValue(json))
            {
                CliJson.WriteLine(output, keys.Select(k => new { k.Id, k.Name, Scope = ApiKeyService.Describe(k.Scope), k.Prefix, k.CreatedUtc, k.LastUsedUtc, k.RevokedUtc }));
                return 0;
            }

            if (keys.Count == 0)
            {
                output.Out.WriteLine($"{owner.Email} has no API keys.");
                return 0;
            }

            foreach (var k in keys)
            {
                output.Out.WriteLine($"{k.Id}  {k.Prefix}…  {ApiKeyService.Describe(k.Scope),-8}  created {Time(k.CreatedUtc)}  last used {(k.LastUsedUtc is { } used ? Time(used) : "never")}  {(k.RevokedUtc is { } revoked ? $"revoked {Time(revoked)}" : "active")}  {k.Name}");
            }

            return 0;
        });
        return command;
    }

    private static string Time(DateTime utc) => utc.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}
