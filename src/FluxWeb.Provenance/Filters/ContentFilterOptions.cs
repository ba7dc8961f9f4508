using System.ComponentModel.DataAnnotations;

namespace FluxWeb.Provenance.Filters;

public sealed class ContentFilterOptions
{
    public const string SectionName = "Provenance:Filters";

    /// <summary>Initial prompt block list; admins edit it at run time through <see cref="PromptFilter.SetBlockedTerms"/>.</summary>
    public List<string> BlockedTerms { get; set; } = [];

    /// <summary>Optional ONNX text classifier (contract in <see cref="OnnxPromptClassifier"/>).</summary>
    public string? PromptClassifierPath { get; set; }

    [Range(0.0, 1.0)]
    public double PromptClassifierThreshold { get; set; } = 0.85;

    /// <summary>Operator-supplied ONNX image classifier (contract in <see cref="OnnxImageSafetyClassifier"/>); relative to the data folder when not rooted.</summary>
    public string? ImageClassifierPath { get; set; } = "models/safety/nsfw-image.onnx";

    /// <summary>Flagged when softmax(logits)[1] is above this.</summary>
    [Range(0.0, 1.0)]
    public double ImageThreshold { get; set; } = 0.85;

    /// <summary>What happens to a flagged output; flagged input images are always refused.</summary>
    public ContentAction OutputAction { get; set; } = ContentAction.BlurAndFlag;
}

public enum ContentAction
{
    Block,
    BlurAndFlag,
}
