using System.Net;
using System.Text.Json;
using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// Step previews across nodes (issue 18) on the published cluster: the job runs in a worker process, its owner asks the
/// web node (which runs no worker) through the HTTP API, and gets the picture; another user gets 404.
/// </summary>
[Collection(ClusterProcessCollection.Name)]
public sealed class ClusterPreviewTests
{
    [Fact]
    public async Task The_web_node_serves_the_step_preview_of_a_job_running_in_a_worker_process_to_its_owner_only()
    {
        await using var cluster = await PublishedCluster.StartAsync("cluster-preview", workerCount: 1);
        var ada = await cluster.CreateUserAsync("ada@cluster.test");
        var bob = await cluster.CreateUserAsync("bob@cluster.test");
        // Long enough on the demo model to be seen running; the web node keeps the last preview a minute after the end anyway.
        var jobId = await ada.SubmitAsync("a lighthouse, previewed on the web node", size: 512, steps: 40, seed: 3);

        var job = default(JsonElement);
        await Eventually.Until(
            async () => PreviewUrlOf(job = await ada.JobAsync(jobId)) is not null,
            () => $"the web node never showed a preview URL for job {jobId} ({job}); web node:\n{string.Join('\n', cluster.Web.Log.Split('\n').TakeLast(30))}",
            TimeSpan.FromSeconds(60));
        var previewUrl = PreviewUrlOf(job);

        using var own = await ada.Http.GetAsync(previewUrl);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal("image/png", own.Content.Headers.ContentType?.MediaType);
        var png = await own.Content.ReadAsByteArrayAsync();
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);

        using var others = await bob.Http.GetAsync(previewUrl);
        Assert.Equal(HttpStatusCode.NotFound, others.StatusCode);
        Assert.Single(cluster.WorkersThatTook(jobId));
    }

    private static string? PreviewUrlOf(JsonElement job) =>
        job.ValueKind == JsonValueKind.Object && job.TryGetProperty("previewUrl", out var url) && url.ValueKind == JsonValueKind.String ? url.GetString() : null;
}
