using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Udp;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Decode;

/// <summary>
/// Decodes one captured frame layer by layer (link, ARP, IPv4 or IPv6 and its extension headers,
/// TCP/UDP/ICMP/ICMPv6, the first TLS record) into a <see cref="DecodedFrame"/> with the project's
/// generated header codecs (<see cref="EthernetHeader"/>, <see cref="ArpPacket"/>, <see cref="Ipv4Header"/>,
/// <see cref="Ipv6Header"/>, <see cref="Ipv6OptionsHeader"/>, <see cref="Ipv6RoutingHeader"/>,
/// <see cref="Ipv6FragmentHeader"/>, <see cref="IcmpHeader"/>, <see cref="Icmpv6Header"/> and the
/// neighbour discovery headers, <see cref="TcpHeader"/> and <see cref="TcpOptionReader"/>,
/// <see cref="UdpHeader"/>, <see cref="TlsRecordHeader"/>, <see cref="HandshakeHeader"/>,
/// <see cref="ClientHelloReader"/>). Never throws on frame contents: a layer that cannot
/// be read stops decoding and sets <see cref="DecodedFrame.Error"/> to the <see cref="WireError"/>
/// line, keeping the fields of the layers read before it.
/// </summary>
/// <remarks>
/// Lengths follow the headers, not the capture: a frame cut by the capture's snap length still
/// reports the lengths it declares (ip.len, tcp.len), and a checksum whose bytes were not all
/// captured is <see cref="ChecksumStatus.Unverified"/>. Ethernet padding after the IPv4 total
/// length or the IPv6 payload length is ignored. The generated <c>TryRead</c> methods check declared lengths against the
/// buffer, which a first fragment, an ICMP error's quote or a TLS record continued in the next
/// segment cannot satisfy: those are read with the lax <c>TryReadHeader</c>. An IP packet cut by
/// the capture's snap length is still copied into a zero-filled buffer of its declared length
/// (<see cref="Padded"/>), because the transports below take their declared lengths from that
/// payload; everything that would need the missing bytes (checksums, options, SNI) is decided on
/// the captured length alone.
/// </remarks>
internal static partial class FrameDissector
{
    /// <summary>Decodes <paramref name="frame"/>.</summary>
    public static DecodedFrame Decode(in CaptureFrame frame)
    {
        var decoded = new DecodedFrame(frame.Index, frame.TimestampNanoseconds, frame.CapturedLength, frame.OriginalLength, frame.HasTimestamp);
        decoded.Add("frame.number", frame.Index);
        ReadOnlySpan<byte> data = frame.Data.Span;
        LengthSource limit = frame.IsTruncated ? LengthSource.CaptureLength : LengthSource.Buffer;
        switch (frame.LinkType)
        {
            case LinkType.Ethernet:
                DecodeEthernet(data, limit, frame.IsTruncated, decoded);
                break;
            case LinkType.Raw:
                DecodeRawIp(data, limit, frame.IsTruncated, decoded, ipv4Only: false);
                break;
            case LinkType.Ipv4:
                DecodeRawIp(data, limit, frame.IsTruncated, decoded, ipv4Only: true);
                break;
            default:
                decoded.Error = $"link type {(int)frame.LinkType} is not supported (ETHERNET 1, RAW 101 and IPV4 228 are)";
                break;
        }

        return decoded;
    }

    // IEEE 802.3 clause 3.1.1: destination, source, EtherType (RFC 894 for IPv4).
    private static void DecodeEthernet(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded)
    {
        if (!EthernetHeader.TryRead(data, out EthernetHeader.Reader eth, out WireError error))
        {
            decoded.Error = (error with { Source = limit }).ToString();
            return;
        }

        decoded.Add("eth.src", eth.Source.ToString());
        decoded.Add("eth.dst", eth.Destination.ToString());
        decoded.Add("eth.type", (long)eth.EtherType);
        ReadOnlySpan<byte> payload = eth.Payload;
        switch (eth.EtherType)
        {
            case EtherType.Ipv4:
                DecodeIpv4(payload, limit, truncated, decoded, EthernetHeader.FixedLength);
                break;
            case EtherType.Arp:
                DecodeArp(payload, limit, decoded, EthernetHeader.FixedLength);
                break;
            case EtherType.Ipv6:
                DecodeIpv6(payload, limit, truncated, decoded, EthernetHeader.FixedLength);
                break;
            default:
                decoded.Note = $"ethertype 0x{(ushort)eth.EtherType:x4}, not decoded";
                break;
        }
    }

