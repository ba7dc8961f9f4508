using System.CommandLine;
using System.CommandLine.Parsing;

namespace FluxWeb.Host.Cli;

/// <summary>
/// Turns what the parser could not place into one line for <c>error:</c>, with the nearest valid
/// command or option. Works from the command tree, so a command added later is suggested without
/// changes here. The web app's command (<c>fluxweb</c> alone and <c>serve</c>) passes host
/// configuration through (<c>--environment Production</c>, <c>--Queue:MaxConcurrentJobs=2</c>); every
/// other word is an error, so a mistyped command never starts a second server on the same data folder.
/// </summary>
internal static class CommandLineErrors
{
    /// <summary>Top-level configuration keys the web host reads from the command line (anything with a section, <c>Section:Key</c>, passes too).</summary>
    private static readonly string[] HostKeys =
    [
        "environment", "contentRoot", "applicationName", "webroot", "urls", "http_ports", "https_ports", "AllowedHosts",
        "detailedErrors", "shutdownTimeoutSeconds", "captureStartupErrors", "suppressStatusMessages",
        "preventHostingStartup", "hostingStartupAssemblies", "hostingStartupExcludeAssemblies",
    ];

    /// <summary>The one-line error for <paramref name="parse"/>, or null when it can run.</summary>
    public static string? Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var unmatched = parse.UnmatchedTokens;
        if (!command.TreatUnmatchedTokensAsErrors)
        {
            if (PassThroughError(parse, command) is { } passThrough)
            {
                return passThrough;
            }
        }
        else if (unmatched.Count > 0)
        {
            // The parser only reports leftovers when the root refuses them, and the root passes host configuration through.
            return unmatched[0].StartsWith('-') ? UnknownOption(parse, command, unmatched[0]) : UnknownWord(parse, command, unmatched[0]);
        }

        if (parse.Errors.Count > 0)
        {
            var messages = parse.Errors.Select(e => e.Message.TrimEnd('.')).Distinct(StringComparer.Ordinal);
            return $"{string.Join("; ", messages)}. See '{Path(parse)} --help'.";
        }

        return null;
    }

    /// <summary>What remains must read as host configuration: <c>--key value</c>, <c>--key=value</c> or <c>key=value</c>.</summary>
    private static string? PassThroughError(ParseResult parse, Command command)
    {
        var tokens = parse.UnmatchedTokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var isOption = token.StartsWith("--", StringComparison.Ordinal) || (token.StartsWith('/') && token.Contains('=', StringComparison.Ordinal));
            var equals = token.IndexOf('=', StringComparison.Ordinal);
            if (!isOption && equals <= 0)
            {
                return UnknownWord(parse, command, token);
            }

            var key = (equals > 0 ? token[..equals] : token).TrimStart('-', '/');
            if (!IsConfigurationKey(key))
            {
                return UnknownOption(parse, command, token);
            }

            if (equals < 0)
            {
                // "--key value": the next word is the value, as the configuration reader takes it.
                if (i + 1 >= tokens.Count)
                {
                    return $"option '{token}' needs a value (e.g. {token} VALUE or {token}=VALUE).";
                }

                i++;
            }
        }

        return null;
    }

    private static string UnknownOption(ParseResult parse, Command command, string token)
    {
        var near = Nearest(token, OptionNames(command));
        return $"unknown option '{token}' for '{Path(parse)}'.{(near is null ? "" : $" Did you mean '{near}'?")} See '{Path(parse)} --help'.";
    }

    private static string UnknownWord(ParseResult parse, Command command, string word)
    {
        var root = parse.RootCommandResult.Command;
        if (command != root && root.Subcommands.FirstOrDefault(c => Names(c).Contains(word, StringComparer.Ordinal)) is { } other)
        {
            // `./build.sh run models create-demo` becomes `fluxweb serve models create-demo`.
            return $"'{word}' is a command of its own, not an argument of '{Path(parse)}': run 'fluxweb {other.Name} …' instead.";
        }

        var hint = Suggest(parse, command, word);
        return command.Subcommands.Count > 0
            ? $"'{word}' is not a {Path(parse)} command.{(hint is null ? "" : " " + hint)} See '{Path(parse)} --help'."
            : $"unexpected argument '{word}' for '{Path(parse)}'.{(hint is null ? "" : " " + hint)} See '{Path(parse)} --help'.";
    }

    /// <summary>"Did you mean …?" for a close match, else the valid commands.</summary>
    private static string? Suggest(ParseResult parse, Command command, string token)
    {
        var commands = command.Subcommands.Where(c => !c.Hidden).ToList();
        if (commands.Count == 0)
        {
            return null;
        }

        return Nearest(token, commands.SelectMany(Names)) is { } near
            ? $"Did you mean '{Path(parse)} {near}'?"
            : $"Commands: {string.Join(", ", commands.Select(c => c.Name))}.";
    }

    private static string Path(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult c)
            {
                // The root's own name is the executable's (testhost, dotnet …); users type fluxweb.
                names.Add(c.Command is RootCommand ? "fluxweb" : c.Command.Name);
            }
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    private static IEnumerable<string> Names(Command command) => [command.Name, .. command.Aliases];

    /// <summary>The command's options and the recursive ones of its parents (--data, --models).</summary>
    private static IEnumerable<string> OptionNames(Command command)
    {
        var options = command.Options.Concat(Ancestors(command).SelectMany(p => p.Options.Where(o => o.Recursive)));
        var names = options.Where(o => !o.Hidden).SelectMany(o => new[] { o.Name }.Concat(o.Aliases));
        return command.TreatUnmatchedTokensAsErrors ? names : names.Concat(HostKeys.Select(k => "--" + k));
    }

    private static IEnumerable<Command> Ancestors(Command command)
    {
        foreach (var parent in command.Parents.OfType<Command>())
        {
            yield return parent;
            foreach (var above in Ancestors(parent))
            {
                yield return above;
            }
        }
    }

    private static bool IsConfigurationKey(string key) =>
        key.Length > 0
        && (key.Contains(':', StringComparison.Ordinal) || HostKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
        && key.All(c => char.IsAsciiLetterOrDigit(c) || c is ':' or '_' or '.' or '-');

    /// <summary>The candidate within a small edit distance (a third of the word, at least 2), or null.</summary>
    internal static string? Nearest(string word, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (Name: c, Distance: Distance(word.ToLowerInvariant(), c.ToLowerInvariant())))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, word.TrimStart('-').Length / 3) ? best.Name : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
