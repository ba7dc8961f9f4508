using System.Globalization;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Accounts;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Admin;

/// <summary>Accounts: search, create, and per account role, account type (with the licence warning), disabled, quota overrides, password reset, API keys and deletion.</summary>
public sealed partial class AdminUsers
{
    private IReadOnlyList<UserSummary>? users;
    private string search = "";
    private bool busy;
    private string? message;

    private bool creating;
    private string newEmail = "";
    private string newPassword = "";
    private string newRole = Roles.User;
    private AccountType newAccountType = AccountType.Commercial;
    private string? createError;

    private UserSummary? editing;
    private string editRole = Roles.User;
    private AccountType editAccountType;
    private bool editDisabled;
    private string? editImages;
    private string? editGpu;
    private string? editQueued;
    private string? editPassword;
    private string? editError;
    private int pendingUnavailable;
    private bool needsConfirmation;
    private IReadOnlyList<ApiKeyInfo> keys = [];
    private bool deleting;
    private string deleteConfirmation = "";
    private string? deleteError;

    [Inject]
    private UserAdministration Administration { get; set; } = default!;

    [Inject]
    private ApiKeyService ApiKeys { get; set; } = default!;

    protected override Task OnInitializedAsync() => LoadAsync();

    private Task LoadAsync() => AsAdminAsync(async actor => users = await Administration.SearchAsync(actor, search));

    protected override void OnAccessEnded()
    {
        users = [];
        editing = null;
        creating = false;
        keys = [];
        message = null;
    }

    private async Task SearchAsync(string text)
    {
        search = text;
        await LoadAsync();
    }

    private async Task CreateAsync()
    {
        busy = true;
        try
        {
            AccountResult? result = null;
            if (!await AsAdminAsync(async actor => result = await Administration.CreateAsync(newEmail, newPassword, newRole, newAccountType, actor)) || result is null)
            {
                return;
            }

            if (!result.Succeeded)
            {
                createError = result.Error;
                return;
            }

            message = $"Created {newEmail.Trim()} ({newRole}, {newAccountType}).";
            createError = null;
            creating = false;
            // The next account starts from the defaults again: a Commercial User unless the admin says otherwise.
            newEmail = newPassword = "";
            newRole = Roles.User;
            newAccountType = AccountType.Commercial;
            await LoadAsync();
        }
        finally
        {
            busy = false;
        }
    }

    private async Task EditAsync(UserSummary user)
    {
        editing = user;
        editRole = string.IsNullOrEmpty(user.Role) ? Roles.User : user.Role;
        editAccountType = user.AccountType;
        editDisabled = user.Disabled;
        editImages = Text(user.Quota.ImagesPerDay);
        editGpu = Text(user.Quota.GpuSecondsPerDay);
        editQueued = Text(user.Quota.MaxQueuedJobs);
        editPassword = null;
        editError = null;
        pendingUnavailable = 0;
        needsConfirmation = false;
        deleting = false;
        deleteConfirmation = "";
        deleteError = null;
        await AsAdminAsync(async actor => keys = await ApiKeys.ListAsync(user.Id, actor));
    }

    /// <summary>Tells the admin what a switch to Commercial takes away before anything is saved.</summary>
    private async Task AccountTypeChangedAsync(AccountType type)
    {
        editAccountType = type;
        pendingUnavailable = 0;
        if (editing is { AccountType: AccountType.NonCommercial } user && type == AccountType.Commercial)
        {
            await AsAdminAsync(async actor => pendingUnavailable = await Administration.NonCommercialOutputsAsync(user.Id, actor));
        }

        needsConfirmation = pendingUnavailable > 0;
    }

    private async Task SaveAsync(bool confirmed)
    {
        if (editing is not { } user)
        {
            return;
        }

        if (!QuotaOverride.TryParse(editImages, out var images) || !QuotaOverride.TryParse(editGpu, out var gpu) || !QuotaOverride.TryParse(editQueued, out var queued))
        {
            editError = "Quotas are a number, 'unlimited', or empty for the role's default.";
            return;
        }

        busy = true;
        try
        {
            var change = new UserChange
            {
                Role = editRole,
                AccountType = editAccountType,
                Disabled = editDisabled,
                Quota = new QuotaOverride(ToInt(images), gpu, ToInt(queued)),
                NewPassword = string.IsNullOrEmpty(editPassword) ? null : editPassword,
                ConfirmOutputsUnavailable = confirmed,
            };
            UserChangeResult? result = null;
            if (!await AsAdminAsync(async actor => result = await Administration.ChangeAsync(user.Id, change, actor)) || result is null)
            {
                return;
            }

            if (!result.Succeeded)
            {
                pendingUnavailable = result.NonCommercialOutputsNeedingConfirmation;
                needsConfirmation = pendingUnavailable > 0;
                editError = needsConfirmation ? null : result.Error;
                return;
            }

            message = result.Changes.Count == 0 ? $"{user.Email}: nothing changed." : $"{user.Email}: {string.Join("; ", result.Changes)}.";
            editing = null;
            await LoadAsync();
        }
        finally
        {
            busy = false;
        }
    }

    private bool ConfirmationMatches(UserSummary user) =>
        string.Equals(deleteConfirmation.Trim(), user.Email, StringComparison.OrdinalIgnoreCase);

    private async Task DeleteAsync()
    {
        if (editing is not { } user)
        {
            return;
        }

        busy = true;
        try
        {
            UserChangeResult? result = null;
            if (!await AsAdminAsync(async actor => result = await Administration.DeleteAsync(user.Id, deleteConfirmation, actor)) || result is null)
            {
                return;
            }

            if (!result.Succeeded)
            {
                deleteError = result.Error;
                return;
            }

            message = $"{user.Email}: {string.Join("; ", result.Changes)}.";
            editing = null;
            deleting = false;
            await LoadAsync();
        }
        finally
        {
            busy = false;
        }
    }

    private async Task RevokeAsync(ApiKeyInfo key)
    {
        if (editing is not { } user)
        {
            return;
        }

        if (await AsAdminAsync(async actor =>
            {
                await ApiKeys.RevokeAsync(user.Id, key.Id, null, actor);
                keys = await ApiKeys.ListAsync(user.Id, actor);
            }))
        {
            await LoadAsync();
        }
    }

    private static string? Text(double? value) => value switch
    {
        null => null,
        < 0 => "unlimited",
        _ => value.Value.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private static int? ToInt(double? value) => value is null ? null : (int)Math.Min(int.MaxValue, Math.Round(value.Value));

    private static string Time(DateTime utc) => utc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
