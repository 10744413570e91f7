using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Udp;

/// <summary>
/// A UDP socket operation failed. <see cref="NetworkException.SocketErrorCode"/> says why with the
/// code a kernel socket would report (AddressAlreadyInUse, AddressNotAvailable, ConnectionRefused
/// for ICMP port unreachable, ProtocolOption for protocol unreachable, NetworkUnreachable,
/// HostUnreachable, MessageSize, NoBufferSpaceAvailable, DestinationAddressRequired,
/// InvalidArgument, AddressFamilyNotSupported, TooManyOpenSockets for too many waiting receives);
/// the inner exception is a <see cref="SocketException"/> with the same code. An ICMP parameter
/// problem, which Linux reports as EPROTO (no <see cref="SocketError"/> of its own), is
/// <see cref="SocketError.SocketError"/> with a message that says so.
/// </summary>
public sealed class UdpException : NetworkException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="message">A description; a default one is used when null.</param>
    public UdpException(SocketError error, string? message = null)
        : base(error, message ?? UdpMessage(error))
    {
    }

    /// <summary>Creates the exception for an ICMP error about a datagram sent to <paramref name="remote"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="remote">The destination of the datagram the ICMP error quoted.</param>
    /// <param name="reportedBy">Who sent the ICMP error.</param>
    public UdpException(SocketError error, IpEndpoint remote, Protocols.Wire.IpAddress reportedBy)
        : base(error, $"{(error == SocketError.SocketError ? "The peer or a router reported a parameter problem (ICMP)." : UdpMessage(error) ?? DefaultMessage(error))} Datagram to {remote}, reported by {reportedBy}.")
    {
        RemoteEndpoint = remote;
        ReportedBy = reportedBy;
    }

    /// <summary>Creates the exception with a generic error (for serializers and analyzers).</summary>
    public UdpException()
        : this(SocketError.SocketError)
    {
    }

    /// <summary>Creates the exception with a generic error and <paramref name="message"/>.</summary>
    /// <param name="message">A description.</param>
    public UdpException(string message)
        : this(SocketError.SocketError, message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the cause; the code is the cause's when it is a <see cref="SocketException"/>.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public UdpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>For an error reported by ICMP: the destination of the datagram it was about.</summary>
    public IpEndpoint? RemoteEndpoint { get; }

    /// <summary>For an error reported by ICMP: the host or router that sent it.</summary>
    public Protocols.Wire.IpAddress? ReportedBy { get; }

    private static string? UdpMessage(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "The peer refused the datagram (ICMP port unreachable).",
        SocketError.MessageSize => "The datagram is too large.",
        SocketError.TooManyOpenSockets => "Too many receives are already waiting on this socket.",
        _ => null,
    };
}