    private static void DecodeRawIp(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded, bool ipv4Only)
    {
        // LINKTYPE_RAW: the version nibble tells IPv4 from IPv6; LINKTYPE_IPV4 is IPv4 only.
        if (!ipv4Only && data.Length >= 1 && data[0] >> 4 == 6)
        {
            DecodeIpv6(data, limit, truncated, decoded, 0);
            return;
        }

        DecodeIpv4(data, limit, truncated, decoded, 0);
    }

    // RFC 826 (Ethernet hardware, IPv4 protocol addresses).
    private static void DecodeArp(ReadOnlySpan<byte> data, LengthSource limit, DecodedFrame decoded, int offset)
    {
        if (!ArpPacket.TryRead(data, out ArpPacket.Reader arp, out WireError error))
        {
            decoded.Error = (error.Kind == WireErrorKind.TooShort ? error with { Source = limit } : error).WithOffset(offset).ToString();
            return;
        }

        decoded.Add("arp.opcode", (long)arp.Operation);
        decoded.Add("arp.src.proto_ipv4", arp.SenderProtocolAddress.ToString());
        decoded.Add("arp.dst.proto_ipv4", arp.TargetProtocolAddress.ToString());
        decoded.Note = arp.SenderHardwareAddress.ToString();
    }

    // RFC 791 3.1: the Internet header format.
    private static void DecodeIpv4(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded, int offset)
    {
        // A frame cut by the capture's snap length holds fewer bytes than the total length says.
        int captured = data.Length;
        if (truncated && Ipv4Header.TryReadHeader(data, out Ipv4Header.Reader cut, out _) && cut.IsTruncated)
        {
            data = Padded(data, (int)cut.DeclaredLength);
        }

        if (!Ipv4Header.TryRead(data, out Ipv4Header.Reader ip, out WireError error))
        {
            decoded.Error = (error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer ? error with { Source = limit } : error)
                .WithOffset(offset).ToString();
            return;
        }

        decoded.Add("ip.version", (long)ip.Version);
        decoded.Add("ip.hdr_len", (long)ip.HeaderLength);
        decoded.Add("ip.len", (long)ip.TotalLength);
        decoded.Add("ip.id", (long)ip.Identification);
        decoded.Add("ip.flags.df", ip.DontFragment);
        decoded.Add("ip.flags.mf", ip.MoreFragments);
        decoded.Add("ip.frag_offset", (long)ip.FragmentOffset);
        decoded.Add("ip.ttl", (long)ip.Ttl);
        decoded.Add("ip.proto", (long)ip.Protocol);
        decoded.Add("ip.src", ip.Source.ToString());
        decoded.Add("ip.dst", ip.Destination.ToString());

        // RFC 791 3.1 / RFC 1071: the header checksum covers the header, options included.
        decoded.Add("ip.checksum.status", ip.VerifyChecksum() ? ChecksumStatus.Good : ChecksumStatus.Bad);

        // RFC 791 3.2: only the fragment at offset 0 holds the transport header.
        if (ip.FragmentOffset != 0)
        {
            return;
        }

        int payloadLength = ip.TotalLength - ip.HeaderLength;
        int payloadCaptured = Math.Clamp(captured - ip.HeaderLength, 0, payloadLength);
        var transport = new Transport(
            ip.Payload,
            payloadCaptured,
            canVerify: !ip.MoreFragments && payloadCaptured == payloadLength,
            limit,
            offset + ip.HeaderLength,
            Checksum.PseudoHeaderSum(ip.Source, ip.Destination, (byte)ip.Protocol, 0),
            isFirstFragment: ip.MoreFragments,
            isIpv6: false);
        switch (ip.Protocol)
        {
            case IpProtocol.Tcp:
                DecodeTcp(transport, decoded);
                break;
            case IpProtocol.Udp:
                DecodeUdp(transport, decoded);
                break;
            case IpProtocol.Icmp:
                DecodeIcmp(transport, decoded);
                break;
        }
    }

    /// <summary>
    /// <paramref name="data"/> followed by zeros up to <paramref name="length"/> bytes, so a
    /// generated reader accepts a message the capture did not hold entirely. Callers only read
    /// fields that lie inside the captured bytes.
    /// </summary>
    private static ReadOnlySpan<byte> Padded(ReadOnlySpan<byte> data, int length)
    {
        byte[] copy = new byte[length];
        data.CopyTo(copy);
        return copy;
    }

