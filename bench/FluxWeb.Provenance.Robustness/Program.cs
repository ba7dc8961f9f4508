using System.Globalization;
using FluxWeb.Provenance.Robustness;

// Prints the watermark robustness table and the detection times (README.md in this folder holds the last run),
// with "detect" the detection times only, or with "vectors <folder>" writes the FluxWeb-marked images that
// Vectors/generate_vectors.py decodes with imwatermark.
if (args is ["vectors", var folder])
{
    ReferenceVectors.Write(folder);
    return 0;
}

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args is ["detect"])
{
    DetectionTimes.Print(Console.Out);
    return 0;
}

RobustnessTable.Print(Console.Out);
Console.WriteLine("### Detection time (every upload is read for this server's mark)");
Console.WriteLine();
DetectionTimes.Print(Console.Out);
return 0;
