using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tcp.Engine;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>UDP (RFC 768) and TCP (RFC 9293 3.1) header readers and the segment parse of the TCP input path.</summary>
internal static class TransportTargets
{
    private static readonly Ipv4Address Source = Ipv4Address.Create(10, 0, 0, 1);
    private static readonly Ipv4Address Destination = Ipv4Address.Create(10, 0, 0, 2);
    private static readonly List<HexAnnotation> Annotations = [];
    private static readonly byte[] Scratch = new byte[65536];

    public static void Udp(ReadOnlySpan<byte> input)
    {
        bool ok = UdpHeader.TryRead(input, out UdpHeader.Reader r, out WireError e);
        bool fast = UdpHeader.TryRead(input, out _);
        bool okHeader = UdpHeader.TryReadHeader(input, out UdpHeader.Reader h, out WireError eh);
        ReaderChecks.Agree(UdpHeader.LayerName, UdpHeader.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        Annotations.Clear();
        UdpHeader.AnnotateDatagram(input, 0, Annotations);
        Check.True(Annotations.Count > 0, "UDP: no annotation");
        UdpParseStatus status = UdpPacket.Parse(input, Source, Destination, checksumVerifiedByDevice: false, out _);
        Check.True(ok == (status != UdpParseStatus.Malformed), $"UDP: Parse says {status}, TryRead says {ok}");
        if (input.Length >= 4)
        {
            Check.True(UdpPacket.TryReadQuotedPorts(input, out ushort sourcePort, out _), "UDP: quoted ports refused");
            Check.True(!ok || sourcePort == r.SourcePort, "UDP: quoted source port");
        }

        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[UdpHeader.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(UdpHeader.LayerName, input, written);
        Check.Equal(r.Length, r.Bytes.Length, "UDP: message length is the length field");
        _ = r.ToString();

        // RFC 768: a filled checksum (0 sent as 0xFFFF) verifies, also after an RFC 1624 update.
        uint pseudo = Checksum.PseudoHeaderSum(Source, Destination, UdpHeader.IpProtocolNumber, r.Bytes.Length);
        Span<byte> datagram = Scratch.AsSpan(0, r.Bytes.Length);
        r.Bytes.CopyTo(datagram);
        UdpHeader.FillChecksum(datagram, pseudo);
        Check.True(new UdpHeader.Writer(datagram).Checksum != 0, "UDP: a computed checksum of 0 must be sent as 0xFFFF");
        Check.Equal(UdpParseStatus.Valid, UdpPacket.Parse(datagram, Source, Destination, false, out _), "UDP: filled checksum");
        new UdpHeader.Writer(datagram).SetDestinationPortUpdatingChecksum((ushort)(r.DestinationPort ^ 0x8001));
        Check.True(UdpHeader.VerifyChecksum(datagram, pseudo), "UDP: checksum updated with RFC 1624 does not verify");
    }

    public static void Tcp(ReadOnlySpan<byte> input)
    {
        bool ok = TcpHeader.TryRead(input, out TcpHeader.Reader r, out WireError e);
        bool fast = TcpHeader.TryRead(input, out _);
        bool okHeader = TcpHeader.TryReadHeader(input, out TcpHeader.Reader h, out WireError eh);
        ReaderChecks.Agree(TcpHeader.LayerName, TcpHeader.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        Annotations.Clear();
        TcpHeader.AnnotateSegment(input, 0, Annotations);
        bool parsed = TcpSegment.TryParse(input, out TcpSegment segment, out _);
        if (!ok)
        {
            Check.True(!parsed, "TCP: the input path accepted a segment the header reader refused");
            return;
        }

        Check.Equal(r.DataOffset * 4, r.HeaderLength, "TCP: header length is the data offset x 4");
        Span<byte> written = stackalloc byte[TcpHeader.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(TcpHeader.LayerName, input, written);
        _ = r.ToString();

        // The input path (TcpSegment.TryParse) accepts exactly the segments whose options parse, and carries their fields.
        bool optionsOk = r.TryParseOptions(out TcpOptions options, out WireError optionsError);
        Check.Equal(optionsOk, parsed, $"TCP: segment parse and option parse disagree ({optionsError})");
        Check.True(optionsOk || optionsError.Offset >= TcpHeader.FixedLength, $"TCP: option error offset {optionsError.Offset} is not within the options");
        if (parsed)
        {
            Check.Equal(r.SequenceNumber, segment.Seq.Value, "TCP: segment sequence number");
            Check.Equal(r.AcknowledgmentNumber, segment.Ack.Value, "TCP: segment acknowledgment number");
            Check.Equal(r.Window, segment.Window, "TCP: segment window");
            Check.Equal(r.Syn, segment.Has(TcpFlags.Syn), "TCP: segment SYN");
            Check.Equal(r.Fin, segment.Has(TcpFlags.Fin), "TCP: segment FIN");
            Check.Equal(r.Rst, segment.Has(TcpFlags.Rst), "TCP: segment RST");
            Check.Equal(options, segment.Options, "TCP: segment options");
            Check.Equal(r.Payload, segment.Payload, "TCP: segment payload");
        }

        // RFC 9293 3.1: a filled checksum verifies, also after an RFC 1624 update of the sequence number.
        uint pseudo = Checksum.PseudoHeaderSum(Source, Destination, (byte)IpProtocol.Tcp, input.Length);
        Span<byte> message = Scratch.AsSpan(0, input.Length);
        input.CopyTo(message);
        TcpHeader.FillChecksum(message, pseudo);
        Check.True(TcpHeader.VerifyChecksum(message, pseudo), "TCP: filled checksum does not verify");
        new TcpHeader.Writer(message).SetSequenceNumberUpdatingChecksum(~r.SequenceNumber);
        Check.True(TcpHeader.VerifyChecksum(message, pseudo), "TCP: checksum updated with RFC 1624 does not verify");
    }
}
