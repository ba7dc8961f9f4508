using System.CommandLine;
using FluxWeb.Application.Outputs;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Inspection;

namespace FluxWeb.Host.Cli;

/// <summary><c>fluxweb verify FILE</c>: the watermark payload (and the job it belongs to) and the C2PA state, as one JSON line.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliOutput output)
    {
        var file = new Argument<string>("file") { Description = "A PNG, JPEG or WebP image." };
        var command = new Command("verify", "Report an image's invisible watermark and C2PA Content Credentials: {\"watermark\":{…},\"c2pa\":{…}}.") { file };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                return output.Fail($"file '{path}' does not exist.");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            try
            {
                await using var stream = File.OpenRead(path);
                var report = await host.Services.GetRequiredService<ProvenanceInspector>().InspectAsync(stream, Path.GetFileName(path), cancellationToken);
                report = await ImageTrace.WithJobAsync(host.Services, report, cancellationToken);
                output.Out.WriteLine(report.ToJson());
                return 0;
            }
            catch (UnsafeImageException ex)
            {
                return output.Fail(ex.Message);
            }
        });
        return command;
    }
}

/// <summary>Finds which job made an image from the serial in its watermark (stored on the image row).</summary>
internal static class ImageTrace
{
    public static async Task<ProvenanceReport> WithJobAsync(IServiceProvider services, ProvenanceReport report, CancellationToken cancellationToken)
    {
        if (report.Watermark?.Serial is not { } serial)
        {
            return report;
        }

        var job = await services.GetRequiredService<WatermarkSerials>().FindJobAsync(serial, cancellationToken);
        return job is null ? report : report with { Job = job.Value.ToString() };
    }
}
