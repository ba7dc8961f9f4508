using System.CommandLine;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.TextEncoding;

namespace FluxWeb.Host.Cli;

/// <summary><c>fluxweb inspect schedule|tokens</c>: the pipeline's inputs as JSON, for debugging and cross-checking.</summary>
internal static class InspectCommands
{
    public static Command Create(CliOutput output)
    {
        var inspect = new Command("inspect", "Print what the pipeline computes from its settings, as one JSON line.");
        inspect.Subcommands.Add(Schedule(output));
        inspect.Subcommands.Add(Tokens(output));
        return inspect;
    }

    private static Command Schedule(CliOutput output)
    {
        var width = new Option<int>("--width") { Description = "Output width in pixels.", DefaultValueFactory = _ => 1024 };
        var height = new Option<int>("--height") { Description = "Output height in pixels.", DefaultValueFactory = _ => 1024 };
        var steps = new Option<int>("--steps") { Description = "Number of steps.", DefaultValueFactory = _ => 4 };
        var command = new Command("schedule", "The klein schedule for a size and step count: {\"mu\":…, \"sigmas\":[…]}.") { width, height, steps };
        command.SetAction(parse =>
        {
            var (w, h, n) = (parse.GetValue(width) / 16 * 16, parse.GetValue(height) / 16 * 16, parse.GetValue(steps));
            if (w < 16 || h < 16 || n < 1)
            {
                return output.Fail("width and height must be at least 16 and steps at least 1.");
            }

            var tokens = w / 16 * (h / 16);
            CliJson.WriteLine(output, new { Mu = KleinSchedule.Mu(tokens, n), Sigmas = KleinSchedule.Sigmas(tokens, n), ImageTokens = tokens, Width = w, Height = h });
            return 0;
        });
        return command;
    }

    private static Command Tokens(CliOutput output)
    {
        var prompt = new Option<string>("--prompt") { Description = "The prompt to tokenize with the klein template.", Required = true };
        var tokenizerFile = new Option<string?>("--tokenizer") { Description = "A tokenizer.json (default: the bundled Qwen3 tokenizer)." };
        var command = new Command("tokens", "Token ids and attention mask of a prompt: {\"input_ids\":[…512], \"attention_mask\":[…]}.") { prompt, tokenizerFile };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(tokenizerFile) ?? KleinPromptTokenizer.BundledTokenizerPath;
            if (!File.Exists(path))
            {
                return output.Fail($"tokenizer file '{path}' does not exist.");
            }

            using var tokenizer = new KleinPromptTokenizer(path);
            var tokens = tokenizer.Encode(parse.GetValue(prompt)!);
            CliJson.WriteLine(output, new { tokens.InputIds, tokens.AttentionMask, RealTokens = tokens.RealTokenCount, tokens.Truncated });
            return 0;
        });
        return command;
    }
}
