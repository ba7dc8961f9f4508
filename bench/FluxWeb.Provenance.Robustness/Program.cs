using System.Globalization;
using FluxWeb.Provenance.Robustness;

// Prints the watermark robustness table (README.md in this folder holds the last run), or with
// "vectors <folder>" writes the FluxWeb-marked images that Vectors/generate_vectors.py decodes with imwatermark.
if (args is ["vectors", var folder])
{
    ReferenceVectors.Write(folder);
    return 0;
}

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
RobustnessTable.Print(Console.Out);
return 0;
