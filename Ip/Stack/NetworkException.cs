using System.Globalization;
using System.Net.Sockets;

namespace Protocols.Ip;

/// <summary>
/// A transport operation on the stack failed (TCP and UDP throw subclasses of this).
/// <see cref="SocketErrorCode"/> says why with the code a kernel socket would report, and the
/// inner exception is a <see cref="SocketException"/> with the same code, as .NET's own
/// <see cref="NetworkStream"/> reports socket failures: code written for sockets (HttpClient's
/// retry logic, for one) recognises it.
/// </summary>
public abstract class NetworkException : IOException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="message">A description; <see cref="DefaultMessage"/> is used when null.</param>
    protected NetworkException(SocketError error, string? message)
        : base(message ?? DefaultMessage(error), new SocketException((int)error))
    {
        SocketErrorCode = error;
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the cause; the code is the cause's when it is a <see cref="SocketException"/>, <see cref="SocketError.SocketError"/> otherwise.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    protected NetworkException(string message, Exception innerException)
        : base(message, innerException)
    {
        SocketErrorCode = innerException is SocketException s ? s.SocketErrorCode : SocketError.SocketError;
    }

    /// <summary>Why the operation failed, as a kernel socket would say it.</summary>
    public SocketError SocketErrorCode { get; }

    /// <summary>A description of <paramref name="error"/> for an exception created without a message.</summary>
    /// <param name="error">The error.</param>
    /// <returns>The description.</returns>
    protected static string DefaultMessage(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "The peer refused the connection.",
        SocketError.ConnectionReset => "The peer reset the connection.",
        SocketError.TimedOut => "The operation timed out.",
        SocketError.ConnectionAborted => "The connection was aborted locally.",
        SocketError.AddressAlreadyInUse => "The local address and port are already in use.",
        SocketError.AddressNotAvailable => "The local address is not available (not the stack's, or no ephemeral port is free).",
        SocketError.AddressFamilyNotSupported => "The address family is not supported by the stack's interfaces.",
        SocketError.NetworkUnreachable => "The network is unreachable.",
        SocketError.HostUnreachable => "The host is unreachable.",
        SocketError.ProtocolOption => "The peer does not speak the protocol (ICMP protocol unreachable).",
        SocketError.MessageSize => "The message is too large.",
        SocketError.NoBufferSpaceAvailable => "The send queue is full.",
        SocketError.DestinationAddressRequired => "The socket is not connected and no destination was given.",
        SocketError.InvalidArgument => "Invalid argument.",
        SocketError.TooManyOpenSockets => "Too many operations are already waiting.",
        SocketError.Shutdown => "The connection was shut down in this direction.",
        SocketError.NotConnected => "The connection is not established.",
        SocketError.OperationAborted => "The operation was aborted because the socket was closed.",
        _ => string.Create(CultureInfo.InvariantCulture, $"Network error: {error}."),
    };
}
