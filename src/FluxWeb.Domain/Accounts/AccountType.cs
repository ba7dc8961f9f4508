namespace FluxWeb.Domain.Accounts;

/// <summary>
/// The licensing side of an account. Commercial is the default because it is the safe side:
/// a commercial account may never receive output of a non-commercial model.
/// </summary>
public enum AccountType
{
    Commercial = 0,
    NonCommercial = 1,
}
