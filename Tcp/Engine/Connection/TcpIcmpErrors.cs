using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Tcp.Engine;

/// <summary>What an ICMP error means for a connection.</summary>
internal enum IcmpErrorKind
{
    /// <summary>Nothing for TCP (source quench, RFC 6633; types that do not concern it).</summary>
    None,

    /// <summary>Fragmentation needed (RFC 1191): the path MTU is smaller.</summary>
    FragmentationNeeded,

    /// <summary>Protocol or port unreachable (RFC 1122 4.2.3.9): ends a connection attempt.</summary>
    Hard,

    /// <summary>Anything else unreachable, time exceeded, parameter problem: remembered, reported if the attempt times out.</summary>
    Soft,
}

/// <summary>RFC 1122 4.2.3.9 and RFC 5927: how TCP treats each ICMP error.</summary>
internal static class TcpIcmpErrors
{
    /// <summary>Classifies an ICMP error quoting one of our segments.</summary>
    /// <param name="type">ICMP type.</param>
    /// <param name="code">ICMP code.</param>
    /// <param name="error">The socket error to report for a hard or soft error.</param>
    /// <returns>The kind.</returns>
    public static IcmpErrorKind Classify(IcmpType type, byte code, out SocketError error)
    {
        error = SocketError.Success;
        switch (type)
        {
            case IcmpType.DestinationUnreachable when (IcmpUnreachableCode)code == IcmpUnreachableCode.FragmentationNeeded:
                return IcmpErrorKind.FragmentationNeeded;
            case IcmpType.DestinationUnreachable:
                var unreachable = (IcmpUnreachableCode)code;
                error = unreachable switch
                {
                    IcmpUnreachableCode.NetUnreachable or IcmpUnreachableCode.DestinationNetworkUnknown or IcmpUnreachableCode.NetworkUnreachableForTos => SocketError.NetworkUnreachable,
                    IcmpUnreachableCode.ProtocolUnreachable or IcmpUnreachableCode.PortUnreachable => SocketError.ConnectionRefused,
                    _ => SocketError.HostUnreachable,
                };
                return unreachable is IcmpUnreachableCode.ProtocolUnreachable or IcmpUnreachableCode.PortUnreachable ? IcmpErrorKind.Hard : IcmpErrorKind.Soft;
            case IcmpType.TimeExceeded:
            case IcmpType.ParameterProblem:
                error = SocketError.HostUnreachable;
                return IcmpErrorKind.Soft;
            default:
                return IcmpErrorKind.None;
        }
    }
}
