using System.Text.Json.Nodes;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Tests.Packages;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>
/// BFL's NVFP4 files (ComfyUI's storage: first value in the high nibble, block scales tiled 128×4):
/// `models build` accepts them, converts them once to the row-major layout ONNX Runtime reads, and
/// the graph computes what a reference dequantisation of the same file computes.
/// </summary>
public sealed class Nvfp4CheckpointTests(ITestOutputHelper output)
{
    [Fact]
    public void A_tiny_nvfp4_checkpoint_computes_what_its_reference_dequantisation_computes()
    {
        using var folder = new TempDirectory();
        var nvfp4 = folder.Combine("flux-2-klein-tiny-nvfp4.safetensors");
        TinyCheckpoint.WriteBflTransformer(nvfp4, nvfp4: true);
        var source = SafeTensorsFile.Open(nvfp4);
        Assert.True(Nvfp4.IsComfyLayout(source));

        // The reference: every NVFP4 layer dequantised to float32 the way ComfyUI's own code reads it.
        var reference = new SafeTensorsWriter();
        var layers = 0;
        foreach (var info in source.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (info.Name.EndsWith(".weight_scale", StringComparison.Ordinal) || info.Name.EndsWith(".weight_scale_2", StringComparison.Ordinal) || info.Name.EndsWith(".input_scale", StringComparison.Ordinal))
            {
                continue;
            }

            var layer = info.Name[..^".weight".Length];
            if (source.Tensors.ContainsKey(layer + ".weight_scale_2"))
            {
                var (rows, columns) = ((int)info.Shape[0], (int)info.Shape[1] * 2);
                reference.AddFloat32(info.Name, [rows, columns], ComfyDequantise(source.ReadBytes(info.Name), source.ReadBytes(layer + ".weight_scale"), source.ReadFloat32(layer + ".weight_scale_2")[0], rows, columns));
                layers++;
                continue;
            }

            reference.AddFloat32(info.Name, info.Shape, source.ReadFloat32(info.Name));
        }

        Assert.Equal(2 * 8 + 2 * 2, layers);
        reference.Write(folder.Combine("dequantised.safetensors"));
        Assert.Equal(layers, Nvfp4.ConvertToRowMajor(source, folder.Combine("row-major.safetensors")));
        Assert.False(Nvfp4.IsComfyLayout(SafeTensorsFile.Open(folder.Combine("row-major.safetensors"))));

        var config = TinyCheckpoint.TransformerConfig;
        var nvfp4Weights = WeightSet.Open(folder.Combine("row-major.safetensors"));
        Flux2TransformerGraph.Build(nvfp4Weights, config, ComputePrecision.Float32, folder.Path).Save(folder.Combine("nvfp4.onnx"));
        Assert.Equal(Flux2TransformerGraph.UnusedByDesign(nvfp4Weights), nvfp4Weights.Unbound.Order(StringComparer.Ordinal));
        Flux2TransformerGraph.Build(WeightSet.Open(folder.Combine("dequantised.safetensors")), config, ComputePrecision.Float32, folder.Path).Save(folder.Combine("reference.onnx"));
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(folder.Combine("nvfp4.onnx")));
        Assert.Equal(layers, graph.Graph.Node.Count(n => n.OpType == "GatherBlockQuantized"));

        var fromNvfp4 = Run(folder.Combine("nvfp4.onnx"), config.ContextDim);
        var fromReference = Run(folder.Combine("reference.onnx"), config.ContextDim);
        var (maxAbs, _) = TransformerOracleTests.Compare(fromReference, fromNvfp4);
        output.WriteLine($"NVFP4 graph vs reference dequantisation in float32: max abs {maxAbs:E2} over outputs up to {fromReference.Max(Math.Abs):F2}");
        Assert.True(maxAbs < 1e-5f, $"NVFP4 graph differs from the reference dequantisation by {maxAbs:E2}");

