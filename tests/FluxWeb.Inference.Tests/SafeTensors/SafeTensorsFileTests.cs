using System.Buffers.Binary;
using System.Text;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Tests.SafeTensors;

public sealed class SafeTensorsFileTests
{
    private static string WriteRaw(TempDirectory folder, string header, int dataBytes, string name = "bad.safetensors")
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        var path = folder.Combine(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Round_trip_keeps_names_types_shapes_values_and_metadata()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("w.safetensors");
        new SafeTensorsWriter()
            .AddFloat32("a", [2, 3], [1, 2, 3, 4, 5, 6])
            .AddBFloat16("b", [4], [1f, -2.5f, 0.1f, 65504f])
            .AddInt64("c", [], [42])
            .Write(path, new Dictionary<string, string> { ["format"] = "pt" });

        var file = SafeTensorsFile.Open(path);

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(0, file.DataStart % 8);
        Assert.Equal([1f, 2, 3, 4, 5, 6], file.ReadFloat32("a"));
        Assert.Equal([2L, 3], file.Get("a").Shape);
        Assert.Equal([1f, -2.5f, 0.10009765625f, 65536f], file.ReadFloat32("b"));
        Assert.Equal(SafeTensorDType.BF16, file.Get("b").DType);
        Assert.Equal([42L], file.ReadInt64("c"));
    }

    [Fact]
    public void Reads_the_fixture_weights_written_by_the_reference_tools()
    {
        var file = TestFixtures.Open("flux2-tiny", "weights", "transformer_bfl.safetensors");

        Assert.Equal(41, file.Tensors.Count);
        Assert.Equal([64L, 128], file.Get("img_in.weight").Shape);
        var values = file.ReadFloat32("img_in.weight");
        Assert.Equal(0.2034391164779663, values.Max(Math.Abs), 6);
    }

    [Fact]
    public void Truncated_file_names_the_tensor_that_runs_past_the_end()
    {
        using var folder = new TempDirectory();
        var path = WriteRaw(folder, """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8);

        var error = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));

        Assert.Equal("w", error.Tensor);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_length_beyond_the_file_is_refused()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("short.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1_000_000);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("1000000-byte header", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}""", "data_offsets span 12 bytes")]
    [InlineData("""{"w":{"dtype":"F99","shape":[4],"data_offsets":[0,16]}}""", "unknown dtype 'F99'")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}""", "invalid shape")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}""", "invalid data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4]}}""", "needs \"dtype\"")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", "overlaps")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}""", "impossibly large")]
    [InlineData("""[1,2,3]""", "not a JSON object")]
    [InlineData("""{"w": """, "not valid JSON")]
    public void Lying_headers_give_a_clear_error(string header, string expected)
    {
        using var folder = new TempDirectory();
        var path = WriteRaw(folder, header, 32);

        var error = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.safetensors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_a_float_from_an_integer_tensor_is_refused()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("w.safetensors");
        new SafeTensorsWriter().AddInt64("n", [1], [7]).Write(path);

        var error = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path).ReadFloat32("n"));

        Assert.Contains("not a floating-point type", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sparse_full_size_files_cost_only_their_header()
    {
        using var folder = new TempDirectory();
        var path = WeightTables.WriteSparse("flux2-klein-4b-transformer.tsv", folder.Path, "t.safetensors");

        var file = SafeTensorsFile.Open(path);

        Assert.Equal(169, file.Tensors.Count);
        Assert.True(file.FileLength > 7_000_000_000, $"{file.FileLength}");
        Assert.Equal(3_875_544_576, file.Tensors.Values.Sum(t => t.ElementCount));
    }

    [Fact]
    public void Sharded_index_joins_the_shards_and_checks_the_map()
    {
        using var folder = new TempDirectory();
        new SafeTensorsWriter().AddFloat32("a", [1], [1]).Write(folder.Combine("model-00001-of-00002.safetensors"));
        new SafeTensorsWriter().AddFloat32("b", [1], [2]).Write(folder.Combine("model-00002-of-00002.safetensors"));
        File.WriteAllText(folder.Combine("model.safetensors.index.json"),
            """{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");

        var set = WeightSet.Open(folder.Path);

        Assert.Equal(["a", "b"], set.Names.Order());
        Assert.Equal([2f], set.Get("b").File.ReadFloat32("b"));

        File.WriteAllText(folder.Combine("model.safetensors.index.json"),
            """{"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");
        var error = Assert.Throws<SafeTensorsException>(() => WeightSet.Open(folder.Path));
        Assert.Contains("does not contain it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Index_may_not_point_outside_its_folder()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.Combine("model.safetensors.index.json"), """{"weight_map":{"a":"../../etc/passwd"}}""");

        var error = Assert.Throws<SafeTensorsException>(() => WeightSet.Open(folder.Path));

        Assert.Contains("invalid shard", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Conversions_round_trip_bfloat16_and_float8()
    {
        Assert.Equal(0x3F80, TensorConversion.FloatToBFloat16(1f));
        Assert.Equal(1f, TensorConversion.BFloat16ToFloat(0x3F80));
        // Round to nearest even: 1 + 2^-8 lies exactly between two bf16 values and rounds to 1.
        Assert.Equal(0x3F80, TensorConversion.FloatToBFloat16(1f + MathF.Pow(2, -8)));
        Assert.Equal(448f, TensorConversion.Float8E4M3FnToFloat(0x7E));
        Assert.Equal(0x7E, TensorConversion.FloatToFloat8E4M3Fn(1000f));
        Assert.True(float.IsNaN(TensorConversion.Float8E4M3FnToFloat(0x7F)));
        for (var code = 0; code < 0x7F; code++)
        {
            var value = TensorConversion.Float8E4M3FnToFloat((byte)code);
            Assert.Equal(code, TensorConversion.FloatToFloat8E4M3Fn(value));
            Assert.Equal(code | 0x80, TensorConversion.FloatToFloat8E4M3Fn(-value) | (code == 0 ? 0x80 : 0));
        }
    }
}
