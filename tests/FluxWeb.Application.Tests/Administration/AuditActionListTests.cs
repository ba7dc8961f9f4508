using System.Reflection;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Audit;

namespace FluxWeb.Application.Tests.Administration;

public sealed class AuditActionListTests
{
    /// <summary>The audit page's action filter offers every action the log writes (shares, ZIPs and admin views were once missing).</summary>
    [Fact]
    public void The_audit_filter_offers_every_action_the_log_writes()
    {
        var written = typeof(AuditActions).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!).ToList();

        Assert.Empty(written.Except(AuditQuery.Actions));
    }
}
