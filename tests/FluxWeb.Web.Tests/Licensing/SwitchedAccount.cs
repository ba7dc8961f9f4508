using System.Globalization;
using System.Net.Http.Headers;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Licensing;

/// <summary>
/// The attack the licence findings of issue 19 start from: Nico's account was NonCommercial and made
/// images with the non-commercial test model; an administrator then switched it to Commercial
/// (confirmed, as <c>fluxweb users set --account-type Commercial --confirm</c> does). Nico keeps a
/// cookie session and an API key; Ada is a Commercial colleague. Every door must now refuse Nico (and
/// Ada) what the non-commercial model made, in any form.
/// </summary>
public sealed class SwitchedAccount : IAsyncLifetime
{
    /// <summary>Words only the non-commercial job's prompt contains: finding them anywhere in an answer is a leak.</summary>
    public const string SecretPrompt = "nc-only lighthouse of glass";

    /// <summary>Mid grey in the fake engine (its colour is the seed's bytes), a picture the watermark reads back from reliably.</summary>
    public const ulong SecretSeed = 0x808080;

    public FakeImageGenerator Engine { get; } = new();

    public FluxWebFactory Factory { get; private set; } = default!;

    public SiteClient Nico { get; private set; } = default!;

    public SiteClient Ada { get; private set; } = default!;

    public string AdminId { get; private set; } = "";

    public string NicoId { get; private set; } = "";

    public string AdaId { get; private set; } = "";

    public string NicoKey { get; private set; } = "";

    public string AdaKey { get; private set; } = "";

    /// <summary>The non-commercial model's job and its output, made while Nico was NonCommercial.</summary>
    public Guid NcJob { get; private set; }

    public Guid NcImage { get; private set; }

    /// <summary>The non-commercial output's file as Nico downloaded it before the switch (watermarked, signed).</summary>
    public byte[] NcPng { get; private set; } = [];

    /// <summary>An Apache-2.0 output of Nico's, which stays his.</summary>
    public Guid ApacheImage { get; private set; }

    public byte[] ApachePng { get; private set; } = [];

    /// <summary>A picture Nico uploaded (a source for masked edits).</summary>
    public Guid Upload { get; private set; }

    /// <summary>The canvas of an extension of the non-commercial output (Nico's input, carrying that output's licence).</summary>
    public Guid NcCanvas { get; private set; }

    /// <summary>A non-commercial job that was running (held at step 2, with a preview) when the account was switched.</summary>
    public Guid RunningNcJob { get; private set; }

    /// <summary>A non-commercial job waiting behind it.</summary>
    public Guid QueuedNcJob { get; private set; }

    /// <summary>Nico's board, shared with the team before the switch, with the non-commercial and the Apache output on it.</summary>
    public Guid NcBoard { get; private set; }

    /// <summary>Nico's shares made before the switch: the non-commercial output with Ada, and one he ends in a probe.</summary>
    public Guid NcImageShare { get; private set; }

    public Guid ShareToEnd { get; private set; }

