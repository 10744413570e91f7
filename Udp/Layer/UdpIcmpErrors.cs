using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Udp;

/// <summary>
/// What an ICMP error about a datagram we sent means to a UDP socket: the error to report and
/// whether it is "hard" (the peer cannot be reached at all, so a connected socket reports it even
/// without <see cref="UdpSocketOptions.ReceiveIcmpErrors"/>). RFC 1122 4.1.3.3: UDP must pass
/// received ICMP errors to the application. The table follows Linux's (icmp_err_convert and
/// __udp4_lib_err).
/// </summary>
internal static class UdpIcmpErrors
{
    /// <summary>Classifies one ICMP error.</summary>
    /// <param name="type">The ICMP type.</param>
    /// <param name="code">The ICMP code.</param>
    /// <param name="error">The socket error.</param>
    /// <param name="hard">Whether a connected socket reports it by default.</param>
    /// <returns>False for messages that are not errors a socket reports (source quench, redirect, unknown types).</returns>
    public static bool TryClassify(IcmpType type, byte code, out SocketError error, out bool hard)
    {
        switch (type)
        {
            case IcmpType.DestinationUnreachable:
                (error, hard) = (IcmpUnreachableCode)code switch
                {
                    IcmpUnreachableCode.NetUnreachable => (SocketError.NetworkUnreachable, false),
                    IcmpUnreachableCode.HostUnreachable => (SocketError.HostUnreachable, false),
                    IcmpUnreachableCode.ProtocolUnreachable => (SocketError.ProtocolOption, true),
                    IcmpUnreachableCode.PortUnreachable => (SocketError.ConnectionRefused, true),

                    // RFC 1191: a path MTU signal, not a failure of the exchange (the stack fragments).
                    IcmpUnreachableCode.FragmentationNeeded => (SocketError.MessageSize, false),
                    IcmpUnreachableCode.SourceRouteFailed => (SocketError.HostUnreachable, false),
                    IcmpUnreachableCode.DestinationNetworkUnknown => (SocketError.NetworkUnreachable, true),
                    IcmpUnreachableCode.DestinationHostUnknown => (SocketError.HostUnreachable, true),
                    IcmpUnreachableCode.SourceHostIsolated => (SocketError.HostUnreachable, true),
                    IcmpUnreachableCode.NetworkAdministrativelyProhibited => (SocketError.NetworkUnreachable, true),
                    IcmpUnreachableCode.HostAdministrativelyProhibited => (SocketError.HostUnreachable, true),
                    IcmpUnreachableCode.NetworkUnreachableForTos => (SocketError.NetworkUnreachable, false),
                    IcmpUnreachableCode.HostUnreachableForTos => (SocketError.HostUnreachable, false),
                    IcmpUnreachableCode.CommunicationAdministrativelyProhibited => (SocketError.HostUnreachable, true),
                    IcmpUnreachableCode.HostPrecedenceViolation => (SocketError.HostUnreachable, true),
                    IcmpUnreachableCode.PrecedenceCutoff => (SocketError.HostUnreachable, true),
                    _ => (SocketError.HostUnreachable, false),
                };
                return true;

            case IcmpType.TimeExceeded:
                // Transient: a routing loop or a lost fragment; Linux reports EHOSTUNREACH as a soft error.
                (error, hard) = (SocketError.HostUnreachable, false);
                return true;

            case IcmpType.ParameterProblem:
                // Linux reports EPROTO, which SocketError has no member for: the generic code, and
                // UdpException's message names the parameter problem.
                (error, hard) = (SocketError.SocketError, true);
                return true;

            default:
                // Source quench is obsolete (RFC 6633) and redirects are the stack's business.
                (error, hard) = (default, false);
                return false;
        }
    }
}
