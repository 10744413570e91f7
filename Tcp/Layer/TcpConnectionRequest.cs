using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// A SYN held by a catch-all listener that defers its answer (<see cref="TcpLayer.ListenCatchAll"/>):
/// the application decides, as gVisor's TCP forwarder lets it, whether the connection is
/// accepted (<see cref="AcceptAsync"/>: the SYN-ACK goes out and the task completes once the
/// handshake does), refused (<see cref="Refuse"/>: a RST, what the client's connect reports as
/// refused), or unreachable (<see cref="RefuseUnreachable"/>: an ICMP destination unreachable).
/// A relay decides after trying the real destination, so the client sees what the destination did.
/// Requests not decided within <see cref="TcpStackOptions.ConnectionRequestTimeout"/> are dropped
/// silently (the client retransmits its SYN and a new request comes).
/// </summary>
public sealed class TcpConnectionRequest
{
    private readonly TcpListener _listener;
    private readonly TaskCompletionSource<TcpStream> _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _decided;

    internal TcpConnectionRequest(TcpListener listener, in TcpFourTuple tuple, SeqNum seq, ushort window, TcpOptions options)
    {
        _listener = listener;
        Tuple = tuple;
        Seq = seq;
        Window = window;
        Options = options;
        LocalEndPoint = new IpEndpoint(tuple.LocalAddress, tuple.LocalPort);
        RemoteEndPoint = new IpEndpoint(tuple.RemoteAddress, tuple.RemotePort);
    }

    /// <summary>The endpoint the client addressed: the original destination.</summary>
    public IpEndpoint LocalEndPoint { get; }

    /// <summary>The client.</summary>
    public IpEndpoint RemoteEndPoint { get; }

    internal TcpFourTuple Tuple { get; }

    /// <summary>The SYN's sequence number, window and options: what answering it needs.</summary>
    internal SeqNum Seq { get; }

    internal ushort Window { get; }

    internal TcpOptions Options { get; }

    internal TimerHandle Timer { get; set; }

    /// <summary>
    /// Accepts: the SYN-ACK goes out; completes with the stream when the handshake completes.
    /// </summary>
    /// <returns>The connection.</returns>
    /// <exception cref="InvalidOperationException">The request was decided already.</exception>
    /// <exception cref="TcpException">The handshake failed (reset, timed out), the request expired, or the listener closed.</exception>
    public Task<TcpStream> AcceptAsync()
    {
        Decide();
        Post(stack => _listener.AcceptRequest(this));
        return _accepted.Task;
    }

    /// <summary>Refuses the connection with a RST, as a host with no listener does (RFC 9293 3.10.7.1).</summary>
    /// <exception cref="InvalidOperationException">The request was decided already.</exception>
    public void Refuse()
    {
        Decide();
        Post(stack => _listener.RefuseRequest(this, null));
    }

    /// <summary>Refuses the connection with an ICMP destination unreachable of <paramref name="code"/> (host or network unreachable, administratively prohibited...).</summary>
    /// <param name="code">The ICMP code.</param>
    /// <exception cref="InvalidOperationException">The request was decided already.</exception>
    public void RefuseUnreachable(IcmpUnreachableCode code)
    {
        Decide();
        Post(stack => _listener.RefuseRequest(this, code));
    }

    /// <inheritdoc/>
    public override string ToString() => $"SYN {RemoteEndPoint} > {LocalEndPoint}";

    internal bool Succeed(TcpStream stream) => _accepted.TrySetResult(stream);

    internal void Fail(SocketError error, string message) => _accepted.TrySetException(new TcpException(error, message));

    private void Decide()
    {
        if (Interlocked.Exchange(ref _decided, 1) != 0)
        {
            throw new InvalidOperationException($"The connection request {this} was decided already.");
        }
    }

    private void Post(Action<NetworkStack> work)
    {
        try
        {
            _listener.Layer.Stack.Post(work);
        }
        catch (InvalidOperationException e)
        {
            Fail(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full: " + e.Message);
        }
    }
}
