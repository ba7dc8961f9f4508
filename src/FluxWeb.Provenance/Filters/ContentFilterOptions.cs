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

    /// <summary>
    /// An operator-supplied ONNX image classifier (contract in <see cref="OnnxImageSafetyClassifier"/>) used instead
    /// of the installed classifier package; relative to the working directory when not rooted. Empty: the package.
    /// </summary>
    public string? ImageClassifierPath { get; set; }

    /// <summary>The operator-supplied classifier's flag: softmax(logits)[1] above this. The package's thresholds are set on /admin/content.</summary>
    [Range(0.0, 1.0)]
    public double ImageThreshold { get; set; } = 0.85;

    /// <summary>A fresh server with no classifier installs the package in the background at start (and then filters).</summary>
    public bool AutoInstall { get; set; } = true;

    /// <summary>npm registry the classifier package is downloaded from (its metadata names the tarball and its sha512).</summary>
    [Required]
    [Url]
    public string Registry { get; set; } = "https://registry.npmjs.org";

    /// <summary>The nsfwjs version to install.</summary>
    [Required]
    [RegularExpression(@"^\d+\.\d+\.\d+$")]
    public string ClassifierVersion { get; set; } = "4.4.0";

    /// <summary>Folder of the installed package under <see cref="ClassifierDirectory"/>.</summary>
    [Required]
    [RegularExpression(@"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    public string ClassifierId { get; set; } = "nsfwjs-mobilenet-v2";

    /// <summary>Where classifier packages live; empty: <c>safety/</c> under the models folder.</summary>
    public string? ClassifierDirectory { get; set; }

    /// <summary>What happens to a flagged output; flagged input images are always refused.</summary>
    public ContentAction OutputAction { get; set; } = ContentAction.BlurAndFlag;
}

public enum ContentAction
{
    Block,
    BlurAndFlag,
}
