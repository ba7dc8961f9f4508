using System.CommandLine;
using System.Globalization;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Accounts;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb users create-admin | create | set | list</c>: account administration from a shell, through the
/// same service as the admin pages (same guards, audited as channel <c>cli</c>).
/// </summary>
internal static class UsersCommands
{
    /// <summary>Keeps passwords out of process lists: <c>users create</c> and <c>users set --password</c> read it when the option is absent.</summary>
    public const string PasswordVariable = "FLUXWEB_USER_PASSWORD";

    public static Command Create(CliOutput output)
    {
        var users = new Command("users", "Manage accounts.");
        users.Subcommands.Add(CreateAdmin(output));
        users.Subcommands.Add(CreateUser(output));
        users.Subcommands.Add(Set(output));
        users.Subcommands.Add(Delete(output));
        users.Subcommands.Add(List(output));
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

    private static Command CreateUser(CliOutput output)
    {
        var email = new Option<string>("--email") { Description = "E-mail address (also the user name).", Required = true };
        var password = new Option<string?>("--password") { Description = $"Password. Prefer the {PasswordVariable} environment variable: options show up in process lists." };
        var role = RoleOption();
        role.DefaultValueFactory = _ => Roles.User;
        var accountType = AccountTypeOption();
        accountType.DefaultValueFactory = _ => nameof(AccountType.Commercial);
        var command = new Command("create", "Create an account. The account type decides which model licences it may use: Commercial accounts never use non-commercial models or their images.")
        {
            email, password, role, accountType,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var secret = parse.GetValue(password) ?? Environment.GetEnvironmentVariable(PasswordVariable);
            if (string.IsNullOrEmpty(secret))
            {
                return output.Fail($"a password is required: pass --password or set {PasswordVariable}.");
            }

            if (!TryRole(parse.GetValue(role)!, out var roleName, out var roleError))
            {
                return output.Fail(roleError);
            }

            if (!TryAccountType(parse.GetValue(accountType)!, out var type, out var typeError))
            {
                return output.Fail(typeError);
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var result = await host.Services.GetRequiredService<UserAdministration>().CreateAsync(parse.GetValue(email)!, secret, roleName, type, ChangeActor.CommandLine, cancellationToken);
            if (!result.Succeeded)
            {
                return output.Fail(result.Error!);
            }

            output.Out.WriteLine($"Created {parse.GetValue(email)!.Trim()} ({roleName}, {type}; id {result.UserId}).");
            return 0;
        });
        return command;
    }

    private static Command Delete(CliOutput output)
    {
        var email = new Option<string>("--email") { Description = "The account to delete.", Required = true };
        var confirm = new Option<string?>("--confirm") { Description = "The account's e-mail again: deleting cannot be undone." };
        var command = new Command("delete", "Delete an account with its images (files included), jobs, boards, shares, presets and API keys; the audit log keeps naming it.")
        {
            email, confirm,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var address = parse.GetValue(email)!.Trim();
            if (parse.GetValue(confirm) is not { Length: > 0 } confirmation)
            {
                return output.Fail($"deleting {address} cannot be undone: run again with --confirm {address}.");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var administration = host.Services.GetRequiredService<UserAdministration>();
            var user = await administration.FindByEmailAsync(address, ChangeActor.CommandLine, cancellationToken);
            if (user is null)
            {
                return output.Fail($"no account with the e-mail '{address}'.");
            }

            var result = await administration.DeleteAsync(user.Id, confirmation, ChangeActor.CommandLine, cancellationToken);
            if (!result.Succeeded)
            {
                return output.Fail(result.Error!);
            }

            output.Out.WriteLine($"{user.Email}: {string.Join("; ", result.Changes)}.");
            return 0;
        });
        return command;
    }

    private static Command Set(CliOutput output)
    {
        var email = new Option<string>("--email") { Description = "The account to change.", Required = true };
        var role = RoleOption();
        var accountType = AccountTypeOption();
        var disabled = new Option<string?>("--disabled") { Description = "true: the account cannot sign in, use API keys or queue jobs; false: enabled again." };
        var images = new Option<string?>("--images-per-day") { Description = "Quota override: a number, 'unlimited', or 'default' for the role's default." };
        var gpu = new Option<string?>("--gpu-seconds-per-day") { Description = "Quota override: a number, 'unlimited', or 'default'." };
        var queued = new Option<string?>("--max-queued-jobs") { Description = "Queued-job limit override: a number, 'unlimited', or 'default'." };
        var password = new Option<bool>("--password") { Description = $"Set a new password, read from the {PasswordVariable} environment variable (never from the command line)." };
        var confirm = new Option<bool>("--confirm") { Description = "Confirms switching a NonCommercial account with non-commercial images to Commercial (the images stay, but the account can no longer use them)." };
        var command = new Command("set", "Change an account's role, account type, disabled state, quota overrides or password; prints what changed.")
        {
            email, role, accountType, disabled, images, gpu, queued, password, confirm,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? roleName = null;
            if (parse.GetValue(role) is { } roleText && !TryRole(roleText, out roleName, out var roleError))
            {
                return output.Fail(roleError);
            }

            AccountType? type = null;
            if (parse.GetValue(accountType) is { } typeText)
            {
                if (!TryAccountType(typeText, out var parsed, out var typeError))
                {
                    return output.Fail(typeError);
                }

                type = parsed;
            }

            bool? disable = null;
            if (parse.GetValue(disabled) is { } disabledText)
            {
                if (!bool.TryParse(disabledText, out var parsed))
                {
                    return output.Fail($"--disabled takes true or false, not '{disabledText}'.");
                }

                disable = parsed;
            }

            string? newPassword = null;
            if (parse.GetValue(password))
            {
                newPassword = Environment.GetEnvironmentVariable(PasswordVariable);
                if (string.IsNullOrEmpty(newPassword))
                {
                    return output.Fail($"--password reads the new password from {PasswordVariable}, which is not set.");
                }
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var administration = host.Services.GetRequiredService<UserAdministration>();
            var user = await administration.FindByEmailAsync(parse.GetValue(email)!, ChangeActor.CommandLine, cancellationToken);
            if (user is null)
            {
                return output.Fail($"no account with the e-mail '{parse.GetValue(email)!.Trim()}'.");
            }

            QuotaOverride? quota = null;
            if (parse.GetValue(images) is not null || parse.GetValue(gpu) is not null || parse.GetValue(queued) is not null)
            {
                // Options left out keep the account's current override.
                if (!TryQuota(parse.GetValue(images), user.Quota.ImagesPerDay, "--images-per-day", out var imagesValue, out var error)
                    || !TryQuota(parse.GetValue(gpu), user.Quota.GpuSecondsPerDay, "--gpu-seconds-per-day", out var gpuValue, out error)
                    || !TryQuota(parse.GetValue(queued), user.Quota.MaxQueuedJobs, "--max-queued-jobs", out var queuedValue, out error))
                {
                    return output.Fail(error);
                }

                quota = new QuotaOverride(ToInt(imagesValue), gpuValue, ToInt(queuedValue));
            }

            var change = new UserChange
            {
                Role = roleName,
                AccountType = type,
                Disabled = disable,
                Quota = quota,
                NewPassword = newPassword,
                ConfirmOutputsUnavailable = parse.GetValue(confirm),
            };
            var result = await administration.ChangeAsync(user.Id, change, ChangeActor.CommandLine, cancellationToken);
            if (!result.Succeeded)
            {
                return output.Fail(result.NonCommercialOutputsNeedingConfirmation > 0 ? result.Error!.Replace("Confirm to go ahead.", "Run again with --confirm to go ahead.", StringComparison.Ordinal) : result.Error!);
            }

            output.Out.WriteLine(result.Changes.Count == 0 ? $"{user.Email}: nothing to change." : $"{user.Email}: {string.Join("; ", result.Changes)}.");
            return 0;
        });
        return command;
    }

    private static Command List(CliOutput output)
    {
        var json = new Option<bool>("--json") { Description = "One JSON line (an array) instead of a table." };
        var search = new Option<string?>("--search") { Description = "Only e-mails containing this text." };
        var command = new Command("list", "List accounts: role, account type, state, quota overrides, active API keys.") { json, search };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var users = await host.Services.GetRequiredService<UserAdministration>().SearchAsync(ChangeActor.CommandLine, parse.GetValue(search), cancellationToken);
            if (parse.GetValue(json))
            {
                CliJson.WriteLine(output, users.Select(u => new
                {
                    u.Id,
                    u.Email,
                    u.Role,
                    AccountType = u.AccountType.ToString(),
                    u.Disabled,
                    u.LockedOut,
                    CreatedUtc = u.CreatedUtc.UtcDateTime,
                    ImagesPerDay = u.Quota.ImagesPerDay,
                    GpuSecondsPerDay = u.Quota.GpuSecondsPerDay,
                    MaxQueuedJobs = u.Quota.MaxQueuedJobs,
                    u.ActiveApiKeys,
                }));
                return 0;
            }

            if (users.Count == 0)
            {
                output.Out.WriteLine("No accounts.");
                return 0;
            }

            string[] header = ["EMAIL", "ROLE", "ACCOUNT TYPE", "STATE", "IMAGES/DAY", "GPU-S/DAY", "QUEUED", "KEYS"];
            var rows = users.Select(u => new[]
            {
                u.Email, u.Role, u.AccountType.ToString(), u.Disabled ? "disabled" : u.LockedOut ? "locked out" : "active",
                QuotaOverride.Describe(u.Quota.ImagesPerDay), QuotaOverride.Describe(u.Quota.GpuSecondsPerDay), QuotaOverride.Describe(u.Quota.MaxQueuedJobs),
                u.ActiveApiKeys.ToString(CultureInfo.InvariantCulture),
            }).ToList();
            var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
            foreach (var row in rows.Prepend(header))
            {
                output.Out.WriteLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
            }

            return 0;
        });
        return command;
    }

    private static Option<string?> RoleOption() => new("--role") { Description = "User or Admin." };

    private static Option<string?> AccountTypeOption() => new("--account-type") { Description = "Commercial or NonCommercial." };

    private static bool TryRole(string text, out string role, out string error)
    {
        role = Roles.All.FirstOrDefault(r => string.Equals(r, text.Trim(), StringComparison.OrdinalIgnoreCase)) ?? "";
        error = $"--role must be one of {string.Join(", ", Roles.All)}, not '{text}'.";
        return role.Length > 0;
    }

    private static bool TryAccountType(string text, out AccountType type, out string error)
    {
        error = $"--account-type must be Commercial or NonCommercial, not '{text}'.";
        return Enum.TryParse(text.Trim(), ignoreCase: true, out type) && Enum.IsDefined(type) && !int.TryParse(text, out _);
    }

    private static bool TryQuota(string? text, double? current, string option, out double? value, out string error)
    {
        error = $"{option} takes a number, 'unlimited' or 'default', not '{text}'.";
        if (text is null)
        {
            value = current;
            return true;
        }

        return QuotaOverride.TryParse(text, out value);
    }

    private static int? ToInt(double? value) => value is null ? null : (int)Math.Min(int.MaxValue, Math.Round(value.Value));
}