    /// <summary>Keeps <see cref="RunningNcJob"/> at step 2 until a test lets it go (or the fixture ends).</summary>
    public FakeImageGenerator.Hold Running { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(Engine);
        var admin = new SiteClient(Factory.CreateBrowserClient());
        Nico = new SiteClient(Factory.CreateBrowserClient());
        Ada = new SiteClient(Factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");
        await Nico.RegisterAsync("nico@example.com");
        await Ada.RegisterAsync("ada@example.com");
        AdminId = await UserIdAsync("admin@example.com");
        NicoId = await UserIdAsync("nico@example.com");
        AdaId = await UserIdAsync("ada@example.com");
        await WithDbAsync(db => db.Users.Where(u => u.Id == NicoId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.NonCommercial)));
        NicoKey = await CreateKeyAsync(NicoId, "nico script");
        AdaKey = await CreateKeyAsync(AdaId, "ada script");

        var generation = Factory.Service<GenerationService>();
        var nc = await generation.SubmitAsync(NicoId, QueueHost.Request(SecretPrompt, seed: SecretSeed, model: QueueHost.OtherModelId).With(s => s with { Width = 256, Height = 256 }));
        Assert.True(nc.Accepted, nc.Error);
        NcJob = nc.JobIds.Single();
        NcImage = (await WaitForEndAsync(NicoId, NcJob)).OutputImageId!.Value;
        var apache = await generation.SubmitAsync(NicoId, QueueHost.Request("an apache harbour", seed: 0x606060).With(s => s with { Width = 256, Height = 256 }));
        ApacheImage = (await WaitForEndAsync(NicoId, apache.JobIds.Single())).OutputImageId!.Value;
        using (var key = KeyClient(NicoKey))
        {
            NcPng = await key.GetByteArrayAsync($"/api/v1/images/{NcImage}?download=true");
            ApachePng = await key.GetByteArrayAsync($"/api/v1/images/{ApacheImage}?download=true");
        }

        using (var picture = new Image<Rgb24>(256, 256, new Rgb24(20, 30, 40)))
        using (var png = new MemoryStream())
        {
            await picture.SaveAsPngAsync(png);
            png.Position = 0;
            Upload = (await Factory.Service<ImageStore>().SaveUploadAsync(NicoId, png)).Id;
        }

        var nico = new JobActor(NicoId, IsAdmin: false);
        var extended = await Factory.Service<ResultLoop>().ExtendAsync(nico, NcImage, new CanvasMargins(32, 0, 32, 0), channel: "test");
        Assert.True(extended.Accepted, extended.Error);
        NcCanvas = (await WaitForEndAsync(NicoId, extended.JobIds.Single())).Settings.SourceImageId!.Value;

        var boards = Factory.Service<BoardService>();
        NcBoard = (await boards.CreateAsync(nico, "nico's team board")).Value!.Id;
        Assert.Equal([NcImage, ApacheImage], (await boards.AddImagesAsync(nico, NcBoard, [NcImage, ApacheImage])).Value!.Added);
        Assert.True((await boards.ShareAsync(nico, ShareTarget.Board(NcBoard), null, ShareRole.Contributor, "ui")).Succeeded);
        NcImageShare = (await boards.ShareAsync(nico, ShareTarget.Image(NcImage), "ada@example.com", ShareRole.Viewer, "ui")).Value!.Id;
        ShareToEnd = (await boards.ShareAsync(nico, ShareTarget.Image(ApacheImage), "ada@example.com", ShareRole.Viewer, "ui")).Value!.Id;

        Running = Engine.HoldNextJob(step: 2);
        RunningNcJob = (await generation.SubmitAsync(NicoId, QueueHost.Request(SecretPrompt, seed: SecretSeed + 1, model: QueueHost.OtherModelId))).JobIds.Single();
        await Running.Reached.WaitAsync(TimeSpan.FromSeconds(20));
        QueuedNcJob = (await generation.SubmitAsync(NicoId, QueueHost.Request(SecretPrompt, seed: SecretSeed + 2, model: QueueHost.OtherModelId))).JobIds.Single();

        var switched = await Factory.Service<UserAdministration>().ChangeAsync(
            NicoId, new UserChange { AccountType = AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.CommandLine);
        Assert.True(switched.Succeeded, switched.Error);
    }

    /// <summary>The non-commercial job's traces a leak would carry: its prompt, seed and ids.</summary>
    public IReadOnlyList<string> Secrets =>
        [
            SecretPrompt,
            .. new[] { SecretSeed, SecretSeed + 1, SecretSeed + 2 }.Select(seed => seed.ToString(CultureInfo.InvariantCulture)),
            .. new[] { NcJob, NcImage, NcCanvas, RunningNcJob, QueuedNcJob }.SelectMany(id => new[] { id.ToString(), id.ToString("N") }),
        ];

    public Task<string> CreateKeyAsync(string userId, string name, ApiKeyScope scope = ApiKeyScope.Generate) => Factory.CreateKeyAsync(userId, name, scope);

    public HttpClient KeyClient(string key) => Factory.KeyClient(key);

    public Task<string> UserIdAsync(string email) => Factory.UserIdAsync(email);

    public Task<T> WithDbAsync<T>(Func<FluxWebDbContext, Task<T>> work) => Factory.WithDbAsync(work);

    /// <summary>Reads the row, not the owner's view: a switched owner may no longer see the job at all.</summary>
    public async Task<Job> WaitForEndAsync(string ownerId, Guid jobId)
    {
        Job? job = null;
        await Eventually.Value(async () => job = await WithDbAsync(db => db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId && j.OwnerId == ownerId)), j => j!.State.IsFinished(), () => $"Job {jobId} is {job?.State}.");
        Assert.True(job!.State == JobState.Succeeded, $"Job {jobId} {job.State}: {job.Error}");
        return job;
    }

    public Task DisposeAsync()
    {
        Running?.Release();
        Factory.Dispose();
        return Task.CompletedTask;
    }
}
