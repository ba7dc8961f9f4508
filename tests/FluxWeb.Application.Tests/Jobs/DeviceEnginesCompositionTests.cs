using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The whole composition with <c>Inference:CpuWorkers</c>: a test host that replaced the generator still gets one engine per CPU worker.</summary>
public sealed class DeviceEnginesCompositionTests
{
    [Fact]
    public async Task A_host_with_three_cpu_workers_and_a_replaced_generator_gets_three_device_engines()
    {
        using var folder = new TempFolder("fluxweb-devices");
        var engine = new FakeImageGenerator();
        await using var host = await QueueHost.StartAsync(folder.Path, engine, new Dictionary<string, string?> { ["Inference:CpuWorkers"] = "3" });

        var engines = host.Services.GetRequiredService<IDeviceEngines>().Engines;

        Assert.Equal(["cpu", "cpu:1", "cpu:2"], engines.Select(e => e.DeviceId));
        Assert.All(engines, e => Assert.Same(engine, e.Generator));
        Assert.Same(engine, host.Services.GetRequiredService<IImageGenerator>());
    }

    [Fact]
    public async Task A_refused_device_setting_stops_the_host_with_its_message()
    {
        using var folder = new TempFolder("fluxweb-devices");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Inference:Devices"] = "cpu,cuda:0" }));

        Assert.Contains("Inference:Devices lists cpu together with CUDA devices (cuda:0), which is refused", error.Message, StringComparison.Ordinal);
    }
}
