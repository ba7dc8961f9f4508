using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Testing;
using FluxWeb.Testing.PostgreSql;
using Npgsql;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// Several boxes, on one machine: the published executable (built once, <see cref="PublishedBuild"/>) as a web node
/// (<c>fluxweb serve --no-workers</c>) and worker processes (<c>fluxweb worker</c>, one CPU worker each), all on one
/// database of this test process's own PostgreSQL server (<c>Cluster:Provider=PostgreSQL</c>, Orleans membership in
/// it), each silo and gateway on a free loopback port. They share the data and models folders as the boxes of the
/// README's docker-compose share their volumes. Each process's log is kept under <c>artefacts/</c>.
/// </summary>
public sealed class PublishedCluster : IAsyncDisposable
{
    public const string AdminEmail = "admin@cluster.test";

    /// <summary>The demo model's base variant: its steps can be raised, so one job runs long enough to be interrupted.</summary>
    public const string Model = "demo-base";

    private readonly List<ClusterProcess> workers = [];
    private readonly List<HttpClient> clients = [];
    private readonly string name;
    private int workersStarted;

    private PublishedCluster(string name, PublishedApp web, string connectionString)
    {
        this.name = name;
        Web = web;
        ConnectionString = connectionString;
    }

    /// <summary>The web node; its log is in <see cref="PublishedApp.Log"/>.</summary>
    public PublishedApp Web { get; }

    public string ConnectionString { get; }

    /// <summary>The worker processes started so far that have not been killed.</summary>
    public IReadOnlyList<ClusterProcess> Workers => workers.Where(w => !w.HasExited).ToList();

    /// <summary>Every worker process started, killed ones included (their logs).</summary>
    public IReadOnlyList<ClusterProcess> AllWorkers => workers;