    /// <summary>The IP payload handed to a transport.</summary>
    private readonly ref struct Transport
    {
        /// <param name="payload">The payload as long as the IPv4 header declares (zero-filled past the capture).</param>
        /// <param name="capturedLength">How many bytes of <paramref name="payload"/> were captured.</param>
        /// <param name="canVerify">All of the transport message is here (not a first fragment, not cut by the snap length).</param>
        /// <param name="frameLimit">What limits the frame's bytes (buffer or capture length).</param>
        /// <param name="offset">Offset of the payload in the frame.</param>
        /// <param name="pseudoHeaderBase">The pseudo-header partial sum without the length (RFC 9293 3.1, RFC 768).</param>
        /// <param name="isFirstFragment">The payload is the first fragment of a larger datagram (RFC 791 3.2, RFC 8200 4.5).</param>
        /// <param name="isIpv6">The payload came over IPv6 (a UDP checksum is mandatory, RFC 8200 8.1).</param>
        public Transport(ReadOnlySpan<byte> payload, int capturedLength, bool canVerify, LengthSource frameLimit, int offset, uint pseudoHeaderBase, bool isFirstFragment, bool isIpv6)
        {
            IsIpv6 = isIpv6;
            Payload = payload;
            CapturedLength = capturedLength;
            CanVerify = canVerify;
            Limit = capturedLength < payload.Length ? frameLimit : LengthSource.TotalLength;
            Offset = offset;
            PseudoHeaderBase = pseudoHeaderBase;
            IsFirstFragment = isFirstFragment;
        }

        public ReadOnlySpan<byte> Payload { get; }

        public int CapturedLength { get; }

        public ReadOnlySpan<byte> Captured => Payload[..CapturedLength];

        public bool CanVerify { get; }

        public LengthSource Limit { get; }

        public int Offset { get; }

        public uint PseudoHeaderBase { get; }

        public bool IsFirstFragment { get; }

        public bool IsIpv6 { get; }

        /// <summary>The pseudo-header sum with the transport length <paramref name="transportLength"/>.</summary>
        public uint PseudoHeader(int transportLength) => Checksum.Add(PseudoHeaderBase, (uint)transportLength);

        /// <summary>A short-read error of this payload, limited by the capture or by the IP header's length.</summary>
        public string ShortError(WireError error) =>
            (error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer ? error with { Source = Limit } : error)
                .WithOffset(Offset).ToString();
    }

    // RFC 9293 3.1: the TCP header format.
    private static void DecodeTcp(Transport t, DecodedFrame decoded)
    {
        if (t.CapturedLength < TcpHeader.FixedLength)
        {
            decoded.Error = WireError.TooShort(TcpHeader.LayerName, "UrgentPointer", TcpHeader.FixedLength, t.CapturedLength, t.Limit, t.Offset).ToString();
            return;
        }

        if (!TcpHeader.TryRead(t.Payload, out TcpHeader.Reader tcp, out WireError error))
        {
            decoded.Error = t.ShortError(error);
            return;
        }

        decoded.Add("tcp.srcport", (long)tcp.SourcePort);
        decoded.Add("tcp.dstport", (long)tcp.DestinationPort);
        decoded.Add("tcp.seq_raw", (long)tcp.SequenceNumber);
        decoded.Add("tcp.ack_raw", (long)tcp.AcknowledgmentNumber);
        decoded.Add("tcp.hdr_len", (long)tcp.HeaderLength);

        // tcp.flags is Wireshark's 12-bit field: the 4 bits after the data offset (reserved, and
        // AE of RFC 9768) and the eight control bits of RFC 9293 3.1.
        decoded.Add("tcp.flags", (long)((tcp.Reserved << 8) | (byte)tcp.GetFlags()));
        decoded.Add("tcp.window_size_value", (long)tcp.Window);
        decoded.Add("tcp.urgent_pointer", (long)tcp.UrgentPointer);
        decoded.Add("tcp.len", (long)tcp.Payload.Length);
        decoded.Add("tcp.checksum.status", t.CanVerify
            ? (tcp.VerifyChecksum(t.PseudoHeader(t.Payload.Length)) ? ChecksumStatus.Good : ChecksumStatus.Bad)
            : ChecksumStatus.Unverified);
        if (t.CapturedLength < tcp.HeaderLength)
        {
            decoded.Error = WireError.TooShort(TcpHeader.LayerName, "Options", tcp.HeaderLength, t.CapturedLength, t.Limit, t.Offset).ToString();
            return;
        }

        if (!DecodeTcpOptions(tcp.Options, decoded, t.Offset))
        {
            return;
        }

        DecodeTls(t.Captured[tcp.HeaderLength..], decoded, t.Offset + tcp.HeaderLength);
    }

