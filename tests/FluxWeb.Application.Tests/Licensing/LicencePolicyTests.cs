using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;

namespace FluxWeb.Application.Tests.Licensing;

public sealed class LicencePolicyTests
{
    private static readonly ModelLicenceFacts Apache = new("klein-4b", "Apache-2.0", true);
    private static readonly ModelLicenceFacts NonCommercial = new("klein-9b", "FLUX-Non-Commercial", false);

    public static TheoryData<AccountType, bool, LicencedAction, bool> Table()
    {
        var data = new TheoryData<AccountType, bool, LicencedAction, bool>();
        foreach (var account in Enum.GetValues<AccountType>())
        {
            foreach (var commercialModel in new[] { true, false })
            {
                foreach (var action in Enum.GetValues<LicencedAction>())
                {
                    // Only one combination is refused: a commercial account and a non-commercial model, for every action.
                    data.Add(account, commercialModel, action, commercialModel || account == AccountType.NonCommercial);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void Every_account_type_licence_and_action(AccountType account, bool commercialModel, LicencedAction action, bool allowed)
    {
        var decision = LicencePolicy.Decide(account, commercialModel ? Apache : NonCommercial, action);

        Assert.Equal(allowed, decision.Allowed);
        if (allowed)
        {
            Assert.Null(decision.Reason);
        }
        else
        {
            Assert.Contains("klein-9b", decision.Reason, StringComparison.Ordinal);
            Assert.Contains("FLUX-Non-Commercial", decision.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_table_covers_all_twenty_combinations() =>
        Assert.Equal(2 * 2 * 5, Table().Count);
}
