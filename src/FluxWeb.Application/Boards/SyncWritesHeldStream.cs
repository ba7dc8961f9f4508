namespace FluxWeb.Application.Boards;

/// <summary>
/// A write-only stream over a response body that must never be written synchronously (Kestrel refuses it). ZipArchive
/// writes a few small parts synchronously even in its asynchronous mode (an entry's data descriptor when the entry is
/// closed, possibly its central directory): those are held here and sent ahead of the next asynchronous write or flush.
/// Only those parts are ever held (some bytes per image), never an image.
/// </summary>
internal sealed class SyncWritesHeldStream(Stream inner) : Stream
{
    private readonly MemoryStream held = new();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => held.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => held.Write(buffer);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await SendHeldAsync(cancellationToken);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        // Sent with the next asynchronous write or flush.
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await SendHeldAsync(cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private async Task SendHeldAsync(CancellationToken cancellationToken)
    {
        if (held.Length > 0)
        {
            await inner.WriteAsync(held.GetBuffer().AsMemory(0, (int)held.Length), cancellationToken);
            held.SetLength(0);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            held.Dispose();
        }

        base.Dispose(disposing);
    }
}
