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

    // Unknown-length streams: claimed lengths above this are read in growing steps.
    private const int GrowStep = 1024 * 1024;

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

    // The stream length last seen (-1: not seekable). Asking a file for its length costs a system
    // call, so it is asked again only when the cached value says a structure does not fit (the
    // file may still be growing, e.g. written by a live capture).
    private long _knownLength = -2;

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
        if (_knownLength == -2)
        {
            _knownLength = _stream.CanSeek ? _stream.Length : -1;
        }

        if (_knownLength < 0 || _knownLength - _stream.Position >= count)
        {
            return;
        }

        _knownLength = _stream.Length;
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

    /// <summary>
    /// Reads exactly <paramref name="count"/> bytes into the reusable buffer (<paramref name="reuse"/>)
    /// or a new array, or throws a truncation error. When the stream cannot tell its length, a
    /// large claimed length is met by growing the buffer as bytes arrive, so a corrupt length
    /// field in a piped file cannot make the reader allocate more than the bytes really there.
    /// </summary>
    public Memory<byte> ReadExactly(int count, bool reuse, string what, long structureOffset)
    {
        EnsureAvailable(count, what, structureOffset);
        if (Remaining is not null || count <= GrowStep)
        {
            byte[] whole = reuse ? Buffer(count) : (count == 0 ? [] : new byte[count]);
            ReadExactly(whole.AsSpan(0, count), what, structureOffset);
            return whole.AsMemory(0, count);
        }

        long start = Position;
        byte[] target = reuse ? Buffer(GrowStep) : new byte[GrowStep];
        int have = 0;
        while (have < count)
        {
            if (have == target.Length)
            {
                int size = (int)Math.Min(count, 2L * target.Length);
                if (reuse)
                {
                    target = Buffer(size, keep: have);
                }
                else
                {
                    Array.Resize(ref target, size);
                }
            }

            int want = Math.Min(target.Length, count) - have;
            int got = Read(target.AsSpan(have, want));
            have += got;
            if (got < want)
            {
                long already = start - structureOffset;
                throw Truncated(what, structureOffset, count + already, have + already);
            }
        }

        return target.AsMemory(0, count);
    }

    /// <summary>The reusable buffer, grown to at least <paramref name="size"/> bytes (contents not kept).</summary>
    /// <param name="size">Bytes needed.</param>
    /// <param name="keep">Leading bytes to carry over when the buffer grows.</param>
    public byte[] Buffer(int size, int keep = 0)
    {
        if (_buffer.Length < size)
        {
            byte[] grown = new byte[Math.Max(size, Math.Min(Math.Max(_buffer.Length * 2, 256), int.MaxValue / 2))];
            _buffer.AsSpan(0, keep).CopyTo(grown);
            _buffer = grown;
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
