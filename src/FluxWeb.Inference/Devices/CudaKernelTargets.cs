using System.Buffers.Binary;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// The GPU architectures ONNX Runtime's CUDA provider carries machine code for. The provider in
/// 1.31 ships cubins for sm_75, sm_80, sm_86, sm_89, sm_90 and sm_120 and no PTX, so a GPU outside
/// that list (a V100 at 7.0, a B200 at 10.0) loads the library, passes a trivial probe on some
/// kernels and then fails on the first kernel it lacks. A cubin runs on its own major version at
/// the same or a higher minor version (sm_86 code on an 8.9 card), never across majors.
/// </summary>
public static class CudaKernelTargets
{
    /// <summary>What ONNX Runtime 1.31.0's libonnxruntime_providers_cuda.so holds (checked against the shipped file by a test).</summary>
    public static IReadOnlyList<(int Major, int Minor)> OnnxRuntime131 { get; } = [(7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (12, 0)];

    public const string ProviderLibrary = "libonnxruntime_providers_cuda.so";

    public static string Describe(IEnumerable<(int Major, int Minor)> targets) => string.Join(", ", targets.Select(t => $"sm_{t.Major}{t.Minor}"));

    /// <summary>Whether a cubin for one of <paramref name="targets"/> runs on a GPU of compute capability major.minor.</summary>
    public static bool Runs(IEnumerable<(int Major, int Minor)> targets, int major, int minor) =>
        targets.Any(t => t.Major == major && t.Minor <= minor);

    /// <summary>The provider library next to the application (where the NuGet package or the publish puts it), or null.</summary>
    public static string? FindProviderLibrary()
    {
        foreach (var candidate in new[]
        {
            Path.Combine(AppContext.BaseDirectory, ProviderLibrary),
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", ProviderLibrary),
        })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// Reads the architectures of the cubins (and whether any PTX is present) from a library's
    /// <c>.nv_fatbin</c> section: fatbin containers (magic 0xBA55ED50) hold entries whose header
    /// says kind (1 PTX, 2 cubin) and target architecture. Reads headers only.
    /// </summary>
    public static (IReadOnlyList<(int Major, int Minor)> Cubins, bool HasPtx) ReadFatbin(string libraryPath)
    {
        using var file = File.OpenRead(libraryPath);
        var (offset, size) = FindSection(file, ".nv_fatbin") ?? throw new InvalidDataException($"{Path.GetFileName(libraryPath)} has no .nv_fatbin section.");
        var cubins = new SortedSet<int>();
        var hasPtx = false;
        Span<byte> header = stackalloc byte[32];
        var position = 0L;
        while (position + 16 <= size)
        {
            ReadAt(file, offset + position, header[..16]);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != 0xBA55ED50)
            {
                position += 8; // containers are 8-byte aligned; skip padding
                continue;
            }

            var headerSize = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
            var fatSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
            var entry = position + headerSize;
            var end = entry + fatSize;
            while (entry + 32 <= end)
            {
                ReadAt(file, offset + entry, header);
                var kind = BinaryPrimitives.ReadUInt16LittleEndian(header);
                var entryHeaderSize = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
                var payload = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
                var arch = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[28..]);
                if (entryHeaderSize == 0)
                {
                    break;
                }

                if (kind == 1)
                {
                    hasPtx = true;
                }
                else if (kind == 2)
                {
                    cubins.Add(arch);
                }

                entry += entryHeaderSize + payload;
            }

            position = end;
        }

        return (cubins.Select(a => (a / 10, a % 10)).ToList(), hasPtx);
    }

    private static (long Offset, long Size)? FindSection(FileStream file, string name)
    {
        Span<byte> elf = stackalloc byte[64];
        ReadAt(file, 0, elf);
        if (elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2)
        {
            throw new InvalidDataException($"{file.Name} is not a 64-bit ELF file.");
        }

        var sectionTable = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        var namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3E..]);
        var entry = new byte[entrySize];
        ReadAt(file, sectionTable + (long)namesIndex * entrySize, entry);
        var namesOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(0x18));
        var wanted = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        var candidate = new byte[wanted.Length];
        for (var i = 0; i < count; i++)
        {
            ReadAt(file, sectionTable + (long)i * entrySize, entry);
            var nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            ReadAt(file, namesOffset + nameOffset, candidate);
            if (candidate.AsSpan().SequenceEqual(wanted))
            {
                return ((long)BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(0x18)), (long)BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(0x20)));
            }
        }

        return null;
    }

    private static void ReadAt(FileStream file, long offset, Span<byte> buffer)
    {
        file.Position = offset;
        file.ReadExactly(buffer);
    }
}
