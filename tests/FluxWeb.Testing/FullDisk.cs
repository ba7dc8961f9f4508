using System.Data.Common;
using FluxWeb.Application.Images;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace FluxWeb.Testing;

/// <summary>
/// A data disk that fills up: while <see cref="Full"/>, image files accept <see cref="BytesLeft"/> bytes
/// and then fail as Linux does when a disk is full (IOException, errno 28 in HResult, the same
/// message as a write to /dev/full), so the partial file is really on disk when the failure comes.
/// </summary>
public sealed class FullDiskImageFiles : IImageFiles
{
    public const int Enospc = 28;

    public volatile bool Full = true;

    public long BytesLeft { get; set; } = 1000;

    public int Failures => failures;

    private int failures;

    public Stream Create(string path)
    {
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        return Full ? new FillingStream(file, BytesLeft, path, () => Interlocked.Increment(ref failures)) : file;
    }

    private sealed class FillingStream(FileStream inner, long capacity, string path, Action failed) : Stream
    {
        private long written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => written;

        public override long Position { get => written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var fits = (int)Math.Max(0, Math.Min(buffer.Length, capacity - written));
            inner.Write(buffer[..fits]);
            inner.Flush();
            written += fits;
            if (fits < buffer.Length)
            {
                failed();
                throw new IOException($"No space left on device : '{path}'", Enospc);
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}

/// <summary>
/// The database on a full disk: while <see cref="Full"/>, the writes <see cref="Applies"/> selects fail
/// with SQLite's own error (SQLITE_FULL, "database or disk is full"); reads go on as they do on a full disk.
/// </summary>
public sealed class FullDiskDatabase : DbCommandInterceptor
{
    public const int SqliteFull = 13;

    public volatile bool Full = true;

    /// <summary>Which statements fail; by default every write.</summary>
    public Func<string, bool> Applies { get; set; } = IsWrite;

    public int Refused => refused;

    private int refused;

    public static bool IsWrite(string sql)
    {
        var text = sql.TrimStart();
        return text.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase)
            || sql.Contains("\nUPDATE ", StringComparison.OrdinalIgnoreCase)
            || sql.Contains("\nINSERT ", StringComparison.OrdinalIgnoreCase)
            || sql.Contains("\nDELETE ", StringComparison.OrdinalIgnoreCase);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Check(command);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Check(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Check(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Check(command);
        return ValueTask.FromResult(result);
    }

    private void Check(DbCommand command)
    {
        if (Full && Applies(command.CommandText))
        {
            Interlocked.Increment(ref refused);
            throw new SqliteException("SQLite Error 13: 'database or disk is full'.", SqliteFull);
        }
    }
}