    // RFC 9293 3.2 (EOL, NOP, MSS), RFC 7323 2.2 and 3.2 (window scale, timestamps),
    // RFC 2018 2 and 3 (SACK-permitted, SACK), read by the Tcp layer's option reader.
    private static bool DecodeTcpOptions(ReadOnlySpan<byte> options, DecodedFrame decoded, int offset)
    {
        List<long>? left = null;
        List<long>? right = null;
        var reader = new TcpOptionReader(options);
        while (reader.TryReadNext(out TcpOption option))
        {
            switch (option.Kind)
            {
                case TcpOptionKind.MaximumSegmentSize:
                    decoded.Add("tcp.options.mss_val", (long)option.Mss);
                    break;
                case TcpOptionKind.WindowScale:
                    decoded.Add("tcp.options.wscale.shift", (long)option.WindowScaleShift);
                    break;
                case TcpOptionKind.SackPermitted:
                    decoded.Add("tcp.options.sack_perm", true);
                    break;
                case TcpOptionKind.Sack:
                    left ??= [];
                    right ??= [];
                    for (int i = 0; i < option.SackBlockCount; i++)
                    {
                        TcpSackBlock block = option.GetSackBlock(i);
                        left.Add(block.LeftEdge);
                        right.Add(block.RightEdge);
                    }

                    break;
                case TcpOptionKind.Timestamps:
                    decoded.Add("tcp.options.timestamp.tsval", (long)option.Timestamps.TsVal);
                    decoded.Add("tcp.options.timestamp.tsecr", (long)option.Timestamps.TsEcr);
                    break;
            }
        }

        if (left is not null && right is not null)
        {
            decoded.Add("tcp.options.sack_le", left.ToArray());
            decoded.Add("tcp.options.sack_re", right.ToArray());
        }

        if (reader.HasError)
        {
            decoded.Error = reader.Error.WithOffset(offset + TcpHeader.FixedLength).ToString();
            return false;
        }

        return true;
    }

    // RFC 768: source port, destination port, length, checksum.
    private static void DecodeUdp(Transport t, DecodedFrame decoded)
    {
        if (t.CapturedLength < UdpHeader.FixedLength)
        {
            decoded.Error = WireError.TooShort(UdpHeader.LayerName, "Checksum", UdpHeader.FixedLength, t.CapturedLength, t.Limit, t.Offset).ToString();
            return;
        }

        // A first fragment holds only the start of the datagram the UDP length describes (RFC 791 3.2):
        // the lax read accepts a length past the fragment.
        UdpHeader.Reader udp;
        WireError error;
        if (t.IsFirstFragment ? !UdpHeader.TryReadHeader(t.Payload, out udp, out error) : !UdpHeader.TryRead(t.Payload, out udp, out error))
        {
            decoded.Error = t.ShortError(error);
            return;
        }

        decoded.Add("udp.srcport", (long)udp.SourcePort);
        decoded.Add("udp.dstport", (long)udp.DestinationPort);
        decoded.Add("udp.length", (long)udp.Length);

        // RFC 768: an all-zero checksum means the sender computed none; over IPv6 that is not
        // allowed (RFC 8200 8.1), so it is bad (Wireshark: "illegal").
        ChecksumStatus status = udp.Checksum == 0 && t.IsIpv6 ? ChecksumStatus.Bad : ChecksumStatus.Unverified;
        if (udp.Checksum != 0 && t.CanVerify)
        {
            status = udp.VerifyChecksum(t.PseudoHeader(udp.Length)) ? ChecksumStatus.Good : ChecksumStatus.Bad;
        }

        decoded.Add("udp.checksum.status", status);
    }

