using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.Tests.Devices;
using Microsoft.Extensions.Logging.Abstractions;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>
/// The memory budget from the GPU's real free memory (faked here), activation estimates per
/// resolution, unloading the text encoder when it and the transformer's run no longer fit, and
/// arenas given back after an unusually large job.
/// </summary>
public sealed class MemoryAccountingTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private const long GiB = 1L << 30;

    private static ExecutionDevice Gpu(long? free, long total = 24 * GiB) =>
        DevicePolicy.Decide(DevicePreference.Cuda, 0, new DeviceReport
        {
            Gpu = DevicePolicyTests.Gpu(8, 9) with { FreeBytes = free, TotalBytes = total },
            CudaGraphs = DevicePolicyTests.AllRan,
            CpuGraphs = DevicePolicyTests.CpuLikeThisMachine,
        });

    [Fact]
    public void On_a_gpu_the_budget_is_the_free_memory_less_the_reserve_unless_configured()
    {
        var logger = NullLogger.Instance;

        Assert.Equal(22 * GiB - (long)(1.5 * GiB), MemoryBudget.Decide(Gpu(22 * GiB), new InferenceOptions(), logger));
        Assert.Equal(20 * GiB, MemoryBudget.Decide(Gpu(22 * GiB), new InferenceOptions { VramBudgetGiB = 20 }, logger));
        Assert.Equal(21 * GiB, MemoryBudget.Decide(Gpu(22 * GiB), new InferenceOptions { VramReserveGiB = 1 }, logger));
        Assert.Equal((long)(24 * GiB * 0.9) - (long)(1.5 * GiB), MemoryBudget.Decide(Gpu(free: null), new InferenceOptions(), logger));
        Assert.Equal(32 * GiB, MemoryBudget.Decide(DevicePolicy.Decide(DevicePreference.Cpu, 0, new DeviceReport()), new InferenceOptions(), logger));
    }

    [Fact]
    public void Activation_estimates_grow_with_resolution_and_count_what_attention_materialises()
    {
        var manifest = new ModelPackageManifest
        {
            Precision = new PrecisionInfo { Weights = "bf16", Compute = "bf16" },
            Transformer = new TransformerInfo { Hidden = 3072, Heads = 24 },
            TextEncoder = new TextEncoderInfo { HiddenSize = 2560 },
        };
        var at1024 = ActivationEstimate.Transformer(manifest, 1, 4096, 512, fusedAttention: true);
        var at2048 = ActivationEstimate.Transformer(manifest, 1, 16384, 512, fusedAttention: true);
        var guided = ActivationEstimate.Transformer(manifest, 2, 4096, 512, fusedAttention: true);
        var unfused = ActivationEstimate.Transformer(manifest, 1, 4096, 512, fusedAttention: false);
        var fp8 = ActivationEstimate.Transformer(new ModelPackageManifest { Precision = new PrecisionInfo { Weights = "fp8", Compute = "bf16" }, Transformer = manifest.Transformer }, 1, 4096, 512, fusedAttention: true);

        Assert.Equal(4608L * 24 * 3072 * 2, at1024); // ≈ 680 MB for klein 4B at 1024² in bf16
        Assert.Equal((16384L + 512) * 24 * 3072 * 2, at2048);
        Assert.Equal(2 * at1024, guided);
        Assert.Equal(at1024 + 24L * 4608 * 4608 * 4, unfused);
        Assert.Equal(at1024 + 9L * 3072 * 3072 * 6, fp8); // one dequantised linear1 in float32 and bf16
        Assert.Equal(2048L * 2048 * 6 * 128 * 2, ActivationEstimate.VaeDecoder(manifest, 2048, 2048));
    }

    [Fact]
    public void Unusual_jobs_are_the_ones_well_above_the_recent_median_or_a_quarter_of_the_budget()
    {
        var policy = new ArenaShrinkPolicy();

        Assert.False(policy.IsUnusual(100, 1000));
        Assert.True(policy.IsUnusual(300, 1000)); // a quarter of the budget, whatever came before
        foreach (var usual in new long[] { 100, 110, 90, 100 })
        {
            policy.Record(usual);
        }

        Assert.False(policy.IsUnusual(140, 10_000));
        Assert.True(policy.IsUnusual(160, 10_000));
    }

    [Fact]
    public async Task The_text_encoder_is_unloaded_when_it_and_a_larger_transformer_run_no_longer_fit()
    {
        var manifest = ModelPackageManifest.Read(Path.Combine(fixture.ModelsDirectory, "demo", ModelPackageManifest.FileName));
        long Weights(ComponentInfo c) => ResidentSessions.EstimateBytes(manifest, c);
        var small = ActivationEstimate.Transformer(manifest, 1, 16, 512, fusedAttention: false);
        var large = ActivationEstimate.Transformer(manifest, 1, 256, 512, fusedAttention: false);
        // Everything of a 64² job fits with a little to spare, but not the text encoder beside a 256² transformer run.
        var budget = Weights(manifest.Components.TextEncoder!) + Weights(manifest.Components.Transformer!) + Weights(manifest.Components.VaeDecoder!)
            + ActivationEstimate.TextEncoder(manifest, 512, fusedAttention: false) + small + ActivationEstimate.VaeDecoder(manifest, 64, 64) + (large - small) / 2;
        using var engine = fixture.CreateEngine(new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = 1, RamBudgetGiB = budget / (double)GiB, ShrinkArenasAfterLargeJobs = false });
        var request = new GenerationRequest { ModelId = "demo", Prompt = "budget", Width = 64, Height = 64, Seed = 1 };

        (await engine.GenerateAsync(request, null, CancellationToken.None)).Image.Dispose();
        var afterSmall = engine.Resident.Select(r => r.Component).ToList();
        IReadOnlyList<ModelComponent>? beforeDecoding = null;
        var progress = new Inline<GenerationProgress>(p =>
        {
            if (p.Stage == GenerationStage.Decoding)
            {
                beforeDecoding = engine.Resident.Select(r => r.Component).ToList();
            }
        });
        (await engine.GenerateAsync(request with { Width = 256, Height = 256, Prompt = "budget two" }, progress, CancellationToken.None)).Image.Dispose();

        Assert.Contains(ModelComponent.TextEncoder, afterSmall);
        Assert.Contains(ModelComponent.Transformer, afterSmall);
        Assert.NotNull(beforeDecoding);
        Assert.DoesNotContain(ModelComponent.TextEncoder, beforeDecoding);
        Assert.Contains(ModelComponent.Transformer, beforeDecoding);
    }

    [Fact]
    public async Task After_an_unusually_large_job_the_arenas_give_their_memory_back()
    {
        using var engine = fixture.CreateEngine(new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = 1 });
        var request = new GenerationRequest { ModelId = "demo", Prompt = "arena", Width = 64, Height = 64, Seed = 1 };
        for (var i = 0; i < 3; i++)
        {
            (await engine.GenerateAsync(request with { Seed = (ulong)i }, null, CancellationToken.None)).Image.Dispose();
        }

        var usual = engine.Resident.Single(r => r.Component == ModelComponent.Transformer).ArenaBytes;
        (await engine.GenerateAsync(request with { Width = 256, Height = 256 }, null, CancellationToken.None)).Image.Dispose();
        var afterLarge = engine.Resident.ToDictionary(r => r.Component);

        Assert.True(usual > 0);
        Assert.Equal(0, afterLarge[ModelComponent.Transformer].ArenaBytes);
        Assert.Equal(0, afterLarge[ModelComponent.VaeDecoder].ArenaBytes);
        Assert.True(afterLarge[ModelComponent.TextEncoder].ArenaBytes > 0, "the text encoder's run was not unusual");
    }

    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
