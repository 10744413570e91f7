using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>What <see cref="UdpPacket.Parse"/> found.</summary>
public enum UdpParseStatus
{
    /// <summary>A well-formed datagram whose checksum verified (or was verified by the device).</summary>
    Valid,

    /// <summary>A well-formed datagram over IPv4 sent without a checksum (a zero checksum field, RFC 768).</summary>
    ValidWithoutChecksum,

    /// <summary>Shorter than 8 bytes, or a length field below 8 or beyond the IP payload (RFC 768; Linux's "short packet").</summary>
    Malformed,

    /// <summary>The checksum over the pseudo-header, header and data is wrong (RFC 1122 4.1.3.4: discard silently), or zero over IPv6 (RFC 8200 8.1).</summary>
    BadChecksum,
}

/// <summary>Builds and checks whole UDP datagrams (header + data) over IPv4 or IPv6 with the <see cref="UdpHeader"/> codec.</summary>
public static class UdpPacket
{
    /// <summary>The most data one UDP datagram carries over IPv4: 65535 - 20 (IPv4 header) - 8 (UDP header).</summary>
    public const int MaxPayloadLength = ushort.MaxValue - 20 - UdpHeader.FixedLength;

    /// <summary>The most data one UDP datagram carries over IPv6 without jumbograms: 65535 (the payload length) - 8 (UDP header).</summary>
    public const int MaxPayloadLengthIpv6 = ushort.MaxValue - UdpHeader.FixedLength;

    /// <summary>
    /// Writes a datagram: header, then <paramref name="payload"/> (which may already sit at
    /// <c>destination[8..]</c>), and the checksum over the pseudo-header (RFC 768 for IPv4,
    /// RFC 8200 8.1 for IPv6), a computed zero being sent as 0xFFFF. Without
    /// <paramref name="computeChecksum"/> the field is zero over IPv4 ("no checksum", RFC 768;
    /// RFC 1122 4.1.3.4 says it should be on by default); over IPv6 the checksum is mandatory
    /// (RFC 8200 8.1) and always computed.
    /// </summary>
    /// <param name="destination">Receives the datagram; at least 8 + payload bytes.</param>
    /// <param name="source">Source address (for the pseudo-header) and port.</param>
    /// <param name="to">Destination address and port, of the source's family.</param>
    /// <param name="payload">The data, at most <see cref="MaxPayloadLength"/> bytes (<see cref="MaxPayloadLengthIpv6"/> over IPv6).</param>
    /// <param name="computeChecksum">Whether to compute the checksum (ignored over IPv6: always).</param>
    /// <returns>Bytes written (8 + payload length).</returns>
    /// <exception cref="ArgumentException">The payload is too large, the destination too small, or the families differ.</exception>
    public static int Write(Span<byte> destination, IpEndpoint source, IpEndpoint to, scoped ReadOnlySpan<byte> payload, bool computeChecksum = true)
    {
        int max = source.Address.IsIpv6 ? MaxPayloadLengthIpv6 : MaxPayloadLength;
        if (payload.Length > max)
        {
            throw new ArgumentException($"A UDP datagram over {(source.Address.IsIpv6 ? "IPv6" : "IPv4")} carries at most {max} bytes; this one has {payload.Length}.", nameof(payload));
        }

        int length = UdpHeader.FixedLength + payload.Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The datagram needs {length} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        Span<byte> datagram = destination[..length];
        payload.CopyTo(datagram[UdpHeader.FixedLength..]);
        var writer = new UdpHeader.Writer(datagram)
        {
            SourcePort = source.Port,
            DestinationPort = to.Port,
            Length = (ushort)length,
            Checksum = 0,
        };
        if (computeChecksum || source.Address.IsIpv6)
        {
            writer.FillChecksum(Checksum.PseudoHeaderSum(source.Address, to.Address, UdpHeader.IpProtocolNumber, length));
        }

        return length;
    }

    /// <summary>
    /// Checks a received datagram: header and length field (the datagram is trimmed to the length
    /// field; bytes past it are ignored), then the checksum over the pseudo-header unless it is zero
    /// over IPv4 (RFC 768: none computed) or <paramref name="checksumVerifiedByDevice"/>; a zero
    /// checksum over IPv6 is <see cref="UdpParseStatus.BadChecksum"/> (RFC 8200 8.1: discarded,
    /// as Linux counts it among checksum errors). Never throws.
    /// </summary>
    /// <param name="ipPayload">The IP payload.</param>
    /// <param name="source">The IP source address.</param>
    /// <param name="destination">The IP destination address, of the source's family.</param>
    /// <param name="checksumVerifiedByDevice">The device already verified the checksum.</param>
    /// <param name="reader">The datagram, when <see cref="UdpParseStatus.Valid"/> or <see cref="UdpParseStatus.ValidWithoutChecksum"/>.</param>
    /// <returns>What was found.</returns>
    public static UdpParseStatus Parse(ReadOnlySpan<byte> ipPayload, IpAddress source, IpAddress destination, bool checksumVerifiedByDevice, out UdpHeader.Reader reader)
    {
        if (!UdpHeader.TryRead(ipPayload, out reader, out _))
        {
            return UdpParseStatus.Malformed;
        }

        if (reader.Checksum == 0)
        {
            // RFC 8200 8.1: "IPv6 receivers must discard UDP packets containing a zero checksum".
            return source.IsIpv6 ? UdpParseStatus.BadChecksum : UdpParseStatus.ValidWithoutChecksum;
        }

        if (checksumVerifiedByDevice)
        {
            return UdpParseStatus.Valid;
        }

        // RFC 768: the pseudo-header's length is the UDP length field (the trimmed datagram).
        uint pseudo = Checksum.PseudoHeaderSum(source, destination, UdpHeader.IpProtocolNumber, reader.Bytes.Length);
        return reader.VerifyChecksum(pseudo) ? UdpParseStatus.Valid : UdpParseStatus.BadChecksum;
    }

    /// <summary>Reads the two ports of a UDP header quoted in an ICMP error (the datagram after it may be cut).</summary>
    /// <param name="quotedTransportHeader">The quoted UDP header (RFC 792 quotes all 8 bytes; the ports need 4).</param>
    /// <param name="sourcePort">The quoted source port (ours).</param>
    /// <param name="destinationPort">The quoted destination port (the peer's).</param>
    /// <returns>False when the quote is shorter than the two ports.</returns>
    public static bool TryReadQuotedPorts(ReadOnlySpan<byte> quotedTransportHeader, out ushort sourcePort, out ushort destinationPort)
    {
        // RFC 792: the quote holds at least 8 bytes of the datagram, but the ports are its first 4
        // (RFC 768), and a quote cut shorter by a non-conforming router still names the flow.
        if (!TransportPorts.TryRead(quotedTransportHeader, out TransportPorts.Reader header))
        {
            sourcePort = destinationPort = 0;
            return false;
        }

        sourcePort = header.SourcePort;
        destinationPort = header.DestinationPort;
        return true;
    }
}
