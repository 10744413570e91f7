using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Udp;

/// <summary>Why a UDP socket operation failed; each maps to the <see cref="SocketError"/> a kernel socket would report.</summary>
public enum UdpError
{
    /// <summary>The requested local address and port are already bound (EADDRINUSE).</summary>
    AddressInUse,

    /// <summary>The local address is not one of the stack's, or no ephemeral port is free (EADDRNOTAVAIL).</summary>
    AddressNotAvailable,

    /// <summary>The peer answered with ICMP port unreachable (ECONNREFUSED).</summary>
    ConnectionRefused,

    /// <summary>The peer's host answered with ICMP protocol unreachable (ENOPROTOOPT).</summary>
    ProtocolUnreachable,

    /// <summary>No route to the destination network, or ICMP network unreachable/unknown (ENETUNREACH).</summary>
    NetworkUnreachable,

    /// <summary>ICMP host unreachable, host unknown, administratively prohibited or isolated (EHOSTUNREACH).</summary>
    HostUnreachable,

    /// <summary>The datagram is larger than UDP over IPv4 allows (65507 bytes of data), or does not fit with DF set (EMSGSIZE).</summary>
    MessageTooBig,

    /// <summary>The stack's or device's send queue is full (ENOBUFS).</summary>
    NoBufferSpace,

    /// <summary>A send without a destination on a socket that is not connected (EDESTADDRREQ).</summary>
    DestinationAddressRequired,

    /// <summary>A destination that cannot be sent to: port 0 or the unspecified address (EINVAL).</summary>
    InvalidArgument,

    /// <summary>The peer or a router reported an ICMP parameter problem with our datagram (EPROTO).</summary>
    ProtocolError,

    /// <summary>Too many receives are already waiting on this socket.</summary>
    TooManyPendingReceives,

    /// <summary>An endpoint of an address family the stack does not route, or a family other than the socket's (EAFNOSUPPORT).</summary>
    AddressFamilyNotSupported,
}

/// <summary>A UDP socket operation failed; <see cref="Error"/> says why.</summary>
public sealed class UdpException : IOException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="message">A description; a default one is used when null.</param>
    public UdpException(UdpError error, string? message = null)
        : base(message ?? DefaultMessage(error))
    {
        Error = error;
    }

    /// <summary>Creates the exception for an ICMP error about a datagram sent to <paramref name="remote"/>.</summary>
    /// <param name="error">Why the operation failed.</param>
    /// <param name="remote">The destination of the datagram the ICMP error quoted.</param>
    /// <param name="reportedBy">Who sent the ICMP error.</param>
    public UdpException(UdpError error, IpEndpoint remote, Protocols.Wire.IpAddress reportedBy)
        : base($"{DefaultMessage(error)} Datagram to {remote}, reported by {reportedBy}.")
    {
        Error = error;
        RemoteEndpoint = remote;
        ReportedBy = reportedBy;
    }

    /// <summary>Creates the exception with a generic error (for serializers and analyzers).</summary>
    public UdpException()
        : this(UdpError.InvalidArgument)
    {
    }

    /// <summary>Creates the exception with a generic error and <paramref name="message"/>.</summary>
    /// <param name="message">A description.</param>
    public UdpException(string message)
        : this(UdpError.InvalidArgument, message)
    {
    }

    /// <summary>Creates the exception with a generic error, <paramref name="message"/> and an inner exception.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public UdpException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = UdpError.InvalidArgument;
    }

    /// <summary>Why the operation failed.</summary>
    public UdpError Error { get; }

    /// <summary>For an error reported by ICMP: the destination of the datagram it was about.</summary>
    public IpEndpoint? RemoteEndpoint { get; }

    /// <summary>For an error reported by ICMP: the host or router that sent it.</summary>
    public Protocols.Wire.IpAddress? ReportedBy { get; }

    /// <summary>The <see cref="SocketError"/> a kernel socket reports for the same condition.</summary>
    public SocketError SocketErrorCode => ToSocketError(Error);

    /// <summary>Maps a <see cref="UdpError"/> to the equivalent <see cref="SocketError"/>.</summary>
    /// <param name="error">The error.</param>
    /// <returns>The socket error.</returns>
    public static SocketError ToSocketError(UdpError error) => error switch
    {
        UdpError.AddressInUse => SocketError.AddressAlreadyInUse,
        UdpError.AddressNotAvailable => SocketError.AddressNotAvailable,
        UdpError.ConnectionRefused => SocketError.ConnectionRefused,
        UdpError.ProtocolUnreachable => SocketError.ProtocolOption,
        UdpError.NetworkUnreachable => SocketError.NetworkUnreachable,
        UdpError.HostUnreachable => SocketError.HostUnreachable,
        UdpError.MessageTooBig => SocketError.MessageSize,
        UdpError.NoBufferSpace => SocketError.NoBufferSpaceAvailable,
        UdpError.DestinationAddressRequired => SocketError.DestinationAddressRequired,
        UdpError.ProtocolError => SocketError.SocketError,
        UdpError.TooManyPendingReceives => SocketError.TooManyOpenSockets,
        UdpError.AddressFamilyNotSupported => SocketError.AddressFamilyNotSupported,
        _ => SocketError.InvalidArgument,
    };

    private static string DefaultMessage(UdpError error) => error switch
    {
        UdpError.AddressInUse => "The local address and port are already in use.",
        UdpError.AddressNotAvailable => "The local address is not available (not the stack's, or no ephemeral port is free).",
        UdpError.ConnectionRefused => "The peer refused the datagram (ICMP port unreachable).",
        UdpError.ProtocolUnreachable => "The peer does not speak UDP (ICMP protocol unreachable).",
        UdpError.NetworkUnreachable => "The network is unreachable.",
        UdpError.HostUnreachable => "The host is unreachable.",
        UdpError.MessageTooBig => "The datagram is too large.",
        UdpError.NoBufferSpace => "The send queue is full.",
        UdpError.DestinationAddressRequired => "The socket is not connected and no destination was given.",
        UdpError.ProtocolError => "The peer reported a parameter problem (ICMP).",
        UdpError.TooManyPendingReceives => "Too many receives are already waiting on this socket.",
        UdpError.AddressFamilyNotSupported => "The address family is not supported (the stack routes IPv4 only).",
        _ => "Invalid argument.",
    };
}
