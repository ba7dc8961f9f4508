using System.Reflection;
using System.Text.RegularExpressions;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference;
using FluxWeb.Persistence;
using YamlDotNet.RepresentationModel;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>
/// No Docker engine runs in CI, so docker-compose.yml is read as YAML and its promises checked: the cluster's services
/// and their commands, settings that exist, no password in the file, ports the image exposes, one GPU per worker,
/// health checks and start order. Each check is shown to catch a broken copy of the file.
/// </summary>
public sealed partial class DockerComposeTests
{
    private const string PasswordVariable = "${FLUXWEB_DB_PASSWORD:?";

    private static string Compose() => File.ReadAllText(Path.Combine(DockerfileTests.RepositoryRoot(), "docker-compose.yml"));

    private static string Dockerfile() => File.ReadAllText(Path.Combine(DockerfileTests.RepositoryRoot(), "Dockerfile"));

    [Fact]
    public void The_compose_file_passes_every_check()
    {
        Assert.Empty(ComposeLint.Problems(Compose(), Dockerfile()));
    }

    [Theory]
    [InlineData("Password=${FLUXWEB_DB_PASSWORD:?set FLUXWEB_DB_PASSWORD (e.g. in .env beside this file)}", "Password=hunter2", "literal password")]
    [InlineData("POSTGRES_PASSWORD: ${FLUXWEB_DB_PASSWORD:?set FLUXWEB_DB_PASSWORD (e.g. in .env beside this file)}", "POSTGRES_PASSWORD: hunter2", "literal password")]
    [InlineData("Cluster__Provider: PostgreSQL", "Cluster__Provder: PostgreSQL", "Cluster__Provder is no FluxWeb setting")]
    [InlineData("Cluster__Provider: PostgreSQL", "Cluster__Provider: Sqlite", "Cluster__Provider=PostgreSQL")]
    [InlineData("Inference__Device: Cpu", "Inference__Devise: Cpu", "Inference__Devise is no FluxWeb setting")]
    [InlineData("command: [\"serve\", \"--no-workers\"]", "command: [\"serve\"]", "web runs [serve]")]
    [InlineData("command: [\"worker\"]", "command: [\"serve\"]", "worker-1 runs [serve]")]
    [InlineData("device_ids: [\"1\"]", "device_ids: [\"0\"]", "GPU 0 is reserved by more than one worker")]
    [InlineData("              capabilities: [gpu]", "              capabilities: [compute]", "worker-1 reserves no nvidia GPU")]
    [InlineData("condition: service_healthy", "condition: service_started", "web starts before db is healthy")]
    [InlineData("\"5000:5000\"", "\"5000:8080\"", "container port 8080, which the Dockerfile does not EXPOSE")]
    [InlineData("http://localhost:5000/healthz", "http://localhost:8080/healthz", "web's health check does not ask /healthz on port 5000")]
    [InlineData("pg_isready -U fluxweb -d fluxweb", "true", "db's health check does not run pg_isready")]
    [InlineData("      disable: true", "      disable: false", "worker-1 keeps the image's health check")]
    [InlineData("      - fluxweb-models:/models\n    depends_on:\n      db:\n        condition: service_healthy\n    deploy", "    depends_on:\n      db:\n        condition: service_healthy\n    deploy", "worker-1 does not mount the shared models volume at /models")]
    [InlineData("image: postgres:17", "image: postgres:latest", "db is not postgres:17")]
    public void A_broken_copy_is_caught(string original, string broken, string expected)
    {
        var compose = Compose();
        Assert.Contains(original, compose, StringComparison.Ordinal);
        var index = compose.IndexOf(original, StringComparison.Ordinal);
        var copy = compose[..index] + broken + compose[(index + original.Length)..];

        var problems = ComposeLint.Problems(copy, Dockerfile());

        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Cluster_ports_the_dockerfile_does_not_expose_are_caught()
    {
        var dockerfile = Dockerfile();
        Assert.Contains("EXPOSE 5000 11111 30000", dockerfile, StringComparison.Ordinal);

        var problems = ComposeLint.Problems(Compose(), dockerfile.Replace("EXPOSE 5000 11111 30000", "EXPOSE 5000", StringComparison.Ordinal));

        Assert.Contains(problems, p => p.Contains("does not EXPOSE Orleans' silo port 11111", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("does not EXPOSE Orleans' gateway port 30000", StringComparison.Ordinal));
    }

    [Fact]
    public void A_service_missing_from_the_file_is_caught()
    {
        var compose = Compose();
        var start = compose.IndexOf("\n  worker-2:", StringComparison.Ordinal);
        var end = compose.IndexOf("\nvolumes:", StringComparison.Ordinal);
        Assert.True(start > 0 && end > start);

        var problems = ComposeLint.Problems(compose[..start] + "\n" + compose[end..], Dockerfile());

        Assert.Contains(problems, p => p.Contains("services are [db, web, worker-1], not [db, web, worker-1, worker-2]", StringComparison.Ordinal));
    }

    [Fact]
    public void The_password_file_beside_the_compose_file_stays_out_of_git_and_of_the_build_context()
    {
        var root = DockerfileTests.RepositoryRoot();

        Assert.Contains("/.env", File.ReadAllLines(Path.Combine(root, ".gitignore")));
        Assert.Contains(".env", File.ReadAllLines(Path.Combine(root, ".dockerignore")));
    }

    /// <summary>The checks, on the text of a compose file and of the Dockerfile; every problem in words.</summary>
    internal static partial class ComposeLint
    {
        private static readonly string[] Services = ["db", "web", "worker-1", "worker-2"];
        private static readonly string[] Workers = ["worker-1", "worker-2"];
        private static readonly string[] FluxWebServices = ["web", .. Workers];

        // Orleans' defaults for Cluster:SiloPort and Cluster:GatewayPort, which the compose file leaves as they are.
        private const int SiloPort = 11111;
        private const int GatewayPort = 30000;

        public static List<string> Problems(string compose, string dockerfile)
        {
            var problems = new List<string>();
            var yaml = new YamlStream();
            yaml.Load(new StringReader(compose));
            var root = (YamlMappingNode)yaml.Documents.Single().RootNode;
            var services = Map(root, "services") ?? throw new InvalidOperationException("no services");
            var names = services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).Order(StringComparer.Ordinal).ToList();
            if (!names.SequenceEqual(Services))
            {
                problems.Add($"services are [{string.Join(", ", names)}], not [{string.Join(", ", Services)}]");
            }

            var (exposed, urlsPort) = DockerfilePorts(dockerfile);
            if (!exposed.Contains(urlsPort))
            {
                problems.Add($"the Dockerfile does not EXPOSE its Urls port {urlsPort}");
            }

            if (!exposed.Contains(SiloPort))
            {
                problems.Add($"the Dockerfile does not EXPOSE Orleans' silo port {SiloPort} (Cluster:SiloPort), which other nodes reach");
            }

            if (!exposed.Contains(GatewayPort))
            {
                problems.Add($"the Dockerfile does not EXPOSE Orleans' gateway port {GatewayPort} (Cluster:GatewayPort), which other nodes reach");
            }

            var volumes = Map(root, "volumes")?.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal) ?? [];
            var settings = Settings();
            foreach (var (name, node) in services.Children.Select(c => (((YamlScalarNode)c.Key).Value!, (YamlMappingNode)c.Value)))
            {
                problems.AddRange(LiteralPasswords(name, node));
                if (name == "db")
                {
                    problems.AddRange(Database(node, volumes));
                }
                else if (FluxWebServices.Contains(name))
                {
                    problems.AddRange(FluxWebService(name, node, settings, exposed, urlsPort, volumes));
                }
            }

            var gpus = Workers.Where(w => Map(services, w) is not null)
                .SelectMany(w => Gpus(Map(services, w)!))
                .GroupBy(id => id, StringComparer.Ordinal)
                .Where(g => g.Count() > 1);
            problems.AddRange(gpus.Select(g => $"GPU {g.Key} is reserved by more than one worker"));

            // Whatever the YAML structure, no password-like assignment anywhere but in comments (which configure
            // nothing; the header's example makes one with openssl) unless it is the variable.
            var configuration = string.Join('\n', compose.Split('\n').Where(l => !l.TrimStart().StartsWith('#')));
            foreach (Match m in PasswordAssignment().Matches(configuration))
            {
                if (!m.Groups["value"].Value.StartsWith(PasswordVariable, StringComparison.Ordinal))
                {
                    problems.Add($"a literal password in the file: {m.Value.Trim()}");
                }
            }

            return [.. problems.Distinct(StringComparer.Ordinal)];
        }

        private static IEnumerable<string> Database(YamlMappingNode db, HashSet<string> volumes)
        {
            if (Scalar(db, "image") != "postgres:17")
            {
                yield return "db is not postgres:17";
            }

            if (!(Sequence(db, "volumes") ?? []).Any(v => v.Split(':') is [var source, "/var/lib/postgresql/data", ..] && volumes.Contains(source)))
            {
                yield return "db keeps its data outside a named volume at /var/lib/postgresql/data";
            }

            if (!HealthTest(db).Contains("pg_isready", StringComparison.Ordinal))
            {
                yield return "db's health check does not run pg_isready";
            }
        }

        private static IEnumerable<string> FluxWebService(string name, YamlMappingNode service, Dictionary<string, Type> settings, HashSet<int> exposed, int urlsPort, HashSet<string> volumes)
        {
            if (Scalar(service, "build") != "." || Scalar(service, "image") != "fluxweb")
            {
                yield return $"{name} is not the image the Dockerfile builds (build: ., image: fluxweb)";
            }

            var command = Sequence(service, "command") ?? [];
            string[] expected = name == "web" ? ["serve", "--no-workers"] : ["worker"];
            if (!command.SequenceEqual(expected))
            {
                yield return $"{name} runs [{string.Join(", ", command)}], not [{string.Join(", ", expected)}]";
            }

            var environment = Map(service, "environment");
            var variables = environment?.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value ?? "", StringComparer.Ordinal) ?? [];
            foreach (var key in variables.Keys.Where(k => !IsSetting(k, settings)))
            {
                yield return $"{name}: {key} is no FluxWeb setting (no options class with that section and property)";
            }

            var provider = $"{DatabaseOptions.SectionName}__{nameof(DatabaseOptions.Provider)}";
            if (!variables.TryGetValue(provider, out var providerValue) || !Enum.TryParse<DatabaseProvider>(providerValue, ignoreCase: true, out var parsed) || parsed != DatabaseProvider.PostgreSql)
            {
                yield return $"{name} does not set {provider}=PostgreSQL";
            }

            var connection = $"{DatabaseOptions.SectionName}__{nameof(DatabaseOptions.ConnectionString)}";
            if (!variables.TryGetValue(connection, out var connectionString) || !connectionString.Contains("Password=" + PasswordVariable, StringComparison.Ordinal))
            {
                yield return $"{name}: {connection} does not take its password from {PasswordVariable}…}}";
            }
            else if (DatabaseDialect.PostgreSql.CheckConnectionString(PasswordReference().Replace(connectionString, "secret")) is { } problem)
            {
                yield return $"{name}: {problem}";
            }
            else if (!connectionString.Contains("Host=db;", StringComparison.Ordinal))
            {
                yield return $"{name}: {connection} does not name the db service as its host";
            }

            if (!Depends(service, "db", "service_healthy"))
            {
                yield return $"{name} starts before db is healthy (depends_on: db: condition: service_healthy)";
            }

            var mounts = Sequence(service, "volumes") ?? [];
            foreach (var target in new[] { "/data", "/models" })
            {
                if (!mounts.Any(m => m.Split(':') is [var source, var path, ..] && path == target && volumes.Contains(source)))
                {
                    yield return $"{name} does not mount the shared {target[1..]} volume at {target}";
                }
            }

            foreach (var port in Sequence(service, "ports") ?? [])
            {
                var containerPort = int.Parse(port.Split(':')[^1].Split('/')[0], System.Globalization.CultureInfo.InvariantCulture);
                if (!exposed.Contains(containerPort))
                {
                    yield return $"{name} publishes container port {containerPort}, which the Dockerfile does not EXPOSE";
                }
            }

            var gpus = Gpus(service).ToList();
            if (name == "web")
            {
                if (!(Sequence(service, "ports") ?? []).Any(p => p.EndsWith($":{urlsPort}", StringComparison.Ordinal)))
                {
                    yield return $"web does not publish the Urls port {urlsPort}";
                }

                if (gpus.Count > 0)
                {
                    yield return "web reserves a GPU but runs no model";
                }

                if (!HealthTest(service).Contains($"http://localhost:{urlsPort}/healthz", StringComparison.Ordinal))
                {
                    yield return $"web's health check does not ask /healthz on port {urlsPort}";
                }
            }
            else
            {
                if (gpus.Count != 1)
                {
                    yield return $"{name} reserves no nvidia GPU (deploy.resources.reservations.devices: driver nvidia, one device_id, capabilities [gpu])";
                }

                // The image's HEALTHCHECK asks the web server, which a worker does not run: it would be unhealthy forever.
                if (Scalar(Map(service, "healthcheck"), "disable") != "true")
                {
                    yield return $"{name} keeps the image's health check, which asks a web server a worker does not run";
                }
            }
        }