        // Reading the file as if it were row-major (ignoring ComfyUI's layout) gives a different model: the layout matters.
        var misread = WeightSet.Open(nvfp4);
        Assert.Throws<SafeTensorsException>(() => Flux2TransformerGraph.Build(misread, config, ComputePrecision.Float32, folder.Path));
    }

    [Fact]
    public void Models_build_accepts_an_nvfp4_file_and_the_package_runs_and_verifies()
    {
        using var temp = new TempDirectory();
        var transformer = temp.Combine("bfl", "flux-2-klein-tiny-nvfp4.safetensors");
        TinyCheckpoint.WriteBflTransformer(transformer, nvfp4: true);
        TinyCheckpoint.WriteTextEncoder(temp.Combine("qwen3"));
        TinyCheckpoint.WriteVae(temp.Combine("ae.safetensors"), naming: Flux2VaeNaming.Bfl);
        var notes = new List<string>();

        var result = CheckpointPackageBuilder.Build(temp.Combine("models"), new CheckpointBuildRequest
        {
            From = transformer,
            TextEncoder = temp.Combine("qwen3"),
            Vae = temp.Combine("ae.safetensors"),
            Tokenizer = KleinPromptTokenizer.BundledTokenizerPath,
            Precision = ComputePrecision.Float32,
            Licence = ModelLicence.Apache2(),
        }, new Progress(notes.Add));

        foreach (var note in notes)
        {
            output.WriteLine(note);
        }

        Assert.Equal("nvfp4", result.Manifest.Precision.Weights);
        Assert.EndsWith("-nvfp4", result.Manifest.Id, StringComparison.Ordinal);
        Assert.Contains(notes, n => n.Contains("20 NVFP4 linears (ComfyUI's tiled layout, converted once", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("converted weights/transformer/flux-2-klein-tiny-nvfp4.safetensors", StringComparison.Ordinal));
        var folder = Path.Combine(temp.Combine("models"), result.Manifest.Id);
        var outputs = PackageRunner.RunAll(folder);
        Assert.All(outputs.Image, v => Assert.True(float.IsFinite(v)));
        var verification = ModelPackageVerifier.Verify(folder);
        Assert.True(verification.Ok, string.Join("\n", verification.Problems));
    }

    /// <summary>4B only: the 9B layout takes about a minute here (it converts 5.6 GB of holes) and proves nothing more.</summary>
    [Theory]
    [InlineData("4b", 3_875_544_576)]
    public void The_official_nvfp4_layout_converts_sparsely_and_binds_every_tensor_once(string size, long parameters)
    {
        using var folder = new TempDirectory();
        var (table, official) = WriteSparseOfficialLayout(folder, size);
        var converted = folder.Combine("transformer.safetensors");

        var count = Nvfp4.ConvertToRowMajor(SafeTensorsFile.Open(official), converted);
        var weights = WeightSet.Open(converted);
        var config = size == "4b" ? Flux2TransformerConfig.Klein4B : Flux2TransformerConfig.Klein9B;
        var graph = Flux2TransformerGraph.Build(weights, config, ComputePrecision.BFloat16, folder.Path);
        graph.Save(folder.Combine("transformer.onnx"));

        var allocatedOnDisk = DiskUsage(converted);
        output.WriteLine($"{table}: {count} NVFP4 linears converted; {new FileInfo(converted).Length / 1e9:F2} GB file, {allocatedOnDisk / 1e6:F1} MB on disk; {graph.NodeCount} nodes, {graph.BoundParameterCount:N0} values bound");
        Assert.Equal(size == "4b" ? 80 : 112, count);
        Assert.True(allocatedOnDisk < 10_000_000, "a sparse source must convert to a sparse file");
        Assert.Equal(Flux2TransformerGraph.UnusedByDesign(weights), weights.Unbound.Order(StringComparer.Ordinal));
        Assert.All(weights.Bindings, b => Assert.True(b.Value == 1, $"{b.Key} bound {b.Value} times"));
        var blockScales = WeightTables.Read(table).Where(r => r.Name.EndsWith(".weight_scale", StringComparison.Ordinal)).Sum(r => r.Shape.Aggregate(1L, (a, b) => a * b));
        var scalars = WeightTables.Read(table).Count(r => r.Name.EndsWith(".weight_scale_2", StringComparison.Ordinal));
        Assert.Equal(parameters, graph.BoundParameterCount - blockScales - scalars);

        // What `models build` makes of the official layout is decided by its plan (read from the shapes and the
        // quantisation metadata, nothing hashed); the whole build at this size is the Scale test below.
        var plan = CheckpointPackageBuilder.Inspect(OfficialBuildRequest(folder, size, official));
        AssertOfficialNvfp4Plan(plan, size);
    }

    /// <summary>
    /// `models build` from the official layout at full size: converted, hashed and verified. Minutes of hashing
    /// gigabytes of holes, so it runs with <c>./build.sh test --all</c>; the everyday run checks the plan above and
    /// the whole build on a tiny NVFP4 file (<see cref="Models_build_accepts_an_nvfp4_file_and_the_package_runs_and_verifies"/>).
    /// </summary>
    [Theory]
    [Trait("Category", "Scale")]
    [InlineData("4b")]
    public void Models_build_packages_the_official_nvfp4_layout_at_full_size(string size)
    {
        using var folder = new TempDirectory();
        var (_, official) = WriteSparseOfficialLayout(folder, size);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var built = CheckpointPackageBuilder.Build(folder.Combine("models"), OfficialBuildRequest(folder, size, official));
        output.WriteLine($"models build from the sparse official layout: {clock.Elapsed.TotalSeconds:F1} s; {string.Join("; ", built.Plan.Notes)}");
        AssertOfficialNvfp4Plan(built.Plan, size);
        Assert.Equal($"klein-{size}-nvfp4", built.Manifest.Id);
        Assert.Equal($"FLUX.2 [klein] {size.ToUpperInvariant()} NVFP4", built.Manifest.DisplayName);
        Assert.Equal("Apache-2.0", built.Manifest.Licence!.Id);
        var verification = ModelPackageVerifier.Verify(Path.Combine(folder.Combine("models"), built.Manifest.Id));
        Assert.True(verification.Ok, string.Join("\n", verification.Problems));
    }

    /// <summary>BFL's official NVFP4 transformer at its real shapes, written sparse (no data, only holes).</summary>
    private static (string Table, string File) WriteSparseOfficialLayout(TempDirectory folder, string size)
    {
        var table = $"flux2-klein-{size}-transformer-bfl-nvfp4.tsv";
        var writer = new SafeTensorsWriter();
        var layers = new JsonObject();
        foreach (var (name, shape, dtype) in WeightTables.Read(table))
        {
            writer.Add(name, dtype, shape, data: null);
            if (name.EndsWith(".weight_scale_2", StringComparison.Ordinal))
            {
                layers[name[..^".weight_scale_2".Length]] = new JsonObject { ["format"] = "nvfp4" };
            }
        }

        var official = folder.Combine("official.safetensors");
        writer.Write(official, new Dictionary<string, string> { [Nvfp4.QuantizationMetadataKey] = new JsonObject { ["format_version"] = "1.0", ["layers"] = layers }.ToJsonString() });
        return (table, official);
    }

    private static CheckpointBuildRequest OfficialBuildRequest(TempDirectory folder, string size, string official) => new()
    {
        From = official,
        TextEncoder = WeightTables.WriteSparse(size == "4b" ? "qwen3-4b-text-encoder.tsv" : "qwen3-8b-text-encoder.tsv", folder.Combine("qwen3"), "model.safetensors"),
        Vae = WeightTables.WriteSparse("flux2-vae.tsv", folder.Path, "ae.safetensors"),
        Tokenizer = KleinPromptTokenizer.BundledTokenizerPath,
    };

    private static void AssertOfficialNvfp4Plan(CheckpointPlan plan, string size)
    {
        Assert.Equal("nvfp4", plan.WeightPrecision);
        Assert.True(plan.ConvertNvfp4Layout);
        Assert.Equal($"klein-{size}", plan.Family);
        Assert.Equal($"klein-{size}-nvfp4", plan.Id);
        Assert.Equal($"FLUX.2 [klein] {size.ToUpperInvariant()} NVFP4", plan.DisplayName);
        Assert.Equal("Apache-2.0", plan.Licence.Id);
    }

    /// <summary>ComfyUI's dequantisation, written from its description independently of the converter: flat scales as [row tiles, column tiles, 32, 4, 4] = (b, a, c) with row = tile·128 + a·32 + b.</summary>
    private static float[] ComfyDequantise(byte[] packed, byte[] tiledScales, float tensorScale, int rows, int columns)
    {
        var blockColumns = columns / Nvfp4.BlockSize;
        var columnTiles = (blockColumns + 3) / 4;
        var scales = new float[rows, blockColumns];
        var flat = 0;
        for (var rowTile = 0; flat < tiledScales.Length; rowTile++)
        {
            for (var columnTile = 0; columnTile < columnTiles; columnTile++)
            {
                for (var b = 0; b < 32; b++)
                {
                    for (var a = 0; a < 4; a++)
                    {
                        for (var c = 0; c < 4; c++, flat++)
                        {
                            var (row, column) = (rowTile * 128 + a * 32 + b, columnTile * 4 + c);
                            if (row < rows && column < blockColumns)
                            {
                                scales[row, column] = TensorConversion.Float8E4M3FnToFloat(tiledScales[flat]);
                            }
                        }
                    }
                }
            }
        }

        var values = new float[rows * columns];
        for (var i = 0; i < values.Length; i++)
        {
            var code = i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0x0F;
            values[i] = Nvfp4.E2M1[code] * scales[i / columns, i % columns / Nvfp4.BlockSize] * tensorScale;
        }

        return values;
    }

    private static float[] Run(string model, int contextDim)
    {
        const int imageTokens = 16;
        const int textTokens = 8;
        using var session = new InferenceSession(model);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(Enumerable.Range(0, imageTokens * 128).Select(i => MathF.Sin(0.1f * i)).ToArray(), [1, imageTokens, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(Enumerable.Range(0, textTokens * contextDim).Select(i => MathF.Cos(0.07f * i)).ToArray(), [1, textTokens, contextDim])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(new[] { 0.7f }, [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(Enumerable.Range(0, imageTokens * 4).Select(i => (float)(i % 4 == 1 ? i / 16 : i % 4 == 2 ? i / 4 % 4 : 0)).ToArray(), [imageTokens, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(Enumerable.Range(0, textTokens * 4).Select(i => (float)(i % 4 == 3 ? i / 4 : 0)).ToArray(), [textTokens, 4])),
        ]);
        return results[0].AsTensor<float>().ToArray();
    }

    /// <summary>Bytes the file really occupies (sparse files occupy only their written blocks).</summary>
    internal static long DiskUsage(string path)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("du", ["-B1", "--", path]) { RedirectStandardOutput = true })!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return long.Parse(text.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class Progress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
