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
    public static bool TryClassify(IcmpType type, byte code, out UdpError error, out bool hard)
    {
        switch (type)
        {
            case IcmpType.DestinationUnreachable:
                (error, hard) = (IcmpUnreachableCode)code switch
                {
                    IcmpUnreachableCode.NetUnreachable => (UdpError.NetworkUnreachable, false),
                    IcmpUnreachableCode.HostUnreachable => (UdpError.HostUnreachable, false),
                    IcmpUnreachableCode.ProtocolUnreachable => (UdpError.ProtocolUnreachable, true),
                    IcmpUnreachableCode.PortUnreachable => (UdpError.ConnectionRefused, true),

                    // RFC 1191: a path MTU signal, not a failure of the exchange (the stack fragments).
                    IcmpUnreachableCode.FragmentationNeeded => (UdpError.MessageTooBig, false),
                    IcmpUnreachableCode.SourceRouteFailed => (UdpError.HostUnreachable, false),
                    IcmpUnreachableCode.DestinationNetworkUnknown => (UdpError.NetworkUnreachable, true),
                    IcmpUnreachableCode.DestinationHostUnknown => (UdpError.HostUnreachable, true),
                    IcmpUnreachableCode.SourceHostIsolated => (UdpError.HostUnreachable, true),
                    IcmpUnreachableCode.NetworkAdministrativelyProhibited => (UdpError.NetworkUnreachable, true),
                    IcmpUnreachableCode.HostAdministrativelyProhibited => (UdpError.HostUnreachable, true),
                    IcmpUnreachableCode.NetworkUnreachableForTos => (UdpError.NetworkUnreachable, false),
                    IcmpUnreachableCode.HostUnreachableForTos => (UdpError.HostUnreachable, false),
                    IcmpUnreachableCode.CommunicationAdministrativelyProhibited => (UdpError.HostUnreachable, true),
                    IcmpUnreachableCode.HostPrecedenceViolation => (UdpError.HostUnreachable, true),
                    IcmpUnreachableCode.PrecedenceCutoff => (UdpError.HostUnreachable, true),
                    _ => (UdpError.HostUnreachable, false),
                };
                return true;

            case IcmpType.TimeExceeded:
                // Transient: a routing loop or a lost fragment; Linux reports EHOSTUNREACH as a soft error.
                (error, hard) = (UdpError.HostUnreachable, false);
                return true;

            case IcmpType.ParameterProblem:
                (error, hard) = (UdpError.ProtocolError, true);
                return true;

            default:
                // Source quench is obsolete (RFC 6633) and redirects are the stack's business.
                (error, hard) = (default, false);
                return false;
        }
    }
}
