using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Protocols.Tcp.Framing;

/// <summary>
/// Messages over a byte stream, each preceded by its length as a 4-byte big-endian unsigned
/// integer (network byte order). TCP delivers bytes, not messages: this restores the boundaries.
/// </summary>
/// <remarks>
/// One reader and one writer may use the framer concurrently (as with <see cref="Stream"/>s like
/// <c>TcpStream</c>); two concurrent reads or two concurrent writes are not supported. A read that
/// fails with <see cref="FramingException"/> leaves the framer faulted: later reads throw the same
/// error. Reads allocate nothing but the returned message (<see cref="ReadMessageAsync(CancellationToken)"/>)
/// or nothing at all (<see cref="ReadMessageAsync(IBufferWriter{byte}, CancellationToken)"/>); writes
/// copy small messages into one pooled buffer so the prefix and the body leave in one write.
/// </remarks>
public sealed class LengthPrefixedFraming
{
    /// <summary>The length of the prefix in bytes.</summary>
    public const int PrefixLength = 4;

    /// <summary>The default <see cref="MaxMessageLength"/>: 1 MiB.</summary>
    public const int DefaultMaxMessageLength = 1 << 20;

    /// <summary>Messages up to this size are written with their prefix in a single <see cref="Stream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
    private const int CoalesceLimit = 64 * 1024;

    private readonly byte[] _readPrefix = new byte[PrefixLength];
    private readonly byte[] _writePrefix = new byte[PrefixLength];
    private FramingException? _fault;

    /// <summary>Frames messages on <paramref name="stream"/>.</summary>
    /// <param name="stream">The byte stream (for example a <c>TcpStream</c>); not owned: the framer never disposes it.</param>
    /// <param name="maxMessageLength">The largest message accepted on reads and writes, in bytes (not counting the prefix).</param>
    public LengthPrefixedFraming(Stream stream, int maxMessageLength = DefaultMaxMessageLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMessageLength);
        Stream = stream;
        MaxMessageLength = maxMessageLength;
    }

    /// <summary>The underlying stream.</summary>
    public Stream Stream { get; }

    /// <summary>The largest message accepted, in bytes (not counting the prefix).</summary>
    public int MaxMessageLength { get; }

    /// <summary>
    /// Reads the next message. Returns null when the stream ends cleanly between messages; throws
    /// <see cref="FramingException"/> when it ends inside one or the prefix exceeds <see cref="MaxMessageLength"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the framer is then faulted if part of a message was consumed.</param>
    /// <returns>The message (an array of exactly its length), or null at the end of the stream.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<byte[]?> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        int? length = await ReadPrefixAsync(cancellationToken).ConfigureAwait(false);
        if (length is not { } n)
        {
            return null;
        }

        // The prefix is the peer's claim, not a commitment: grow the array as the body arrives
        // (doubling, at most to n) so four hostile bytes cannot pin MaxMessageLength per connection.
        byte[] message = n == 0 ? [] : new byte[Math.Min(n, InitialBodyAllocation)];
        int read = 0;
        while (read < n)
        {
            if (read == message.Length)
            {
                Array.Resize(ref message, (int)Math.Min(2L * message.Length, n));
            }

            int got = await ReadOrFaultAsync(message.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw Fault(FramingError.TruncatedMessage, $"the stream ended after {read} of {n} bytes of a message");
            }

            read += got;
        }

        return message;
    }

    /// <summary>How much of an announced message is allocated before its bytes arrive.</summary>
    internal const int InitialBodyAllocation = 64 * 1024;

    /// <summary>
    /// Reads the next message into <paramref name="destination"/> (for example a reused
    /// <see cref="ArrayBufferWriter{T}"/>), allocating nothing. Returns false when the stream ends
    /// cleanly between messages.
    /// </summary>
    /// <param name="destination">Receives the message's bytes (appended).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>True when a message was read.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadMessageAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        int? length = await ReadPrefixAsync(cancellationToken).ConfigureAwait(false);
        if (length is not { } remaining)
        {
            return false;
        }

        while (remaining > 0)
        {
            Memory<byte> chunk = destination.GetMemory(Math.Min(remaining, 16 * 1024));
            if (chunk.Length > remaining)
            {
                chunk = chunk[..remaining];
            }

            int read = await ReadOrFaultAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw Fault(FramingError.TruncatedMessage, $"the stream ended with {remaining} bytes of a message still to come");
            }

            destination.Advance(read);
            remaining -= read;
        }

        return true;
    }

    /// <summary>Writes <paramref name="message"/> preceded by its length.</summary>
    /// <param name="message">The message; at most <see cref="MaxMessageLength"/> bytes.</param>
    /// <param name="cancellationToken">Cancels the write (part of the message may have been written: close the connection).</param>
    /// <returns>A task that completes when the stream accepted every byte.</returns>
    /// <exception cref="ArgumentException">The message is longer than <see cref="MaxMessageLength"/>.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        FramingChecks.ThrowIfTooLong(message.Length, MaxMessageLength, nameof(message));

        if (message.Length <= CoalesceLimit)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(PrefixLength + message.Length);
            try
            {
                BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)message.Length);
                message.Span.CopyTo(buffer.AsSpan(PrefixLength));
                await Stream.WriteAsync(buffer.AsMemory(0, PrefixLength + message.Length), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return;
        }

        BinaryPrimitives.WriteUInt32BigEndian(_writePrefix, (uint)message.Length);
        await Stream.WriteAsync(_writePrefix, cancellationToken).ConfigureAwait(false);
        await Stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the prefix: null at a clean end of stream, else the validated length.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int?> ReadPrefixAsync(CancellationToken cancellationToken)
    {
        if (_fault is not null)
        {
            throw new FramingException(_fault.Error, _fault.Message);
        }

        int read = 0;
        while (read < PrefixLength)
        {
            int n = await ReadOrFaultAsync(_readPrefix.AsMemory(read), cancellationToken, read > 0).ConfigureAwait(false);
            if (n == 0)
            {
                if (read == 0)
                {
                    return null;
                }

                throw Fault(FramingError.TruncatedMessage, $"the stream ended inside a length prefix ({read} of {PrefixLength} bytes)");
            }

            read += n;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(_readPrefix);
        if (length > (uint)MaxMessageLength)
        {
            throw Fault(FramingError.MessageTooLarge, $"a length prefix announces {length} bytes, more than the maximum of {MaxMessageLength}");
        }

        return (int)length;
    }

    /// <summary>One read; a cancellation or I/O failure in the middle of a message faults the framer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadOrFaultAsync(Memory<byte> buffer, CancellationToken cancellationToken, bool insideMessage = true)
    {
        try
        {
            return await Stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (insideMessage && _fault is null && e is OperationCanceledException or IOException)
        {
            _fault = new FramingException(FramingError.TruncatedMessage, $"a read inside a message failed: {e.Message}");
            throw;
        }
    }

    private FramingException Fault(FramingError error, string message)
    {
        _fault = new FramingException(error, message);
        return _fault;
    }
}
