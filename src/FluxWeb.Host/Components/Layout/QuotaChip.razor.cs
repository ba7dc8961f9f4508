using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace FluxWeb.Host.Components.Layout;

/// <summary>
/// The signed-in person's images today against the daily limit ("87 / 500 images today"), read from
/// <see cref="QuotaService"/> and read again when one of their jobs is queued, cancelled or fails.
/// </summary>
public sealed partial class QuotaChip : IDisposable
{
    private QuotaStatus? status;
    private JobActor? actor;
    private IDisposable? subscription;

    [Inject]
    private QuotaService Quotas { get; set; } = default!;

    [Inject]
    private IJobEvents Events { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    protected override async Task OnInitializedAsync()
    {
        actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        if (actor is null)
        {
            return;
        }

        if (RendererInfo.IsInteractive)
        {
            subscription = Events.Subscribe(actor, OnJobEvent);
        }

        status = await Quotas.GetStatusAsync(actor.UserId);
    }

    private void OnJobEvent(JobEvent e)
    {
        if (e.Kind is JobEventKind.Queued or JobEventKind.Cancelled or JobEventKind.Failed or JobEventKind.Requeued)
        {
            _ = RefreshAsync();
        }
    }

    private async Task RefreshAsync()
    {
        try
        {
            await InvokeAsync(async () =>
            {
                if (actor is not null)
                {
                    status = await Quotas.GetStatusAsync(actor.UserId);
                    StateHasChanged();
                }
            });
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    internal static string Text(QuotaStatus today) => today.Limits.ImagesPerDay is { } limit
        ? string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed} / {limit} images today")
        : today.ImagesUsed == 1 ? "1 image today" : string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed} images today");

    private static string ShortText(QuotaStatus today) => today.Limits.ImagesPerDay is { } limit
        ? string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed}/{limit}")
        : string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed}");

    private static string Tooltip(QuotaStatus today) =>
        today.Limits.ImagesPerDay is { } limit
            ? string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed} of your {limit} images today; the count starts again at {today.ResetsAtUtc:HH:mm} UTC. Click for all your limits and usage.")
            : string.Create(CultureInfo.InvariantCulture, $"{today.ImagesUsed} {(today.ImagesUsed == 1 ? "image" : "images")} today; your account has no daily image limit. Click for all your limits and usage.");

    public void Dispose() => subscription?.Dispose();
}
