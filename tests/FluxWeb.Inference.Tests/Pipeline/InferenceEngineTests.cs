using System.Diagnostics;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>The engine end to end on the demo package (CPU): every mode, determinism, progress, cancellation, failures.</summary>
public sealed class InferenceEngineTests(EngineFixture fixture, ITestOutputHelper output) : IClassFixture<EngineFixture>
{
    private static Image<Rgb24> Gradient(int width, int height, byte blue = 40)
    {
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    row[x] = new Rgb24((byte)(255 * x / width), (byte)(255 * y / height), blue);
                }
            }
        });
        return image;
    }

    private static Image<L8> Mask(int size, int x, int y, int width, int height)
    {
        var mask = new Image<L8>(size, size);
        for (var row = y; row < y + height; row++)
        {
            for (var column = x; column < x + width; column++)
            {
                mask[column, row] = new L8(255);
            }
        }

        return mask;
    }

    private static byte[] Pixels(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    private sealed class Recorder : IProgress<GenerationProgress>
    {
        public List<GenerationProgress> Events { get; } = [];

        public void Report(GenerationProgress value)
        {
            lock (Events)
            {
                Events.Add(value);
            }
        }
    }

    [Fact]
    public async Task Text_to_image_gives_the_requested_size_and_the_same_seed_gives_the_same_image()
    {
        var request = new GenerationRequest { ModelId = "demo", Prompt = "a lighthouse at dusk", Width = 128, Height = 96, Seed = 42 };

        using var first = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        using var again = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        using var other = (await fixture.Engine.GenerateAsync(request with { Seed = 43 }, null, CancellationToken.None)).Image;

        Assert.Equal((128, 96), (first.Width, first.Height));
        Assert.Equal(Pixels(first), Pixels(again));
        Assert.NotEqual(Pixels(first), Pixels(other));
    }

    [Fact]
    public async Task Progress_reports_every_step_with_a_preview_and_the_result_times_the_model()
    {
        var recorder = new Recorder();

        var result = await fixture.Engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "progress", Width = 128, Height = 128, Seed = 1 }, recorder, CancellationToken.None);
        result.Image.Dispose();

        var denoising = recorder.Events.Where(e => e.Stage == GenerationStage.Denoising).ToList();
        Assert.Equal([1, 2, 3, 4], denoising.Select(e => e.Step));
        Assert.All(denoising, e =>
        {
            Assert.Equal(4, e.TotalSteps);
            Assert.NotNull(e.Preview);
            Assert.Equal((16, 16), (e.Preview!.Width, e.Preview.Height));
            Assert.Equal(16 * 16 * 3, e.Preview.Rgb.Length);
        });
        Assert.Equal(GenerationStage.Finished, recorder.Events[^1].Stage);
        // Stages come in pipeline order and the step count never goes back (a bar at 100 %
        // must not drop to 0 while the image decodes).
        Assert.Equal(recorder.Events.Select(e => e.Stage).Order(), recorder.Events.Select(e => e.Stage));
        Assert.Equal(recorder.Events.Select(e => e.Step).Order(), recorder.Events.Select(e => e.Step));
        Assert.Equal(4, recorder.Events.Single(e => e.Stage == GenerationStage.Decoding).Step);
        Assert.True(result.ModelTime > TimeSpan.Zero && result.ModelTime <= result.Elapsed);
        Assert.Equal(4, result.Steps);
        Assert.Null(result.Guidance);
    }

    [Fact]
    public async Task Editing_with_a_reference_defaults_to_its_size_and_depends_on_it()
    {
        using var reference = Gradient(200, 150);
        using var otherReference = Gradient(200, 150, blue: 220);
        var request = new GenerationRequest { ModelId = "demo", Prompt = "make it autumn", Seed = 5, References = [reference] };

        using var edited = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        using var withOther = (await fixture.Engine.GenerateAsync(request with { References = [otherReference] }, null, CancellationToken.None)).Image;

        // 200×150 is under the pixel cap: only the crop to multiples of 16 applies.
        Assert.Equal((192, 144), (edited.Width, edited.Height));
        Assert.NotEqual(Pixels(edited), Pixels(withOther));
    }

    [Fact]
    public async Task Multi_reference_uses_every_reference_in_order()
    {
        using var a = Gradient(128, 128, blue: 10);
        using var b = Gradient(96, 160, blue: 250);
        using var c = Gradient(144, 112, blue: 128);
        var request = new GenerationRequest { ModelId = "demo", Prompt = "combine", Width = 128, Height = 128, Seed = 9, References = [a, b, c] };

        using var three = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        using var reordered = (await fixture.Engine.GenerateAsync(request with { References = [b, a, c] }, null, CancellationToken.None)).Image;
        using var two = (await fixture.Engine.GenerateAsync(request with { References = [a, b] }, null, CancellationToken.None)).Image;

        Assert.Equal((128, 128), (three.Width, three.Height));
        Assert.NotEqual(Pixels(three), Pixels(reordered));
        Assert.NotEqual(Pixels(three), Pixels(two));
    }

    [Fact]
    public async Task Base_variant_runs_classifier_free_guidance_within_its_range()
    {
        var request = new GenerationRequest { ModelId = "demo-base", Prompt = "guided", Width = 64, Height = 64, Seed = 4, Steps = 6 };

        var defaults = await fixture.Engine.GenerateAsync(request, null, CancellationToken.None);
        using var defaultImage = defaults.Image;
        using var weak = (await fixture.Engine.GenerateAsync(request with { Guidance = 1f }, null, CancellationToken.None)).Image;

        Assert.Equal(4f, defaults.Guidance);
        Assert.Equal(6, defaults.Steps);
        Assert.NotEqual(Pixels(defaultImage), Pixels(weak));
        // The unconditional pass encodes the empty prompt, and it is cached like any prompt.
        Assert.True(fixture.Engine.Embeddings.TryGet("qwen3-demo-20260101", "", out _));
        Assert.Contains("between 1 and 10", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(request with { Guidance = 20f })).Message, StringComparison.Ordinal);
        Assert.Equal(50, fixture.Engine.Validate(request with { Steps = null }).Steps);
    }

    [Fact]
    public async Task A_negative_prompt_is_the_unconditional_side_of_guidance_and_an_empty_one_changes_nothing()
    {
        var request = new GenerationRequest { ModelId = "demo-base", Prompt = "a red fox in snow", Width = 64, Height = 64, Seed = 9, Steps = 3, Guidance = 4f };
        async Task<byte[]> PixelsOfAsync(GenerationRequest asked)
        {
            using var image = (await fixture.Engine.GenerateAsync(asked, null, CancellationToken.None)).Image;
            return Pixels(image);
        }

        var plain = await PixelsOfAsync(request);
        var steered = await PixelsOfAsync(request with { NegativePrompt = "blurry, text" });

        // "" is what the unconditional pass always read: a job without a negative prompt makes the image it made before.
        Assert.Equal(plain, await PixelsOfAsync(request with { NegativePrompt = "" }));
        Assert.NotEqual(plain, steered);
        Assert.Equal(steered, await PixelsOfAsync(request with { NegativePrompt = "blurry, text" }));
        Assert.True(fixture.Engine.Embeddings.TryGet("qwen3-demo-20260101", "blurry, text", out _));
        // v = v_negative + g·(v_prompt − v_negative): with the prompt as its own negative both passes agree, so the
        // guidance scale has nothing left to amplify, which it has with the empty negative.
        Assert.Equal(
            await PixelsOfAsync(request with { NegativePrompt = request.Prompt }),
            await PixelsOfAsync(request with { NegativePrompt = request.Prompt, Guidance = 7f }));
        Assert.NotEqual(plain, await PixelsOfAsync(request with { Guidance = 7f }));
    }

    [Fact]
    public void A_negative_prompt_is_refused_where_nothing_would_read_it()
    {
        var distilled = Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", NegativePrompt = "blurry" }));
        var tooLong = Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo-base", Prompt = "x", NegativePrompt = new string('n', 10_001) }));

        Assert.EndsWith("is guidance-distilled and takes no negative prompt; leave it empty, or choose a base model.", distilled.Message, StringComparison.Ordinal);
        Assert.Equal("The negative prompt is too long: it has 10,001 characters; at most 10,000 are accepted.", tooLong.Message);
        Assert.Equal(4f, fixture.Engine.Validate(new GenerationRequest { ModelId = "demo-base", Prompt = "x", NegativePrompt = "blurry" }).Guidance);
    }

    [Fact]
    public async Task Masked_edit_keeps_the_source_outside_the_mask_when_composited()
    {
        using var source = Gradient(128, 128);
        using var mask = Mask(128, 32, 32, 64, 64);
        var request = new GenerationRequest { ModelId = "demo", Prompt = "a red square", Seed = 3, Source = source, Mask = mask, Strength = 0.75f, FeatherComposite = true };

        using var edited = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;

        Assert.Equal((128, 128), (edited.Width, edited.Height));
        // Far from the mask the feathered composite is exactly the source; inside it the model painted.
        Assert.Equal(source[4, 4], edited[4, 4]);
        Assert.Equal(source[120, 120], edited[120, 120]);
        Assert.NotEqual(source[64, 64], edited[64, 64]);
    }

    [Fact]
    public async Task Masked_edit_without_composite_still_depends_on_the_mask()
    {
        using var source = Gradient(128, 128);
        using var small = Mask(128, 48, 48, 32, 32);
        using var large = Mask(128, 0, 0, 128, 128);
        var request = new GenerationRequest { ModelId = "demo", Prompt = "edit", Seed = 3, Source = source, Mask = small };

        using var withSmall = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        using var withLarge = (await fixture.Engine.GenerateAsync(request with { Mask = large }, null, CancellationToken.None)).Image;

        Assert.NotEqual(Pixels(withSmall), Pixels(withLarge));
    }

    [Fact]
    public async Task Cancelling_inside_a_transformer_run_returns_promptly()
    {
        // 1024² on the CPU makes each run long enough to be cancelled in the middle of it.
        var request = new GenerationRequest { ModelId = "demo", Prompt = "long run", Width = 1024, Height = 1024, Seed = 8 };
        var recorder = new Recorder();
        using var cancel = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        long cancelledAt = 0;
        using var registration = cancel.Token.Register(() => cancelledAt = clock.ElapsedMilliseconds);
        var running = fixture.Engine.GenerateAsync(request, new CancelWhenDenoisingStarts(cancel, recorder), cancel.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        var returned = clock.ElapsedMilliseconds;

        output.WriteLine($"returned {returned} ms after the start, {returned - cancelledAt} ms after the cancel; steps finished: {recorder.Events.Count(e => e.Stage == GenerationStage.Denoising)}");
        Assert.True(recorder.Events.Count(e => e.Stage == GenerationStage.Denoising) < 4);
        using var next = (await fixture.Engine.GenerateAsync(request with { Width = 64, Height = 64 }, null, CancellationToken.None)).Image;
        Assert.Equal(64, next.Width);
    }

    /// <summary>
    /// Cancels 150 ms after the last stage before the transformer, so the cancel lands inside its
    /// first run (seconds long at 1024² on the CPU). A dedicated thread, not a timer: with the other
    /// test classes busy on every core, a thread-pool timer fired seconds late, after all four steps.
    /// </summary>
    private sealed class CancelWhenDenoisingStarts(CancellationTokenSource cancel, Recorder recorder) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            recorder.Report(value);
            if (value.Stage == GenerationStage.EncodingImages)
            {
                var canceller = new Thread(() =>
                {
                    Thread.Sleep(150);
                    cancel.Cancel();
                });
                canceller.IsBackground = true;
                canceller.Priority = ThreadPriority.AboveNormal;
                canceller.Start();
            }
        }
    }

    [Fact]
    public async Task Cancelling_mid_generation_stops_it_and_the_engine_stays_usable()
    {
        using var cancel = new CancellationTokenSource();
        var recorder = new CancelAfterFirstStep(cancel);
        // Step reports (with their previews) are made off the denoising loop's thread, so the cancel can arrive a
        // little after the step it answers. At 256² all four steps once finished in that time on a busy machine;
        // at 1024² each step takes long enough on the CPU for the cancel to land in the next one.
        var request = new GenerationRequest { ModelId = "demo", Prompt = "cancel me", Width = 1024, Height = 1024, Seed = 2 };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Engine.GenerateAsync(request, recorder, cancel.Token));

        Assert.DoesNotContain(recorder.Events, e => e.Stage == GenerationStage.Finished);
        Assert.True(recorder.Events.Count(e => e.Stage == GenerationStage.Denoising) < 4);
        using var after = (await fixture.Engine.GenerateAsync(request with { Width = 256, Height = 256 }, null, CancellationToken.None)).Image;
        Assert.Equal(256, after.Width);
    }

    private sealed class CancelAfterFirstStep(CancellationTokenSource cancel) : IProgress<GenerationProgress>
    {
        public List<GenerationProgress> Events { get; } = [];

        public void Report(GenerationProgress value)
        {
            Events.Add(value);
            if (value.Stage == GenerationStage.Denoising && value.Step == 1)
            {
                cancel.Cancel();
            }
        }
    }

    [Fact]
    public async Task Prompt_embeddings_are_cached_per_text_encoder_and_prompt()
    {
        var request = new GenerationRequest { ModelId = "demo", Prompt = $"cache check {Guid.NewGuid()}", Width = 64, Height = 64, Seed = 1 };
        var recorder = new Recorder();

        (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image.Dispose();
        (await fixture.Engine.GenerateAsync(request with { Seed = 2 }, recorder, CancellationToken.None)).Image.Dispose();

        Assert.True(fixture.Engine.Embeddings.TryGet("qwen3-demo-20260101", request.Prompt, out var embeddings));
        Assert.Equal(512 * 96, embeddings.Length);
        Assert.DoesNotContain(recorder.Events, e => e.Stage == GenerationStage.EncodingPrompt);
    }

    [Theory]
    [InlineData("unknown-model", null, null, null, "not installed")]
    [InlineData("demo", 5000, 1024, null, "Width must be between 64 and 2048 pixels; 5000 was asked.")]
    [InlineData("demo", 16, 1024, null, "Width must be between 64 and 2048 pixels; 16 was asked.")]
    [InlineData("demo", 1024, 1024, 8, "runs exactly 4 steps")]
    public void Invalid_requests_are_refused_with_what_is_allowed(string model, int? width, int? height, int? steps, string expected)
    {
        var request = new GenerationRequest { ModelId = model, Prompt = "x", Width = width, Height = height, Steps = steps };

        var error = Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(request));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sizes_must_be_multiples_of_16_and_a_refusal_names_the_nearest_ones()
    {
        var resolved = fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Width = 992, Height = 768 });
        var width = Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Width = 1000, Height = 768 }));
        var height = Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Width = 992, Height = 777 }));

        Assert.Equal((992, 768), (resolved.Width, resolved.Height));
        Assert.Equal(62 * 48, resolved.ImageTokens);
        Assert.Equal("Width must be a multiple of 16: 1000 is not; use 992 or 1008.", width.Message);
        Assert.Equal("Height must be a multiple of 16: 777 is not; use 768 or 784.", height.Message);
    }

    [Fact]
    public void Bad_image_inputs_are_refused()
    {
        using var tiny = new Image<Rgb24>(32, 300);
        using var source = new Image<Rgb24>(128, 128);
        using var wrongMask = new Image<L8>(64, 64);
        using var mask = new Image<L8>(128, 128);
        var five = Enumerable.Range(0, 5).Select(_ => source).ToList();

        Assert.Contains("at least 64 pixels", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", References = [tiny] })).Message, StringComparison.Ordinal);
        Assert.Contains("at most 4 are allowed", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", References = five })).Message, StringComparison.Ordinal);
        Assert.Contains("they must match", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Source = source, Mask = wrongMask })).Message, StringComparison.Ordinal);
        Assert.Contains("needs a mask", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Source = source })).Message, StringComparison.Ordinal);
        Assert.Contains("without a source", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Mask = mask })).Message, StringComparison.Ordinal);
        Assert.Contains("Strength must be above 0", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Source = source, Mask = mask, Strength = 0f })).Message, StringComparison.Ordinal);
        Assert.Equal(3, GenerationValidator.StartStep(4, 0.1f));
        Assert.Equal(1, GenerationValidator.StartStep(4, 0.75f));
        Assert.Equal(0, GenerationValidator.StartStep(4, 1f));
        Assert.Contains("takes no guidance", Assert.Throws<GenerationRequestException>(() => fixture.Engine.Validate(new GenerationRequest { ModelId = "demo", Prompt = "x", Guidance = 3.5f })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tampered_component_is_refused_before_it_runs()
    {
        using var models = new TempDirectory();
        CopyDemo(models.Path);
        var transformer = Path.Combine(models.Path, "demo", "transformer.onnx");
        File.WriteAllBytes(transformer, File.ReadAllBytes(transformer).AsSpan(0, 1000).ToArray());
        using var engine = fixture.CreateEngine(fixture.Options, models.Path);

        var error = await Assert.ThrowsAsync<GenerationRequestException>(() => engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "x", Width = 64, Height = 64 }, null, CancellationToken.None));

        Assert.Contains("files[", error.Message, StringComparison.Ordinal);
        Assert.Contains("transformer.onnx has 1000 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_that_fails_at_run_time_fails_the_job_readably_and_the_next_job_runs()
    {
        using var models = new TempDirectory();
        CopyDemo(models.Path);
        var folder = Path.Combine(models.Path, "demo");
        var transformer = Path.Combine(folder, "transformer.onnx");
        var good = File.ReadAllBytes(transformer);
        // A graph that loads but returns twice the tokens it was given: ONNX Runtime refuses the bound output at run time.
        File.WriteAllBytes(transformer, BrokenTransformer());
        Reseal(folder);
        using var engine = fixture.CreateEngine(fixture.Options, models.Path);
        var request = new GenerationRequest { ModelId = "demo", Prompt = "break", Width = 64, Height = 64, Seed = 1 };

        var failure = await Assert.ThrowsAsync<InferenceFailedException>(() => engine.GenerateAsync(request, null, CancellationToken.None));

        Assert.Equal(InferenceFailure.SessionBroken, failure.Kind);
        Assert.StartsWith("The transformer of 'demo' failed:", failure.Message, StringComparison.Ordinal);
        Assert.EndsWith("The engine has been reset and the queue goes on.", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(engine.Resident, r => r.Component == ModelComponent.Transformer);

        File.WriteAllBytes(transformer, good);
        Reseal(folder);
        using var image = (await engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        Assert.Equal(64, image.Width);
    }

    private void CopyDemo(string target)
    {
        var source = Path.Combine(fixture.ModelsDirectory, "demo");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, "demo", Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
    }

    private static void Reseal(string folder)
    {
        var manifestPath = Path.Combine(folder, FluxWeb.Inference.Packages.ModelPackageManifest.FileName);
        var manifest = System.Text.Json.JsonSerializer.Deserialize<FluxWeb.Inference.Packages.ModelPackageManifest>(File.ReadAllText(manifestPath), FluxWeb.Inference.Packages.ModelPackageManifest.JsonOptions)!;
        FluxWeb.Inference.Packages.ModelPackageWriter.Seal(folder, manifest);
    }

    private static byte[] BrokenTransformer()
    {
        var g = new FluxWeb.Inference.Onnx.OnnxGraphBuilder("broken", FluxWeb.Inference.Onnx.ComputePrecision.Float32, Path.GetTempPath());
        var x = g.Input("hidden_states", global::Onnx.TensorProto.Types.DataType.Float, "batch", "tokens", 128);
        g.Input("encoder_hidden_states", global::Onnx.TensorProto.Types.DataType.Float, "batch", "text", 96);
        g.Input("timestep", global::Onnx.TensorProto.Types.DataType.Float, "batch");
        g.Input("img_ids", global::Onnx.TensorProto.Types.DataType.Float, "tokens", 4);
        g.Input("txt_ids", global::Onnx.TensorProto.Types.DataType.Float, "text", 4);
        g.Output(g.Op("Concat", [x, x], a => a.Int("axis", 1)), "output", global::Onnx.TensorProto.Types.DataType.Float, "batch", "double_tokens", 128);
        return Google.Protobuf.MessageExtensions.ToByteArray(g.Build());
    }

    [Fact]
    public async Task A_tight_memory_budget_unloads_idle_components_but_keeps_working()
    {
        var options = new InferenceOptions { Device = FluxWeb.Inference.Devices.DevicePreference.Cpu, MinSide = 64, RamBudgetGiB = 30.0 / 1024 / 1024, CpuThreads = 1 };
        using var engine = fixture.CreateEngine(options);

        (await engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "budget", Width = 64, Height = 64, Seed = 1 }, null, CancellationToken.None)).Image.Dispose();

        // 30 MB holds the transformer and the decoder but not every component at once.
        Assert.Contains(engine.Resident, r => r.Component == ModelComponent.Transformer);
        Assert.DoesNotContain(engine.Resident, r => r.Component == ModelComponent.TextEncoder);
    }


}
