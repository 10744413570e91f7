using System.Net.Sockets;

namespace Protocols.Tcp;

/// <summary>
/// A TCP operation failed. <see cref="SocketErrorCode"/> says why with the code a kernel socket
/// would report (ConnectionRefused, ConnectionReset, TimedOut, ConnectionAborted,
/// AddressAlreadyInUse, AddressNotAvailable, NetworkUnreachable, HostUnreachable, Shutdown...);
/// the inner exception is a <see cref="SocketException"/> with the same code, so code written
/// for sockets (HttpClient's retry logic, for one) recognises it.
/// </summary>
public sealed class TcpException : IOException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="message">A description; a default one is used when null.</param>
    public TcpException(SocketError error, string? message = null)
        : base(message ?? DefaultMessage(error), new SocketException((int)error))
    {
        SocketErrorCode = error;
    }

    /// <summary>Creates the exception with a generic error (for serializers and analyzers).</summary>
    public TcpException()
        : this(SocketError.SocketError)
    {
    }

    /// <summary>Creates the exception with a generic error and <paramref name="message"/>.</summary>
    /// <param name="message">A description.</param>
    public TcpException(string message)
        : this(SocketError.SocketError, message)
    {
    }

    /// <summary>Creates the exception with a generic error, <paramref name="message"/> and an inner exception.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public TcpException(string message, Exception innerException)
        : base(message, innerException)
    {
        SocketErrorCode = innerException is SocketException s ? s.SocketErrorCode : SocketError.SocketError;
    }

    /// <summary>Why the operation failed, as a kernel socket would say it.</summary>
    public SocketError SocketErrorCode { get; }

    private static string DefaultMessage(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "The peer refused the connection (RST or ICMP unreachable in answer to the SYN).",
        SocketError.ConnectionReset => "The peer reset the connection.",
        SocketError.TimedOut => "The connection timed out (no answer to the SYN, retransmissions or keepalive probes).",
        SocketError.ConnectionAborted => "The connection was aborted locally.",
        SocketError.AddressAlreadyInUse => "The local address and port are already in use.",
        SocketError.AddressNotAvailable => "The local address is not available (not the stack's, or no ephemeral port is free).",
        SocketError.NetworkUnreachable => "The network is unreachable.",
        SocketError.HostUnreachable => "The host is unreachable.",
        SocketError.Shutdown => "The connection was shut down in this direction.",
        SocketError.NotConnected => "The connection is not established.",
        SocketError.OperationAborted => "The operation was aborted because the stream or listener was closed.",
        _ => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"TCP error: {error}."),
    };
}
