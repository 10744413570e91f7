using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Protocols.Tcp.Framing;

/// <summary>What <see cref="DelimitedFraming"/> does with bytes after the last delimiter when the stream ends.</summary>
public enum TrailingDataHandling
{
    /// <summary>Fail with <see cref="FramingError.TruncatedMessage"/>: every message must end with the delimiter.</summary>
    Reject,

    /// <summary>Return the bytes as a last message (as text tools treat a final line without a newline).</summary>
    ReturnAsMessage,
}

/// <summary>
/// Messages over a byte stream, each ended by a delimiter (for example lines ended by <c>"\n"</c>
/// or <c>"\r\n"</c>). The delimiter is not part of the returned message.
/// </summary>
/// <remarks>
/// Reads go through one internal buffer rented from <see cref="ArrayPool{T}.Shared"/>; it starts
/// small and grows up to <see cref="MaxMessageLength"/> plus the delimiter, so a peer can never make
/// the framer hold more. Call <see cref="Dispose"/> to return it. One reader and one writer may run
/// concurrently. A <see cref="FramingException"/> leaves the framer faulted.
/// </remarks>
public sealed class DelimitedFraming : IDisposable
{
    /// <summary>The default <see cref="MaxMessageLength"/>: 64 KiB.</summary>
    public const int DefaultMaxMessageLength = 64 * 1024;

    private const int InitialBufferSize = 4096;

    private readonly byte[] _delimiter;
    private byte[]? _buffer;
    private int _start;     // first unconsumed byte
    private int _end;       // one past the last buffered byte
    private int _scanned;   // bytes from _start already known to hold no complete delimiter start
    private bool _endOfStream;
    private FramingException? _fault;

    /// <summary>Frames messages on <paramref name="stream"/>, each ended by <paramref name="delimiter"/>.</summary>
    /// <param name="stream">The byte stream; not owned.</param>
    /// <param name="delimiter">The delimiter bytes (1 to 16 of them), e.g. <c>"\r\n"u8</c>.</param>
    /// <param name="maxMessageLength">The longest message accepted, without the delimiter.</param>
    /// <param name="trailingData">What to do with bytes after the last delimiter at the end of the stream.</param>
    public DelimitedFraming(Stream stream, ReadOnlySpan<byte> delimiter, int maxMessageLength = DefaultMaxMessageLength, TrailingDataHandling trailingData = TrailingDataHandling.Reject)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (delimiter.Length is 0 or > 16)
        {
            throw new ArgumentException("the delimiter must have 1 to 16 bytes", nameof(delimiter));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(maxMessageLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxMessageLength, Array.MaxLength - 16);
        Stream = stream;
        _delimiter = delimiter.ToArray();
        MaxMessageLength = maxMessageLength;
        TrailingData = trailingData;
    }

    /// <summary>Frames lines ended by <c>"\n"</c>; a <c>"\r"</c> before it stays in the message.</summary>
    /// <param name="stream">The byte stream; not owned.</param>
    /// <param name="maxLineLength">The longest line accepted, without the newline.</param>
    /// <returns>The framer.</returns>
    public static DelimitedFraming Lines(Stream stream, int maxLineLength = DefaultMaxMessageLength)
        => new(stream, "\n"u8, maxLineLength, TrailingDataHandling.ReturnAsMessage);

    /// <summary>The underlying stream.</summary>
    public Stream Stream { get; }

    /// <summary>The delimiter bytes.</summary>
    public ReadOnlyMemory<byte> Delimiter => _delimiter;

    /// <summary>The longest message accepted, in bytes, without the delimiter.</summary>
    public int MaxMessageLength { get; }

    /// <summary>What happens to bytes after the last delimiter when the stream ends.</summary>
    public TrailingDataHandling TrailingData { get; }

    /// <summary>Bytes read from the stream but not yet returned in a message.</summary>
    public int BufferedBytes => _end - _start;

    /// <summary>
    /// Reads the next message. Returns null at the end of the stream (after the last message);
    /// throws <see cref="FramingException"/> when more than <see cref="MaxMessageLength"/> bytes
    /// arrive without a delimiter, or the stream ends after an unterminated message and
    /// <see cref="TrailingData"/> is <see cref="TrailingDataHandling.Reject"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; buffered bytes stay buffered, so the read can be retried.</param>
    /// <returns>The message without its delimiter, or null.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<byte[]?> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        (int offset, int length, int consumed)? found = await FindMessageAsync(cancellationToken).ConfigureAwait(false);
        if (found is not { } m)
        {
            return null;
        }

