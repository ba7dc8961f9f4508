using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Generation;

namespace FluxWeb.Testing;

public static class JobRequestExtensions
{
    /// <summary>The request with its settings changed: <c>QueueHost.Request("x").With(s => s with { Width = 256 })</c>.</summary>
    public static JobRequest With(this JobRequest request, Func<GenerationSettings, GenerationSettings> change) =>
        request with { Settings = change(request.Settings) };
}
