using System.CommandLine;
using System.Security.Cryptography;
using FluxWeb.Application.Outputs;
using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Filters;

namespace FluxWeb.Host.Cli;

/// <summary><c>fluxweb generate</c>: the server's pipeline from the command line, one JSON line out.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliOutput output)
    {
        var model = new Option<string>("--model") { Description = "Model package id (see `fluxweb models list`).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "What to generate or how to edit.", Required = true };
        var negativePrompt = new Option<string?>("--negative-prompt") { Description = "What the picture should stay away from (base models only: it steers their guidance)." };
        var references = new Option<string[]>("--ref") { Description = "Reference image (PNG, JPEG or WebP); repeat for multi-reference.", AllowMultipleArgumentsPerToken = false };
        var image = new Option<string?>("--image") { Description = "Source image for a masked edit (needs --mask)." };
        var mask = new Option<string?>("--mask") { Description = "Mask for --image: white repaints, black keeps; same size as the source." };
        var strength = new Option<float>("--strength") { Description = "Masked edit strength in (0, 1]: lower keeps more of the source.", DefaultValueFactory = _ => 1f };
        var feather = new Option<bool>("--feather") { Description = "Masked edit: blend the result over the source with a feathered mask." };
        var width = new Option<int?>("--width") { Description = "Output width, a multiple of 16 (default: the first reference's size, else 1024)." };
        var height = new Option<int?>("--height") { Description = "Output height, a multiple of 16." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed; the same seed and settings give the same image. Random when omitted." };
        var steps = new Option<int?>("--steps") { Description = "Sampling steps (distilled models take exactly 4)." };
        var guidance = new Option<float?>("--guidance") { Description = "Classifier-free guidance (base models only)." };
        var outFile = new Option<string>("--out") { Description = "Output PNG file.", Required = true };
        var user = new Option<string?>("--user")
        {
            Description = "Generate as this account (e-mail), through the job queue: its licence, model access, quotas and the content policy apply, the job is audited (channel cli) and kept in its history. Without it, generate is an operator tool that runs the pipeline directly and stores nothing.",
        };

        var command = new Command("generate", "Generate one image with a model package, as the server does, and print {\"file\",\"model\",\"seed\",\"width\",\"height\",\"elapsed_ms\"}.")
        {
            model, prompt, negativePrompt, references, image, mask, strength, feather, width, height, seed, steps, guidance, outFile, user,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // The options as the one settings record; the pictures are files until they are read or uploaded.
            var settings = new GenerationSettings
            {
                ModelId = parse.GetValue(model)!,
                Prompt = parse.GetValue(prompt)!,
                NegativePrompt = parse.GetValue(negativePrompt) ?? "",
                Width = parse.GetValue(width),
                Height = parse.GetValue(height),
                Seed = parse.GetValue(seed),
                Steps = parse.GetValue(steps),
                Guidance = parse.GetValue(guidance),
                Strength = parse.GetValue(strength),
                Feather = parse.GetValue(feather),
            };
            if (parse.GetValue(user) is { } email)
            {
                var asUser = new GenerateAsUser(email, settings, parse.GetValue(references) ?? [], parse.GetValue(image), parse.GetValue(mask), parse.GetValue(outFile)!);
                return await GenerateAsUser.RunAsync(output, asUser, FluxWebCli.ConfigurationOverrides(parse), cancellationToken);
            }

            using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken, migrate: false);
            var services = host.Services;
            var loaded = new List<IDisposable>();
            try
            {
                var decoder = services.GetRequiredService<SafeImageDecoder>();
                var filter = services.GetRequiredService<ImageContentFilter>();
                var inputs = new List<InputImage>();
                async Task<Image<TPixel>> LoadAsync<TPixel>(string path, string title, bool screen)
                    where TPixel : unmanaged, IPixel<TPixel>
                {
                    if (!File.Exists(path))
                    {
                        throw new GenerationRequestException($"Image file '{path}' does not exist.");
                    }

                    var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
                    using var decoded = decoder.Decode(bytes, Path.GetFileName(path));
                    if (screen && filter.Screen(decoded, ImageRole.Input) is { Verdict: not ContentVerdict.Allowed and not ContentVerdict.Unchecked } decision)
                    {
                        throw new GenerationRequestException(decision.Message ?? $"{title} was refused by the content filter.");
                    }

                    inputs.Add(new InputImage(title, bytes));
                    return Track(loaded, decoded.CloneAs<TPixel>());
                }

                if (services.GetRequiredService<PromptFilter>().Check(settings.Prompt) is { Blocked: true } blocked)
                {
                    return output.Fail(blocked.Message ?? "The prompt was refused by the content filter.");
                }

                var referenceImages = new List<Image<Rgb24>>();
                foreach (var (referencePath, index) in (parse.GetValue(references) ?? []).Select((p, i) => (p, i)))
                {
                    referenceImages.Add(await LoadAsync<Rgb24>(referencePath, $"reference {index + 1}", screen: true));
                }

                var source = parse.GetValue(image) is { } sourcePath ? await LoadAsync<Rgb24>(sourcePath, "source", screen: true) : null;
                var maskImage = parse.GetValue(mask) is { } maskPath ? await LoadAsync<L8>(maskPath, "mask", screen: false) : null;
                var request = GenerationRequest.For(
                    settings with { Seed = settings.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11 },
                    referenceImages,
                    source,
                    maskImage);

                var generator = services.GetRequiredService<IImageGenerator>();
                generator.Validate(request);
                var result = await generator.GenerateAsync(request, null, cancellationToken);
                using var generated = result.Image;
                var manifest = services.GetRequiredService<ModelCatalog>().Find(result.ModelId)!.Manifest!;
                // Serial 0: made outside the job queue, so the watermark traces to no job.
                var finished = services.GetRequiredService<OutputFinisher>().Finish(result, manifest, serial: 0, inputs);
                var path = Path.GetFullPath(parse.GetValue(outFile)!);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllBytesAsync(path, finished.Png, cancellationToken);
                CliJson.WriteLine(output, new
                {
                    File = path,
                    Model = result.ModelId,
                    Seed = result.Seed,
                    Width = result.Width,
                    Height = result.Height,
                    ElapsedMs = (long)result.Elapsed.TotalMilliseconds,
                    Licence = manifest.Licence!.Id,
                    Safety = finished.Safety.Verdict.ToString(),
                });
                return 0;
            }
            catch (Exception ex) when (ex is GenerationRequestException or InferenceFailedException or UnsafeImageException or OutputBlockedException)
            {
                return output.Fail(ex.Message);
            }
            finally
            {
                foreach (var disposable in loaded)
                {
                    disposable.Dispose();
                }
            }
        });
        return command;
    }

    private static T Track<T>(List<IDisposable> loaded, T value)
        where T : IDisposable
    {
        loaded.Add(value);
        return value;
    }
}
