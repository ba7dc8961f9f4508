namespace FluxWeb.Provenance.Filters;

/// <summary>
/// Finds the classifier to run: the operator's own ONNX file when <c>Provenance:Filters:ImageClassifierPath</c>
/// is set, else the installed classifier package (nsfwjs, <c>fluxweb safety install</c>). When there is
/// none, says so, why, and how to fix it.
/// </summary>
public static class ImageClassifierLoader
{
    public const string InstallHint = "run `fluxweb safety install` (on a machine without internet: `fluxweb safety install --from nsfwjs-4.4.0.tgz`, the tarball `npm pack nsfwjs@4.4.0` downloads elsewhere) and restart, or leave Provenance:Filters:AutoInstall on so the server installs it at start";

    public static (IImageSafetyClassifier? Classifier, ImageFilterStatus Status) Load(ContentFilterOptions options, string? classifiersDirectory = null)
    {
        if (!string.IsNullOrWhiteSpace(options.ImageClassifierPath))
        {
            return LoadOperatorClassifier(options);
        }

        if (classifiersDirectory is null || !IsInstalled(options, classifiersDirectory))
        {
            return (null, Off($"no classifier installed. To turn it on, {InstallHint}."));
        }

        var folder = PackageFolder(options, classifiersDirectory);
        try
        {
            return (new PackagedImageClassifier(folder), new ImageFilterStatus(ImageFilterState.On, ""));
        }
        catch (Exception exception) when (exception is InvalidDataException or IOException or UnauthorizedAccessException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            return (null, Off($"the installed classifier {options.ClassifierId} could not be loaded ({exception.Message}). Install it again: `fluxweb safety install --force`."));
        }
    }

    public static string PackageFolder(ContentFilterOptions options, string classifiersDirectory) => Path.Combine(classifiersDirectory, options.ClassifierId);

    public static bool IsInstalled(ContentFilterOptions options, string classifiersDirectory) =>
        File.Exists(Path.Combine(PackageFolder(options, classifiersDirectory), ImageClassifierManifest.FileName));

    public static ImageFilterStatus Off(string reason) => new(ImageFilterState.Off, $"Image filtering is off: {reason}");

    private static (IImageSafetyClassifier?, ImageFilterStatus) LoadOperatorClassifier(ContentFilterOptions options)
    {
        var path = Path.GetFullPath(options.ImageClassifierPath!);
        if (!File.Exists(path))
        {
            return (null, Off($"no classifier installed ({Path.GetFileName(path)}, set as Provenance:Filters:ImageClassifierPath, does not exist)."));
        }

        try
        {
            return (new OnnxImageSafetyClassifier(path), new ImageFilterStatus(ImageFilterState.On, ""));
        }
        catch (Exception exception) when (exception is InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            return (null, Off($"the classifier {Path.GetFileName(path)} could not be loaded ({exception.Message})."));
        }
    }
}
