using System.CommandLine;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Safety;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Filters;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb safety …</c>: install the image classifier (nsfwjs from the npm registry or a local
/// tarball) and check a picture with it, each printing one JSON line.
/// </summary>
internal static class SafetyCommands
{
    public static Command Create(CliOutput output)
    {
        var safety = new Command("safety", "The image safety classifier that checks every output and uploaded picture.");
        safety.Subcommands.Add(Install(output));
        safety.Subcommands.Add(Check(output));
        return safety;
    }

    private static Command Install(CliOutput output)
    {
        var from = new Option<string?>("--from") { Description = "Install from this local nsfwjs .tgz (as `npm pack nsfwjs@4.4.0` writes it) instead of downloading; for machines without internet." };
        var version = new Option<string?>("--version") { Description = "nsfwjs version to download (default: Provenance:Filters:ClassifierVersion, 4.4.0)." };
        var registry = new Option<string?>("--registry") { Description = "npm registry to download from (default: Provenance:Filters:Registry, https://registry.npmjs.org)." };
        var force = new Option<bool>("--force") { Description = "Replace an installed classifier." };
        var command = new Command("install", "Install nsfwjs's MobileNetV2 NSFW classifier as an ONNX package under the models folder (safety/) and print one JSON line.")
        {
            from, version, registry, force,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(from) is not null && (parse.GetValue(version) is not null || parse.GetValue(registry) is not null))
            {
                return output.Fail("--from installs the tarball as it is; --version and --registry apply to downloads only.");
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken, migrate: false);
            var installer = host.Services.GetRequiredService<ImageClassifierInstaller>();
            try
            {
                var installed = parse.GetValue(from) is { } file
                    ? await installer.InstallFromFileAsync(file, parse.GetValue(force), cancellationToken)
                    : await installer.InstallFromRegistryAsync(parse.GetValue(registry), parse.GetValue(version), parse.GetValue(force), cancellationToken);
                var manifest = installed.Manifest;
                CliJson.WriteLine(output, new
                {
                    Id = manifest.Id,
                    Folder = installed.Folder,
                    Model = manifest.DisplayName,
                    Package = manifest.Source.Package,
                    Version = manifest.Source.Version,
                    Licence = manifest.Licence.Id,
                    Source = manifest.Source.Registry is null ? "file" : "registry",
                    Tarball = manifest.Source.Tarball,
                    Integrity = manifest.Source.Integrity,
                    Classes = manifest.Classes,
                    Files = manifest.Files.Count,
                    Bytes = installed.Bytes,
                    Replaced = installed.Replaced,
                    ElapsedMs = (long)installed.Elapsed.TotalMilliseconds,
                });
                return 0;
            }
            catch (ClassifierInstallException ex)
            {
                return output.Fail(ex.Message);
            }
        });
        return command;
    }

    private static Command Check(CliOutput output)
    {
        var file = new Argument<string>("file") { Description = "A PNG, JPEG or WebP picture." };
        var command = new Command("check", "Classify a picture with the installed classifier and the stored thresholds: {\"file\",\"classes\":{…},\"verdict\":\"allowed|flagged\",\"model\"}.") { file };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                return output.Fail($"file '{path}' does not exist.");
            }

            // The database holds the admins' thresholds; a check uses the same ones the server does.
            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            var filter = host.Services.GetRequiredService<ImageContentFilter>();
            if (filter.Classifier is null)
            {
                return output.Fail(filter.Status.Description);
            }

            try
            {
                var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
                using var image = host.Services.GetRequiredService<SafeImageDecoder>().Decode(bytes, Path.GetFileName(path));
                var check = filter.Check(image)!;
                CliJson.WriteLine(output, new
                {
                    File = Path.GetFullPath(path),
                    Classes = check.Scores.Classes,
                    Verdict = check.Flagged ? "flagged" : "allowed",
                    Reason = check.Reason,
                    Model = check.Model,
                });
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
