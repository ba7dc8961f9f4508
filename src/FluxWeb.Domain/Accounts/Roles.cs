namespace FluxWeb.Domain.Accounts;

public static class Roles
{
    public const string Admin = "Admin";
    public const string User = "User";

    public static IReadOnlyList<string> All { get; } = [Admin, User];
}