    // RFC 792: type, code, checksum; echo and echo reply add identifier and sequence number.
    private static void DecodeIcmp(Transport t, DecodedFrame decoded)
    {
        if (t.CapturedLength < IcmpHeader.FixedLength || !IcmpHeader.TryRead(t.Payload, out IcmpHeader.Reader icmp, out WireError error))
        {
            decoded.Error = WireError.TooShort(IcmpHeader.LayerName, "RestOfHeader", IcmpHeader.FixedLength, t.CapturedLength, t.Limit, t.Offset).ToString();
            return;
        }

        decoded.Add("icmp.type", (long)icmp.Type);
        decoded.Add("icmp.code", (long)icmp.Code);

        // RFC 792: the checksum covers the whole ICMP message.
        decoded.Add("icmp.checksum.status", t.CanVerify
            ? (icmp.VerifyChecksum() ? ChecksumStatus.Good : ChecksumStatus.Bad)
            : ChecksumStatus.Unverified);
        if (icmp.Type is IcmpType.EchoRequest or IcmpType.EchoReply && IcmpEchoHeader.TryRead(t.Payload, out IcmpEchoHeader.Reader echo, out error))
        {
            decoded.Add("icmp.ident", (long)echo.Identifier);
            decoded.Add("icmp.seq", (long)echo.SequenceNumber);
        }
        else if (icmp.Type is IcmpType.DestinationUnreachable or IcmpType.SourceQuench or IcmpType.Redirect or IcmpType.TimeExceeded or IcmpType.ParameterProblem)
        {
            decoded.Note = DescribeQuotedDatagram(t.Captured[IcmpHeader.FixedLength..]);
        }
    }

    // RFC 792: error messages quote the internet header and the first 64 bits of the datagram's
    // data. Only described in the text form; the JSON fields describe the outer packet.
    private static string? DescribeQuotedDatagram(ReadOnlySpan<byte> quoted)
    {
        // The quoted header's total length is the original datagram's: read it laxly.
        if (!IcmpQuotedDatagram.TryRead(quoted, out IcmpQuotedDatagram quote, out _))
        {
            return null;
        }

        Ipv4Header.Reader inner = quote.Header;
        if (inner.Protocol is IpProtocol.Tcp or IpProtocol.Udp && inner.FragmentOffset == 0 && TransportPorts.TryRead(inner.Payload, out TransportPorts.Reader ports))
        {
            return $"quoting {(inner.Protocol == IpProtocol.Tcp ? "TCP" : "UDP")} {inner.Source}.{ports.SourcePort} > {inner.Destination}.{ports.DestinationPort}";
        }

        return $"quoting {inner.Protocol} {inner.Source} > {inner.Destination}";
    }

    // RFC 8446 5.1: ContentType, legacy_record_version, length. A payload is taken for TLS when it
    // starts with a plausible record header: a known content type (20..24, the generated reader's
    // range check) and version 3.x with x <= 4 (SSL 3.0 to TLS 1.3).
    private static void DecodeTls(ReadOnlySpan<byte> payload, DecodedFrame decoded, int offset)
    {
        // A record continued in the next segment: the lax read accepts a length past the payload.
        if (!TlsRecordHeader.TryReadHeader(payload, out TlsRecordHeader.Reader header, out _)
            || header.LegacyRecordVersion is < TlsVersion.Ssl30 or > TlsVersion.Tls13)
        {
            return;
        }

        int available = header.Payload.Length;

        decoded.Add("tls.record.content_type", (long)header.ContentType);
        if (header.ContentType != TlsContentType.Handshake || available < HandshakeHeader.FixedLength)
        {
            return;
        }

        // RFC 8446 4: HandshakeType msg_type, uint24 length.
        ReadOnlySpan<byte> fragment = header.Payload[..available];
        if (!HandshakeHeader.TryReadHeader(fragment, out HandshakeHeader.Reader handshake, out _))
        {
            // A message longer than a record: only its type is known.
            decoded.Add("tls.handshake.type", (long)fragment[0]);
            return;
        }

        decoded.Add("tls.handshake.type", (long)handshake.HandshakeType);
        // A message continued in the next record or segment cannot be parsed further.
        if (handshake.HandshakeType != TlsHandshakeType.ClientHello || handshake.IsTruncated)
        {
            return;
        }

        // RFC 6066 3: the first host_name of server_name.
        if (!ClientHelloReader.TryRead(handshake.Payload, out ClientHelloReader hello, out WireError error)
            || !hello.TryGetServerNameString(out string? serverName, out error))
        {
            decoded.Error = error.WithOffset(offset + TlsRecordHeader.FixedLength + HandshakeHeader.FixedLength).ToString();
            return;
        }

        if (serverName is not null)
        {
            decoded.Add("tls.handshake.extensions_server_name", serverName);
        }
    }
}
