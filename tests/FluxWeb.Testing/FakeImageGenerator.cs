using System.Collections.Concurrent;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Time.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Testing;

/// <summary>
/// A fast stand-in for the inference engine with the real contract: per-step progress with a tiny
/// preview, cancellation between and inside steps, failures on demand, and a solid-colour image
/// whose colour comes from the seed. Time is either real (<see cref="StepDelay"/>) or simulated
/// on a <see cref="FakeTimeProvider"/> (<see cref="SimulatedStepTime"/>), which makes measured
/// GPU-seconds exact in tests.
/// </summary>
public sealed class FakeImageGenerator : IImageGenerator
{
    private readonly ConcurrentQueue<Hold> holds = new();
    private int running;
    private int maxRunning;

    public int DefaultSteps { get; set; } = 4;

    public int DefaultSize { get; set; } = 64;

    /// <summary>Real time spent in each step (a cancellable delay).</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.Zero;

    /// <summary>With <see cref="Clock"/>: how far each step moves the fake clock.</summary>
    public TimeSpan SimulatedStepTime { get; set; } = TimeSpan.Zero;

    public FakeTimeProvider? Clock { get; set; }

    /// <summary>Return an exception to throw at that step (e.g. <see cref="OutOfMemory"/>), or null to go on.</summary>
    public Func<GenerationRequest, int, Exception?>? FailAt { get; set; }

    /// <summary>What the finished job "generates" instead of the seed's solid colour (e.g. a picture the safety classifier flags).</summary>
    public Func<GenerationRequest, Image<Rgb24>>? Picture { get; set; }

    public ConcurrentQueue<GenerationRequest> Started { get; } = new();

    /// <summary>What each started job's input images looked like (the images themselves are disposed with the job).</summary>
    public ConcurrentQueue<SeenInputs> Inputs { get; } = new();

    public ConcurrentQueue<GenerationRequest> Completed { get; } = new();

    public ConcurrentQueue<GenerationRequest> Cancelled { get; } = new();

    /// <summary>The most jobs that were inside <see cref="GenerateAsync"/> at the same time.</summary>
    public int MaxConcurrentRuns => Volatile.Read(ref maxRunning);

    public static InferenceFailedException OutOfMemory() =>
        new(InferenceFailure.OutOfMemory, "The GPU ran out of memory for this size. Try a smaller image or fewer reference images.");

    /// <summary>The next job to start stops after <paramref name="step"/> until released (or cancelled).</summary>
    public Hold HoldNextJob(int step)
    {
        var hold = new Hold(step);
        holds.Enqueue(hold);
        return hold;
    }

    public ResolvedGeneration Validate(GenerationRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Prompt))
        {
            throw new GenerationRequestException("Write a prompt first.");
        }

        if (request.Mask is not null && request.Source is null)
        {
            throw new GenerationRequestException("A mask needs a source image to paint on.");
        }

        var width = request.Width ?? request.Source?.Width ?? (request.References.Count > 0 ? request.References[0].Width : (int?)null) ?? DefaultSize;
        var height = request.Height ?? request.Source?.Height ?? (request.References.Count > 0 ? request.References[0].Height : (int?)null) ?? DefaultSize;
        if (width % 16 != 0 || height % 16 != 0 || width is < 16 or > 2048 || height is < 16 or > 2048)
        {
            throw new GenerationRequestException($"Width and height must be multiples of 16 between 16 and 2048 (got {width}×{height}).");
        }

        var steps = request.Steps ?? DefaultSteps;
        if (steps is < 1 or > 50)
        {
            throw new GenerationRequestException("Steps must be between 1 and 50.");
        }

        return new ResolvedGeneration(width, height, steps, request.Guidance, width / 16 * (height / 16));
    }

    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var resolved = Validate(request);
        Started.Enqueue(request);
        Inputs.Enqueue(new SeenInputs(
            request.Prompt,
            [.. request.References.Select(r => (r.Width, r.Height, r[0, 0]))],
            request.Source is { } source ? (source.Width, source.Height) : null,
            request.Mask is { } mask ? (mask.Width, mask.Height) : null));
        var now = Interlocked.Increment(ref running);
        InterlockedMax(ref maxRunning, now);
        holds.TryDequeue(out var hold);
        try
        {
            progress?.Report(new GenerationProgress(GenerationStage.EncodingPrompt, 0, resolved.Steps, TimeSpan.Zero));
            for (var step = 1; step <= resolved.Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (StepDelay > TimeSpan.Zero)
                {
                    await Task.Delay(StepDelay, cancellationToken);
                }

                Clock?.Advance(SimulatedStepTime);
                if (FailAt?.Invoke(request, step) is { } failure)
                {
                    throw failure;
                }

                progress?.Report(new GenerationProgress(GenerationStage.Denoising, step, resolved.Steps, SimulatedStepTime * step, Preview(request.Seed, step)));
                if (hold is not null && hold.Step == step)
                {
                    hold.MarkReached();
                    await hold.Released.WaitAsync(cancellationToken);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new GenerationProgress(GenerationStage.Decoding, resolved.Steps, resolved.Steps, SimulatedStepTime * resolved.Steps));
            var image = Picture?.Invoke(request) ?? new Image<Rgb24>(resolved.Width, resolved.Height, ColourOf(request.Seed));
            Completed.Enqueue(request);
            var elapsed = SimulatedStepTime * resolved.Steps;
            return new GenerationResult(image, request.ModelId, request.Seed, image.Width, image.Height, resolved.Steps, request.Guidance, elapsed, elapsed, false);
        }
        catch (OperationCanceledException)
        {
            Cancelled.Enqueue(request);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref running);
        }
    }

    public static Rgb24 ColourOf(ulong seed) => new((byte)seed, (byte)(seed >> 8), (byte)(seed >> 16));

    private static PreviewImage Preview(ulong seed, int step)
    {
        const int size = 8;
        var rgb = new byte[size * size * 3];
        var colour = ColourOf(seed + (ulong)step);
        for (var i = 0; i < size * size; i++)
        {
            rgb[i * 3] = colour.R;
            rgb[(i * 3) + 1] = colour.G;
            rgb[(i * 3) + 2] = colour.B;
        }

        return new PreviewImage(size, size, rgb);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public sealed record SeenInputs(string Prompt, IReadOnlyList<(int Width, int Height, Rgb24 TopLeft)> References, (int Width, int Height)? Source, (int Width, int Height)? Mask);

    /// <summary>Keeps one job at a step: tests look at a job mid-run, then let it go.</summary>
    public sealed class Hold(int step)
    {
        private readonly TaskCompletionSource reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Step { get; } = step;

        public Task Reached => reached.Task;

        internal Task Released => released.Task;

        public void Release() => released.TrySetResult();

        internal void MarkReached() => reached.TrySetResult();
    }
}
