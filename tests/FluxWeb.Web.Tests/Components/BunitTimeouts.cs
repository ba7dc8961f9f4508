using System.Runtime.CompilerServices;
using Bunit;

namespace FluxWeb.Web.Tests.Components;

/// <summary>
/// bUnit's WaitFor helpers give up after one second by default. A page that waits for the database or for a job takes
/// longer now and then on a busy 2-core CI machine: <c>ResultLoopComponentsTests</c> failed so on 2026-12-05 while its
/// jobs had succeeded. The helpers return as soon as their condition holds, so a longer limit costs a passing test
/// nothing. Set once, for every bUnit context of this assembly.
/// </summary>
internal static class BunitTimeouts
{
#pragma warning disable CA2255 // A test assembly's one setting, made before any test creates a context.
    [ModuleInitializer]
    internal static void Lengthen() => BunitContext.DefaultWaitTimeout = TimeSpan.FromSeconds(10);
#pragma warning restore CA2255
}
