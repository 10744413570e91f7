namespace Protocols.Tls;

/// <summary>
/// A pass-through stream that watches the TLS records going both ways over a connection (wrap the
/// transport, then run <see cref="System.Net.Security.SslStream"/> over it): every record becomes a
/// <see cref="TlsRecordEvent"/> (content type, handshake messages, SNI, ALPN, versions, cipher,
/// alerts), and <see cref="Trace"/> keeps the connection's summary. Bytes are never changed,
/// delayed or buffered; zero-byte reads pass through (SslStream uses them to wait for data).
/// </summary>
/// <remarks>
/// The callback runs on the thread that read or wrote, inside the read or write; with concurrent
/// reads and writes it can run on two threads at once, so it must be thread-safe and quick.
/// </remarks>
public sealed class TlsTracingStream : WrappingStream
{
    private readonly TlsRecordParser _sent;
    private readonly TlsRecordParser _received;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The transport (a TcpStream, a NetworkStream...).</param>
    /// <param name="onRecord">Called for every complete record, or null to only keep <see cref="Trace"/>.</param>
    /// <param name="leaveOpen">True to leave <paramref name="inner"/> open when this stream is disposed.</param>
    public TlsTracingStream(Stream inner, Action<TlsRecordEvent>? onRecord = null, bool leaveOpen = false)
        : base(inner, leaveOpen)
    {
        Trace = new TlsConnectionTrace();
        _sent = new TlsRecordParser(TlsTraceDirection.Sent, Trace, onRecord);
        _received = new TlsRecordParser(TlsTraceDirection.Received, Trace, onRecord);
    }

    /// <summary>What has been seen so far.</summary>
    public TlsConnectionTrace Trace { get; }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        int n;
        try
        {
            n = Inner.Read(buffer);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Trace.TransportError ??= e;
            throw;
        }

        OnRead(buffer[..n], buffer.Length);
        return n;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        try
        {
            n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Trace.TransportError ??= e;
            throw;
        }

        OnRead(buffer.Span[..n], buffer.Length);
        return n;
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _sent.Feed(buffer);
        try
        {
            Inner.Write(buffer);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Trace.TransportError ??= e;
            throw;
        }
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Observed before the write, so a trace line for a record precedes the peer's answer to it.
        _sent.Feed(buffer.Span);
        try
        {
            await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Trace.TransportError ??= e;
            throw;
        }
    }

    private void OnRead(ReadOnlySpan<byte> data, int requested)
    {
        if (data.IsEmpty)
        {
            if (requested > 0)
            {
                Trace.PeerClosed = true;
            }

            return;
        }

        _received.Feed(data);
    }
}
