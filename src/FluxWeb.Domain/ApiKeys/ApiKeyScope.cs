namespace FluxWeb.Domain.ApiKeys;

/// <summary>What an API key may do. <c>Read</c> lists and downloads; <c>Generate</c> also submits jobs.</summary>
public enum ApiKeyScope
{
    Read = 0,
    Generate = 1,
}
