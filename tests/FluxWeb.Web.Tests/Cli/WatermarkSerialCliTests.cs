using System.Text.Json;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Cli;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// Issue 19, finding 7: <c>fluxweb generate --user</c> run while the server works on the same data
/// folder. Each process ran its own worker and counted serials in memory, so the two handed out the
/// same serial and "verify" named the wrong job. Serials come from the database now.
/// </summary>
public sealed class WatermarkSerialCliTests(DemoModelsFixture models) : IClassFixture<DemoModelsFixture>
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task The_cli_and_the_server_on_one_data_folder_hand_out_distinct_serials_and_verify_names_the_right_job()
    {
        // The server's worker only runs what it is woken for, so the command's job stays the command's.
        using var server = new FluxWebFactory().WithEngine(new FakeImageGenerator()).With("Queue:PollInterval", "01:00:00");
        var users = server.Service<UserAdministration>();
        Assert.True((await users.CreateAsync("cli@example.com", SiteClient.StrongPassword, Roles.User, AccountType.Commercial, ChangeActor.CommandLine)).Succeeded);
        var userId = (await users.FindByEmailAsync("cli@example.com", ChangeActor.CommandLine))!.Id;
        var generation = server.Service<GenerationService>();

        async Task<Job> ServerJobAsync(ulong seed)
        {
            var id = (await generation.SubmitAsync(userId, QueueHost.Request("made by the server", seed: seed).With(s => s with { Width = 256, Height = 256 }))).JobIds.Single();
            return await EndAsync(server, id);
        }

        var first = await ServerJobAsync(0x505050);

        using var work = new TempFolder();
        var cliFile = work.Combine("cli.png");
        var (code, stdout, stderr) = await RunAsync("generate", "--user", "cli@example.com", "--data", server.DataDirectory, "--models", models.Folder.Path,
            "--model", "demo", "--prompt", "made by the command", "--width", "256", "--height", "256", "--seed", "3", "--out", cliFile);
        Assert.True(code == 0, stderr);
        using var printed = JsonDocument.Parse(stdout);
        var cliJob = printed.RootElement.GetProperty("job").GetGuid();

        var second = await ServerJobAsync(0x707070);

        var serials = await WithDbAsync(server, db => db.Images.AsNoTracking()
            .Where(i => i.JobId == first.Id || i.JobId == cliJob || i.JobId == second.Id)
            .ToDictionaryAsync(i => i.JobId!.Value, i => i.WatermarkSerial));
        Assert.Equal(3, serials.Count);
        Assert.All(serials.Values, s => Assert.True(s > 0));
        Assert.True(serials.Values.Distinct().Count() == 3, $"Serials: server {serials[first.Id]}, command {serials[cliJob]}, server {serials[second.Id]}");

        // "verify" reads the serial back out of the file and names the job that made it.
        var (verified, report, verifyError) = await RunAsync("verify", "--data", server.DataDirectory, cliFile);
        Assert.True(verified == 0, verifyError);
        using var json = JsonDocument.Parse(report);
        Assert.Equal(cliJob.ToString(), json.RootElement.GetProperty("watermark").GetProperty("job").GetString());
    }

    private static async Task<T> WithDbAsync<T>(FluxWebFactory factory, Func<FluxWebDbContext, Task<T>> work)
    {
        await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await work(db);
    }

    private static async Task<Job> EndAsync(FluxWebFactory factory, Guid jobId)
    {
        Job? job = null;
        await Eventually.Value(async () => job = await WithDbAsync(factory, db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId)), j => j!.State.IsFinished(), () => $"Job {jobId} is {job?.State}.", TimeSpan.FromSeconds(30));
        Assert.True(job!.State == JobState.Succeeded, $"{job.State}: {job.Error}");
        return job;
    }
}
