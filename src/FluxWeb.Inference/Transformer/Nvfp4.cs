using System.Text.Json;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Transformer;

/// <summary>
/// NVFP4 weights: two FP4 E2M1 values per byte, an FP8 E4M3 scale for every 16 inputs and a float32
/// <c>weight_scale_2</c> for the tensor: W = e2m1 · block_scale · weight_scale_2.
///
/// Two storage layouts exist. ModelOpt (and ONNX's FLOAT4E2M1, and ONNX Runtime's kernels) put the
/// first value of a pair in the low nibble and keep the block scales row-major [out, in/16]. Black
/// Forest Labs' official NVFP4 files use ComfyUI's layout (they carry its
/// <c>_quantization_metadata</c>): the first value in the high nibble, and the block scales in
/// cuBLAS's tiled "128×4" order, padded to [roundup(out, 128), roundup(in/16, 4)]. FluxWeb's
/// graphs read the row-major layout; <c>models build</c> converts ComfyUI-layout tensors once
/// (<see cref="WriteRowMajor"/>), the same size as the source.
/// </summary>
public static class Nvfp4
{
    public const int BlockSize = 16;

    /// <summary>The E2M1 values of the 16 codes; 8–15 are the negatives of 0–7.</summary>
    public static readonly float[] E2M1 = [0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f];

    public const string QuantizationMetadataKey = "_quantization_metadata";

    /// <summary>Metadata FluxWeb writes on converted files so nobody converts twice.</summary>
    public const string LayoutMetadataKey = "fluxweb.nvfp4_layout";

    /// <summary>Whether <paramref name="file"/> stores NVFP4 the way ComfyUI does (high nibble first, tiled block scales).</summary>
    public static bool IsComfyLayout(SafeTensorsFile file)
    {
        if (file.Metadata.TryGetValue(LayoutMetadataKey, out var ours))
        {
            return ours != "row-major";
        }

        if (!file.Metadata.TryGetValue(QuantizationMetadataKey, out var json))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.TryGetProperty("layers", out var layers) && layers.ValueKind == JsonValueKind.Object
                && layers.EnumerateObject().Any(l => l.Value.ValueKind == JsonValueKind.Object && l.Value.TryGetProperty("format", out var format) && format.GetString() == "nvfp4");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Rows and columns ComfyUI pads the block scales of a [rows, blockColumns] layer to.</summary>
    public static (long Rows, long Columns) TiledScaleShape(long rows, long blockColumns) => (RoundUp(rows, 128), RoundUp(blockColumns, 4));

    /// <summary>Where the scale of (row, column) lies in the tiled order: tiles of 128×4 (512 bytes) row-major, inside a tile (r % 32)·16 + (r / 32 % 4)·4 + c % 4.</summary>
    public static long TiledIndex(long row, long column, long paddedColumns) =>
        ((row / 128) * (paddedColumns / 4) + column / 4) * 512 + (row % 32) * 16 + (row / 32 % 4) * 4 + column % 4;

    /// <summary>Row-major [rows, blockColumns] scales from ComfyUI's tiled, padded ones.</summary>
    public static byte[] UntileScales(ReadOnlySpan<byte> tiled, long rows, long blockColumns)
    {
        var (paddedRows, paddedColumns) = TiledScaleShape(rows, blockColumns);
        if (tiled.Length != paddedRows * paddedColumns)
        {
            throw new ArgumentException($"Tiled NVFP4 scales for [{rows},{blockColumns}] are {paddedRows * paddedColumns} bytes; got {tiled.Length}.", nameof(tiled));
        }

        var result = new byte[rows * blockColumns];
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < blockColumns; c++)
            {
                result[r * blockColumns + c] = tiled[(int)TiledIndex(r, c, paddedColumns)];
            }
        }

