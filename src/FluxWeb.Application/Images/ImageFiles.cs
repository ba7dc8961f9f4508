namespace FluxWeb.Application.Images;

/// <summary>
/// How the image store creates files: the disk, or in tests a disk that runs out of space part-way
/// through a write (a full disk cannot be provoked on a shared machine). Everything around the write
/// (the partial file, its removal on failure, the error the user sees) is the store's own code.
/// </summary>
public interface IImageFiles
{
    /// <summary>Creates or truncates <paramref name="path"/> for writing.</summary>
    Stream Create(string path);
}

public sealed class DiskImageFiles : IImageFiles
{
    public Stream Create(string path) =>
        new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024, FileOptions.Asynchronous);
}

/// <summary>
/// A file the store could not write (full disk, no permission, an I/O error). The message is for the
/// person who asked: what happened and that nothing was kept; the inner exception is for the log.
/// </summary>
public sealed class ImageStorageException(string message, Exception inner) : IOException(message, inner)
{
    /// <summary>The disk (or the account's disk quota) is full: an administrator has to free space.</summary>
    public bool DiskFull { get; } = IsDiskFull(inner);

    public static ImageStorageException From(Exception ex) => IsDiskFull(ex)
        ? new ImageStorageException("The image could not be stored: the server's disk is full. Nothing was kept; an administrator needs to free space.", ex)
        : new ImageStorageException($"The image could not be stored: {ex.Message} Nothing was kept.", ex);

    /// <summary>ENOSPC/EDQUOT on Linux and macOS (.NET puts errno in HResult), ERROR_DISK_FULL/ERROR_HANDLE_DISK_FULL on Windows.</summary>
    public static bool IsDiskFull(Exception ex) =>
        ex is IOException { HResult: 28 or 122 or 69 or unchecked((int)0x80070070) or unchecked((int)0x80070027) };
}
