namespace FluxWeb.Provenance.Filters;

/// <summary>Loads the operator-supplied classifier, or explains why image filtering is off.</summary>
public static class ImageClassifierLoader
{
    public static (OnnxImageSafetyClassifier? Classifier, ImageFilterStatus Status) Load(ContentFilterOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ImageClassifierPath))
        {
            return (null, new ImageFilterStatus(false, "Image filtering is off: no classifier installed (set Provenance:Filters:ImageClassifierPath to an ONNX file)."));
        }

        var path = Path.GetFullPath(options.ImageClassifierPath);
        if (!File.Exists(path))
        {
            return (null, new ImageFilterStatus(false, $"Image filtering is off: no classifier installed ({path} does not exist)."));
        }

        try
        {
            var classifier = new OnnxImageSafetyClassifier(path);
            return (classifier, new ImageFilterStatus(true, $"Image filtering is on: {Path.GetFileName(path)}, flagged above {options.ImageThreshold:0.##}, flagged outputs are {(options.OutputAction == ContentAction.Block ? "blocked" : "blurred and flagged for review")}."));
        }
        catch (Exception exception) when (exception is InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            return (null, new ImageFilterStatus(false, $"Image filtering is off: the classifier {path} could not be loaded ({exception.Message})."));
        }
    }
}
