using System.Buffers.Binary;
using System.Text;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Decode;

/// <summary>
/// Decodes one captured frame layer by layer (link, ARP or IPv4, TCP/UDP/ICMP, the first TLS
/// record) into a <see cref="DecodedFrame"/>. Never throws on frame contents: a layer that cannot
/// be read stops decoding and sets <see cref="DecodedFrame.Error"/> to the <see cref="WireError"/>
/// line, keeping the fields of the layers read before it.
/// </summary>
/// <remarks>
/// Lengths follow the headers, not the capture: a frame cut by the capture's snap length still
/// reports the lengths it declares (ip.len, tcp.len), and a checksum whose bytes were not all
/// captured is <see cref="ChecksumStatus.Unverified"/>. Ethernet padding after the IPv4 total
/// length is ignored.
/// </remarks>
internal static class FrameDissector
{
    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeArp = 0x0806;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const byte ProtocolIcmp = 1;
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;

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
        if (data.Length < 14)
        {
            decoded.Error = WireError.TooShort("Ethernet", data.Length < 6 ? "Destination" : data.Length < 12 ? "Source" : "EtherType", 14, data.Length, limit).ToString();
            return;
        }

        decoded.Add("eth.src", MacAddress.Create(data[6..12]).ToString());
        decoded.Add("eth.dst", MacAddress.Create(data[..6]).ToString());
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        decoded.Add("eth.type", (long)etherType);
        ReadOnlySpan<byte> payload = data[14..];
        switch (etherType)
        {
            case EtherTypeIpv4:
                DecodeIpv4(payload, limit, truncated, decoded, 14);
                break;
            case EtherTypeArp:
                DecodeArp(payload, limit, decoded, 14);
                break;
            case EtherTypeIpv6:
                DecodeIpv6Version(payload, decoded);
                break;
            default:
                decoded.Note = $"ethertype 0x{etherType:x4}, not decoded";
                break;
        }
    }

    private static void DecodeRawIp(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded, bool ipv4Only)
    {
        if (data.Length < 1)
        {
            decoded.Error = WireError.TooShort("IPv4", "Version", 20, 0, limit).ToString();
            return;
        }

        int version = data[0] >> 4;
        if (version == 6 && !ipv4Only)
        {
            DecodeIpv6Version(data, decoded);
            return;
        }

        DecodeIpv4(data, limit, truncated, decoded, 0);
    }

    // IPv6 is outside this project's scope; its version nibble is reported as Wireshark does.
    private static void DecodeIpv6Version(ReadOnlySpan<byte> data, DecodedFrame decoded)
    {
        if (data.Length >= 1)
        {
            decoded.Add("ip.version", (long)(data[0] >> 4));
        }

        decoded.Note = "IPv6, not decoded";
    }

    // RFC 826: hardware type, protocol type, hlen, plen, opcode, then the four addresses.
    private static void DecodeArp(ReadOnlySpan<byte> data, LengthSource limit, DecodedFrame decoded, int offset)
    {
        if (data.Length < 8)
        {
            decoded.Error = WireError.TooShort("ARP", "Operation", 8, data.Length, limit, offset).ToString();
            return;
        }

        ushort protocolType = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        int hlen = data[4];
        int plen = data[5];
        decoded.Add("arp.opcode", (long)BinaryPrimitives.ReadUInt16BigEndian(data[6..]));
        int need = 8 + (2 * hlen) + (2 * plen);
        if (data.Length < need)
        {
            decoded.Error = WireError.TooShort("ARP", "Addresses", need, data.Length, limit, offset).ToString();
            return;
        }

        if (protocolType == EtherTypeIpv4 && plen == 4)
        {
            decoded.Add("arp.src.proto_ipv4", Ipv4Address.Create(data.Slice(8 + hlen, 4)).ToString());
            decoded.Add("arp.dst.proto_ipv4", Ipv4Address.Create(data.Slice(8 + hlen + 4 + hlen, 4)).ToString());
            if (hlen == 6)
            {
                decoded.Note = MacAddress.Create(data[8..14]).ToString();
            }
        }
    }

    // RFC 791 3.1: the Internet header format.
    private static void DecodeIpv4(ReadOnlySpan<byte> data, LengthSource limit, bool truncated, DecodedFrame decoded, int offset)
    {
        if (data.Length < 20)
        {
            decoded.Error = WireError.TooShort("IPv4", "Destination", 20, data.Length, limit, offset).ToString();
            return;
        }

        int version = data[0] >> 4;
        if (version != 4)
        {
            decoded.Error = WireError.InvalidValue("IPv4", "Version", 4, version, offset).ToString();
            return;
        }

        int headerLength = (data[0] & 0x0f) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        ushort identification = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        ushort flagsAndOffset = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        bool dontFragment = (flagsAndOffset & 0x4000) != 0;
        bool moreFragments = (flagsAndOffset & 0x2000) != 0;
        int fragmentOffset = flagsAndOffset & 0x1fff;
        byte ttl = data[8];
        byte protocol = data[9];
        var source = Ipv4Address.Create(data[12..16]);
        var destination = Ipv4Address.Create(data[16..20]);
        decoded.Add("ip.version", (long)version);
        decoded.Add("ip.hdr_len", (long)headerLength);
        decoded.Add("ip.len", (long)totalLength);
        decoded.Add("ip.id", (long)identification);
        decoded.Add("ip.flags.df", dontFragment);
        decoded.Add("ip.flags.mf", moreFragments);
        decoded.Add("ip.frag_offset", (long)fragmentOffset);
        decoded.Add("ip.ttl", (long)ttl);
        decoded.Add("ip.proto", (long)protocol);
        decoded.Add("ip.src", source.ToString());
        decoded.Add("ip.dst", destination.ToString());

        // RFC 791 3.1: IHL is at least 5 words; the total length covers at least the header.
        if (headerLength < 20)
        {
            decoded.Error = WireError.LengthTooSmall("IPv4", "Ihl", 20, headerLength, LengthSource.HeaderLength, offset).ToString();
            return;
        }

        if (data.Length < headerLength)
        {
            decoded.Error = WireError.TooShort("IPv4", "Options", headerLength, data.Length, limit, offset).ToString();
            return;
        }

        // RFC 791 3.1 / RFC 1071: the header checksum covers the header (options included).
        decoded.Add("ip.checksum.status", Checksum.Compute(data[..headerLength]) == 0 ? ChecksumStatus.Good : ChecksumStatus.Bad);
        if (totalLength < headerLength)
        {
            decoded.Error = WireError.LengthTooSmall("IPv4", "TotalLength", headerLength, totalLength, LengthSource.TotalLength, offset).ToString();
            return;
        }

        if (totalLength > data.Length && !truncated)
        {
            decoded.Error = WireError.TooShort("IPv4", "TotalLength", totalLength, data.Length, LengthSource.Buffer, offset).ToString();
            return;
        }

        // RFC 791 3.2: only the fragment at offset 0 holds the transport header.
        if (fragmentOffset != 0)
        {
            return;
        }

        int payloadLength = totalLength - headerLength;
        ReadOnlySpan<byte> captured = data[headerLength..Math.Min(totalLength, data.Length)];
        var transport = new Transport(
            captured,
            payloadLength,
            canVerify: !moreFragments && captured.Length == payloadLength,
            limit,
            offset + headerLength,
            Checksum.PseudoHeaderSum(source, destination, protocol, 0),
            isFirstFragment: moreFragments);
        switch (protocol)
        {
            case ProtocolTcp:
                DecodeTcp(transport, decoded);
                break;
            case ProtocolUdp:
                DecodeUdp(transport, decoded);
                break;
            case ProtocolIcmp:
                DecodeIcmp(transport, decoded);
                break;
        }
    }

    /// <summary>The IPv4 payload handed to a transport.</summary>
    private readonly ref struct Transport
    {
        /// <param name="captured">The payload bytes present in the capture.</param>
        /// <param name="length">The payload length the IPv4 header declares.</param>
        /// <param name="canVerify">All of the transport message is here (not a first fragment, not cut by the snap length).</param>
        /// <param name="frameLimit">What limits the frame's bytes (buffer or capture length).</param>
        /// <param name="offset">Offset of the payload in the frame.</param>
        /// <param name="pseudoHeaderBase">The pseudo-header partial sum without the length (RFC 9293 3.1, RFC 768).</param>
        /// <param name="isFirstFragment">The payload is the first fragment of a larger datagram (RFC 791 3.2).</param>
        public Transport(ReadOnlySpan<byte> captured, int length, bool canVerify, LengthSource frameLimit, int offset, uint pseudoHeaderBase, bool isFirstFragment)
        {
            IsFirstFragment = isFirstFragment;
            Captured = captured;
            Length = length;
            CanVerify = canVerify;
            Limit = captured.Length < length ? frameLimit : LengthSource.TotalLength;
            Offset = offset;
            PseudoHeaderBase = pseudoHeaderBase;
        }

        public ReadOnlySpan<byte> Captured { get; }

        public int Length { get; }

        public bool CanVerify { get; }

        public LengthSource Limit { get; }

        public int Offset { get; }

        public uint PseudoHeaderBase { get; }

        public bool IsFirstFragment { get; }

        /// <summary>The pseudo-header sum with the transport length <paramref name="transportLength"/>.</summary>
        public uint PseudoHeader(int transportLength) => Checksum.Add(PseudoHeaderBase, (uint)transportLength);
    }

    // RFC 9293 3.1: the TCP header format.
    private static void DecodeTcp(Transport t, DecodedFrame decoded)
    {
        ReadOnlySpan<byte> data = t.Captured;
        if (data.Length < 20)
        {
            decoded.Error = WireError.TooShort("TCP", "UrgentPointer", 20, data.Length, t.Limit, t.Offset).ToString();
            return;
        }

        int headerLength = (data[12] >> 4) * 4;
        decoded.Add("tcp.srcport", (long)BinaryPrimitives.ReadUInt16BigEndian(data));
        decoded.Add("tcp.dstport", (long)BinaryPrimitives.ReadUInt16BigEndian(data[2..]));
        decoded.Add("tcp.seq_raw", (long)BinaryPrimitives.ReadUInt32BigEndian(data[4..]));
        decoded.Add("tcp.ack_raw", (long)BinaryPrimitives.ReadUInt32BigEndian(data[8..]));
        decoded.Add("tcp.hdr_len", (long)headerLength);
        decoded.Add("tcp.flags", (long)(BinaryPrimitives.ReadUInt16BigEndian(data[12..]) & 0x0fff));
        decoded.Add("tcp.window_size_value", (long)BinaryPrimitives.ReadUInt16BigEndian(data[14..]));
        decoded.Add("tcp.urgent_pointer", (long)BinaryPrimitives.ReadUInt16BigEndian(data[18..]));
        if (headerLength < 20)
        {
            decoded.Error = WireError.LengthTooSmall("TCP", "DataOffset", 20, headerLength, LengthSource.DataOffset, t.Offset).ToString();
            return;
        }

        if (headerLength > t.Length)
        {
            decoded.Error = WireError.TooShort("TCP", "Options", headerLength, t.Length, LengthSource.TotalLength, t.Offset).ToString();
            return;
        }

        decoded.Add("tcp.len", (long)(t.Length - headerLength));
        decoded.Add("tcp.checksum.status", t.CanVerify
            ? (Checksum.Compute(data, t.PseudoHeader(t.Length)) == 0 ? ChecksumStatus.Good : ChecksumStatus.Bad)
            : ChecksumStatus.Unverified);
        if (data.Length < headerLength)
        {
            decoded.Error = WireError.TooShort("TCP", "Options", headerLength, data.Length, t.Limit, t.Offset).ToString();
            return;
        }

        if (!DecodeTcpOptions(data[20..headerLength], decoded, t.Offset + 20))
        {
            return;
        }

        DecodeTls(data[headerLength..], decoded, t.Offset + headerLength);
    }

    // RFC 9293 3.2 (EOL, NOP, MSS), RFC 7323 2.2 and 3.2 (window scale, timestamps),
    // RFC 2018 2 and 3 (SACK-permitted, SACK).
    private static bool DecodeTcpOptions(ReadOnlySpan<byte> options, DecodedFrame decoded, int offset)
    {
        List<long>? left = null;
        List<long>? right = null;
        int i = 0;
        bool ok = true;
        while (i < options.Length)
        {
            byte kind = options[i];
            if (kind == 0)
            {
                break;
            }

            if (kind == 1)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length)
            {
                decoded.Error = WireError.TooShort("TCP", $"Option{kind}", 2, options.Length - i, LengthSource.DataOffset, offset + i).ToString();
                ok = false;
                break;
            }

            int length = options[i + 1];
            if (length < 2 || i + length > options.Length)
            {
                decoded.Error = WireError.Malformed("TCP", $"Option{kind}", Math.Max(2, length), options.Length - i, LengthSource.OptionLength, offset + i).ToString();
                ok = false;
                break;
            }

            ReadOnlySpan<byte> body = options.Slice(i + 2, length - 2);
            switch (kind)
            {
                case 2 when length == 4:
                    decoded.Add("tcp.options.mss_val", (long)BinaryPrimitives.ReadUInt16BigEndian(body));
                    break;
                case 3 when length == 3:
                    decoded.Add("tcp.options.wscale.shift", (long)body[0]);
                    break;
                case 4 when length == 2:
                    decoded.Add("tcp.options.sack_perm", true);
                    break;
                case 5 when (length - 2) % 8 == 0 && length > 2:
                    left ??= [];
                    right ??= [];
                    for (int b = 0; b + 8 <= body.Length; b += 8)
                    {
                        left.Add(BinaryPrimitives.ReadUInt32BigEndian(body[b..]));
                        right.Add(BinaryPrimitives.ReadUInt32BigEndian(body[(b + 4)..]));
                    }

                    break;
                case 8 when length == 10:
                    decoded.Add("tcp.options.timestamp.tsval", (long)BinaryPrimitives.ReadUInt32BigEndian(body));
                    decoded.Add("tcp.options.timestamp.tsecr", (long)BinaryPrimitives.ReadUInt32BigEndian(body[4..]));
                    break;
                case 2 or 3 or 4 or 5 or 8:
                    decoded.Error = WireError.Malformed("TCP", OptionName(kind), ExpectedLength(kind), length, LengthSource.OptionLength, offset + i).ToString();
                    ok = false;
                    break;
            }

            if (!ok)
            {
                break;
            }

            i += length;
        }

        if (left is not null && right is not null)
        {
            decoded.Add("tcp.options.sack_le", left.ToArray());
            decoded.Add("tcp.options.sack_re", right.ToArray());
        }

        return ok;
    }

    private static string OptionName(byte kind) => kind switch
    {
        2 => "MaximumSegmentSize",
        3 => "WindowScale",
        4 => "SackPermitted",
        5 => "Sack",
        8 => "Timestamps",
        _ => $"Option{kind}",
    };

    private static long ExpectedLength(byte kind) => kind switch
    {
        2 => 4,
        3 => 3,
        4 => 2,
        5 => 10,
        8 => 10,
        _ => 2,
    };

    // RFC 768: source port, destination port, length, checksum.
    private static void DecodeUdp(Transport t, DecodedFrame decoded)
    {
        ReadOnlySpan<byte> data = t.Captured;
        if (data.Length < 8)
        {
            decoded.Error = WireError.TooShort("UDP", "Checksum", 8, data.Length, t.Limit, t.Offset).ToString();
            return;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        decoded.Add("udp.srcport", (long)BinaryPrimitives.ReadUInt16BigEndian(data));
        decoded.Add("udp.dstport", (long)BinaryPrimitives.ReadUInt16BigEndian(data[2..]));
        decoded.Add("udp.length", (long)length);

        // RFC 768: the length counts header and data, so at least 8; it cannot exceed the IP payload
        // (of the whole datagram: a first fragment carries only part of it).
        if (length < 8)
        {
            decoded.Error = WireError.LengthTooSmall("UDP", "Length", 8, length, LengthSource.TotalLength, t.Offset).ToString();
            return;
        }

        if (length > t.Length && !t.IsFirstFragment)
        {
            decoded.Error = WireError.TooShort("UDP", "Length", length, t.Length, LengthSource.TotalLength, t.Offset).ToString();
            return;
        }

        // RFC 768: an all-zero checksum means the sender computed none.
        ChecksumStatus status = ChecksumStatus.Unverified;
        if (checksum != 0 && t.CanVerify)
        {
            status = Checksum.Compute(data[..length], t.PseudoHeader(length)) == 0 ? ChecksumStatus.Good : ChecksumStatus.Bad;
        }

        decoded.Add("udp.checksum.status", status);
    }

    // RFC 792: type, code, checksum; echo and echo reply add identifier and sequence number.
    private static void DecodeIcmp(Transport t, DecodedFrame decoded)
    {
        ReadOnlySpan<byte> data = t.Captured;
        if (data.Length < 4)
        {
            decoded.Error = WireError.TooShort("ICMP", "Checksum", 4, data.Length, t.Limit, t.Offset).ToString();
            return;
        }

        byte type = data[0];
        decoded.Add("icmp.type", (long)type);
        decoded.Add("icmp.code", (long)data[1]);

        // RFC 792: the checksum covers the whole ICMP message.
        decoded.Add("icmp.checksum.status", t.CanVerify
            ? (Checksum.Compute(data) == 0 ? ChecksumStatus.Good : ChecksumStatus.Bad)
            : ChecksumStatus.Unverified);
        if (type is 0 or 8)
        {
            if (data.Length < 8)
            {
                decoded.Error = WireError.TooShort("ICMP", "SequenceNumber", 8, data.Length, t.Limit, t.Offset).ToString();
                return;
            }

            decoded.Add("icmp.ident", (long)BinaryPrimitives.ReadUInt16BigEndian(data[4..]));
            decoded.Add("icmp.seq", (long)BinaryPrimitives.ReadUInt16BigEndian(data[6..]));
        }
    }

    // RFC 8446 5.1: ContentType, legacy_record_version, length. A payload is taken for TLS when it
    // starts with a plausible record header: a known content type (20..24) and version 3.x (x <= 4).
    private static void DecodeTls(ReadOnlySpan<byte> payload, DecodedFrame decoded, int offset)
    {
        if (payload.Length < 5 || payload[0] is < 20 or > 24 || payload[1] != 3 || payload[2] > 4)
        {
            return;
        }

        int recordLength = BinaryPrimitives.ReadUInt16BigEndian(payload[3..]);

        // RFC 8446 5.2: a record is at most 2^14 + 256 bytes.
        if (recordLength > (1 << 14) + 256)
        {
            return;
        }

        decoded.Add("tls.record.content_type", (long)payload[0]);
        if (payload[0] != 22 || recordLength < 4)
        {
            return;
        }

        ReadOnlySpan<byte> fragment = payload[5..Math.Min(payload.Length, 5 + recordLength)];
        if (fragment.Length < 1)
        {
            return;
        }

        // RFC 8446 4: HandshakeType msg_type, uint24 length.
        byte handshakeType = fragment[0];
        decoded.Add("tls.handshake.type", (long)handshakeType);
        if (handshakeType == 1 && fragment.Length >= 4)
        {
            string? sni = ReadServerName(fragment[4..], out WireError error);
            if (sni is not null)
            {
                decoded.Add("tls.handshake.extensions_server_name", sni);
            }
            else if (error.IsError)
            {
                decoded.Error = error.WithOffset(offset + 9).ToString();
            }
        }
    }

    // RFC 8446 4.1.2 ClientHello and RFC 6066 3 server_name. Returns null when absent or cut short
    // by the capture (then error stays None); malformed vectors give an error.
    private static string? ReadServerName(ReadOnlySpan<byte> hello, out WireError error)
    {
        error = default;
        int p = 2 + 32;
        if (hello.Length < p + 1)
        {
            return null;
        }

        p += 1 + hello[p];
        if (hello.Length < p + 2)
        {
            return null;
        }

        p += 2 + BinaryPrimitives.ReadUInt16BigEndian(hello[p..]);
        if (hello.Length < p + 1)
        {
            return null;
        }

        p += 1 + hello[p];
        if (hello.Length < p + 2)
        {
            return null;
        }

        int extensionsEnd = p + 2 + BinaryPrimitives.ReadUInt16BigEndian(hello[p..]);
        p += 2;
        while (p + 4 <= Math.Min(extensionsEnd, hello.Length))
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(hello[p..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(hello[(p + 2)..]);
            int body = p + 4;
            if (body + length > extensionsEnd)
            {
                error = WireError.Malformed("TLS", "Extension", body + length, extensionsEnd, LengthSource.OptionLength, p);
                return null;
            }

            if (type == 0)
            {
                if (body + length > hello.Length)
                {
                    return null;
                }

                // ServerNameList: uint16 length, then entries of NameType(1) + uint16 length + name.
                ReadOnlySpan<byte> list = hello.Slice(body, length);
                if (list.Length < 5 || list[2] != 0)
                {
                    error = WireError.Malformed("TLS", "ServerName", 5, list.Length, LengthSource.OptionLength, body);
                    return null;
                }

                int nameLength = BinaryPrimitives.ReadUInt16BigEndian(list[3..]);
                if (5 + nameLength > list.Length)
                {
                    error = WireError.Malformed("TLS", "ServerName", 5 + nameLength, list.Length, LengthSource.OptionLength, body);
                    return null;
                }

                return Encoding.ASCII.GetString(list.Slice(5, nameLength));
            }

            p = body + length;
        }

        return null;
    }
}
