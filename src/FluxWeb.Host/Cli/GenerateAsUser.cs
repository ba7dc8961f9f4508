using System.Diagnostics;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb generate --user EMAIL</c>: the request goes through <see cref="GenerationService"/> like
/// the Studio's and the API's (channel <c>cli</c>), so a Commercial account is refused a
/// non-commercial model here too, and the refusal is audited. The job worker runs in this process
/// until the job ends; job claims are atomic, so a server on the same data folder may run it instead.
/// </summary>
internal sealed record GenerateAsUser(
    string Email,
    // The options as settings; the input pictures are files here and become the account's uploads.
    GenerationSettings Settings,
    string[] References,
    string? Source,
    string? Mask,
    string OutFile)
{
    public static async Task<int> RunAsync(CliOutput output, GenerateAsUser request, IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken)
    {
        foreach (var path in request.References.Append(request.Source).Append(request.Mask).OfType<string>())
        {
            if (!File.Exists(path))
            {
                return output.Fail($"Image file '{path}' does not exist.");
            }
        }

        using var host = await CliHost.StartAsync(overrides, cancellationToken, migrate: true, worker: true);
        try
        {
            return await RunAsync(output, request, host.Services, cancellationToken);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<int> RunAsync(CliOutput output, GenerateAsUser request, IServiceProvider services, CancellationToken cancellationToken)
    {
        var account = await services.GetRequiredService<UserAdministration>().FindByEmailAsync(request.Email, ChangeActor.CommandLine, cancellationToken);
        if (account is null)
        {
            return output.Fail($"no account with the e-mail '{request.Email.Trim()}'.");
        }

        var actor = new JobActor(account.Id, IsAdmin: false);
        var store = services.GetRequiredService<ImageStore>();
        async Task<Guid> UploadAsync(string path, bool screen, StoredImageKind kind = StoredImageKind.Upload)
        {
            await using var file = File.OpenRead(path);
            return (await store.SaveUploadAsync(account.Id, file, Path.GetFileName(path), screen, kind, "cli", cancellationToken)).Id;
        }

        List<Guid> referenceIds = [];
        Guid? sourceId = null;
        Guid? maskId = null;
        try
        {
            foreach (var reference in request.References)
            {
                referenceIds.Add(await UploadAsync(reference, screen: true));
            }

            sourceId = request.Source is { } source ? await UploadAsync(source, screen: true) : null;
            maskId = request.Mask is { } mask ? await UploadAsync(mask, screen: false, StoredImageKind.Mask) : null;
        }
        catch (InvalidImageException ex)
        {
            return output.Fail(ex.Message);
        }

        var started = Stopwatch.GetTimestamp();
        var settings = request.Settings with { ReferenceImageIds = referenceIds, SourceImageId = sourceId, MaskImageId = maskId };
        var submitted = await services.GetRequiredService<GenerationService>().SubmitAsync(account.Id, new JobRequest { Settings = settings, Channel = "cli" }, cancellationToken);
        if (!submitted.Accepted)
        {
            return output.Fail(submitted.Error!);
        }

        var jobs = services.GetRequiredService<JobService>();
        var jobId = submitted.JobIds.Single();
        JobView job;
        try
        {
            job = await WaitAsync(jobs, actor, jobId, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await jobs.CancelAsync(actor, jobId, CancellationToken.None);
            throw;
        }

        if (job.State != JobState.Succeeded || job.OutputImageId is not { } imageId)
        {
            return output.Fail(job.Error ?? $"The job ended {job.State.ToString().ToLowerInvariant()} without an image.");
        }

        // The file leaves FluxWeb: an export, through the same licence-checked door as every other read.
        var read = await services.GetRequiredService<ImageAccess>().OpenAsync(actor, imageId, new ImageRead(LicencedAction.Export, "cli"), cancellationToken);
        if (!read.Allowed)
        {
            return output.Fail(read.Reason ?? "The job's image is no longer there.");
        }

        var file = read.File;

        var path = Path.GetFullPath(request.OutFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(file.FullPath, path, overwrite: true);
        CliJson.WriteLine(output, new
        {
            File = path,
            Model = job.ModelId,
            Seed = job.Seed,
            Width = file.Image.Width,
            Height = file.Image.Height,
            ElapsedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            Licence = file.Image.LicenceId,
            Safety = file.Image.SafetyVerdict,
            Job = job.Id,
            Image = imageId,
        });
        return 0;
    }

    private static async Task<JobView> WaitAsync(JobService jobs, JobActor actor, Guid jobId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await jobs.GetAsync(actor, jobId, cancellationToken) ?? throw new InvalidOperationException($"Job {jobId} disappeared.");
            if (job.State.IsFinished())
            {
                return job;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }
}
