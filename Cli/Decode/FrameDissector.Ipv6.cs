using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Cli.Decode;

internal static partial class FrameDissector
{
    // The most extension headers walked, as a bound on hostile chains (the stack's own limit is 8).
    private const int MaxDecodedExtensionHeaders = 16;

    // RFC 8200 3: the IPv6 header; 4: its extension headers, walked for their syntax as Wireshark
    // does (the stack's rules about what to accept are not a decoder's business).
    private static void DecodeIpv6(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded, int offset)
    {
        // A frame cut by the capture's snap length holds less than the payload length says.
        int captured = data.Length;
        if (truncated && Ipv6Header.TryReadHeader(data, out Ipv6Header.Reader cut, out _) && cut.IsTruncated)
        {
            data = Padded(data, (int)cut.DeclaredLength);
        }

        if (!Ipv6Header.TryRead(data, out Ipv6Header.Reader ip, out WireError error))
        {
            if (data.Length >= 1)
            {
                decoded.Add("ip.version", (long)(data[0] >> 4));
            }

            decoded.Error = (error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer ? error with { Source = limit } : error)
                .WithOffset(offset).ToString();
            return;
        }

        // Wireshark's IPv6 dissector reports the version nibble as ip.version too.
        decoded.Add("ip.version", (long)ip.Version);
        decoded.Add("ipv6.src", ip.Source.ToString());
        decoded.Add("ipv6.dst", ip.Destination.ToString());
        decoded.Add("ipv6.plen", (long)ip.PayloadLength);
        decoded.Add("ipv6.nxt", (long)ip.NextHeader);
        decoded.Add("ipv6.hlim", (long)ip.HopLimit);
        decoded.Add("ipv6.flow", (long)ip.FlowLabel);

        ReadOnlySpan<byte> packet = ip.Bytes;
        IpProtocol next = ip.NextHeader;
        int at = Ipv6Header.FixedLength;
        Ipv6Address finalDestination = ip.Destination;
        bool firstFragment = false;
        bool fragmentSeen = false;
        for (int headers = 0; ; headers++)
        {
            if (headers > MaxDecodedExtensionHeaders)
            {
                decoded.Error = WireError.Malformed(Ipv6Header.LayerName, "ExtensionHeaders", MaxDecodedExtensionHeaders, headers, LengthSource.None, offset + at).ToString();
                return;
            }

            ReadOnlySpan<byte> rest = packet[at..];
            WireError headerError;
            switch (next)
            {
                case IpProtocol.HopByHop or IpProtocol.Ipv6DestinationOptions:
                    if (!Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader options, out headerError))
                    {
                        decoded.Error = ShortError(headerError, captured, at, limit, offset);
                        return;
                    }

                    (next, at) = (options.NextHeader, at + options.HeaderLength);
                    continue;
                case IpProtocol.Ipv6Routing:
                    if (!Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader routing, out headerError))
                    {
                        decoded.Error = ShortError(headerError, captured, at, limit, offset);
                        return;
                    }

                    if (routing.SegmentsLeft > 0 && FinalDestination(routing) is { } final)
                    {
                        // RFC 8200 8.1: the pseudo-header carries the final destination.
                        finalDestination = final;
                    }

                    (next, at) = (routing.NextHeader, at + routing.HeaderLength);
                    continue;
                case IpProtocol.Ipv6Fragment:
                    if (!Ipv6FragmentHeader.TryRead(rest, out Ipv6FragmentHeader.Reader fragment, out headerError))
                    {
                        decoded.Error = ShortError(headerError, captured, at, limit, offset);
                        return;
                    }

                    if (!fragmentSeen)
                    {
                        decoded.Add("ipv6.fraghdr.offset", (long)fragment.FragmentOffset);
                        decoded.Add("ipv6.fraghdr.more", fragment.MoreFragments);
                        decoded.Add("ipv6.fraghdr.ident", (long)fragment.Identification);
                        fragmentSeen = true;
                    }

                    // RFC 8200 4.5: only the fragment at offset 0 holds the upper-layer header.
                    if (fragment.FragmentOffset != 0)
                    {
                        return;
                    }

                    firstFragment |= fragment.MoreFragments;
                    (next, at) = (fragment.NextHeader, at + Ipv6FragmentHeader.FixedLength);
                    continue;
                case IpProtocol.Ipv6NoNextHeader:
                    return;
            }

