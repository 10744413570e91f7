using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Protocols.Tcp;
using TcpListener = Protocols.Tcp.TcpListener;

namespace Protocols.AspNetCore;

/// <summary>
/// Accepts the connections of one listening port and hands them to the Kestrel listeners bound on
/// it: the port's <see cref="IPEndPoint"/> listener, and its <see cref="PriorKnowledgeEndPoint"/>
/// listener when one is bound, which gets the connections that open with the HTTP/2 preface.
/// Each queue is bounded by the backlog: when Kestrel does not accept, this stops accepting and
/// the stack's accept queue (the backlog) fills and refuses, as a kernel listener does.
/// </summary>
internal sealed class StackPortAcceptor
{
    private static long s_lastConnectionId;

    /// <summary>RFC 9113 3.4: the client connection preface of HTTP/2.</summary>
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private readonly IReadOnlyList<TcpListener> _listeners;
    private readonly MemoryPool<byte> _pool;
    private readonly StackTransportOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<StackConnection> _http;
    private readonly Channel<StackConnection> _h2c;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private bool _httpBound;
    private bool _h2cBound;
    private Task? _accepting;

    public StackPortAcceptor(IReadOnlyList<TcpListener> listeners, IPEndPoint endPoint, MemoryPool<byte> pool, StackTransportOptions options, TimeProvider time, ILogger logger)
    {
        _listeners = listeners;
        _pool = pool;
        _options = options;
        _time = time;
        _logger = logger;
        var bounded = new BoundedChannelOptions(Math.Max(1, options.Backlog)) { SingleWriter = false, SingleReader = false };
        _http = Channel.CreateBounded<StackConnection>(bounded);
        _h2c = Channel.CreateBounded<StackConnection>(bounded);
        IPEndPoint = endPoint;
    }

    /// <summary>The port's endpoint as Kestrel sees it.</summary>
    public IPEndPoint IPEndPoint { get; }

    /// <summary>True once both sides are unbound and the stack's listener is closed.</summary>
    public bool IsStopped => _stop.IsCancellationRequested;

    /// <summary>Binds one of the two Kestrel listeners of the port.</summary>
    /// <exception cref="AddressInUseException">That side is bound already.</exception>
    public IConnectionListener Bind(bool priorKnowledge)
    {
        lock (_lock)
        {
            if (priorKnowledge ? _h2cBound : _httpBound)
            {
                throw new AddressInUseException($"{(priorKnowledge ? new PriorKnowledgeEndPoint(IPEndPoint) : IPEndPoint)} is already bound");
            }

            if (priorKnowledge)
            {
                _h2cBound = true;
            }
            else
            {
                _httpBound = true;
            }

            _accepting ??= Task.WhenAll(_listeners.Select(AcceptLoopAsync));
        }

        return new Listener(this, priorKnowledge);
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpStream stream;
            try
            {
                stream = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException || e is TcpException { SocketErrorCode: SocketError.OperationAborted })
            {
                break; // unbound
            }
            catch (TcpException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                StackTransportLog.AcceptRetry(_logger, IPEndPoint, e.Message); // the stack's request queue is full for a moment
                await Task.Delay(TimeSpan.FromMilliseconds(1), _time).ConfigureAwait(false);
                continue;
            }

            StackConnection connection;
            try
            {
                stream.NoDelay = _options.NoDelay;
                connection = new StackConnection(stream, ConnectionIds.Next(Interlocked.Increment(ref s_lastConnectionId)), _pool, _options, _time, _logger);
            }
            catch (ObjectDisposedException)
            {
                continue; // reset between the accept and here
            }

            connection.Start();
            bool split;
            lock (_lock)
            {
                split = _h2cBound && _httpBound;
            }

            if (split)
            {
                _ = RouteByPrefaceAsync(connection);
            }
            else
            {
                await HandAsync(_h2cBound ? _h2c : _http, connection).ConfigureAwait(false);
            }
        }

        if (_stop.IsCancellationRequested)
        {
            _http.Writer.TryComplete();
            _h2c.Writer.TryComplete();
        }
    }

    /// <summary>Waits for the first bytes (bounded by the linger time's big brother, 10 s) and queues the connection on the side they name.</summary>
    private async Task RouteByPrefaceAsync(StackConnection connection)
    {
        PipeReader input = connection.Transport.Input;
        bool h2 = false;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), _time);
        try
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                (bool matches, int length) = MatchPreface(buffer);
                if (!matches || length == Preface.Length || read.IsCompleted || read.IsCanceled)
                {
                    h2 = matches && length == Preface.Length;
                    input.AdvanceTo(buffer.Start); // nothing consumed or examined: Kestrel reads it all again
                    break;
                }

                input.AdvanceTo(buffer.Start, buffer.End); // a prefix of the preface: wait for more
            }
        }
        catch (OperationCanceledException)
        {
            // Silent client: HTTP/1.1's own timeouts deal with it.
        }
        catch (Exception e) when (e is ConnectionResetException or InvalidOperationException)
        {
            // Gone before it said anything: Kestrel sees the completed input.
        }

        await HandAsync(h2 ? _h2c : _http, connection).ConfigureAwait(false);
    }

    /// <summary>Whether the first bytes of <paramref name="buffer"/> (up to the preface's length) are the preface's, and how many were compared.</summary>
    private static (bool Matches, int Length) MatchPreface(ReadOnlySequence<byte> buffer)
    {
        int length = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[24];
        buffer.Slice(0, length).CopyTo(head);
        return (head[..length].SequenceEqual(Preface[..length]), length);
    }

    private async Task HandAsync(Channel<StackConnection> queue, StackConnection connection)
    {
        try
        {
            await queue.Writer.WriteAsync(connection, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            connection.Abort(new ConnectionAbortedException("The endpoint was unbound."));
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Unbind(bool priorKnowledge)
    {
        bool last;
        lock (_lock)
        {
            if (priorKnowledge)
            {
                _h2cBound = false;
            }
            else
            {
                _httpBound = false;
            }

            last = !_h2cBound && !_httpBound;
        }

        (priorKnowledge ? _h2c : _http).Writer.TryComplete();
        if (last)
        {
            _stop.Cancel();
            foreach (TcpListener listener in _listeners)
            {
                listener.Dispose(); // new SYNs are refused
            }
        }
    }

    /// <summary>One Kestrel listener of the port.</summary>
    private sealed class Listener(StackPortAcceptor owner, bool priorKnowledge) : IConnectionListener
    {
        private int _unbound;

        public EndPoint EndPoint { get; } = priorKnowledge ? new PriorKnowledgeEndPoint(owner.IPEndPoint) : owner.IPEndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            ChannelReader<StackConnection> queue = (priorKnowledge ? owner._h2c : owner._http).Reader;
            while (Volatile.Read(ref _unbound) == 0 && await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (queue.TryRead(out StackConnection? connection))
                {
                    return connection;
                }
            }

            return null; // unbound: Kestrel's accept loop ends
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _unbound, 1) == 0)
            {
                owner.Unbind(priorKnowledge);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => UnbindAsync();
    }
}