        return result;
    }

    /// <summary>ComfyUI's packed bytes (high nibble first) as row-major low-nibble-first bytes, dropping ComfyUI's 16-alignment padding.</summary>
    public static byte[] RepackNibbles(ReadOnlySpan<byte> stored, long storedRows, long storedColumns, long rows, long packedColumns)
    {
        if (stored.Length != storedRows * storedColumns || rows > storedRows || packedColumns > storedColumns)
        {
            throw new ArgumentException($"Packed NVFP4 data [{storedRows},{storedColumns}] cannot hold [{rows},{packedColumns}].", nameof(stored));
        }

        var result = new byte[rows * packedColumns];
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < packedColumns; c++)
            {
                var b = stored[(int)(r * storedColumns + c)];
                result[r * packedColumns + c] = (byte)((b << 4) | (b >> 4));
            }
        }

        return result;
    }

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="destination"/> with every NVFP4 layer (a
    /// <c>.weight</c> with a <c>.weight_scale_2</c> beside it) rewritten from ComfyUI's layout to the
    /// row-major one: the same names, <c>.weight</c> U8 [out, in/2] low nibble first and
    /// <c>.weight_scale</c> F8_E4M3 [out, in/16]. Other tensors and the metadata are kept; one
    /// tensor is in memory at a time. Returns how many layers were converted.
    /// </summary>
    public static int ConvertToRowMajor(SafeTensorsFile source, string destination)
    {
        var writer = new SafeTensorsWriter();
        var layers = source.Tensors.Keys.Where(n => n.EndsWith(".weight_scale_2", StringComparison.Ordinal))
            .Select(n => n[..^"_scale_2".Length]).Where(source.Tensors.ContainsKey).ToHashSet(StringComparer.Ordinal);
        var scales = layers.Select(QuantizedLinears.WeightScaleName).ToHashSet(StringComparer.Ordinal);
        foreach (var info in source.Tensors.Values.OrderBy(t => t.Offset))
        {
            if (scales.Contains(info.Name))
            {
                continue; // written with its layer
            }

            if (!layers.Contains(info.Name))
            {
                writer.Add(info.Name, info.DType, info.Shape, () => source.ReadBytes(info.Name));
                continue;
            }

            var scaleInfo = source.Get(QuantizedLinears.WeightScaleName(info.Name));
            var (rows, packedColumns) = (info.Shape[0], info.Shape.Length == 2 ? info.Shape[1] : 0);
            var blockColumns = packedColumns * 2 / BlockSize;
            var (tiledRows, tiledColumns) = TiledScaleShape(rows, blockColumns);
            if (info.DType != SafeTensorDType.U8 || info.Shape.Length != 2 || packedColumns * 2 % BlockSize != 0)
            {
                throw new SafeTensorsException(Path.GetFileName(source.Path), $"is {info.DType} {info.ShapeText}; an NVFP4 weight is U8 [out, in/2] with in a multiple of {BlockSize}.", info.Name);
            }

            if (scaleInfo.DType != SafeTensorDType.F8_E4M3 || scaleInfo.ElementCount != tiledRows * tiledColumns)
            {
                throw new SafeTensorsException(Path.GetFileName(source.Path), $"is {scaleInfo.DType} {scaleInfo.ShapeText}; ComfyUI's tiled scales of an NVFP4 [{rows},{packedColumns * 2}] weight are F8_E4M3 [{tiledRows},{tiledColumns}] (a layer ComfyUI padded to a multiple of 16 cannot be converted back).", scaleInfo.Name);
            }

            writer.Add(info.Name, SafeTensorDType.U8, info.Shape, () => RepackNibbles(source.ReadBytes(info.Name), rows, packedColumns, rows, packedColumns));
            writer.Add(scaleInfo.Name, SafeTensorDType.F8_E4M3, [rows, blockColumns], () => UntileScales(source.ReadBytes(scaleInfo.Name), rows, blockColumns));
        }

        var metadata = new Dictionary<string, string>(source.Metadata, StringComparer.Ordinal) { [LayoutMetadataKey] = "row-major" };
        writer.Write(destination, metadata);
        return layers.Count;
    }

    private static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;
}
