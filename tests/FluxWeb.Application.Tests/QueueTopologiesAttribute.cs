using System.Reflection;
using FluxWeb.Testing;
using Xunit.Sdk;

namespace FluxWeb.Application.Tests;

/// <summary>
/// Runs a queue scenario once on each <see cref="QueueTopology"/> (issue 18): the single box on SQLite, and three silos
/// of one cluster on PostgreSQL. The theory takes the topology as its one parameter.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class QueueTopologiesAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) =>
        Enum.GetValues<QueueTopology>().Select(topology => new object[] { topology });
}