    /// <param name="name">Names the cluster's logs under artefacts/ (<c>NAME-web.log</c>, <c>NAME-worker-N.log</c>).</param>
    /// <param name="settings">Configuration every process gets (environment variables, <c>Queue__LeaseDuration</c> style).</param>
    public static async Task<PublishedCluster> StartAsync(string name, int workerCount, IReadOnlyDictionary<string, string>? settings = null)
    {
        var server = await PostgreSqlServer.SharedAsync();
        var connectionString = await server.CreateDatabaseAsync();
        var web = await PublishedApp.CreateAsync($"{name}-web");
        var cluster = new PublishedCluster(name, web, connectionString);
        try
        {
            web.SetEnvironment("Cluster__Provider", "PostgreSQL");
            web.SetEnvironment("Cluster__ConnectionString", connectionString);
            // A cluster of its own per test: other tests' clusters may share the server (never the database), and
            // the id keeps even a stray process of another run out.
            web.SetEnvironment("Cluster__ClusterId", $"{name}-{Guid.NewGuid():N}"[..Math.Min(name.Length + 33, 60)]);
            web.SetEnvironment("Cluster__AdvertisedAddress", "127.0.0.1");
            // Free ports, picked by each process at start: other worktrees run their tests on this machine too.
            web.SetEnvironment("Cluster__SiloPort", "0");
            web.SetEnvironment("Cluster__GatewayPort", "0");
            web.SetEnvironment("Inference__CpuWorkers", "1");
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                web.SetEnvironment(key, value);
            }

            // Set-up as an operator does it, before any node runs: the first command migrates the database.
            await web.RunCommandAsync(new Dictionary<string, string> { ["FLUXWEB_ADMIN_PASSWORD"] = SiteClient.StrongPassword }, "users", "create-admin", "--email", AdminEmail);
            await web.RunCommandAsync(null, "models", "create-demo", "--id", Model, "--variant", "base");
            await web.StartAsync("--no-workers");
            for (var i = 0; i < workerCount; i++)
            {
                await cluster.StartWorkerAsync();
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Starts one more <c>fluxweb worker</c> (a new process, as a restarted box would) and waits until it runs.</summary>
    public async Task<ClusterProcess> StartWorkerAsync()
    {
        var number = Interlocked.Increment(ref workersStarted);
        var worker = await ClusterProcess.StartAsync(
            $"{name}-worker-{number}",
            Web.StartInfo(["worker"], null),
            line => line.Contains("Application started", StringComparison.Ordinal),
            TimeSpan.FromSeconds(90));
        workers.Add(worker);
        return worker;
    }

    /// <summary>A user account (Commercial, role User) and an API client holding its key.</summary>
    public async Task<ClusterUser> CreateUserAsync(string email)
    {
        await Web.RunCommandAsync(
            new Dictionary<string, string> { ["FLUXWEB_USER_PASSWORD"] = SiteClient.StrongPassword },
            "users", "create", "--email", email, "--role", "User", "--account-type", "Commercial");
        var key = (await Web.RunCommandAsync(null, "apikeys", "create", "--user", email, "--name", "cluster-test", "--scope", "generate")).Trim();
        var http = new HttpClient { BaseAddress = new Uri(Web.BaseUrl + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        clients.Add(http);
        var id = await ScalarAsync<string>("""SELECT "Id" FROM "AspNetUsers" WHERE "NormalizedEmail" = @p0""", email.ToUpperInvariant());
        return new ClusterUser(email, id, http);
    }

    /// <summary>The worker processes whose log shows they took <paramref name="jobId"/> (claimed or started it).</summary>
    public IReadOnlyList<ClusterProcess> WorkersThatTook(Guid jobId) =>
        workers.Where(w => w.Lines.Any(line => TookJob(line, jobId))).ToList();

    /// <summary>Whether <paramref name="worker"/>'s log shows it took <paramref name="jobId"/>.</summary>
    public static bool WorkersThatTook(PublishedCluster cluster, ClusterProcess worker, Guid jobId) =>
        cluster.WorkersThatTook(jobId).Contains(worker);

    /// <summary>A log line of a worker saying it took the job: "picked … by worker" (the claim) or "started".</summary>
    public static bool TookJob(string line, Guid jobId) =>
        line.Contains(jobId.ToString(), StringComparison.OrdinalIgnoreCase)
        && (line.Contains("picked", StringComparison.Ordinal) || line.Contains("started", StringComparison.Ordinal));

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters.AddWithValue($"p{i}", parameters[i]);
        }

        var value = await command.ExecuteScalarAsync();
        return value is T typed ? typed : (T)Convert.ChangeType(value!, typeof(T), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// What the database says was committed for <paramref name="user"/>: jobs by state, output images per job, and
    /// the usage ledger (images reserved, GPU-seconds charged) beside the jobs' own measured GPU-seconds.
    /// </summary>
    public async Task<Ledger> LedgerAsync(ClusterUser user)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        var states = new Dictionary<Guid, (string State, int Attempts, double GpuSeconds, Guid? Output)>();
        await using (var jobs = new NpgsqlCommand("""SELECT "Id", "State", "Attempts", "GpuSeconds", "OutputImageId" FROM "Jobs" WHERE "OwnerId" = @owner""", connection))
        {
            jobs.Parameters.AddWithValue("owner", user.Id);
            await using var reader = await jobs.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                states[reader.GetGuid(0)] = (reader.GetString(1), reader.GetInt32(2), reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetGuid(4));
            }
        }

        var images = new Dictionary<Guid, int>();
        await using (var outputs = new NpgsqlCommand("""SELECT "JobId", COUNT(*) FROM "Images" WHERE "OwnerId" = @owner AND "JobId" IS NOT NULL GROUP BY "JobId" """, connection))
        {
            outputs.Parameters.AddWithValue("owner", user.Id);
            await using var reader = await outputs.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                images[reader.GetGuid(0)] = (int)reader.GetInt64(1);
            }
        }

        await using var usage = new NpgsqlCommand("""SELECT COALESCE(SUM("Images"), 0), COALESCE(SUM("GpuSeconds"), 0) FROM "DailyUsage" WHERE "UserId" = @owner""", connection);
        usage.Parameters.AddWithValue("owner", user.Id);
        await using var sums = await usage.ExecuteReaderAsync();
        Assert.True(await sums.ReadAsync());
        return new Ledger(states, images, (int)sums.GetInt64(0), sums.GetDouble(1));
    }

    /// <summary>
    /// The image files in the shared data folder against the image rows: a killed run or a rejected late result
    /// must leave no file behind (nor a <c>*.partial</c>), and every row's file must be there.
    /// </summary>
    public async Task AssertImageFilesMatchRowsAsync()
    {
        var rows = new HashSet<string>(StringComparer.Ordinal);
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""SELECT "RelativePath" FROM "Images" WHERE "RelativePath" IS NOT NULL""", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(reader.GetString(0));
            }
        }

        var imagesFolder = Path.Combine(Web.DataDirectory, "images");
        HashSet<string> files = Directory.Exists(imagesFolder)
            ? Directory.EnumerateFiles(imagesFolder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Web.DataDirectory, f).Replace('\\', '/')).ToHashSet(StringComparer.Ordinal)
            : [];
        Assert.True(files.SetEquals(rows),
            $"image files and rows differ; files without a row: {string.Join(", ", files.Except(rows))}; rows without a file: {string.Join(", ", rows.Except(files))}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var http in clients)
        {
            http.Dispose();
        }

        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }

        await Web.DisposeAsync();
    }
}

/// <summary>A user of the test cluster and its API client (a key with the generate scope).</summary>
public sealed record ClusterUser(string Email, string Id, HttpClient Http)
{
    /// <summary>Queues one image through <c>POST /api/v1/generations</c> and returns its job id.</summary>
    public async Task<Guid> SubmitAsync(string prompt, int size, int? steps, ulong seed)
    {
        using var submitted = await Http.PostAsJsonAsync("api/v1/generations", new { model = PublishedCluster.Model, prompt, width = size, height = size, steps, seed });
        var body = await submitted.Content.ReadAsStringAsync();
        Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, $"{Email}: {(int)submitted.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("jobIds")[0].GetGuid();
    }

    /// <summary>The job as the API shows it to its owner.</summary>
    public async Task<JsonElement> JobAsync(Guid jobId) => await Http.GetFromJsonAsync<JsonElement>($"api/v1/jobs/{jobId}");

    public async Task<string> StateAsync(Guid jobId) => (await JobAsync(jobId)).GetProperty("state").GetString()!;
}

/// <summary>What the database holds for one user (see <see cref="PublishedCluster.LedgerAsync"/>).</summary>
public sealed record Ledger(
    IReadOnlyDictionary<Guid, (string State, int Attempts, double GpuSeconds, Guid? Output)> Jobs,
    IReadOnlyDictionary<Guid, int> ImagesPerJob,
    int ImagesCharged,
    double GpuSecondsCharged)
{
    /// <summary>
    /// Exactly once: every job succeeded with one output image, one image charged per job, and the GPU-seconds
    /// charged are the jobs' own measured seconds (a result committed twice would charge its seconds twice).
    /// </summary>
    public void AssertEachSucceededOnce(IReadOnlyCollection<Guid> expected)
    {
        Assert.Equal(expected.Order(), Jobs.Keys.Order());
        var notSucceeded = Jobs.Where(j => j.Value.State != "Succeeded").Select(j => $"{j.Key}: {j.Value.State}").ToList();
        Assert.True(notSucceeded.Count == 0, $"not succeeded: {string.Join(", ", notSucceeded)}");
        var wrongImages = expected.Where(id => ImagesPerJob.GetValueOrDefault(id) != 1).Select(id => $"{id}: {ImagesPerJob.GetValueOrDefault(id)}").ToList();
        Assert.True(wrongImages.Count == 0, $"jobs without exactly one image: {string.Join(", ", wrongImages)}");
        Assert.All(Jobs.Values, job => Assert.NotNull(job.Output));
        Assert.Equal(expected.Count, ImagesCharged);
        var measured = Jobs.Values.Sum(j => j.GpuSeconds);
        Assert.True(measured > 0, "the jobs recorded no GPU-seconds");
        Assert.True(Math.Abs(GpuSecondsCharged - measured) < 1e-6 * Math.Max(1, measured),
            $"GPU-seconds charged {GpuSecondsCharged:0.######} differ from the jobs' measured {measured:0.######}");
    }
}
