using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Protocols.Tcp;

namespace Protocols.AspNetCore;

/// <summary>
/// One accepted <see cref="TcpStream"/> as Kestrel's <see cref="ConnectionContext"/>. Two pumps
/// move bytes between the stream and a pair of pipes: the receive pump reads the stream into the
/// pipe Kestrel reads (<see cref="Transport"/>.Input), the send pump writes what Kestrel puts in
/// <see cref="Transport"/>.Output to the stream. The contract is the socket transport's:
/// <list type="bullet">
/// <item>the peer's FIN completes Transport.Input and fires <see cref="ConnectionClosed"/>; a reset
/// completes it with <see cref="ConnectionResetException"/>;</item>
/// <item>completing Transport.Output sends FIN after the data (half-close); the transport then
/// reads and drops what the peer still sends until its FIN, for at most
/// <see cref="StackTransportOptions.LingerTimeout"/>, so the close is orderly (FIN, not RST);</item>
/// <item><see cref="Abort(ConnectionAbortedException)"/> closes at once: FIN, or RST when
/// received data is left unread (RFC 9293 3.10.4), and stops the send pump.</item>
/// </list>
/// </summary>
internal sealed partial class StackConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature
{
    /// <summary>The smallest free space the receive pump asks the input pipe for (half a pool block, as Kestrel).</summary>
    private const int MinimumReadSize = 2048;

    /// <summary>The most bytes dropped while lingering for the peer's FIN before giving up (then the close may be a RST).</summary>
    private const int MaxLingerBytes = 256 * 1024;

    private readonly TcpStream _stream;
    private readonly ILogger _logger;
    private readonly TimeSpan _linger;
    private readonly TimeProvider _time;
    private readonly IDuplexPipe _application;
    private readonly CancellationTokenSource _closed = new();
    private IDictionary<object, object?> _items = new ConnectionItems();
    private Task? _processing;
    private volatile Exception? _shutdownReason;
    private int _shutdown;
    private int _closedQueued;
    private ITimer? _lingerTimer;

    /// <summary>Wraps an accepted stream; <see cref="Start"/> starts the pumps.</summary>
    public StackConnection(TcpStream stream, string connectionId, MemoryPool<byte> memoryPool, StackTransportOptions options, TimeProvider time, ILogger logger)
    {
        _stream = stream;
        _logger = logger;
        _linger = options.LingerTimeout;
        _time = time;
        ConnectionId = connectionId;
        MemoryPool = memoryPool;
        LocalEndPoint = StackEndPoints.ToIPEndPoint(stream.LocalEndPoint);
        RemoteEndPoint = StackEndPoints.ToIPEndPoint(stream.RemoteEndPoint);
        ConnectionClosed = _closed.Token;

        // Input: the receive pump writes, Kestrel reads. Output: Kestrel writes, the send pump reads.
        // The pumps continue inline (they only move bytes); Kestrel continues on its scheduler.
        var input = new Pipe(new PipeOptions(memoryPool, options.ApplicationScheduler, PipeScheduler.Inline,
            options.MaxReadBufferSize, options.MaxReadBufferSize / 2, MinimumReadSize, useSynchronizationContext: false));
        var output = new Pipe(new PipeOptions(memoryPool, PipeScheduler.Inline, options.ApplicationScheduler,
            options.MaxWriteBufferSize, options.MaxWriteBufferSize / 2, MinimumReadSize, useSynchronizationContext: false));
        Transport = new Pair(input.Reader, output.Writer);
        _application = new Pair(output.Reader, input.Writer);

        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set<IMemoryPoolFeature>(this);
    }

    /// <inheritdoc/>
    public override string ConnectionId { get; set; }

    /// <inheritdoc/>
    public override IFeatureCollection Features { get; }

    /// <inheritdoc/>
    public override IDictionary<object, object?> Items
    {
        get => _items;
        set => _items = value;
    }

    /// <inheritdoc/>
    public override IDuplexPipe Transport { get; set; }

    /// <inheritdoc/>
    public override CancellationToken ConnectionClosed { get; set; }

    /// <inheritdoc/>
    public override EndPoint? LocalEndPoint { get; set; }

    /// <inheritdoc/>
    public override EndPoint? RemoteEndPoint { get; set; }

    /// <inheritdoc/>
    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>The connection's stream (for tests and diagnostics).</summary>
    internal TcpStream Stream => _stream;

    /// <summary>Completes when both pumps have ended and the stream is disposed.</summary>
    internal Task Processing => _processing ?? Task.CompletedTask;

    /// <summary>Starts the receive and send pumps.</summary>
    public void Start() => _processing = RunAsync();

