using System.Runtime.InteropServices;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// Puts a checkpoint file inside a model package without copying gigabytes when it can. ONNX
/// Runtime resolves external-data paths and refuses any that leave the model's folder — symbolic
/// links included — so a package holds the weights by hard link (same file system) or by copy.
/// </summary>
public static partial class FileLinks
{
    public enum Method
    {
        HardLink,
        Copy,
    }

    public static Method HardLinkOrCopy(string source, string destination)
    {
        // link(2) does not follow a symbolic link: it would link the link itself, which ONNX Runtime
        // then refuses. Hugging Face cache snapshots are exactly that (links into blobs/), so resolve first.
        source = ResolveLinks(source);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        if (File.Exists(destination))
        {
            File.Delete(destination);
        }

        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (Link(Path.GetFullPath(source), Path.GetFullPath(destination)) == 0)
            {
                return Method.HardLink;
            }
        }

        File.Copy(source, destination);
        return Method.Copy;
    }

    /// <summary>The real file behind a path that may be (or pass through) symbolic links.</summary>
    public static string ResolveLinks(string path)
    {
        var full = Path.GetFullPath(path);
        var target = new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true);
        return target is null ? full : Path.GetFullPath(target.FullName);
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);
}