            break;
        }

        int upperLength = packet.Length - at;
        int upperCaptured = Math.Clamp(captured - at, 0, upperLength);
        var transport = new Transport(
            packet[at..],
            upperCaptured,
            canVerify: !firstFragment && upperCaptured == upperLength,
            limit,
            offset + at,
            Checksum.PseudoHeaderSum(ip.Source, finalDestination, (byte)next, 0),
            isFirstFragment: firstFragment,
            isIpv6: true);
        switch (next)
        {
            case IpProtocol.Tcp:
                DecodeTcp(transport, decoded);
                break;
            case IpProtocol.Udp:
                DecodeUdp(transport, decoded);
                break;
            case IpProtocol.Icmpv6:
                DecodeIcmpv6(transport, decoded);
                break;
        }
    }

    // An extension header that does not fit: limited by the capture when the capture cut it.
    private static string ShortError(WireError error, int captured, int at, LengthSource limit, int offset)
    {
        LengthSource source = error.Kind == WireErrorKind.TooShort && error.Required > captured - at ? limit : LengthSource.PayloadLength;
        return (error.Kind == WireErrorKind.TooShort ? error with { Source = source } : error).WithOffset(offset + at).ToString();
    }

    // The last address of a type 0 (RFC 2460 4.4) or type 2 (RFC 6275 6.4) routing header, or
    // Segment List[0] of a segment routing header (RFC 8754 2): where the packet finally goes.
    private static Ipv6Address? FinalDestination(Ipv6RoutingHeader.Reader routing)
    {
        ReadOnlySpan<byte> data = routing.Options;
        switch (routing.RoutingType)
        {
            case Ipv6RoutingType.SourceRoute or Ipv6RoutingType.MobileIpv6 when data.Length >= 4 + 16:
                return Ipv6Address.Create(data[(4 + ((data.Length - 4) / 16 * 16) - 16)..]);
            case Ipv6RoutingType.SegmentRouting when data.Length >= 4 + 16:
                return Ipv6Address.Create(data[4..]);
            default:
                return null;
        }
    }

    // RFC 4443 2.1: type, code, checksum over the pseudo-header (RFC 4443 2.3) and the message;
    // echo adds identifier and sequence number (4.1), packet too big the MTU (3.2), neighbour
    // solicitation and advertisement their target address (RFC 4861 4.3, 4.4).
    private static void DecodeIcmpv6(Transport t, DecodedFrame decoded)
    {
        if (t.CapturedLength < Icmpv6Header.FixedLength || !Icmpv6Header.TryRead(t.Payload, out Icmpv6Header.Reader icmp, out _))
        {
            decoded.Error = WireError.TooShort(Icmpv6Header.LayerName, "RestOfHeader", Icmpv6Header.FixedLength, t.CapturedLength, t.Limit, t.Offset).ToString();
            return;
        }

        decoded.Add("icmpv6.type", (long)icmp.Type);
        decoded.Add("icmpv6.code", (long)icmp.Code);
        decoded.Add("icmpv6.checksum.status", t.CanVerify
            ? (icmp.VerifyChecksum(t.PseudoHeader(t.Payload.Length)) ? ChecksumStatus.Good : ChecksumStatus.Bad)
            : ChecksumStatus.Unverified);
        ReadOnlySpan<byte> captured = t.Captured;
        switch (icmp.Type)
        {
            case Icmpv6Type.EchoRequest or Icmpv6Type.EchoReply when Icmpv6EchoHeader.TryRead(t.Payload, out Icmpv6EchoHeader.Reader echo):
                decoded.Add("icmpv6.echo.identifier", (long)echo.Identifier);
                decoded.Add("icmpv6.echo.sequence_number", (long)echo.SequenceNumber);
                break;
            case Icmpv6Type.PacketTooBig when Icmpv6PacketTooBigHeader.TryRead(t.Payload, out Icmpv6PacketTooBigHeader.Reader ptb):
                decoded.Add("icmpv6.mtu", (long)ptb.Mtu);
                decoded.Note = DescribeQuotedPacket(captured[Icmpv6Header.FixedLength..]);
                break;
            case Icmpv6Type.DestinationUnreachable or Icmpv6Type.TimeExceeded or Icmpv6Type.ParameterProblem:
                decoded.Note = DescribeQuotedPacket(captured[Icmpv6Header.FixedLength..]);
                break;

            // The target address is read even when the code is not 0 (the message is then invalid, RFC 4861 7.1, but still shown).
            case Icmpv6Type.NeighborSolicitation when captured.Length >= NdpNeighborSolicitationHeader.FixedLength:
                decoded.Add("icmpv6.nd.ns.target_address", Ipv6Address.Create(captured[8..]).ToString());
                break;
            case Icmpv6Type.NeighborAdvertisement when captured.Length >= NdpNeighborAdvertisementHeader.FixedLength:
                decoded.Add("icmpv6.nd.na.target_address", Ipv6Address.Create(captured[8..]).ToString());
                break;
        }
    }

    // RFC 4443 2.4(c): an error quotes as much of the invoking packet as fits. Only described in the
    // text form; the JSON fields describe the outer packet.
    private static string? DescribeQuotedPacket(ReadOnlySpan<byte> quoted)
    {
        if (!Icmpv6QuotedPacket.TryRead(quoted, out Icmpv6QuotedPacket quote, out _))
        {
            return null;
        }

        Ipv6Header.Reader inner = quote.Header;
        if (quote.HasUpperLayer && quote.UpperLayer is IpProtocol.Tcp or IpProtocol.Udp && TransportPorts.TryRead(quote.UpperLayerBytes, out TransportPorts.Reader ports))
        {
            return $"quoting {(quote.UpperLayer == IpProtocol.Tcp ? "TCP" : "UDP")} {inner.Source}.{ports.SourcePort} > {inner.Destination}.{ports.DestinationPort}";
        }

        return quote.HasUpperLayer
            ? $"quoting {(quote.UpperLayer == IpProtocol.Icmpv6 ? "ICMP6" : quote.UpperLayer.ToString())} {inner.Source} > {inner.Destination}"
            : $"quoting {inner.Source} > {inner.Destination}";
    }
}
