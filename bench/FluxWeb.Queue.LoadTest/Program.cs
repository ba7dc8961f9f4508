using System.Globalization;
using FluxWeb.Testing.Load;

// dotnet run -c Release --project bench/FluxWeb.Queue.LoadTest -- [--seconds 60] [--users 20] [--heavy 4] [--step-ms 5] [--fifo]
var seconds = Option("--seconds", 60);
var users = Option("--users", 20);
var heavy = Option("--heavy", 4);
var stepMilliseconds = Option("--step-ms", 5);
var options = new QueueLoadOptions
{
    Users = users,
    HeavyUsers = heavy,
    Duration = TimeSpan.FromSeconds(seconds),
    StepDelay = TimeSpan.FromMilliseconds(stepMilliseconds),
};

var runs = args.Contains("--fifo") ? new[] { options, options with { Policy = new ArrivalOrderPolicy() } } : [options];
var failed = false;
foreach (var run in runs)
{
    var report = await QueueLoadRun.RunAsync(run);
    Console.WriteLine(report.Describe());
    Console.WriteLine("  per user (mean wait s / p95 wait s / GPU s / accepted / refused):");
    foreach (var user in report.Users)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    {user.User} {(user.Heavy ? "heavy" : "light")}  {user.MeanWaitSeconds,7:0.000}  {user.P95WaitSeconds,7:0.000}  {user.GpuSeconds,7:0.00}  {user.Accepted,5}  {user.Refused,5}"));
    }

    failed |= report.LostJobs > 0 || report.DuplicatedRuns > 0;
}

return failed ? 1 : 0;

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}
