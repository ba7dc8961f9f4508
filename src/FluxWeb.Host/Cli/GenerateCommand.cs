using System.CommandLine;
using System.Security.Cryptography;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Host.Cli;

/// <summary><c>fluxweb generate</c>: the server's pipeline from the command line, one JSON line out.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliOutput output)
    {
        var model = new Option<string>("--model") { Description = "Model package id (see `fluxweb models list`).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "What to generate or how to edit.", Required = true };
        var references = new Option<string[]>("--ref") { Description = "Reference image (PNG, JPEG or WebP); repeat for multi-reference.", AllowMultipleArgumentsPerToken = false };
        var image = new Option<string?>("--image") { Description = "Source image for a masked edit (needs --mask)." };
        var mask = new Option<string?>("--mask") { Description = "Mask for --image: white repaints, black keeps; same size as the source." };
        var strength = new Option<float>("--strength") { Description = "Masked edit strength in (0, 1]: lower keeps more of the source.", DefaultValueFactory = _ => 1f };
        var feather = new Option<bool>("--feather") { Description = "Masked edit: blend the result over the source with a feathered mask." };
        var width = new Option<int?>("--width") { Description = "Output width (floored to a multiple of 16; default: the first reference's size, else 1024)." };
        var height = new Option<int?>("--height") { Description = "Output height (floored to a multiple of 16)." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed; the same seed and settings give the same image. Random when omitted." };
        var steps = new Option<int?>("--steps") { Description = "Sampling steps (distilled models take exactly 4)." };
        var guidance = new Option<float?>("--guidance") { Description = "Classifier-free guidance (base models only)." };
        var outFile = new Option<string>("--out") { Description = "Output PNG file.", Required = true };

        var command = new Command("generate", "Generate one image with a model package, as the server does, and print {\"file\",\"model\",\"seed\",\"width\",\"height\",\"elapsed_ms\"}.")
        {
            model, prompt, references, image, mask, strength, feather, width, height, seed, steps, guidance, outFile,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var loaded = new List<IDisposable>();
            try
            {
                var referenceImages = (parse.GetValue(references) ?? []).Select(path => Track(loaded, LoadRgb(path))).ToList();
                var source = parse.GetValue(image) is { } sourcePath ? Track(loaded, LoadRgb(sourcePath)) : null;
                var maskImage = parse.GetValue(mask) is { } maskPath ? Track(loaded, LoadMask(maskPath)) : null;
                var request = new GenerationRequest
                {
                    ModelId = parse.GetValue(model)!,
                    Prompt = parse.GetValue(prompt)!,
                    Width = parse.GetValue(width),
                    Height = parse.GetValue(height),
                    Seed = parse.GetValue(seed) ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11,
                    Steps = parse.GetValue(steps),
                    Guidance = parse.GetValue(guidance),
                    References = referenceImages,
                    Source = source,
                    Mask = maskImage,
                    Strength = parse.GetValue(strength),
                    FeatherComposite = parse.GetValue(feather),
                };

                using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken, migrate: false);
                var generator = host.Services.GetRequiredService<IImageGenerator>();
                generator.Validate(request);
                var result = await generator.GenerateAsync(request, null, cancellationToken);
                using var generated = result.Image;
                var path = Path.GetFullPath(parse.GetValue(outFile)!);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await generated.SaveAsPngAsync(path, new PngEncoder(), cancellationToken);
                CliJson.WriteLine(output, new
                {
                    File = path,
                    Model = result.ModelId,
                    Seed = result.Seed,
                    Width = result.Width,
                    Height = result.Height,
                    ElapsedMs = (long)result.Elapsed.TotalMilliseconds,
                });
                return 0;
            }
            catch (Exception ex) when (ex is GenerationRequestException or InferenceFailedException or UnknownImageFormatException or InvalidImageContentException)
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

    private static Image<Rgb24> LoadRgb(string path) => File.Exists(path)
        ? Image.Load<Rgb24>(path)
        : throw new GenerationRequestException($"Image file '{path}' does not exist.");

    private static Image<L8> LoadMask(string path) => File.Exists(path)
        ? Image.Load<L8>(path)
        : throw new GenerationRequestException($"Mask file '{path}' does not exist.");
}
