using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Administration;
using FluxWeb.Persistence.Jobs;
using FluxWeb.Testing;
using FluxWeb.Testing.Safety;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>The flows on the app <see cref="LivedInBrowserSession"/> set up share it and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class LivedInCollection : ICollectionFixture<LivedInBrowserSession>
{
    public const string Name = "lived-in app";
}

/// <summary>
/// The app as a team has been using it for a while (fake engine, test models): an administrator,
/// users with long e-mail addresses, finished, failed, cancelled, running and waiting jobs, a refused
/// request, an API key, a flagged output, a model package that does not load. Pages are judged with
/// what they show on a real day, not empty.
/// </summary>
public sealed class LivedInBrowserSession : BrowserSession
{
    public const string AdminEmail = "ops-admin@example.com";
    public const string DanaEmail = "dana@studio-northwind.example.com";
    public const string BobEmail = "bob.marketing-team@example.com";
    public const string BrokenModelId = "klein-9b-community-export";

    private FakeImageGenerator.Hold? hold;

    public FakeImageGenerator Engine { get; } = new();

    /// <summary>An output of this server's, to check on the admin "Check an image" page.</summary>
    public string OutputFile { get; private set; } = "";

    /// <summary>One of Dana's outputs (not the flagged one), for the image detail page.</summary>
    public Guid DanaImageId { get; private set; }

    protected override FluxWebFactory CreateFactory() => new FluxWebFactory().WithEngine(Engine);

    protected override async Task<string> StartAppAsync()
    {
        var address = await base.StartAppAsync();
        await SeedAsync();
        return address;
    }

