using FluxWeb.Domain.Time;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Devices;

/// <summary>One device a queue worker runs jobs on, with the engine that owns that device's sessions.</summary>
/// <param name="DeviceId">Unique within the process: <c>cpu</c>, <c>cpu:1</c>, <c>cuda:0</c> …</param>
public sealed record DeviceEngine(string DeviceId, IImageGenerator Generator)
{
    /// <summary>Where the engine runs, as its probe decided (the admin pages show its name and reason).</summary>
    public ExecutionDevice? Device { get; init; }
}

/// <summary>The devices this process serves, one queue worker each (issue 18: <c>Inference:Devices</c>, <c>Inference:CpuWorkers</c>).</summary>
public interface IDeviceEngines
{
    /// <summary>One engine per device, the first device first; reading it probes every device (a device that must work and does not throws, with the reason).</summary>
    IReadOnlyList<DeviceEngine> Engines { get; }
}

/// <summary>
/// Makes the generator of each device the process serves, once per device, the first device first. The
/// default (<see cref="EngineStacks"/>) gives the first device the process's <see cref="IImageGenerator"/>
/// (the inference singleton, which warm start, /healthz and the admin pages see) and every other device an
/// engine of its own: its own session factory, memory budget and resident sessions, on its own device.
/// A host that replaced <see cref="IImageGenerator"/> (the tests' fakes) gets that one generator on every
/// device; to give each device a generator of its own, register an implementation of this interface.
/// </summary>
public interface IDeviceGeneratorFactory
{
    IImageGenerator Create(ServedDevice device);
}

/// <summary>One engine per device of the <see cref="DevicePlan"/>, made on first use (the workers ask when they start).</summary>
internal sealed class DeviceEngines(DevicePlan plan, IDeviceGeneratorFactory generators) : IDeviceEngines
{
    private readonly Lazy<IReadOnlyList<DeviceEngine>> engines = new(() =>
        plan.Devices.Select(d => new DeviceEngine(d.Id, generators.Create(d)) { Device = d.Device }).ToList());

    public IReadOnlyList<DeviceEngine> Engines => engines.Value;
}

/// <summary>
/// The default <see cref="IDeviceGeneratorFactory"/>: the inference singleton on the first device, and a
/// whole engine stack (session factory, memory budget, resident sessions, engine) on each other device,
/// disposed with the process.
/// </summary>
internal sealed class EngineStacks(IServiceProvider services) : IDeviceGeneratorFactory, IDisposable
{
    private readonly Lock gate = new();
    private readonly List<IDisposable> owned = [];

    public IImageGenerator Create(ServedDevice device)
    {
        var generator = services.GetRequiredService<IImageGenerator>();
        if (device.Index == 0 || !ReferenceEquals(generator, services.GetRequiredService<InferenceEngine>()))
        {
            return generator;
        }

        var options = services.GetRequiredService<IOptions<InferenceOptions>>();
        var logs = services.GetRequiredService<ILoggerFactory>();
        var factory = new SessionFactory(device.Probe, options, logs.CreateLogger<SessionFactory>());
        var budget = new MemoryBudget(device.Probe, options, logs.CreateLogger<MemoryBudget>());
        var sessions = new ResidentSessions(factory, options, services.GetRequiredService<AppClock>(), logs.CreateLogger<ResidentSessions>(), budget);
        var engine = new InferenceEngine(services.GetRequiredService<ModelCatalog>(), sessions, options, logs.CreateLogger<InferenceEngine>(), services.GetRequiredService<ModelUsage>());
        lock (gate)
        {
            // The engine first: its buffers go before the sessions they were allocated through.
            owned.Add(engine);
            owned.Add(sessions);
        }

        return engine;
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var item in owned)
            {
                item.Dispose();
            }

            owned.Clear();
        }
    }
}
