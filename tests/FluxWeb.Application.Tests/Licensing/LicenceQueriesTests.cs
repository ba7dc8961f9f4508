using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;

namespace FluxWeb.Application.Tests.Licensing;

/// <summary>The listings' filter and the image endpoint's gate must agree on every kind of stored row.</summary>
public sealed class LicenceQueriesTests
{
    public static TheoryData<StoredImageKind, string?, bool?> Rows()
    {
        var data = new TheoryData<StoredImageKind, string?, bool?>();
        foreach (var kind in Enum.GetValues<StoredImageKind>())
        {
            foreach (var model in new[] { "klein-9b", null })
            {
                foreach (var commercial in new bool?[] { true, false, null })
                {
                    data.Add(kind, model, commercial);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void The_query_filter_hides_exactly_what_the_gate_refuses_a_commercial_account(StoredImageKind kind, string? modelId, bool? commercialUse)
    {
        var image = new StoredImage { OwnerId = "u", Kind = kind, ModelId = modelId, CommercialUse = commercialUse, RelativePath = "x.png", ContentType = "image/png", Sha256 = "0" };
        var gateRefuses = LicenceGate.Facts(image) is { } facts && !LicencePolicy.Decide(AccountType.Commercial, facts, LicencedAction.View).Allowed;

        Assert.Equal(gateRefuses, LicenceQueries.IsNonCommercialOutput(image));
        Assert.Equal(!gateRefuses, LicenceQueries.ReceivableByCommercialAccount.Compile()(image));
    }

    [Fact]
    public void Only_ordinary_commercial_accounts_have_non_commercial_outputs_hidden()
    {
        Assert.True(LicenceQueries.HidesNonCommercialOutputs(isAdmin: false, AccountType.Commercial));
        Assert.False(LicenceQueries.HidesNonCommercialOutputs(isAdmin: false, AccountType.NonCommercial));
        Assert.False(LicenceQueries.HidesNonCommercialOutputs(isAdmin: true, AccountType.Commercial));
    }
}
