namespace FluxWeb.Domain.Jobs;

/// <summary>What kind of generation a job is; mirrors the pipeline's modes without depending on the inference library.</summary>
public enum JobMode
{
    TextToImage = 0,
    Edit = 1,
    MultiReference = 2,
    MaskedEdit = 3,
}
