using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Nat;

/// <summary>
/// Rewrites of a datagram in place, every checksum updated incrementally (RFC 1624) through the
/// generated <c>Set...UpdatingChecksum</c> and <c>UpdateChecksumForPseudoHeader</c> members: the
/// IPv4 header checksum for the address, the TCP/UDP checksum for the address (pseudo-header,
/// RFC 3022 4.2) and the port, the ICMP checksum for the query identifier. No allocation.
/// </summary>
internal static class NatRewrite
{
    private const int SourceOffset = 12;
    private const int DestinationOffset = 16;

    /// <summary>The header length of a datagram whose header the stack validated.</summary>
    public static int HeaderLength(ReadOnlySpan<byte> datagram) => (datagram[0] & 0x0f) * 4;

    public static uint Source(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt32BigEndian(datagram[SourceOffset..]);

    public static uint Destination(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt32BigEndian(datagram[DestinationOffset..]);

    public static IpProtocol Protocol(ReadOnlySpan<byte> datagram) => (IpProtocol)datagram[9];

    /// <summary>Rewrites the source address and, when given, the source port (TCP, UDP) or query identifier (ICMP echo and other queries).</summary>
    public static void RewriteSource(Span<byte> datagram, uint address, ushort? port) => Rewrite(datagram, source: true, address, port);

    /// <summary>Rewrites the destination address and, when given, the destination port (TCP, UDP) or query identifier (ICMP).</summary>
    public static void RewriteDestination(Span<byte> datagram, uint address, ushort? port) => Rewrite(datagram, source: false, address, port);

    private static void Rewrite(Span<byte> datagram, bool source, uint address, ushort? port)
    {
        int headerLength = HeaderLength(datagram);
        int offset = source ? SourceOffset : DestinationOffset;
        Span<byte> before = stackalloc byte[4];
        datagram.Slice(offset, 4).CopyTo(before);
        var ip = new Ipv4Header.Writer(datagram);
        if (source)
        {
            ip.SetSourceUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }
        else
        {
            ip.SetDestinationUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }

        ReadOnlySpan<byte> after = datagram.Slice(offset, 4);
        Span<byte> transport = datagram[headerLength..];
        switch ((IpProtocol)datagram[9])
        {
            case IpProtocol.Tcp when transport.Length >= TcpHeader.FixedLength:
                var tcp = new TcpHeader.Writer(transport);
                tcp.UpdateChecksumForPseudoHeader(before, after);
                if (port is { } tp)
                {
                    if (source)
                    {
                        tcp.SetSourcePortUpdatingChecksum(tp);
                    }
                    else
                    {
                        tcp.SetDestinationPortUpdatingChecksum(tp);
                    }
                }

                break;

            case IpProtocol.Udp when transport.Length >= UdpHeader.FixedLength:
                var udp = new UdpHeader.Writer(transport);
                udp.UpdateChecksumForPseudoHeader(before, after);
                if (port is { } up)
                {
                    if (source)
                    {
                        udp.SetSourcePortUpdatingChecksum(up);
                    }
                    else
                    {
                        udp.SetDestinationPortUpdatingChecksum(up);
                    }
                }

                break;

            case IpProtocol.Icmp when port is { } id && transport.Length >= IcmpEchoHeader.FixedLength:
                // ICMP's checksum has no pseudo-header: only the identifier's word changes.
                new IcmpEchoHeader.Writer(transport).SetIdentifierUpdatingChecksum(id);
                break;
        }
    }

    /// <summary>True for ICMP query messages whose identifier is mapped like a port (RFC 5508 3.1).</summary>
    public static bool IsQuery(IcmpType type) => type is IcmpType.EchoRequest or IcmpType.TimestampRequest or IcmpType.InformationRequest;

    /// <summary>True for the replies to <see cref="IsQuery"/> messages.</summary>
    public static bool IsQueryReply(IcmpType type) => type is IcmpType.EchoReply or IcmpType.TimestampReply or IcmpType.InformationReply;

    /// <summary>True for the ICMP errors a NAT translates (RFC 5508 4): they quote the datagram that caused them.</summary>
    public static bool IsError(IcmpType type) => type is IcmpType.DestinationUnreachable or IcmpType.SourceQuench or IcmpType.Redirect
        or IcmpType.TimeExceeded or IcmpType.ParameterProblem;

    /// <summary>The ports of a TCP/UDP payload (or the identifier of an ICMP query, as source and destination): false when too short.</summary>
    public static bool TryReadPorts(IpProtocol protocol, ReadOnlySpan<byte> transport, out ushort sourcePort, out ushort destinationPort)
    {
        sourcePort = destinationPort = 0;
        if (protocol is IpProtocol.Tcp or IpProtocol.Udp && transport.Length >= 4)
        {
            sourcePort = BinaryPrimitives.ReadUInt16BigEndian(transport);
            destinationPort = BinaryPrimitives.ReadUInt16BigEndian(transport[2..]);
            return true;
        }

        if (protocol == IpProtocol.Icmp && transport.Length >= IcmpEchoHeader.FixedLength)
        {
            sourcePort = destinationPort = BinaryPrimitives.ReadUInt16BigEndian(transport[4..]);
            return true;
        }

        return false;
    }
}
