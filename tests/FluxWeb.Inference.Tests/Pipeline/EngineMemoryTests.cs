using System.Diagnostics;
using FluxWeb.Inference.Pipeline;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>Runs alone: the process's RSS is only meaningful when no other test is allocating beside it.</summary>
[CollectionDefinition(nameof(EngineMemoryTests), DisableParallelization = true)]
public sealed class EngineMemoryCollection : ICollectionFixture<EngineFixture>
{
}

[Collection(nameof(EngineMemoryTests))]
public sealed class EngineMemoryTests(EngineFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Memory_stays_flat_over_repeated_generations()
    {
        var request = new GenerationRequest { ModelId = "demo", Prompt = "memory", Width = 64, Height = 64, Seed = 1 };
        (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image.Dispose();
        GC.Collect();
        var before = Process.GetCurrentProcess().WorkingSet64;
        var clock = Stopwatch.StartNew();

        for (var i = 0; i < 200; i++)
        {
            (await fixture.Engine.GenerateAsync(request with { Seed = (ulong)i }, null, CancellationToken.None)).Image.Dispose();
        }

        GC.Collect();
        var after = Process.GetCurrentProcess().WorkingSet64;
        output.WriteLine($"RSS before {before / 1e6:F1} MB, after 200 generations {after / 1e6:F1} MB ({clock.Elapsed.TotalSeconds:F1} s)");
        Assert.True(after - before < 100_000_000, $"RSS grew by {(after - before) / 1e6:F0} MB: ONNX outputs are leaking");
    }
}