    /// <inheritdoc/>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        Shutdown(abortReason ?? new ConnectionAbortedException("The connection was aborted by the application."));
        _application.Input.CancelPendingRead(); // the send pump stops
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await Transport.Input.CompleteAsync().ConfigureAwait(false);
        await Transport.Output.CompleteAsync().ConfigureAwait(false);
        await Processing.ConfigureAwait(false);
        _closed.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            Task receiving = ReceiveAsync();
            Task sending = SendAsync();
            await receiving.ConfigureAwait(false);
            await sending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.Unexpected(_logger, ConnectionId, e);
        }
        finally
        {
            _lingerTimer?.Dispose();
            _stream.Dispose();
        }
    }

    private async Task ReceiveAsync()
    {
        PipeWriter input = _application.Output;
        Exception? error = null;
        bool draining = false;
        try
        {
            while (true)
            {
                Memory<byte> buffer = input.GetMemory(MinimumReadSize);
                int received = await _stream.ReadAsync(buffer).ConfigureAwait(false);
                if (received == 0)
                {
                    Log.ReadFin(_logger, ConnectionId); // RFC 9293 3.10.7.4: the peer's FIN
                    break;
                }

                input.Advance(received);
                FlushResult flush = await input.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    // The application stopped reading: read on only to see the peer's FIN.
                    draining = true;
                    input.Complete(_shutdownReason);
                    FireConnectionClosed();
                    await DrainUntilFinAsync().ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (TcpException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            error = new ConnectionResetException(e.Message, e);
            Log.Reset(_logger, ConnectionId);
        }
        catch (Exception e) when (e is TcpException or ObjectDisposedException or OperationCanceledException)
        {
            error = e; // closed by Abort, a timeout, or the linger limit: the shutdown reason says why
        }
        finally
        {
            if (!draining)
            {
                input.Complete(_shutdownReason ?? error);
                FireConnectionClosed();
            }
        }
    }

    /// <summary>Reads and drops until the peer's FIN or <see cref="MaxLingerBytes"/>.</summary>
    private async Task DrainUntilFinAsync()
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            for (int total = 0; total < MaxLingerBytes;)
            {
                int n = await _stream.ReadAsync(scratch).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                total += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async Task SendAsync()
    {
        PipeReader output = _application.Input;
        Exception? shutdownReason = null;
        Exception? unexpected = null;
        try
        {
            while (true)
            {
                ReadResult result = await output.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await _stream.WriteAsync(segment).ConfigureAwait(false);
                }

                output.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (TcpException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            shutdownReason = new ConnectionResetException(e.Message, e);
            Log.Reset(_logger, ConnectionId);
        }
        catch (Exception e) when (e is TcpException or ObjectDisposedException or OperationCanceledException)
        {
            shutdownReason = e;
        }
        catch (Exception e)
        {
            shutdownReason = unexpected = e;
            Log.Unexpected(_logger, ConnectionId, e);
        }
        finally
        {
            Shutdown(shutdownReason);
            await output.CompleteAsync(unexpected).ConfigureAwait(false);
            _application.Output.CancelPendingFlush(); // a receive pump waiting on a full pipe moves on
        }
    }

    /// <summary>
    /// Ends the connection once. Graceful (<paramref name="reason"/> null, the application completed
    /// its output): FIN now, the stream is disposed when the peer's FIN arrives or the linger time
    /// runs out. Otherwise: the stream is disposed now (FIN, or RST with unread data).
    /// </summary>
    private void Shutdown(Exception? reason)
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }

        _shutdownReason = reason ?? new ConnectionAbortedException("The stack transport's send loop completed gracefully.");
        Log.WriteFin(_logger, ConnectionId, _shutdownReason.Message);
        if (reason is null)
        {
            try
            {
                _stream.CompleteWrites(); // RFC 9293 3.10.4: FIN after the queued data
                _lingerTimer = _time.CreateTimer(static state => ((TcpStream)state!).Dispose(), _stream, _linger, Timeout.InfiniteTimeSpan);
                return;
            }
            catch (Exception e) when (e is ObjectDisposedException or TcpException)
            {
                // Already closed: dispose below.
            }
        }

        _stream.Dispose();
    }

    private void FireConnectionClosed()
    {
        if (Interlocked.Exchange(ref _closedQueued, 1) != 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static connection =>
        {
            try
            {
                connection._closed.Cancel();
            }
            catch (Exception e)
            {
                Log.Unexpected(connection._logger, connection.ConnectionId, e);
            }

        }, this, preferLocal: false);
    }

    private sealed class Pair(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Connection id \"{ConnectionId}\" received FIN.")]
        public static partial void ReadFin(ILogger logger, string connectionId);

        [LoggerMessage(2, LogLevel.Debug, "Connection id \"{ConnectionId}\" sending FIN because: \"{Reason}\"")]
        public static partial void WriteFin(ILogger logger, string connectionId, string reason);

        [LoggerMessage(3, LogLevel.Debug, "Connection id \"{ConnectionId}\" reset.")]
        public static partial void Reset(ILogger logger, string connectionId);

        [LoggerMessage(4, LogLevel.Error, "Connection id \"{ConnectionId}\": unexpected error in the stack transport.")]
        public static partial void Unexpected(ILogger logger, string connectionId, Exception exception);
    }
}
