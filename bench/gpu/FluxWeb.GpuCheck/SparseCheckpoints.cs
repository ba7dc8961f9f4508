using System.Globalization;
using System.Text.Json.Nodes;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;

namespace FluxWeb.GpuCheck;

/// <summary>
/// Model packages for the check, built on the machine itself: official layouts (names, shapes,
/// dtypes from tests/fixtures/weights-tables) as sparse files whose weights are all zero. Zero
/// weights change no kernel's time or memory, and a 16 GB checkpoint costs only its header on disk.
/// </summary>
public static class SparseCheckpoints
{
    /// <summary>Builds one package with <c>models build</c>'s own code; returns its folder and how long the build took.</summary>
    public static (InstalledModel Model, TimeSpan Elapsed) Build(string tables, string work, string modelsDirectory, string size, string weights, ComputePrecision precision)
    {
        var sources = Path.Combine(work, "sources", $"{size}-{weights}");
        var transformerTable = weights switch
        {
            "fp8" => $"flux2-klein-{size}-transformer-bfl-fp8.tsv",
            "nvfp4" => $"flux2-klein-{size}-transformer-bfl-nvfp4.tsv",
            _ => $"flux2-klein-{size}-transformer-bfl.tsv",
        };
        var transformer = Write(Path.Combine(tables, transformerTable), Path.Combine(sources, $"flux-2-klein-{size}-{weights}.safetensors"), weights == "nvfp4");
        var textEncoder = Write(Path.Combine(tables, size == "4b" ? "qwen3-4b-text-encoder.tsv" : "qwen3-8b-text-encoder.tsv"), Path.Combine(work, "sources", $"qwen3-{size}", "model.safetensors"), false);
        var vae = Write(Path.Combine(tables, "flux2-vae.tsv"), Path.Combine(work, "sources", "flux2-vae.safetensors"), false);
        var result = CheckpointPackageBuilder.Build(modelsDirectory, new CheckpointBuildRequest
        {
            From = transformer,
            Id = $"klein-{size}-{weights}-{precision.ManifestName()}",
            TextEncoder = textEncoder,
            Vae = vae,
            Tokenizer = KleinPromptTokenizer.BundledTokenizerPath,
            Precision = precision,
        });
        var folder = Path.Combine(modelsDirectory, result.Manifest.Id);
        return (new InstalledModel(result.Manifest.Id, folder, result.Manifest, null), result.Elapsed);
    }

    /// <summary>The tiny klein of the CPU smoke run (real random weights, BFL single file), through the same builder.</summary>
    public static (InstalledModel Model, TimeSpan Elapsed) BuildTiny(string work, string modelsDirectory, string weights)
    {
        var sources = Path.Combine(work, "sources", $"tiny-{weights}");
        var transformer = Path.Combine(sources, $"flux-2-klein-tiny-{weights}.safetensors");
        TinyCheckpoint.WriteBflTransformer(transformer, fp8: weights == "fp8", nvfp4: weights == "nvfp4");
        TinyCheckpoint.WriteTextEncoder(Path.Combine(sources, "qwen3"));
        TinyCheckpoint.WriteVae(Path.Combine(sources, "ae.safetensors"), naming: Flux2VaeNaming.Bfl);
        var result = CheckpointPackageBuilder.Build(modelsDirectory, new CheckpointBuildRequest
        {
            From = transformer,
            Id = $"tiny-{weights}",
            TextEncoder = Path.Combine(sources, "qwen3"),
            Vae = Path.Combine(sources, "ae.safetensors"),
            Tokenizer = KleinPromptTokenizer.BundledTokenizerPath,
            Precision = ComputePrecision.Float32,
            Licence = ModelLicence.Apache2(),
        });
        var folder = Path.Combine(modelsDirectory, result.Manifest.Id);
        return (new InstalledModel(result.Manifest.Id, folder, result.Manifest, null), result.Elapsed);
    }

    /// <summary>A table as a sparse safetensors file (written once per work folder).</summary>
    private static string Write(string table, string path, bool comfyNvfp4)
    {
        if (File.Exists(path))
        {
            return path;
        }

        var writer = new SafeTensorsWriter();
        var layers = new JsonObject();
        foreach (var line in File.ReadLines(table).Skip(1).Where(l => l.Trim().Length > 0))
        {
            var cells = line.Split('\t');
            var shape = cells[1].Length == 0 ? [] : cells[1].Split(',').Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
            if (!SafeTensorDTypes.TryParse(cells[2], out var dtype))
            {
                throw new InvalidDataException($"{table}: unknown dtype {cells[2]}");
            }

            writer.Add(cells[0], dtype, shape, data: null);
            if (cells[0].EndsWith(".weight_scale_2", StringComparison.Ordinal))
            {
                layers[cells[0][..^".weight_scale_2".Length]] = new JsonObject { ["format"] = "nvfp4" };
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        if (comfyNvfp4)
        {
            metadata[Nvfp4.QuantizationMetadataKey] = new JsonObject { ["format_version"] = "1.0", ["layers"] = layers }.ToJsonString();
        }

        writer.Write(path, metadata);
        return path;
    }
}
