using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Nat;

/// <summary>The flow an ICMP error quotes (RFC 792: the datagram's IP header and at least 8 bytes of its payload).</summary>
/// <param name="Protocol">The quoted datagram's protocol.</param>
/// <param name="Source">Its source address.</param>
/// <param name="Destination">Its destination address.</param>
/// <param name="SourcePort">Its source port (for a quoted ICMP query: its identifier).</param>
/// <param name="DestinationPort">Its destination port (for a quoted ICMP query: its identifier).</param>
/// <param name="HasPorts">False when the quote is too short for the ports, or quotes a non-first fragment or an ICMP message that is not a query.</param>
internal readonly record struct QuotedFlow(IpProtocol Protocol, uint Source, uint Destination, ushort SourcePort, ushort DestinationPort, bool HasPorts);

/// <summary>
/// ICMP errors about translated flows (RFC 5508 4.2, RFC 5382 REQ-9): the outer
/// address, the quoted IP header's address and checksum, the quoted transport port and checksum,
/// then the ICMP checksum. The error's checksum is verified before it is touched, so a corrupt
/// error is never made valid by the translation.
/// </summary>
internal static class NatIcmpErrors
{
    /// <summary>Reads the quoted flow of an ICMP error datagram (header validated by the stack).</summary>
    public static bool TryReadQuote(ReadOnlySpan<byte> datagram, out QuotedFlow flow)
    {
        flow = default;
        int headerLength = NatRewrite.HeaderLength(datagram);
        ReadOnlySpan<byte> icmp = datagram[headerLength..];
        if (icmp.Length < IcmpHeader.FixedLength + Ipv4Header.FixedLength)
        {
            return false;
        }

        ReadOnlySpan<byte> quote = icmp[IcmpHeader.FixedLength..];
        int quotedHeaderLength = (quote[0] & 0x0f) * 4;
        if (quote[0] >> 4 != 4 || quotedHeaderLength < Ipv4Header.FixedLength || quotedHeaderLength > quote.Length)
        {
            return false;
        }

        var protocol = (IpProtocol)quote[9];
        uint source = BinaryPrimitives.ReadUInt32BigEndian(quote[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(quote[16..]);
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(quote[6..]) & 0x1fff) == 0;
        ReadOnlySpan<byte> transport = quote[quotedHeaderLength..];
        bool hasPorts = NatRewrite.TryReadPorts(protocol, transport, out ushort sourcePort, out ushort destinationPort) && firstFragment;
        if (protocol == IpProtocol.Icmp && hasPorts && !NatRewrite.IsQuery((IcmpType)transport[0]) && !NatRewrite.IsQueryReply((IcmpType)transport[0]))
        {
            hasPorts = false;
        }

        flow = new QuotedFlow(protocol, source, destination, sourcePort, destinationPort, hasPorts);
        return true;
    }

    /// <summary>True when the ICMP message's checksum verifies (RFC 792: it covers the whole message).</summary>
    public static bool ChecksumVerifies(ReadOnlySpan<byte> datagram) => Checksum.Compute(datagram[NatRewrite.HeaderLength(datagram)..]) == 0;

    /// <summary>
    /// Translates an ICMP error in place. Inbound (to an outside address): the outer destination,
    /// the quoted source and its port become the inside endpoint's. Outbound (from an inside host):
    /// the outer source, the quoted destination and its port become the outside endpoint's.
    /// </summary>
    /// <param name="datagram">The ICMP error datagram.</param>
    /// <param name="inbound">The direction.</param>
    /// <param name="address">The new address (outer and quoted).</param>
    /// <param name="port">The new quoted port or query identifier; null to keep it (address-only translation).</param>
    public static void Translate(Span<byte> datagram, bool inbound, uint address, ushort? port)
    {
        var ip = new Ipv4Header.Writer(datagram);
        if (inbound)
        {
            ip.SetDestinationUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }
        else
        {
            ip.SetSourceUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }

        Span<byte> icmp = datagram[NatRewrite.HeaderLength(datagram)..];
        Span<byte> quote = icmp[IcmpHeader.FixedLength..];
        int quotedHeaderLength = (quote[0] & 0x0f) * 4;

        // The quoted datagram went the other way: an inbound error quotes what left with the
        // outside source; an outbound one quotes what came in to the inside destination.
        int addressOffset = inbound ? 12 : 16;
        Span<byte> before = stackalloc byte[4];
        quote.Slice(addressOffset, 4).CopyTo(before);
        var quotedIp = new Ipv4Header.Writer(quote[..quotedHeaderLength]);
        if (inbound)
        {
            quotedIp.SetSourceUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }
        else
        {
            quotedIp.SetDestinationUpdatingChecksum(Ipv4Address.FromUInt32(address));
        }

        ReadOnlySpan<byte> after = quote.Slice(addressOffset, 4);
        Span<byte> transport = quote[quotedHeaderLength..];
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(quote[6..]) & 0x1fff) == 0;
        if (firstFragment)
        {
            TranslateQuotedTransport((IpProtocol)quote[9], transport, inbound, before, after, port);
        }

        // Several words of the message changed: the ICMP checksum is filled again (it was verified).
        IcmpHeader.FillChecksum(icmp);
    }

    private static void TranslateQuotedTransport(IpProtocol protocol, Span<byte> transport, bool quotedSource, ReadOnlySpan<byte> before, ReadOnlySpan<byte> after, ushort? port)
    {
        switch (protocol)
        {
            case IpProtocol.Tcp when transport.Length >= TcpHeader.FixedLength:
                var tcp = new TcpHeader.Writer(transport);
                tcp.UpdateChecksumForPseudoHeader(before, after);
                if (port is { } tp)
                {
                    if (quotedSource)
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
                    if (quotedSource)
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
                new IcmpEchoHeader.Writer(transport).SetIdentifierUpdatingChecksum(id);
                break;

            case IpProtocol.Tcp or IpProtocol.Udp when port is { } p && transport.Length >= 4:
                // A quote too short to hold the transport checksum (RFC 792's 8 bytes of TCP): only the port.
                BinaryPrimitives.WriteUInt16BigEndian(transport[(quotedSource ? 0 : 2)..], p);
                break;
        }
    }
}
