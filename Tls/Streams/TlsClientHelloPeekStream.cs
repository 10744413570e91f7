using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>Why <see cref="TlsClientHelloPeekStream.PeekClientHelloAsync"/> found no ClientHello.</summary>
public enum TlsClientHelloProblem
{
    /// <summary>The bytes are not a valid ClientHello (or not TLS at all).</summary>
    Malformed,

    /// <summary>The peer closed the connection before the ClientHello was complete.</summary>
    Truncated,

    /// <summary>The ClientHello would need more bytes than the configured limit.</summary>
    TooLarge,

    /// <summary>The ClientHello did not arrive within the timeout.</summary>
    Timeout,
}

/// <summary>The first bytes of a connection are not a usable ClientHello.</summary>
public sealed class TlsClientHelloException : IOException
{
    /// <summary>Creates the exception.</summary>
    public TlsClientHelloException(TlsClientHelloProblem problem, string message, WireError error = default, int bytesSeen = 0)
        : base(message)
    {
        Problem = problem;
        Error = error;
        BytesSeen = bytesSeen;
    }

    /// <summary>Creates a <see cref="TlsClientHelloProblem.Malformed"/> exception.</summary>
    public TlsClientHelloException()
        : this(TlsClientHelloProblem.Malformed, "not a TLS ClientHello")
    {
    }

    /// <summary>Creates a <see cref="TlsClientHelloProblem.Malformed"/> exception.</summary>
    public TlsClientHelloException(string message)
        : this(TlsClientHelloProblem.Malformed, message)
    {
    }

    /// <summary>Creates a <see cref="TlsClientHelloProblem.Malformed"/> exception.</summary>
    public TlsClientHelloException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>What went wrong.</summary>
    public TlsClientHelloProblem Problem { get; }

    /// <summary>The parse error (layer TLS, field, lengths), for <see cref="TlsClientHelloProblem.Malformed"/> and <see cref="TlsClientHelloProblem.Truncated"/>.</summary>
    public WireError Error { get; }

    /// <summary>How many bytes of the connection had arrived.</summary>
    public int BytesSeen { get; }
}

/// <summary>
/// Reads the ClientHello at the start of an accepted connection without consuming it: the bytes
/// read to parse it are kept and replayed to the first reads, so a TLS server (SslStream) or a
/// proxy that forwards the connection sees the whole stream from its first byte. Use it to route
/// by SNI or to choose a certificate by name before the handshake.
/// </summary>
/// <example>
/// <code>
/// var peek = new TlsClientHelloPeekStream(accepted);
/// TlsClientHelloInfo hello = await peek.PeekClientHelloAsync(ct);   // SNI, ALPN, versions
/// SslStream tls = await TlsHandshake.AuthenticateAsServerAsync(peek, OptionsFor(hello.ServerName), ct);
/// </code>
/// </example>
public sealed class TlsClientHelloPeekStream : WrappingStream
{
    /// <summary>The default bound on the bytes kept while waiting for a whole ClientHello.</summary>
    public const int DefaultMaxHelloBytes = 64 * 1024;

    private readonly int _maxHelloBytes;
    private byte[] _buffer = [];
    private int _start;
    private int _end;
    private bool InnerEnded;
    private bool _readStarted;

    /// <summary>Wraps an accepted connection.</summary>
    /// <param name="inner">The connection, before anything was read from it.</param>
    /// <param name="maxHelloBytes">The most bytes kept to find the ClientHello (a hello fragmented into many records is larger on the wire).</param>
    /// <param name="leaveOpen">True to leave <paramref name="inner"/> open when this stream is disposed.</param>
    public TlsClientHelloPeekStream(Stream inner, int maxHelloBytes = DefaultMaxHelloBytes, bool leaveOpen = false)
        : base(inner, leaveOpen)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHelloBytes, TlsFraming.RecordHeaderLength + TlsFraming.HandshakeHeaderLength);
        _maxHelloBytes = maxHelloBytes;
    }

    /// <summary>The hello found by <see cref="PeekClientHelloAsync"/>, or null.</summary>
    public TlsClientHelloInfo? ClientHello { get; private set; }

    /// <summary>The bytes read and not yet replayed.</summary>
    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <summary>
    /// Reads until the first bytes hold a whole ClientHello and returns what it says; nothing is
    /// consumed. Calling it again returns the same result.
    /// </summary>
    /// <param name="timeout">The longest to wait for the hello (null: no limit beyond the token).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TlsClientHelloException">Malformed, truncated (the peer closed), too large, or timed out.</exception>
    public async ValueTask<TlsClientHelloInfo> PeekClientHelloAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (ClientHello is not null)
        {
            return ClientHello;
        }

        if (_readStarted)
        {
            throw new InvalidOperationException("the stream was already read from; peek before the first read");
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is TimeSpan t && t != Timeout.InfiniteTimeSpan)
        {
            limit.CancelAfter(t);
        }

        while (true)
        {
            TlsClientHelloStatus status = TlsClientHelloInfo.TryParse(Buffered, out TlsClientHelloInfo? info, out int required, out WireError error);
            switch (status)
            {
                case TlsClientHelloStatus.Complete:
                    ClientHello = info!;
                    return info!;
                case TlsClientHelloStatus.Malformed:
                    throw new TlsClientHelloException(TlsClientHelloProblem.Malformed, $"not a valid TLS ClientHello: {error}", error, _end);
            }

            if (required > _maxHelloBytes)
            {
                throw new TlsClientHelloException(TlsClientHelloProblem.TooLarge, $"the ClientHello needs at least {required} bytes, more than the limit of {_maxHelloBytes}", error, _end);
            }

            if (InnerEnded)
            {
                throw new TlsClientHelloException(TlsClientHelloProblem.Truncated, $"the connection ended after {_end} bytes, inside the ClientHello ({error})", error, _end);
            }

            if (_buffer.Length < required)
            {
                Array.Resize(ref _buffer, Math.Min(_maxHelloBytes, Math.Max(required, Math.Max(1024, _buffer.Length * 2))));
            }

            int n;
            try
            {
                n = await Inner.ReadAsync(_buffer.AsMemory(_end), limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TlsClientHelloException(TlsClientHelloProblem.Timeout, $"no complete ClientHello within {timeout!.Value.TotalSeconds:0.###} s ({_end} bytes arrived)", error, _end);
            }

            if (n == 0)
            {
                InnerEnded = true;
            }

            _end += n;
        }
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        _readStarted = true;
        if (_end > _start)
        {
            return Replay(buffer);
        }

        return InnerEnded ? 0 : Inner.Read(buffer);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _readStarted = true;
        if (_end > _start)
        {
            return ValueTask.FromResult(Replay(buffer.Span));
        }

        return InnerEnded ? ValueTask.FromResult(0) : Inner.ReadAsync(buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer) => Inner.Write(buffer);

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Inner.WriteAsync(buffer, offset, count, cancellationToken);

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Inner.WriteAsync(buffer, cancellationToken);

    private int Replay(Span<byte> destination)
    {
        _readStarted = true;
        int n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        if (_start == _end)
        {
            // Replayed in full: drop the buffer.
            _buffer = [];
            _start = _end = 0;
        }

        return n;
    }
}
