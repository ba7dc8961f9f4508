using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Administration;

/// <summary>
/// Deleting an account whose job a worker holds and never gives back (the process hangs): the deletion waits for it,
/// bounded, and meanwhile the account is disabled, so it queues nothing new. SQLite only: the wait is 15 s of real time.
/// </summary>
public sealed class AccountDeletionTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-delete");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task While_deletion_waits_for_a_hung_workers_job_the_account_is_disabled_then_it_is_deleted()
    {
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        var admin = await host.CreateUserAsync("chief@example.com", Roles.Admin);
        var ada = await host.CreateUserAsync("ada@example.com");
        var id = (await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("claimed by a hung worker"))).JobIds.Single();
        var now = DateTime.UtcNow;
        Assert.NotNull(await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, "hung-box/4242/cuda:0", now, now + TimeSpan.FromMinutes(5), default)));
        var users = host.Services.GetRequiredService<UserAdministration>();

        var deleting = users.DeleteAsync(ada.UserId, "ada@example.com", ChangeActor.Ui(admin.UserId));
        await Eventually.Until(async () => (await users.GetAsync(ada.UserId, ChangeActor.CommandLine))?.Disabled == true, "the account is disabled while its job is waited for");
        var refused = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("one more while it is being deleted"));
        var stillWaiting = !deleting.IsCompleted;
        var deleted = await deleting.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.False(refused.Accepted, "A job was queued for an account being deleted.");
        Assert.True(stillWaiting, "The deletion did not wait for the running job.");
        Assert.True(deleted.Succeeded, deleted.Error);
        Assert.Null(await users.GetAsync(ada.UserId, ChangeActor.CommandLine));
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == ada.UserId)));
    }
}