    private async Task SeedAsync()
    {
        var services = Factory.Services;
        await CreateAccountAsync(AdminEmail, role: Roles.Admin);
        await CreateAccountAsync(DanaEmail, accountType: "NonCommercial");
        await CreateAccountAsync(BobEmail);
        var admin = await UserIdAsync(AdminEmail);
        var dana = await UserIdAsync(DanaEmail);
        var bob = await UserIdAsync(BobEmail);

        var (key, keyError) = await services.GetRequiredService<ApiKeyService>().CreateAsync(dana, "nightly render farm", ApiKeyScope.Generate, ChangeActor.CommandLine);
        Assert.True(key is not null, keyError);

        // Finished work in the galleries, one output flagged for review. The lighthouse is a picture big and
        // busy enough to carry the invisible watermark, so "Check an image" traces it back to its job.
        Engine.Picture = request => request.Prompt.StartsWith("a lighthouse", StringComparison.Ordinal)
            ? TestPictures.Photo(512, 512, seed: 3, sky: new(70, 130, 200), ground: new(60, 120, 40)).CloneAs<Rgb24>()
            : new Image<Rgb24>(64, 64, FakeImageGenerator.ColourOf(request.Seed));
        var generation = services.GetRequiredService<GenerationService>();
        var finished = new List<Guid>();
        foreach (var (owner, prompt, seed) in new[]
        {
            (dana, "a lighthouse at dusk over a rough sea, long exposure, teal and orange", 7UL),
            (dana, "a red fox in fresh snow, soft morning light", 11UL),
            (dana, "isometric illustration of a tiny bakery with a striped awning", 13UL),
            (admin, "product shot of a ceramic mug on a walnut table", 17UL),
        })
        {
            finished.Add(await RunAsync(owner, QueueHost.Request(prompt, seed: seed)));
        }

        await using (var db = await Db())
        {
            var flagged = await db.Images.SingleAsync(i => i.JobId == finished[1]);
            flagged.SafetyVerdict = ContentPolicy.FlaggedVerdict;
            flagged.NsfwScore = 0.91;
            var output = await db.Images.SingleAsync(i => i.JobId == finished[0]);
            OutputFile = services.GetRequiredService<ImageStore>().FullPath(output.RelativePath);
            DanaImageId = output.Id;
            await db.SaveChangesAsync();
        }

        Engine.FailAt = (request, step) => request.Prompt.Contains("engine trouble", StringComparison.Ordinal) && step == 2 ? FakeImageGenerator.OutOfMemory() : null;
        await RunAsync(dana, QueueHost.Request("engine trouble: a cathedral interior at 2048 px", seed: 19), JobState.Failed);

        // A refused request for the usage page: a Commercial account asks for the non-commercial model.
        var refused = await generation.SubmitAsync(bob, QueueHost.Request("a poster for the spring campaign", model: QueueHost.OtherModelId));
        Assert.False(refused.Accepted);

        // One job runs (held at a step) while others wait; one of them is cancelled.
        hold = Engine.HoldNextJob(step: 2);
        var running = await generation.SubmitAsync(dana, QueueHost.Request("a mountain village under northern lights, wide angle", seed: 23));
        Assert.True(running.Accepted, running.Error);
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        var waiting = await generation.SubmitAsync(dana, QueueHost.Request("a mountain village under northern lights, variation", count: 2, seed: 29));
        Assert.True(waiting.Accepted, waiting.Error);
        var bobs = await generation.SubmitAsync(bob, QueueHost.Request("a billboard mock-up in a rainy street at night", seed: 31));
        Assert.True(bobs.Accepted, bobs.Error);
        Assert.Equal(CancelOutcome.Cancelled, await services.GetRequiredService<JobService>().CancelAsync(new JobActor(dana, false), waiting.JobIds[1]));

        // A demo package as `models create-demo --variant base` labels it, and a package whose manifest does not
        // load: its reason is long, as real ones are.
        TestModelPackages.WriteCatalogOnly(Factory.ModelsDirectory, "demo-base-nc", ModelLicence.FluxNonCommercial(), family: "demo-tiny", variant: ModelVariant.Base,
            demo: true, displayName: "FLUX.2 [klein] Base demo (non-commercial)");
        var broken = Path.Combine(Factory.ModelsDirectory, BrokenModelId);
        Directory.CreateDirectory(broken);
        await File.WriteAllTextAsync(Path.Combine(broken, ModelPackageManifest.FileName), "{ \"schemaVersion\": 1, \"id\": \"klein-9b-community-export\" }");

        // For the storage page: a file whose upload never got its row, and a row whose file a restore lost.
        var lost = Path.Combine(services.GetRequiredService<ImageStore>().Root, "2026", "11", "a-long-lost-upload-0b6f0c6ee1e84d7fa4b7a3d2c1e0f9a8.png");
        Directory.CreateDirectory(Path.GetDirectoryName(lost)!);
        await File.WriteAllBytesAsync(lost, new byte[2048]);
        File.SetLastWriteTimeUtc(lost, DateTime.UtcNow - TimeSpan.FromHours(3));
        await using (var db = await Db())
        {
            db.Images.Add(new StoredImage { OwnerId = bob, RelativePath = "images/2026/10/restored-without-its-file-5d1f0a3c9b2e4f6a8c7d6e5f4a3b2c1d.png", ContentType = "image/png", Sha256 = "00" });
            await db.SaveChangesAsync();
        }

        // What an interrupted pull leaves: the admin page lists it under "Builds and pulls".
        var download = Path.Combine(Factory.ModelsDirectory, ModelPuller.DownloadsFolder, "black-forest-labs--FLUX.2-klein-4B", "transformer");
        Directory.CreateDirectory(download);
        await File.WriteAllBytesAsync(Path.Combine(download, "diffusion_pytorch_model.safetensors.partial"), new byte[4096]);
    }

    private async Task<Guid> RunAsync(string ownerId, JobRequest request, JobState expected = JobState.Succeeded)
    {
        var submitted = await Factory.Services.GetRequiredService<GenerationService>().SubmitAsync(ownerId, request);
        Assert.True(submitted.Accepted, submitted.Error);
        var id = submitted.JobIds[0];
        var state = JobState.Queued;
        await Eventually.Until(
            async () =>
            {
                await using var db = await Db();
                state = await db.Jobs.Where(j => j.Id == id).Select(j => j.State).SingleAsync();
                return state.IsFinished();
            },
            () => $"Job {id} is still {state}.",
            TimeSpan.FromSeconds(30));
        Assert.Equal(expected, state);
        return id;
    }

    private Task<FluxWebDbContext> Db() => Factory.Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();

    public async Task<string> UserIdAsync(string email)
    {
        await using var db = await Db();
        return await db.Users.Where(u => u.Email == email).Select(u => u.Id).SingleAsync();
    }

    /// <summary>A page in <paramref name="theme"/> ("light" or "dark"), as the theme cookie sets it.</summary>
    public async Task<IPage> NewThemedPageAsync(string theme, int width = 1440, int height = 900)
    {
        var page = await NewPageAsync(width, height);
        await page.Context.AddCookiesAsync([new Cookie { Name = "fluxweb.theme", Value = theme, Url = BaseUrl }]);
        return page;
    }

    protected override Task StopAppAsync()
    {
        hold?.Release();
        return base.StopAppAsync();
    }
}
