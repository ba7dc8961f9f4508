using System.CommandLine;
using System.Globalization;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb storage check [--remove-unrecorded]</c>: the image folder against the database, for the operator (and a
/// cron job: the exit code is 0 only when nothing is left to act on).
/// </summary>
internal static class StorageCommands
{
    /// <summary>How many paths of each kind the JSON line lists; the counts are always whole.</summary>
    internal const int Listed = 100;

    public static Command Create(CliOutput output)
    {
        var storage = new Command("storage", "The image files under the data folder.");
        storage.Subcommands.Add(Check(output));
        return storage;
    }

    private static Command Check(CliOutput output)
    {
        var remove = new Option<bool>("--remove-unrecorded")
        {
            Description = "Remove image files (and thumbnails) that no image row points to and that are older than an hour. Rows are never changed.",
        };
        var command = new Command(
            "check",
            "Compare the image files with the database and print one JSON line: files without a row (left by an interrupted write) and image rows without their file (shown broken in the gallery). Exit code 1 when either is left.")
        {
            remove,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var report = await host.Services.GetRequiredService<StorageCheck>().RunAsync(ChangeActor.CommandLine, parse.GetValue(remove), cancellationToken);
            CliJson.WriteLine(output, new
            {
                report.Files,
                report.Bytes,
                ImageRows = report.Rows,
                UnrecordedCount = report.Unrecorded.Count,
                UnrecordedBytes = report.UnrecordedBytes,
                Unrecorded = report.Unrecorded.Take(Listed),
                report.TooRecentToJudge,
                MissingCount = report.Missing.Count,
                Missing = report.Missing.Take(Listed).Select(m => new { Image = m.ImageId, Owner = m.OwnerEmail, Path = m.RelativePath }),
                report.Removed,
                report.NotRemoved,
                report.Clean,
            });
            if (report.Clean)
            {
                return 0;
            }

            var problems = new List<string>();
            if (report.Missing.Count > 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{report.Missing.Count} image row(s) have no file (restore them from a backup of the data folder, or delete those images)"));
            }

            var left = report.Unrecorded.Count - report.Removed;
            if (left > 0)
            {
                problems.Add(report.NotRemoved > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{report.NotRemoved} file(s) without a row could not be removed (see the log above)")
                    : string.Create(CultureInfo.InvariantCulture, $"{left} file(s) without a row ({report.UnrecordedBytes:N0} bytes); --remove-unrecorded removes them"));
            }

            return output.Fail(string.Join("; ", problems) + ".");
        });
        return command;
    }
}
