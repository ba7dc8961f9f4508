using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The loop on a finished image: what each action asks for, and that it goes through the one submission door.</summary>
public sealed class ResultLoopTests : IAsyncLifetime
{
    private static readonly GenerationLimits Limits = new();

    private static readonly GenerationSettings Made = new()
    {
        ModelId = "klein-test",
        Prompt = "a lighthouse at dusk",
        NegativePrompt = "fog",
        Width = 1024,
        Height = 768,
        Seed = 42,
        Steps = 4,
        ReferenceImageIds = [Guid.NewGuid()],
    };

    private readonly TempFolder folder = new("fluxweb-loop");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    private ResultLoop Loop => host.Services.GetRequiredService<ResultLoop>();

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, engine);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Theory]
    [InlineData(LoopAction.VarySubtle, 0.35f)]
    [InlineData(LoopAction.VaryStrong, 0.7f)]
    public void Vary_makes_the_image_the_source_at_its_strength_with_a_fresh_seed_and_its_own_size(LoopAction action, float strength)
    {
        var image = Guid.NewGuid();

        var plan = ResultLoop.Plan(action, image, Made, 1024, 768, Limits);

        var settings = Assert.IsType<GenerationSettings>(plan.Settings);
        Assert.Null(plan.Problem);
        Assert.Equal(image, settings.SourceImageId);
        Assert.Equal(strength, settings.Strength);
        Assert.Null(settings.Seed);
        Assert.Null(settings.Width);
        Assert.Null(settings.Height);
        Assert.Empty(settings.ReferenceImageIds);
        Assert.True(plan.NeedsWholeMask);
        Assert.Equal(JobMode.MaskedEdit, settings.Mode);
        Assert.Equal((Made.Prompt, Made.NegativePrompt), (settings.Prompt, settings.NegativePrompt));
        Assert.Equal(Made.Steps, settings.Steps);
    }

    [Fact]
    public void More_like_this_keeps_every_setting_and_takes_the_next_seed()
    {
        var plan = ResultLoop.Plan(LoopAction.MoreLikeThis, Guid.NewGuid(), Made, 1024, 768, Limits);

        Assert.Equal(Made with { Seed = 43 }, plan.Settings);
        Assert.Equal(Made.ReferenceImageIds, plan.Settings!.ReferenceImageIds);
    }

    [Fact]
    public void More_like_this_skips_seeds_already_used_with_the_same_settings()
    {
        Assert.Equal(11UL, ResultLoop.NextFreeSeed(10, 2, new HashSet<ulong>()));
        Assert.Equal(14UL, ResultLoop.NextFreeSeed(10, 2, new HashSet<ulong> { 11, 12, 13 }));
        Assert.Equal(12UL, ResultLoop.NextFreeSeed(10, 3, new HashSet<ulong> { 11, 15 }));
        Assert.Equal(14UL, ResultLoop.NextFreeSeed(10, 3, new HashSet<ulong> { 11, 13 }));
        Assert.Equal(0UL, ResultLoop.NextFreeSeed(ulong.MaxValue, 1, new HashSet<ulong>()));
    }

    [Fact]
    public void Upscale_asks_the_model_for_twice_the_size_with_the_image_as_its_only_reference()
    {
        var image = Guid.NewGuid();

        var plan = ResultLoop.Plan(LoopAction.UpscaleTwice, image, Made, 1024, 768, Limits);

        var settings = Assert.IsType<GenerationSettings>(plan.Settings);
        Assert.Equal((2048, 1536), (settings.Width, settings.Height));
        Assert.Equal("fog", settings.NegativePrompt);
        Assert.Equal([image], settings.ReferenceImageIds);
        Assert.Null(settings.SourceImageId);
        Assert.Null(settings.MaskImageId);
        Assert.Equal(JobMode.Edit, settings.Mode);
        Assert.Equal(Made.Seed, settings.Seed);
    }

    [Theory]
    [InlineData(1088, 1024)]
    [InlineData(1024, 1024 + 16)]
    public void Upscale_beyond_the_limits_is_refused_with_the_sizes_and_the_limit(int width, int height)
    {
        var plan = ResultLoop.Plan(LoopAction.UpscaleTwice, Guid.NewGuid(), Made, width, height, Limits);

        Assert.Null(plan.Settings);
        Assert.Contains($"{width * 2}×{height * 2}", plan.Problem, StringComparison.Ordinal);
        Assert.Contains("2048 px a side", plan.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Upscale_within_a_smaller_pixel_budget_is_refused_by_the_area()
    {
        var limits = new GenerationLimits { MaxPixels = 1536L * 1536 };

        var plan = ResultLoop.Plan(LoopAction.UpscaleTwice, Guid.NewGuid(), Made, 1024, 768, limits);

        Assert.NotNull(plan.Problem);
        Assert.Contains("2.4 megapixels", plan.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vary_queues_a_whole_image_img2img_of_the_result_that_runs()
    {
        var user = await host.CreateUserAsync("vary@example.com");
        var made = await MakeAsync(user, "a red door", 320, 256);

        var submitted = await Loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.VarySubtle);

        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(JobMode.MaskedEdit, job.Mode);
        Assert.Equal(made.OutputImageId, job.Settings.SourceImageId);
        Assert.Equal(ResultLoop.SubtleStrength, job.Settings.Strength);
        Assert.NotEqual(made.Settings.Seed, job.Settings.Seed);
        Assert.Equal((320, 256), (job.ResolvedWidth, job.ResolvedHeight));
        var mask = await host.WithDbAsync(db => db.Images.SingleAsync(i => i.Id == job.Settings.MaskImageId));
        Assert.Equal((StoredImageKind.Mask, user.UserId, 320, 256), (mask.Kind, mask.OwnerId, mask.Width, mask.Height));
        using var pixels = await Image.LoadAsync<L8>(host.Services.GetRequiredService<ImageStore>().FullPath(mask.RelativePath));
        Assert.True(AllWhite(pixels), "A vary's mask repaints the whole picture.");
        var seen = engine.Inputs.Single(i => i.Prompt == "a red door" && i.Source is not null);
        Assert.Equal((320, 256), seen.Mask);
    }

    [Fact]
    public async Task Varies_share_one_whole_mask_per_size_which_goes_with_the_last_image_made_with_it()
    {
        var user = await host.CreateUserAsync("many-varies@example.com");
        var made = await MakeAsync(user, "a yellow tram", 320, 256);
        var other = await MakeAsync(user, "a grey tram", 256, 320);
        var painted = await PaintedMaskEditAsync(user, made.OutputImageId!.Value);

        var varies = new List<Job>();
        foreach (var action in (LoopAction[])[LoopAction.VarySubtle, LoopAction.VaryStrong, LoopAction.VarySubtle, LoopAction.VaryStrong])
        {
            var submitted = await Loop.SubmitAsync(user, made.OutputImageId!.Value, action);
            Assert.True(submitted.Accepted, submitted.Error);
            varies.Add(await host.WaitForEndAsync(submitted.JobIds.Single()));
        }

        var sideways = await Loop.SubmitAsync(user, other.OutputImageId!.Value, LoopAction.VarySubtle);
        Assert.True(sideways.Accepted, sideways.Error);
        var sidewaysJob = await host.WaitForEndAsync(sideways.JobIds.Single());

        // Four varies of one size use one mask; another size has its own; the painted mask is the user's own.
        Assert.All(varies, v => Assert.Equal(JobState.Succeeded, v.State));
        var shared = Assert.Single(varies.Select(v => v.Settings.MaskImageId!.Value).Distinct());
        Assert.NotEqual(shared, sidewaysJob.Settings.MaskImageId);
        Assert.Equal(3, await MaskCountAsync(user));
        var store = host.Services.GetRequiredService<ImageStore>();
        var sharedRow = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == shared));
        var sharedFile = store.FullPath(sharedRow.RelativePath);

        // "Use these settings" on any vary still finds the mask while an image made with it is left.
        var gallery = host.Services.GetRequiredService<GalleryActions>();
        foreach (var vary in varies.SkipLast(1))
        {
            Assert.Equal(GalleryActionOutcome.Done, (await gallery.DeleteAsync(user, vary.OutputImageId!.Value, "test")).Outcome);
        }

        Assert.True(File.Exists(sharedFile));
        var reader = host.Services.GetRequiredService<JobSettingsReader>();
        Assert.Equal(shared, (await reader.ForImageAsync(user, varies[^1].OutputImageId!.Value)).Settings!.Settings.MaskImageId);

        // The last one takes the shared mask with it (row and file); the other size's and the painted one stay.
        Assert.Equal(GalleryActionOutcome.Done, (await gallery.DeleteAsync(user, varies[^1].OutputImageId!.Value, "test")).Outcome);
        Assert.False(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == shared)));
        Assert.False(File.Exists(sharedFile));
        Assert.Equal(2, await MaskCountAsync(user));
        Assert.Equal(GalleryActionOutcome.Done, (await gallery.DeleteAsync(user, painted.OutputImageId!.Value, "test")).Outcome);
        Assert.True(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == painted.Settings.MaskImageId)));

        // A vary after that stores the size's mask again, once.
        var again = await Loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.VarySubtle);
        Assert.True(again.Accepted, again.Error);
        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(again.JobIds.Single())).State);
        Assert.Equal(3, await MaskCountAsync(user));
    }

    [Fact]
    public async Task A_refused_vary_leaves_no_mask_behind()
    {
        await using var spent = await QuotaSpentAsync("refused-vary");
        var (limited, user, made) = (spent.Host, spent.User, spent.Made);
        var loop = spent.Loop;

        for (var i = 0; i < 5; i++)
        {
            Assert.False((await loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.VarySubtle)).Accepted);
        }

        Assert.Equal(0, await limited.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == user.UserId && i.Kind == StoredImageKind.Mask)));
        Assert.DoesNotContain(
            Directory.EnumerateFiles(limited.Services.GetRequiredService<ImageStore>().Root, "*.png", SearchOption.AllDirectories),
            file => !Path.GetFileName(file).StartsWith("job-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task More_like_this_continues_after_the_batch_with_the_same_settings()
    {
        var user = await host.CreateUserAsync("more@example.com");
        var batch = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("a blue bird", count: 3, seed: 100));
        var first = await host.WaitForEndAsync(batch.JobIds[0]);
        foreach (var id in batch.JobIds.Skip(1))
        {
            await host.WaitForEndAsync(id);
        }

        var more = await Loop.SubmitAsync(user, first.OutputImageId!.Value, LoopAction.MoreLikeThis, count: 2);

        Assert.True(more.Accepted, more.Error);
        Assert.Equal(103UL, more.Seed);
        var jobs = await Task.WhenAll(more.JobIds.Select(host.JobAsync));
        Assert.Equal([103UL, 104UL], jobs.Select(j => j.Settings.Seed!.Value).Order());
        Assert.All(jobs, j => Assert.Equal(("a blue bird", QueueHost.ModelId, JobMode.TextToImage), (j.Settings.Prompt, j.Settings.ModelId, j.Mode)));
    }

    [Fact]
    public async Task Upscale_queues_the_result_as_reference_at_twice_its_size()
    {
        var user = await host.CreateUserAsync("upscale@example.com");
        var made = await MakeAsync(user, "a green hill", 320, 256);

        var submitted = await Loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.UpscaleTwice);

        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal((640, 512), (job.ResolvedWidth, job.ResolvedHeight));
        Assert.Equal([made.OutputImageId!.Value], job.Settings.ReferenceImageIds);
        var output = await host.WithDbAsync(db => db.Images.SingleAsync(i => i.Id == job.OutputImageId));
        Assert.Equal((640, 512), (output.Width, output.Height));
    }

    [Fact]
    public async Task Upscale_too_large_is_refused_before_anything_is_queued()
    {
        var user = await host.CreateUserAsync("big@example.com");
        var made = await MakeAsync(user, "a wide field", 1088, 256);

        var refused = await Loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.UpscaleTwice);

        Assert.False(refused.Accepted);
        Assert.Contains("2176×512", refused.Error, StringComparison.Ordinal);
        Assert.Equal(1, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == user.UserId)));
    }

    [Theory]
    [InlineData(LoopAction.VarySubtle)]
    [InlineData(LoopAction.VaryStrong)]
    [InlineData(LoopAction.MoreLikeThis)]
    [InlineData(LoopAction.UpscaleTwice)]
    public async Task A_commercial_account_cannot_loop_on_a_non_commercial_image(LoopAction action)
    {
        var user = await host.CreateUserAsync($"switch-{action}@example.com", accountType: AccountType.NonCommercial);
        var made = await MakeAsync(user, "nc picture", 320, 256, QueueHost.OtherModelId);
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        var masksBefore = await host.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == user.UserId && i.Kind == StoredImageKind.Mask));

        var refused = await Loop.SubmitAsync(user, made.OutputImageId!.Value, action);

        Assert.False(refused.Accepted);
        Assert.True(refused.LicenceRefused, refused.Error);
        Assert.Equal(1, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == user.UserId)));
        Assert.Equal(masksBefore, await host.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == user.UserId && i.Kind == StoredImageKind.Mask)));
    }

    [Fact]
    public async Task Someone_elses_image_cannot_be_varied_or_upscaled()
    {
        var owner = await host.CreateUserAsync("owner@example.com");
        var other = await host.CreateUserAsync("other@example.com");
        var made = await MakeAsync(owner, "mine", 320, 256);

        foreach (var action in Enum.GetValues<LoopAction>())
        {
            var refused = await Loop.SubmitAsync(other, made.OutputImageId!.Value, action);
            Assert.False(refused.Accepted);
            Assert.False(refused.LicenceRefused);
        }

        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == other.UserId)));
    }

    [Fact]
    public async Task The_quota_applies_to_the_loop()
    {
        await using var spent = await QuotaSpentAsync("quota");
        var (user, made) = (spent.User, spent.Made);

        var refused = await spent.Loop.SubmitAsync(user, made.OutputImageId!.Value, LoopAction.VarySubtle);

        Assert.False(refused.Accepted);
        Assert.NotNull(refused.Refusal);
    }

    [Theory]
    [InlineData(0, 0, 0, 0, "at least one side needs a margin")]
    [InlineData(-16, 0, 0, 0, "The left margin cannot be negative (-16 was asked)")]
    [InlineData(0, 20, 0, 0, "The top margin must be a multiple of 16: 20 is not; use 16 or 32.")]
    [InlineData(0, 0, 1024, 1296, "1024×768 extended is 2048×2064, more than this server makes: at most 2048 px a side and 4.2 megapixels. Use smaller margins.")]
    [InlineData(0, 0, 1040, 0, "1024×768 extended is 2064×768")]
    [InlineData(int.MaxValue - 15, 0, 0, 0, "1024×768 extended is 2147484656×768")]
    [InlineData(0, 0, 0, int.MaxValue, "The bottom margin must be a multiple of 16: 2147483647 is not; use 2147483632 or 2147483648.")]
    [InlineData(0, 0, 1024, 0, null)]
    public void Margins_are_refused_with_what_would_be_accepted(int left, int top, int right, int bottom, string? problem)
    {
        var found = new CanvasMargins(left, top, right, bottom).Problem(1024, 768, Limits);

        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(problem, found, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_picture_at_the_limits_is_told_that_it_cannot_grow_not_to_use_smaller_margins()
    {
        var problem = new CanvasMargins(16, 0, 0, 0).Problem(2048, 2048, Limits);

        Assert.Contains("2048×2048 extended is 2064×2048", problem, StringComparison.Ordinal);
        Assert.Contains("This picture cannot grow here; ask an administrator to raise Inference:MaxSide and Inference:MaxPixels.", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("smaller margins", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_quick_choices_grow_evenly_on_the_16_pixel_grid_and_within_the_limits()
    {
        Assert.Equal(new CanvasMargins(256, 0, 256, 0), CanvasMargins.Grow(1024, 768, 0.5, 0, Limits));
        Assert.Equal(new CanvasMargins(0, 192, 0, 192), CanvasMargins.Grow(1024, 768, 0, 0.5, Limits));
        Assert.Equal(new CanvasMargins(128, 96, 128, 96), CanvasMargins.Grow(1024, 768, 0.25, 0.25, Limits));
        // A side at the limit cannot grow; the other still does.
        Assert.Equal(new CanvasMargins(0, 192, 0, 192), CanvasMargins.Grow(2048, 768, 0.5, 0.5, Limits));
        Assert.True(CanvasMargins.Grow(2048, 1024, 0.5, 0, Limits).IsEmpty);

        // Within a smaller pixel budget both shrink until the area fits, and the result is as large as fits.
        var budget = new GenerationLimits { MaxPixels = 1536L * 1536 };
        var grown = CanvasMargins.Grow(1024, 1024, 1, 1, budget);
        var (wide, high) = grown.Around(1024, 1024);
        Assert.Null(grown.Problem(1024, 1024, budget));
        Assert.True(wide * high > (1536L * 1536) - (2 * 16 * 2048), $"{wide}×{high} is far below the budget.");
    }

    [Fact]
    public void An_extensions_canvas_keeps_the_picture_continues_its_edges_and_its_mask_paints_the_margins_and_the_seam()
    {
        using var picture = new Image<Rgb24>(64, 48, new Rgb24(200, 50, 10));
        picture[10, 10] = new Rgb24(0, 255, 0);

        using var extended = CanvasExtension.Compose(picture, new CanvasMargins(32, 16, 0, 0));

        Assert.Equal((96, 64), (extended.Canvas.Width, extended.Canvas.Height));
        Assert.Equal((96, 64), (extended.Mask.Width, extended.Mask.Height));
        // The picture, pixel for pixel, at its place.
        Assert.Equal(new Rgb24(0, 255, 0), extended.Canvas[32 + 10, 16 + 10]);
        Assert.Equal(new Rgb24(200, 50, 10), extended.Canvas[32 + 63, 16 + 47]);
        // The margins continue its colours (not a black frame the model would keep).
        foreach (var (x, y) in new[] { (0, 0), (0, 63), (31, 40), (95, 0) })
        {
            var pixel = extended.Canvas[x, y];
            Assert.True(Math.Abs(pixel.R - 200) <= 3 && Math.Abs(pixel.G - 50) <= 3 && Math.Abs(pixel.B - 10) <= 3, $"({x},{y}) is {pixel}");
        }

        // Repainted: the margins and one step into the picture beside them; kept: the rest, up to the sides that do not grow.
        Assert.Equal(255, extended.Mask[31, 40].PackedValue);
        Assert.Equal(255, extended.Mask[32 + 15, 40].PackedValue);
        Assert.Equal(0, extended.Mask[32 + 16, 40].PackedValue);
        Assert.Equal(255, extended.Mask[60, 16 + 15].PackedValue);
        Assert.Equal(0, extended.Mask[60, 16 + 16].PackedValue);
        Assert.Equal(0, extended.Mask[95, 63].PackedValue);
    }

    [Fact]
    public async Task Extend_queues_a_masked_edit_of_the_larger_canvas_that_runs_at_the_new_size()
    {
        var user = await host.CreateUserAsync("extend@example.com");
        var made = await MakeAsync(user, "a red door", 320, 256);

        var submitted = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(64, 0, 64, 0), "  a red door in a long brick wall ");

        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(JobMode.MaskedEdit, job.Mode);
        Assert.Equal((448, 256), (job.ResolvedWidth, job.ResolvedHeight));
        Assert.Equal(("a red door in a long brick wall", 1f, true), (job.Settings.Prompt, job.Settings.Strength, job.Settings.Feather));
        Assert.NotEqual(made.Settings.Seed, job.Settings.Seed);
        Assert.Empty(job.Settings.ReferenceImageIds);

        // The canvas is the person's input, carrying the licence of the image its pixels came from.
        var original = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == made.OutputImageId));
        var canvas = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == job.Settings.SourceImageId));
        Assert.Equal(
            (StoredImageKind.Upload, user.UserId, 448, 256, original.ModelId, original.LicenceId, original.CommercialUse),
            (canvas.Kind, canvas.OwnerId, canvas.Width, canvas.Height, canvas.ModelId, canvas.LicenceId, canvas.CommercialUse));
        var store = host.Services.GetRequiredService<ImageStore>();
        using (var pixels = await Image.LoadAsync<Rgb24>(store.FullPath(canvas.RelativePath)))
        using (var before = await Image.LoadAsync<Rgb24>(store.FullPath(original.RelativePath)))
        {
            Assert.Equal(before[0, 0], pixels[64, 0]);
            Assert.Equal(before[319, 255], pixels[64 + 319, 255]);
        }

        var mask = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == job.Settings.MaskImageId));
        Assert.Equal((StoredImageKind.Mask, 448, 256), (mask.Kind, mask.Width, mask.Height));
        using (var painted = await Image.LoadAsync<L8>(store.FullPath(mask.RelativePath)))
        {
            Assert.Equal([255, 255, 0, 0, 255, 255], new[] { 0, 64 + 15, 64 + 16, 64 + 319 - 16, 64 + 320 - 16, 447 }.Select(x => (int)painted[x, 128].PackedValue));
        }

        var seen = engine.Inputs.Single(i => i.Prompt == "a red door in a long brick wall");
        Assert.Equal((448, 256), seen.Mask);
        var output = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == job.OutputImageId));
        Assert.Equal((448, 256), (output.Width, output.Height));
    }

    [Fact]
    public async Task An_extension_without_a_prompt_takes_the_images_own_and_bad_margins_store_nothing()
    {
        var user = await host.CreateUserAsync("extend-own@example.com");
        var made = await MakeAsync(user, "a green hill", 320, 256);
        var inputsBefore = await InputCountAsync(host, user);

        var refused = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(0, 24, 0, 0));
        Assert.False(refused.Accepted);
        Assert.Contains("multiple of 16: 24 is not; use 16 or 32", refused.Error, StringComparison.Ordinal);
        var tooLong = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(0, 16, 0, 0), new string('a', GenerationLimits.MaxPromptCharacters + 1));
        Assert.Contains("The prompt is too long", tooLong.Error, StringComparison.Ordinal);
        Assert.Equal(inputsBefore, await InputCountAsync(host, user));

        var submitted = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(0, 32, 0, 0), prompt: " ");
        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(("a green hill", 320, 288), (job.Settings.Prompt, job.ResolvedWidth, job.ResolvedHeight));
    }

    [Fact]
    public async Task A_refused_extension_leaves_no_canvas_or_mask_behind()
    {
        await using var spent = await QuotaSpentAsync("refused-extend");
        var (limited, user, made) = (spent.Host, spent.User, spent.Made);
        var loop = spent.Loop;

        var refused = await loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(32, 32, 32, 32));

        Assert.False(refused.Accepted);
        Assert.NotNull(refused.Refusal);
        Assert.Equal(0, await InputCountAsync(limited, user));
        Assert.DoesNotContain(
            Directory.EnumerateFiles(limited.Services.GetRequiredService<ImageStore>().Root, "*.png", SearchOption.AllDirectories),
            file => !Path.GetFileName(file).StartsWith("job-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_extensions_canvas_carries_the_licence_so_a_switch_to_commercial_keeps_it_out()
    {
        var user = await host.CreateUserAsync("extend-nc@example.com", accountType: AccountType.NonCommercial);
        var made = await MakeAsync(user, "nc picture", 320, 256, QueueHost.OtherModelId);
        var extended = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(32, 0, 32, 0));
        Assert.True(extended.Accepted, extended.Error);
        var job = await host.WaitForEndAsync(extended.JobIds.Single());
        var canvasId = job.Settings.SourceImageId!.Value;
        Assert.False(await host.WithDbAsync(db => db.Images.Where(i => i.Id == canvasId).Select(i => i.CommercialUse == true).SingleAsync()));

        await host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));

        // Not extended again, not used as an input ("use these settings" on the job), not read.
        var again = await Loop.ExtendAsync(user, made.OutputImageId!.Value, new CanvasMargins(32, 0, 32, 0));
        Assert.True(again.LicenceRefused, again.Error);
        var reused = await host.Generation.SubmitAsync(user.UserId, new JobRequest { Settings = job.Settings with { ModelId = QueueHost.ModelId, Seed = null } });
        Assert.True(reused.LicenceRefused, reused.Error);
        var read = await host.Services.GetRequiredService<ImageAccess>().OpenAsync(user, canvasId, new ImageRead(LicencedAction.View, "test"));
        Assert.Equal(ImageAccessOutcome.LicenceRefused, read.Outcome);
        Assert.Equal(2, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == user.UserId)));
    }

    [Fact]
    public async Task Someone_elses_image_cannot_be_extended()
    {
        var owner = await host.CreateUserAsync("extend-owner@example.com");
        var other = await host.CreateUserAsync("extend-other@example.com");
        var made = await MakeAsync(owner, "mine", 320, 256);

        var refused = await Loop.ExtendAsync(other, made.OutputImageId!.Value, new CanvasMargins(32, 0, 32, 0));

        Assert.False(refused.Accepted);
        Assert.False(refused.LicenceRefused);
        Assert.Equal(0, await host.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == other.UserId)));
    }

    private static Task<int> InputCountAsync(QueueHost queue, JobActor user) =>
        queue.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == user.UserId && i.Kind != StoredImageKind.Output));

    /// <summary>A host of its own whose users may make one image a day, with that image made: every loop action on it is over the quota.</summary>
    private async Task<QuotaSpent> QuotaSpentAsync(string name)
    {
        var quotaFolder = new TempFolder($"fluxweb-loop-{name}");
        var limited = await QueueHost.StartAsync(quotaFolder.Path, engine, new Dictionary<string, string?> { ["Quotas:Roles:User:ImagesPerDay"] = "1" });
        var user = await limited.CreateUserAsync($"{name}@example.com");
        var request = QueueHost.Request("only one");
        var made = await limited.WaitForEndAsync((await limited.Generation.SubmitAsync(user.UserId, request with { Settings = request.Settings with { Width = 320, Height = 256 } })).JobIds.Single());
        return new QuotaSpent(quotaFolder, limited, user, made);
    }

    private sealed record QuotaSpent(TempFolder Folder, QueueHost Host, JobActor User, Job Made) : IAsyncDisposable
    {
        public ResultLoop Loop => Host.Services.GetRequiredService<ResultLoop>();

        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            Folder.Dispose();
        }
    }

    private async Task<Job> MakeAsync(JobActor user, string prompt, int width, int height, string model = QueueHost.ModelId)
    {
        var request = QueueHost.Request(prompt, model: model);
        var submitted = await host.Generation.SubmitAsync(user.UserId, request with { Settings = request.Settings with { Width = width, Height = height } });
        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        return job;
    }

    private Task<int> MaskCountAsync(JobActor user) =>
        host.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == user.UserId && i.Kind == StoredImageKind.Mask));

    /// <summary>A masked edit with a mask the person painted (left half): such masks are theirs, not the loop's.</summary>
    private async Task<Job> PaintedMaskEditAsync(JobActor user, Guid sourceId)
    {
        using var mask = new Image<L8>(320, 256);
        mask.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                rows.GetRowSpan(y)[..160].Fill(new L8(255));
            }
        });
        using var png = new MemoryStream();
        await mask.SaveAsPngAsync(png);
        var stored = await host.Services.GetRequiredService<ImageStore>().SaveMaskAsync(user.UserId, png.ToArray(), 320, 256);
        var request = QueueHost.Request("a painted door");
        var submitted = await host.Generation.SubmitAsync(user.UserId, request with { Settings = request.Settings with { SourceImageId = sourceId, MaskImageId = stored.Id, Strength = 0.8f } });
        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        return job;
    }

    private static bool AllWhite(Image<L8> image)
    {
        var white = true;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height && white; y++)
            {
                white = rows.GetRowSpan(y).IndexOfAnyExcept(new L8(255)) < 0;
            }
        });
        return white;
    }
}
