using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// Checks where a graph's external weights point. Every location must be a real file inside the
/// package (ONNX Runtime refuses paths that leave the model folder, symbolic links included) and
/// every byte range must fit the file. When the file is a .safetensors checkpoint, the range must
/// also be exactly one of its tensors, with the initializer's element type and shape: a replaced or
/// edited weight file then fails here even if someone rewrote its hash in the manifest.
/// </summary>
public static class PackageWeightChecks
{
    public sealed record Summary(int TensorsChecked, int FilesOpened);

    public static Summary Check(string folder, string graphFile, OnnxGraphSignature signature, List<PackageProblem> problems, Dictionary<string, SafeTensorsFile?>? headerCache = null)
    {
        headerCache ??= new Dictionary<string, SafeTensorsFile?>(StringComparer.Ordinal);
        var graphFolder = Path.GetDirectoryName(Path.GetFullPath(Path.Combine(folder, graphFile)))!;
        var root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var checkedTensors = 0;
        foreach (var tensor in signature.ExternalTensors)
        {
            var full = Path.GetFullPath(Path.Combine(graphFolder, tensor.Location));
            var relative = Path.GetRelativePath(folder, full).Replace('\\', '/');
            if (Path.IsPathRooted(tensor.Location) || !full.StartsWith(root, StringComparison.Ordinal))
            {
                if (reported.Add(tensor.Location))
                {
                    problems.Add(new PackageProblem(graphFile, null, $"keeps weights in '{tensor.Location}', outside the package folder (ONNX Runtime refuses that)."));
                }

                continue;
            }

            var info = new FileInfo(full);
            if (!info.Exists)
            {
                if (reported.Add(relative))
                {
                    problems.Add(new PackageProblem(graphFile, null, $"keeps weights in '{relative}', which does not exist."));
                }

                continue;
            }

            if (info.LinkTarget is not null)
            {
                if (reported.Add(relative))
                {
                    problems.Add(new PackageProblem(relative, null, "is a symbolic link; ONNX Runtime refuses external data behind links (hard-link or copy the file instead)."));
                }

                continue;
            }

            var length = tensor.Length ?? ElementBytes(tensor);
            if (tensor.Offset < 0 || length is null || tensor.Offset + length > info.Length)
            {
                problems.Add(new PackageProblem(relative, null, $"is {info.Length} bytes but {graphFile} reads '{tensor.Name}' at bytes {tensor.Offset}..{tensor.Offset + (length ?? 0)}: the file was truncated or replaced."));
                continue;
            }

            checkedTensors++;
            if (!relative.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!headerCache.TryGetValue(relative, out var checkpoint))
            {
                try
                {
                    checkpoint = SafeTensorsFile.Open(full);
                }
                catch (SafeTensorsException ex)
                {
                    problems.Add(new PackageProblem(relative, null, $"is no longer a readable checkpoint: {ex.Message}"));
                    checkpoint = null;
                }

                headerCache[relative] = checkpoint;
            }

            if (checkpoint is not null)
            {
                CheckAgainstHeader(graphFile, relative, tensor, length.Value, checkpoint, problems);
            }
        }

        return new Summary(checkedTensors, headerCache.Count);
    }

    private static void CheckAgainstHeader(string graphFile, string relative, OnnxExternalTensor tensor, long length, SafeTensorsFile checkpoint, List<PackageProblem> problems)
    {
        var atOffset = checkpoint.Tensors.Values.FirstOrDefault(t => t.Offset == tensor.Offset && t.Length > 0);
        if (atOffset is null)
        {
            problems.Add(new PackageProblem(relative, null, $"has no tensor at byte {tensor.Offset}, where {graphFile} reads '{tensor.Name}': the file was replaced by a different checkpoint."));
            return;
        }

        // The graph builder names initializers after their checkpoint tensors; a second binding gets a suffix.
        if (checkpoint.Tensors.ContainsKey(tensor.Name) && atOffset.Name != tensor.Name)
        {
            problems.Add(new PackageProblem(relative, null, $"holds '{atOffset.Name}' at byte {tensor.Offset}, where {graphFile} expects '{tensor.Name}': the file was replaced by a different checkpoint."));
            return;
        }

        var expectedType = OnnxGraphBuilder.ToOnnx(atOffset.DType, relative, atOffset.Name);
        if (atOffset.Length != length || !(expectedType == tensor.DataType && atOffset.Shape.SequenceEqual(tensor.Dimensions) || IsPackedFourBitView(atOffset, tensor)))
        {
            problems.Add(new PackageProblem(relative, null, $"holds '{atOffset.Name}' as {atOffset.DType} {atOffset.ShapeText} ({atOffset.Length} bytes) but {graphFile} reads '{tensor.Name}' there as {tensor.DataType} [{string.Join(",", tensor.Dimensions)}] ({length} bytes)."));
        }
    }

    /// <summary>NVFP4 weights are stored U8 [rows, columns/2] and read as FLOAT4E2M1 [rows, columns]: the same bytes.</summary>
    private static bool IsPackedFourBitView(SafeTensors.SafeTensorInfo stored, OnnxExternalTensor read) =>
        stored.DType == SafeTensors.SafeTensorDType.U8 && read.DataType == DataType.Float4E2M1
        && stored.Shape.Length == read.Dimensions.Length && stored.Shape.Length > 0
        && stored.Shape[..^1].SequenceEqual(read.Dimensions.Take(read.Dimensions.Length - 1)) && stored.Shape[^1] * 2 == read.Dimensions[^1];

    private static long? ElementBytes(OnnxExternalTensor tensor)
    {
        if (tensor.DataType is DataType.Float4E2M1 or DataType.Int4 or DataType.Uint4)
        {
            return (tensor.Dimensions.Aggregate(1L, (a, b) => a * b) + 1) / 2;
        }

        long bytesPerElement = tensor.DataType switch
        {
            DataType.Double or DataType.Int64 or DataType.Uint64 => 8,
            DataType.Float or DataType.Int32 or DataType.Uint32 => 4,
            DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
            DataType.Float8E4M3Fn or DataType.Float8E5M2 or DataType.Int8 or DataType.Uint8 or DataType.Bool => 1,
            _ => 0,
        };
        return bytesPerElement == 0 ? null : tensor.Dimensions.Aggregate(1L, (a, b) => a * b) * bytesPerElement;
    }
}
