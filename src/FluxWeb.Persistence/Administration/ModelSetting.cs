namespace FluxWeb.Persistence.Administration;

/// <summary>
/// An administrator's rules for one installed model. A model without a row is enabled for every
/// role, so a freshly installed package is usable at once.
/// </summary>
public sealed class ModelSetting
{
    public required string ModelId { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>Comma-separated role names that may use the model; null means every role.</summary>
    public string? AllowedRoles { get; set; }

    public DateTime UpdatedUtc { get; set; }
}
