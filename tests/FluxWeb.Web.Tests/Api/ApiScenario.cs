using System.Net.Http.Headers;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Api;

/// <summary>
/// The real app with the fake engine and the two test models (Apache-2.0 and non-commercial):
/// an administrator, Ada (Commercial), Nico (NonCommercial) and Bob (Commercial), with API keys.
/// </summary>
public sealed class ApiScenario : IAsyncLifetime
{
    public FakeImageGenerator Engine { get; } = new();

    public FluxWebFactory Factory { get; private set; } = default!;

    public SiteClient Admin { get; private set; } = default!;

    public SiteClient Ada { get; private set; } = default!;

    public string AdminId { get; private set; } = "";

    public string AdaId { get; private set; } = "";

    public string NicoId { get; private set; } = "";

    public string BobId { get; private set; } = "";

    /// <summary>Keys: Ada's generate and read keys, Nico's, Bob's, and one of the administrator's.</summary>
    public string AdaKey { get; private set; } = "";

    public string AdaReadKey { get; private set; } = "";

    public string NicoKey { get; private set; } = "";

    public string BobKey { get; private set; } = "";

    public string AdminKey { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(Engine);
        Admin = new SiteClient(Factory.CreateBrowserClient());
        Ada = new SiteClient(Factory.CreateBrowserClient());
        var nico = new SiteClient(Factory.CreateBrowserClient());
        var bob = new SiteClient(Factory.CreateBrowserClient());
        await Admin.RegisterAsync("admin@example.com");
        await Ada.RegisterAsync("ada@example.com");
        await nico.RegisterAsync("nico@example.com");
        await bob.RegisterAsync("bob@example.com");
        AdminId = await UserIdAsync("admin@example.com");
        AdaId = await UserIdAsync("ada@example.com");
        NicoId = await UserIdAsync("nico@example.com");
        BobId = await UserIdAsync("bob@example.com");
        await WithDbAsync(db => db.Users.Where(u => u.Id == NicoId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.NonCommercial)));

        AdaKey = await CreateKeyAsync(AdaId, "ada script", ApiKeyScope.Generate);
        AdaReadKey = await CreateKeyAsync(AdaId, "ada reader", ApiKeyScope.Read);
        NicoKey = await CreateKeyAsync(NicoId, "nico script", ApiKeyScope.Generate);
        BobKey = await CreateKeyAsync(BobId, "bob script", ApiKeyScope.Generate);
        AdminKey = await CreateKeyAsync(AdminId, "admin script", ApiKeyScope.Generate);
    }

    public Task<string> CreateKeyAsync(string userId, string name, ApiKeyScope scope) => Factory.CreateKeyAsync(userId, name, scope);

    public HttpClient KeyClient(string key) => Factory.KeyClient(key);

    public Task<string> UserIdAsync(string email) => Factory.UserIdAsync(email);

    public Task<T> WithDbAsync<T>(Func<FluxWebDbContext, Task<T>> work) => Factory.WithDbAsync(work);

    public async Task<JobView> WaitForEndAsync(string ownerId, Guid jobId)
    {
        var jobs = Factory.Service<JobService>();
        JobView? job = null;
        return (await Eventually.Value(async () => job = await jobs.GetAsync(new JobActor(ownerId, false), jobId), j => j!.State.IsFinished(), () => $"Job {jobId} is {job?.State}."))!;
    }

    public Task DisposeAsync()
    {
        Factory.Dispose();
        return Task.CompletedTask;
    }
}
