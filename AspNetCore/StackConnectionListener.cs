using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TcpListener = Protocols.Tcp.TcpListener;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Protocols.Tcp;

namespace Protocols.AspNetCore;

/// <summary>One Kestrel endpoint: a <see cref="TcpListener"/> of the stack whose accepted streams become <see cref="StackConnection"/>s.</summary>
internal sealed class StackConnectionListener : IConnectionListener
{
    private static long s_lastConnectionId;

    private readonly TcpListener _listener;
    private readonly MemoryPool<byte> _pool;
    private readonly StackTransportOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _unbound;

    public StackConnectionListener(TcpListener listener, EndPoint endPoint, MemoryPool<byte> pool, StackTransportOptions options, TimeProvider time, ILogger logger)
    {
        _listener = listener;
        _pool = pool;
        _options = options;
        _time = time;
        _logger = logger;
        EndPoint = endPoint;
    }

    /// <inheritdoc/>
    public EndPoint EndPoint { get; }

    /// <inheritdoc/>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _unbound) == 0)
        {
            TcpStream stream;
            try
            {
                stream = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException || (e is TcpException { SocketErrorCode: SocketError.OperationAborted } && Volatile.Read(ref _unbound) != 0))
            {
                return null; // unbound: Kestrel's accept loop ends
            }
            catch (TcpException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                // The stack's request queue is full for a moment: try again.
                StackTransportLog.AcceptRetry(_logger, EndPoint, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(1), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                stream.NoDelay = _options.NoDelay;
                string id = ConnectionIds.Next(Interlocked.Increment(ref s_lastConnectionId));
                var connection = new StackConnection(stream, id, _pool, _options, _time, _logger);
                connection.Start();
                return connection;
            }
            catch (ObjectDisposedException)
            {
                // Reset between the accept and here: take the next one.
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Volatile.Write(ref _unbound, 1);
        _listener.Dispose(); // new SYNs are refused; a waiting accept fails with OperationAborted
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => UnbindAsync();
}

/// <summary>Connection ids in Kestrel's style: 13 characters of base32 from a process-wide counter.</summary>
internal static class ConnectionIds
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private static readonly long Base = Random.Shared.NextInt64(long.MaxValue / 2);

    /// <summary>The id of the <paramref name="n"/>th connection.</summary>
    public static string Next(long n) => string.Create(13, Base + n, static (span, value) =>
    {
        for (int i = span.Length - 1; i >= 0; i--)
        {
            span[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
    });
}
