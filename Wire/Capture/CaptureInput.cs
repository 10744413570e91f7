using System.Buffers;
using System.Globalization;

namespace Protocols.Wire.Capture;

/// <summary>
/// The stream under a capture reader: counts consumed bytes (for error offsets), reads exactly or
/// reports how much was there, skips, and owns one reusable buffer for whole blocks.
/// </summary>
internal sealed class CaptureInput : IDisposable
{
    private const int SkipChunk = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[] _buffer = [];

    public CaptureInput(Stream stream, bool leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The capture stream must be readable.", nameof(stream));
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes consumed since reading started: the offset of the next byte.</summary>
    public long Position { get; private set; }

    /// <summary>Bytes left in the stream when it can tell (seekable streams), else null.</summary>
    public long? Remaining => _stream.CanSeek ? Math.Max(0, _stream.Length - _stream.Position) : null;

    /// <summary>Reads up to <c>destination.Length</c> bytes; fewer only at the end of the stream.</summary>
    public int Read(Span<byte> destination)
    {
        int got = _stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        Position += got;
        return got;
    }

    /// <summary>Reads exactly <c>destination.Length</c> bytes or throws a truncation error naming <paramref name="what"/>.</summary>
    public void ReadExactly(Span<byte> destination, string what, long structureOffset)
    {
        long start = Position;
        int got = Read(destination);
        if (got < destination.Length)
        {
            throw Truncated(what, structureOffset, destination.Length + (start - structureOffset), got + (start - structureOffset));
        }
    }

    /// <summary>Fails early, before any allocation, when a seekable stream cannot hold <paramref name="count"/> more bytes.</summary>
    public void EnsureAvailable(long count, string what, long structureOffset)
    {
        long? remaining = Remaining;
        if (remaining is long r && r < count)
        {
            long already = Position - structureOffset;
            throw Truncated(what, structureOffset, count + already, r + already);
        }
    }

    /// <summary>Skips <paramref name="count"/> bytes or throws a truncation error.</summary>
    /// <param name="count">Bytes to skip.</param>
    /// <param name="what">The structure being skipped, for the error message.</param>
    /// <param name="structureOffset">Where that structure started.</param>
    /// <param name="needAfter">Bytes of the structure that follow the skipped part (counted in the "need" of the error).</param>
    public void Skip(long count, string what, long structureOffset, long needAfter = 0)
    {
        EnsureAvailable(count + needAfter, what, structureOffset);
        if (_stream.CanSeek)
        {
            _stream.Seek(count, SeekOrigin.Current);
            Position += count;
            return;
        }

        long start = Position;
        byte[] chunk = ArrayPool<byte>.Shared.Rent(SkipChunk);
        try
        {
            long left = count;
            while (left > 0)
            {
                int want = (int)Math.Min(left, chunk.Length);
                int got = Read(chunk.AsSpan(0, want));
                left -= got;
                if (got < want)
                {
                    long already = start - structureOffset;
                    throw Truncated(what, structureOffset, count + needAfter + already, count - left + already);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>The reusable buffer, grown to at least <paramref name="size"/> bytes (contents not kept).</summary>
    public byte[] Buffer(int size)
    {
        if (_buffer.Length < size)
        {
            _buffer = new byte[Math.Max(size, Math.Min(Math.Max(_buffer.Length * 2, 256), int.MaxValue / 2))];
        }

        return _buffer;
    }

    public static CaptureFormatException Truncated(string what, long offset, long need, long have) =>
        new(offset, string.Create(CultureInfo.InvariantCulture, $"truncated {what} at offset {offset}: need {need} bytes, have {have}"));

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }
}
