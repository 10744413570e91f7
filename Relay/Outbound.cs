using Protocols.Ip;

namespace Protocols.Relay;

/// <summary>Why the outbound side failed, which decides what the inside client is told.</summary>
public enum OutboundError
{
    /// <summary>The destination refused (TCP RST, ICMP port unreachable; SOCKS5 reply 5): a RST or port unreachable for the client.</summary>
    Refused,

    /// <summary>The destination host is unreachable (SOCKS5 reply 4): ICMP host unreachable for the client.</summary>
    HostUnreachable,

    /// <summary>The destination network is unreachable (SOCKS5 reply 3): ICMP network unreachable for the client.</summary>
    NetworkUnreachable,

    /// <summary>No answer in time: ICMP host unreachable for the client.</summary>
    TimedOut,

    /// <summary>The connection was reset after it was established: the client's connection is reset too.</summary>
    Reset,

    /// <summary>Anything else (a proxy's general failure, a refused command): a RST for the client.</summary>
    Failed,
}

/// <summary>The outbound side failed.</summary>
/// <param name="error">The kind of failure.</param>
/// <param name="message">What happened.</param>
/// <param name="inner">The underlying exception, if any.</param>
public sealed class OutboundException(OutboundError error, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The kind of failure.</summary>
    public OutboundError Error { get; } = error;
}

/// <summary>Where relayed flows go out: the host's sockets (<see cref="DirectConnector"/>), a SOCKS5 proxy (<see cref="Socks5Connector"/>), or a test's fake.</summary>
public interface IOutboundConnector
{
    /// <summary>Opens a TCP connection to <paramref name="destination"/>.</summary>
    /// <exception cref="OutboundException">Refused, unreachable, timed out, or failed.</exception>
    Task<OutboundConnection> ConnectAsync(IpEndpoint destination, CancellationToken cancellationToken);

    /// <summary>Opens a UDP flow to <paramref name="destination"/>.</summary>
    /// <exception cref="OutboundException">The flow cannot be opened.</exception>
    Task<OutboundDatagramFlow> OpenUdpAsync(IpEndpoint destination, CancellationToken cancellationToken);
}

/// <summary>One outbound TCP connection: a byte stream with half-close and abort.</summary>
public abstract class OutboundConnection : IAsyncDisposable
{
    /// <summary>Reads what the destination sent; 0 at its FIN. A zero-length read waits until data (or the FIN) is there and consumes nothing.</summary>
    /// <exception cref="OutboundException"><see cref="OutboundError.Reset"/> when the destination reset the connection.</exception>
    public abstract ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Writes all of <paramref name="data"/>; completes when the outbound side has taken it (its own bounded buffer: backpressure).</summary>
    /// <exception cref="OutboundException"><see cref="OutboundError.Reset"/> when the destination reset the connection.</exception>
    public abstract ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Half-close: a FIN to the destination; reading goes on.</summary>
    public abstract void CompleteWrites();

    /// <summary>Resets the connection (a RST to the destination).</summary>
    public abstract void Abort();

    /// <summary>Closes the connection (orderly).</summary>
    public abstract ValueTask DisposeAsync();
}

/// <summary>One outbound UDP flow to one destination.</summary>
public abstract class OutboundDatagramFlow : IDisposable
{
    /// <summary>Sends one datagram to the destination.</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken);

    /// <summary>Receives the destination's next datagram; returns its length.</summary>
    /// <exception cref="OutboundException"><see cref="OutboundError.Refused"/> when the destination answered with ICMP port unreachable.</exception>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Closes the flow.</summary>
    public abstract void Dispose();
}
