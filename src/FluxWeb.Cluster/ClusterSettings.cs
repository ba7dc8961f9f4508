using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using FluxWeb.Persistence;
using Microsoft.Extensions.Options;

namespace FluxWeb.Cluster;

/// <summary>How the silos of a cluster find each other.</summary>
public enum ClusterMembership
{
    /// <summary>Local with SQLite, Database with PostgreSQL.</summary>
    Default,

    /// <summary>This process is a cluster of its own (the single box; the only choice with SQLite).</summary>
    Local,

    /// <summary>Orleans' membership table in the PostgreSQL database (<c>Cluster:ConnectionString</c>): every process on it is one cluster.</summary>
    Database,
}

/// <summary>
/// The silo half of the <c>Cluster</c> section (the database half is <see cref="DatabaseOptions"/>). With SQLite
/// every process is its own one-silo cluster on localhost, so the ports default to 0 (free ports picked at start)
/// and the server, <c>generate --user</c> and the tests' many hosts run side by side; with PostgreSQL the silos of
/// all boxes find each other through the database, on fixed ports.
/// </summary>
public sealed class ClusterSettings
{
    public const string SectionName = "Cluster";

    public const int DefaultSiloPort = 11111;

    public const int DefaultGatewayPort = 30000;

    /// <summary>How silos find each other; see <see cref="ClusterMembership"/>.</summary>
    public ClusterMembership Membership { get; set; }

    /// <summary>Silo-to-silo port. 0: a free port. Default: 0 with SQLite, 11111 with PostgreSQL.</summary>
    public int? SiloPort { get; set; }

    /// <summary>Port for Orleans clients. 0: a free port. Default: 0 with SQLite, 30000 with PostgreSQL.</summary>
    public int? GatewayPort { get; set; }

    /// <summary>The address other silos reach this one at. Default: loopback with SQLite, this machine's first network address with PostgreSQL.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Silos with the same id (and database) form one cluster.</summary>
    public string ClusterId { get; set; } = "fluxweb";

    /// <summary>How often a process tells the dispatcher what its workers do (also how a restarted dispatcher learns them again).</summary>
    public TimeSpan WorkerHeartbeat { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often each silo probes the others, and how long it waits for an answer (Orleans' <c>ProbeTimeout</c>; it
    /// adapts between half of this and 20 s to the answers it measures, and waits longer while the prober itself is
    /// overloaded). Default 2 s (Orleans: 5 s), so a killed process is declared dead, and its jobs requeued, within
    /// 10 s (docs/decisions/0023).
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Probes in a row a silo may miss before the prober votes it dead (Orleans' <c>NumMissedProbesLimit</c>; the last
    /// probe goes through another silo, whose vote counts too). A silo whose connection still delivered a message
    /// within the longest probe period (20 s) times this is never voted dead: it is busy, not gone.
    /// </summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>The ports and address this process uses, defaults and free ports applied.</summary>
    internal ResolvedCluster Resolve(DatabaseProvider provider)
    {
        var shared = Membership == ClusterMembership.Database || (Membership == ClusterMembership.Default && provider == DatabaseProvider.PostgreSql);
        var advertised = AdvertisedAddress is { Length: > 0 } text ? IPAddress.Parse(text)
            : shared ? FirstNetworkAddress() : IPAddress.Loopback;
        var siloPort = SiloPort ?? (shared ? DefaultSiloPort : 0);
        var gatewayPort = GatewayPort ?? (shared ? DefaultGatewayPort : 0);
        return new ResolvedCluster(shared, advertised, siloPort == 0 ? FreePort(advertised) : siloPort, gatewayPort == 0 ? FreePort(advertised) : gatewayPort);
    }

    private static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(IPAddress.IsLoopback(address) ? IPAddress.Loopback : IPAddress.Any, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IPAddress FirstNetworkAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? IPAddress.Loopback;
}

/// <param name="Shared">Several processes form the cluster (PostgreSQL membership); otherwise this process alone.</param>
internal sealed record ResolvedCluster(bool Shared, IPAddress Advertised, int SiloPort, int GatewayPort)
{
    /// <summary>
    /// Where the silo and gateway ports listen. Every interface only when other machines must reach them: processes
    /// that announce a loopback address (a one-process box, or several processes on one box) are reachable from this
    /// machine alone, so their ports are not opened to the network.
    /// </summary>
    public IPAddress Listening => Shared && !IPAddress.IsLoopback(Advertised) ? IPAddress.Any : IPAddress.Loopback;
}

/// <summary>Refuses at start what would make a silo that cannot listen or join.</summary>
internal sealed class ClusterSettingsValidator(IOptions<DatabaseOptions> database) : IValidateOptions<ClusterSettings>
{
    private static readonly TimeSpan MinProbeTimeout = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan MaxProbeTimeout = TimeSpan.FromMinutes(1);

    public ValidateOptionsResult Validate(string? name, ClusterSettings options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Membership))
        {
            failures.Add("Cluster:Membership must be Local or Database.");
        }
        else if (options.Membership == ClusterMembership.Database && database.Value.Provider != DatabaseProvider.PostgreSql)
        {
            failures.Add("Cluster:Membership=Database needs Cluster:Provider=PostgreSQL: a SQLite file cannot be shared by several boxes.");
        }

        if (options.SiloPort is < 0 or > 65535)
        {
            failures.Add("Cluster:SiloPort must be a port (1–65535), or 0 for a free port.");
        }

        if (options.GatewayPort is < 0 or > 65535)
        {
            failures.Add("Cluster:GatewayPort must be a port (1–65535), or 0 for a free port.");
        }

        if (options.SiloPort is > 0 && options.SiloPort == options.GatewayPort)
        {
            failures.Add("Cluster:SiloPort and Cluster:GatewayPort must differ.");
        }

        if (options.AdvertisedAddress is { Length: > 0 } address
            && (!IPAddress.TryParse(address, out var ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
        {
            failures.Add($"Cluster:AdvertisedAddress must be an IP address other silos can reach (was '{address}').");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add("Cluster:ClusterId must not be empty.");
        }

        if (options.WorkerHeartbeat <= TimeSpan.Zero)
        {
            failures.Add("Cluster:WorkerHeartbeat must be positive.");
        }

        // Below half a second a busy machine's own scheduling delays look like failures; above a minute a dead
        // process's jobs wait minutes.
        if (options.ProbeTimeout < MinProbeTimeout || options.ProbeTimeout > MaxProbeTimeout)
        {
            failures.Add($"Cluster:ProbeTimeout must be between {MinProbeTimeout:c} and {MaxProbeTimeout:c} (was {options.ProbeTimeout:c}).");
        }

        // One missed probe is no evidence at all (a dropped packet); Orleans needs at least two for its indirect probe.
        if (options.MissedProbesLimit is < 2 or > 10)
        {
            failures.Add($"Cluster:MissedProbesLimit must be between 2 and 10 (was {options.MissedProbesLimit}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
