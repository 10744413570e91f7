using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Tcp;

/// <summary>
/// A TCP operation failed. <see cref="NetworkException.SocketErrorCode"/> says why with the code
/// a kernel socket would report (ConnectionRefused, ConnectionReset, TimedOut, ConnectionAborted,
/// AddressAlreadyInUse, AddressNotAvailable, NetworkUnreachable, HostUnreachable, Shutdown...);
/// the inner exception is a <see cref="SocketException"/> with the same code.
/// </summary>
public sealed class TcpException : NetworkException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="message">A description; a default one is used when null.</param>
    public TcpException(SocketError error, string? message = null)
        : base(error, message ?? TcpMessage(error))
    {
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

    /// <summary>Creates the exception with <paramref name="message"/> and the cause; the code is the cause's when it is a <see cref="SocketException"/>.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public TcpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    private static string? TcpMessage(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "The peer refused the connection (RST or ICMP unreachable in answer to the SYN).",
        SocketError.TimedOut => "The connection timed out (no answer to the SYN, retransmissions or keepalive probes).",
        SocketError.OperationAborted => "The operation was aborted because the stream or listener was closed.",
        _ => null,
    };
}