        byte[] message = _buffer.AsSpan(m.offset, m.length).ToArray();
        Consume(m.consumed);
        return message;
    }

    /// <summary>Reads the next message into <paramref name="destination"/>, allocating nothing. False at the end of the stream.</summary>
    /// <param name="destination">Receives the message without its delimiter (appended).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>True when a message was read.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadMessageAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        (int offset, int length, int consumed)? found = await FindMessageAsync(cancellationToken).ConfigureAwait(false);
        if (found is not { } m)
        {
            return false;
        }

        destination.Write(_buffer.AsSpan(m.offset, m.length));
        Consume(m.consumed);
        return true;
    }

    /// <summary>Writes <paramref name="message"/> followed by the delimiter, in one write.</summary>
    /// <param name="message">The message; it must not contain the delimiter and must fit <see cref="MaxMessageLength"/>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the stream accepted every byte.</returns>
    /// <exception cref="ArgumentException">The message contains the delimiter or is too long.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        FramingChecks.ThrowIfTooLong(message.Length, MaxMessageLength, nameof(message));

        if (message.Span.IndexOf(_delimiter) >= 0)
        {
            throw new ArgumentException("the message contains the delimiter; the reader would split it", nameof(message));
        }

        int total = message.Length + _delimiter.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            message.Span.CopyTo(buffer);
            _delimiter.CopyTo(buffer, message.Length);
            await Stream.WriteAsync(buffer.AsMemory(0, total), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Returns the internal buffer to the pool. Does not dispose the stream.</summary>
    public void Dispose()
    {
        byte[]? buffer = _buffer;
        _buffer = null;
        _start = _end = _scanned = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Finds the next message in the buffer, reading more as needed: (offset, length, bytes to consume) or null at the end.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(int Offset, int Length, int Consumed)?> FindMessageAsync(CancellationToken cancellationToken)
    {
        if (_fault is not null)
        {
            throw new FramingException(_fault.Error, _fault.Message);
        }

        _buffer ??= ArrayPool<byte>.Shared.Rent(Math.Min(InitialBufferSize, MaxMessageLength + _delimiter.Length));
        while (true)
        {
            ReadOnlySpan<byte> pending = _buffer.AsSpan(_start, _end - _start);
            int at = pending[_scanned..].IndexOf(_delimiter);
            if (at >= 0)
            {
                int length = _scanned + at;
                if (length > MaxMessageLength)
                {
                    throw TooLarge(length);
                }

                return (_start, length, length + _delimiter.Length);
            }

            // No delimiter yet: the last (delimiter - 1) bytes may be the start of one, rescan them next time.
            _scanned = Math.Max(0, pending.Length - (_delimiter.Length - 1));
            if (_scanned > MaxMessageLength)
            {
                throw TooLarge(_scanned);
            }

            if (_endOfStream)
            {
                if (pending.Length == 0)
                {
                    return null;
                }

                if (TrailingData == TrailingDataHandling.ReturnAsMessage && pending.Length <= MaxMessageLength)
                {
                    return (_start, pending.Length, pending.Length);
                }

                throw Fault(pending.Length > MaxMessageLength ? FramingError.MessageTooLarge : FramingError.TruncatedMessage,
                    string.Create(CultureInfo.InvariantCulture, $"the stream ended after {pending.Length} bytes without a delimiter"));
            }

            MakeRoom();
            int capacity = Math.Min(_buffer.Length, MaxMessageLength + _delimiter.Length);
            int read = await Stream.ReadAsync(_buffer.AsMemory(_end, capacity - _end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _endOfStream = true;
            }

            _end += read;
        }
    }

    /// <summary>Ensures free space after <see cref="_end"/>: compacts, then grows up to the bound.</summary>
    private void MakeRoom()
    {
        byte[] buffer = _buffer!;
        int bound = MaxMessageLength + _delimiter.Length;
        if (_end < Math.Min(buffer.Length, bound))
        {
            return;
        }

        int pending = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(buffer, _start, buffer, 0, pending);
            _start = 0;
            _end = pending;
            return;
        }

        // Full of one unfinished message: grow, never past the longest message plus its delimiter
        // (unreachable at the bound: more than MaxMessageLength bytes without a delimiter already failed).
        int size = (int)Math.Min((long)buffer.Length * 2, bound);
        byte[] larger = ArrayPool<byte>.Shared.Rent(size);
        Buffer.BlockCopy(buffer, 0, larger, 0, pending);
        ArrayPool<byte>.Shared.Return(buffer);
        _buffer = larger;
    }

    private void Consume(int count)
    {
        _start += count;
        _scanned = 0;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    private FramingException TooLarge(int length)
        => Fault(FramingError.MessageTooLarge,
            string.Create(CultureInfo.InvariantCulture, $"{length} bytes arrived without a delimiter, more than the maximum message length of {MaxMessageLength}"));

    private FramingException Fault(FramingError error, string message)
    {
        _fault = new FramingException(error, message);
        return _fault;
    }
}
