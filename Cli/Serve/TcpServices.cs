using Protocols.Tcp;
using Protocols.Tls;

namespace Protocols.Cli.Serve;

/// <summary>
/// The TCP echo service of <c>serve</c> (HTTP is the web app's, on Kestrel): an accept loop per listener that hands each
/// connection to its own task, with a bound on the connections served at once.
/// </summary>
internal static class TcpServices
{
    /// <summary>The most connections one service serves at once; more are reset (aborted) at accept.</summary>
    public const int MaxConcurrentConnections = 4096;

    /// <summary>How long an echo connection may stay without progress before it is aborted.</summary>
    public static readonly TimeSpan EchoIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The TCP echo service: every byte goes back; the peer's FIN is answered with ours once everything is echoed.</summary>
    public static Task RunEchoAsync(TcpListener listener, CancellationToken cancellationToken, ServiceConnections? connections = null) =>
        AcceptLoopAsync(listener, connections ?? new ServiceConnections(), EchoAsync, cancellationToken);

    /// <summary>Echoes one connection (exposed for tests over any stream).</summary>
    public static async Task EchoAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        using var idle = new IdleDeadline(EchoIdleTimeout, TimeProvider.System, cancellationToken);
        while (true)
        {
            idle.Restart();
            int n = await stream.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            idle.Restart();
            await stream.WriteAsync(buffer.AsMemory(0, n), idle.Token).ConfigureAwait(false);
        }

        if (stream is TcpStream tcp)
        {
            tcp.CompleteWrites(); // half-close answered with half-close, then Dispose finishes the close
        }
    }

    /// <summary>
    /// Accepts connections until cancelled, running <paramref name="serve"/> on each as a task tracked
    /// by <paramref name="connections"/> (at most <see cref="MaxConcurrentConnections"/> at once).
    /// </summary>
    internal static async Task AcceptLoopAsync(TcpListener listener, ServiceConnections connections, Func<Stream, CancellationToken, Task> serve, CancellationToken cancellationToken)
    {
        int active = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpStream stream;
            try
            {
                stream = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (TcpException)
            {
                continue; // a connection that failed between the handshake and the accept
            }

            if (Interlocked.Increment(ref active) > MaxConcurrentConnections)
            {
                Interlocked.Decrement(ref active);
                stream.Abort();
                stream.Dispose();
                continue;
            }

            connections.Start(stream, serve, () => Interlocked.Decrement(ref active), cancellationToken);
        }
    }

    /// <summary>
    /// Waits until no connection of <paramref name="tcp"/> has data or a FIN still to send or to be
    /// acknowledged (each is closed, listening, in FIN-WAIT-2 or TIME-WAIT, or has an empty send
    /// queue), at most <paramref name="grace"/>. Each look is a call onto the stack's loop, which
    /// runs after the closes and aborts already posted there; this replaces sleeping before the
    /// loop is stopped.
    /// </summary>
    public static async Task FlushAsync(TcpLayer tcp, TimeSpan grace)
    {
        using var limit = new CancellationTokenSource(grace);
        try
        {
            while (true)
            {
                IReadOnlyList<TcpConnectionInfo> rows = await tcp.GetConnectionsAsync().WaitAsync(limit.Token).ConfigureAwait(false);
                if (rows.All(IsSettled))
                {
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(5), limit.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            // Past the grace period: whatever is left is lost with the loop.
        }
        catch (ObjectDisposedException)
        {
            // The stack is gone already.
        }
    }

    /// <summary>True when the connection has nothing left to send or to have acknowledged.</summary>
    private static bool IsSettled(TcpConnectionInfo row) => row.State switch
    {
        TcpState.Closed or TcpState.Listen or TcpState.TimeWait or TcpState.FinWait2 => true,

        // A FIN sent and not acknowledged yet (RFC 9293 3.3.2), or a handshake under way.
        TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck or TcpState.SynSent or TcpState.SynReceived => false,
        _ => row.SendQueue == 0,
    };
}