        /// <summary>The GPU ids a service reserves: nvidia devices with the gpu capability.</summary>
        private static IEnumerable<string> Gpus(YamlMappingNode service)
        {
            var devices = At(service, "deploy", "resources", "reservations", "devices") as YamlSequenceNode;
            foreach (var device in devices?.Children.OfType<YamlMappingNode>() ?? [])
            {
                if (Scalar(device, "driver") == "nvidia" && (Sequence(device, "capabilities") ?? []).Contains("gpu"))
                {
                    foreach (var id in Sequence(device, "device_ids") ?? [])
                    {
                        yield return id;
                    }
                }
            }
        }

        private static YamlNode? At(YamlNode node, params string[] keys)
        {
            foreach (var key in keys)
            {
                if (node is not YamlMappingNode map || !map.Children.TryGetValue(key, out node!))
                {
                    return null;
                }
            }

            return node;
        }

        private static IEnumerable<string> LiteralPasswords(string name, YamlMappingNode service)
        {
            var environment = Map(service, "environment")?.Children.Select(c => (Key: ((YamlScalarNode)c.Key).Value!, Value: ((YamlScalarNode)c.Value).Value ?? "")) ?? [];
            foreach (var (key, value) in environment)
            {
                if (key.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase) && !value.StartsWith(PasswordVariable, StringComparison.Ordinal))
                {
                    yield return $"{name}: a literal password in {key}";
                }
            }
        }

        private static bool Depends(YamlMappingNode service, string on, string condition) =>
            Scalar(Map(Map(service, "depends_on"), on), "condition") == condition;

        private static string HealthTest(YamlMappingNode service) =>
            string.Join(' ', Sequence(Map(service, "healthcheck"), "test") ?? []);

        /// <summary>Every options class's settings: section (the class's <c>SectionName</c> constant) and property, as the environment spells them.</summary>
        private static Dictionary<string, Type> Settings()
        {
            var settings = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
            var assemblies = Directory.EnumerateFiles(AppContext.BaseDirectory, "FluxWeb.*.dll")
                .Select(f => Path.GetFileNameWithoutExtension(f)!)
                .Where(n => !n.Contains(".Tests", StringComparison.Ordinal) && !n.StartsWith("FluxWeb.Testing", StringComparison.Ordinal))
                .Select(n => Assembly.Load(n))
                .Append(typeof(DatabaseOptions).Assembly)
                .Append(typeof(InferenceOptions).Assembly)
                .Append(typeof(ReverseProxyOptions).Assembly) // the host is fluxweb.dll
                .Distinct();
            foreach (var type in assemblies.SelectMany(a => a.GetTypes()))
            {
                if (type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetRawConstantValue() is string section)
                {
                    foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
                    {
                        settings[$"{section.Replace(":", "__", StringComparison.Ordinal)}__{property.Name}"] = type;
                    }
                }
            }

            return settings;
        }

        private static bool IsSetting(string key, Dictionary<string, Type> settings) => settings.ContainsKey(key);

        private static (HashSet<int> Exposed, int UrlsPort) DockerfilePorts(string dockerfile)
        {
            var exposed = ExposeLine().Matches(dockerfile)
                .SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))
                .ToHashSet();
            var urls = UrlsSetting().Match(dockerfile);
            return (exposed, urls.Success ? int.Parse(urls.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1);
        }

        private static YamlMappingNode? Map(YamlMappingNode? node, string key) =>
            node is not null && node.Children.TryGetValue(key, out var child) ? child as YamlMappingNode : null;

        private static string? Scalar(YamlMappingNode? node, string key) =>
            node is not null && node.Children.TryGetValue(key, out var child) ? (child as YamlScalarNode)?.Value : null;

        private static List<string>? Sequence(YamlMappingNode? node, string key) =>
            node is not null && node.Children.TryGetValue(key, out var child) && child is YamlSequenceNode sequence
                ? [.. sequence.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "")]
                : null;

        [GeneratedRegex(@"(?mi)password\w*\s*[:=]\s*(?<value>\S+)")]
        private static partial Regex PasswordAssignment();

        [GeneratedRegex(@"\$\{FLUXWEB_DB_PASSWORD:\?[^}]*\}")]
        private static partial Regex PasswordReference();

        [GeneratedRegex(@"(?m)^EXPOSE\s+(.+)$")]
        private static partial Regex ExposeLine();

        [GeneratedRegex(@"Urls=http://\+:(\d+)")]
        private static partial Regex UrlsSetting();
    }
}
