using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary><see cref="Ipv4Packet"/>, <see cref="IcmpMessage"/> and <see cref="IcmpQuotedDatagram"/> beyond the snapshots.</summary>
public class BuilderTests
{
    private static readonly Ipv4Address A = Ipv4Address.Parse("192.0.2.2");
    private static readonly Ipv4Address B = Ipv4Address.Parse("203.0.113.80");

    [Fact]
    public void Ipv4_write_pads_options_and_fills_length_and_checksum()
    {
        var buffer = new byte[64];
        buffer.AsSpan().Fill(0xaa);
        int n = Ipv4Packet.Write(buffer, new Ipv4Header { Ttl = 9, Protocol = IpProtocol.Tcp, Source = A, Destination = B }, [0x01, 0x94, 0x04, 0x00, 0x00], [1, 2, 3]);
        Assert.Equal(31, n);
        Assert.Equal(0x47, buffer[0]); // version 4, IHL 7: 5 option bytes padded to 8
        Assert.Equal(31, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
        Assert.Equal(new byte[] { 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00 }, buffer.AsSpan(20, 8).ToArray());
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.AsSpan(28, 3).ToArray());
        Assert.Equal(0xaa, buffer[31]);
        Assert.True(Ipv4Header.TryRead(buffer.AsSpan(0, n), out Ipv4Header.Reader ip, out _));
        Assert.True(ip.VerifyChecksum());
        Assert.Equal(0, Checksum.Compute(buffer.AsSpan(0, 28)));
    }

    [Fact]
    public void Ipv4_write_rejects_what_does_not_fit()
    {
        var header = new Ipv4Header { Ttl = 1 };
        Assert.Throws<ArgumentException>(() => Ipv4Packet.Write(new byte[100], header, new byte[41], []));
        Assert.Throws<ArgumentException>(() => Ipv4Packet.Write(new byte[30], header, [], new byte[11]));
        Assert.Throws<ArgumentException>(() => Ipv4Packet.Write(new byte[70_000], header, [], new byte[65_516]));
        Assert.Equal(65_535, Ipv4Packet.Write(new byte[70_000], header, [], new byte[65_515]));
    }

    [Fact]
    public void Echo_is_written_with_a_valid_checksum()
    {
        var buffer = new byte[20];
        int n = IcmpMessage.WriteEcho(buffer, IcmpType.EchoRequest, 10586, 1, [0xde, 0xad, 0xbe]);
        Assert.Equal(11, n);
        Assert.True(IcmpEchoHeader.TryRead(buffer.AsSpan(0, n), out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal((IcmpType.EchoRequest, (byte)0, (ushort)10586, (ushort)1), (echo.Type, echo.Code, echo.Identifier, echo.SequenceNumber));
        Assert.True(echo.VerifyChecksum());
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe }, echo.Payload.ToArray());
        Assert.Throws<ArgumentException>(() => IcmpMessage.WriteEcho(new byte[20], IcmpType.TimeExceeded, 1, 1, []));
        Assert.Throws<ArgumentException>(() => IcmpMessage.WriteEcho(new byte[10], IcmpType.EchoReply, 1, 1, [1, 2, 3]));
    }

    [Fact]
    public void Errors_quote_the_header_and_eight_bytes_by_default()
    {
        byte[] offending = SnapshotTests.OffendingTcp(out _);
        var icmp = new byte[600];
        int n = IcmpMessage.WriteError(icmp, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, 1400, offending);
        Assert.Equal(8 + 20 + 8, n);
        Assert.Equal(offending.AsSpan(0, 28).ToArray(), icmp.AsSpan(8, 28).ToArray());
        Assert.True(IcmpDestinationUnreachableHeader.TryRead(icmp.AsSpan(0, n), out IcmpDestinationUnreachableHeader.Reader du, out _));
        Assert.Equal(1400, du.NextHopMtu);
        Assert.True(du.VerifyChecksum());

        // RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
        n = IcmpMessage.WriteError(icmp, IcmpType.DestinationUnreachable, 4, 1400, offending, 576 - 20 - 8 - 20);
        Assert.Equal(576 - 20, n);
        Assert.True(IcmpHeader.VerifyChecksum(icmp.AsSpan(0, n)));
        Assert.True(IcmpQuotedDatagram.TryRead(icmp.AsSpan(8, n - 8), out IcmpQuotedDatagram quote, out _));
        Assert.Equal(528, quote.Payload.Length);
        Assert.Equal(1480, quote.OriginalPayloadLength);
        Assert.True(quote.IsTruncated);
        Assert.Equal(1500, quote.Header.TotalLength);
        Assert.Equal(IpProtocol.Tcp, quote.Header.Protocol);
        Assert.True(quote.Header.VerifyChecksum());

        Assert.Throws<ArgumentException>(() => IcmpMessage.WriteError(icmp, IcmpType.TimeExceeded, 0, 0, offending.AsSpan(0, 19)));
        Assert.Throws<ArgumentException>(() => IcmpMessage.WriteError(icmp, IcmpType.TimeExceeded, 0, 0, [0x46, .. new byte[20]]));
        Assert.Throws<ArgumentException>(() => IcmpMessage.WriteError(new byte[30], IcmpType.TimeExceeded, 0, 0, offending));
    }

    [Fact]
    public void Quotes_with_options_longer_than_the_largest_header()
    {
        // The whole 124-byte record-route datagram quoted: the header has 40 bytes of options and
        // the quote is longer than the 60-byte header copy the check uses.
        ReadOnlySpan<byte> datagram = Frames.RecordRouteRequest.AsSpan(14);
        var icmp = new byte[200];
        int n = IcmpMessage.WriteError(icmp, IcmpType.TimeExceeded, 0, 0, datagram, 1000);
        Assert.Equal(8 + 124, n);
        Assert.True(IcmpQuotedDatagram.TryRead(icmp.AsSpan(8, n - 8), out IcmpQuotedDatagram quote, out WireError error), error.ToString());
        Assert.Equal(60, quote.HeaderBytes.Length);
        Assert.Equal(40, quote.Options.Length);
        Assert.Equal(64, quote.Payload.Length);
        Assert.False(quote.IsTruncated);
        Assert.True(Ipv4OptionReader.Validate(quote.Options, out _));

        // Only the header and 8 bytes: truncated, options still readable.
        n = IcmpMessage.WriteError(icmp, IcmpType.TimeExceeded, 0, 0, datagram);
        Assert.True(IcmpQuotedDatagram.TryRead(icmp.AsSpan(8, n - 8), out quote, out _));
        Assert.Equal(8, quote.Payload.Length);
        Assert.Equal(64, quote.OriginalPayloadLength);
        Assert.True(quote.IsTruncated);

        // A quote that ends inside the options is too short for the header.
        Assert.False(IcmpQuotedDatagram.TryRead(icmp.AsSpan(8, 40), out _, out error));
        Assert.Equal((WireErrorKind.TooShort, "IPv4", "Ihl", 60L, 40L, LengthSource.Buffer), (error.Kind, error.Layer, error.Field, error.Required, error.Actual, error.Source));
    }

    [Fact]
    public void Quoted_headers_are_checked_like_any_ipv4_header()
    {
        byte[] quote = Frames.PortUnreachable.AsSpan(14 + 20 + 8).ToArray();
        quote[0] = 0x65;
        Assert.False(IcmpQuotedDatagram.TryRead(quote, out _, out WireError error));
        Assert.Equal((WireErrorKind.InvalidValue, "IPv4", "Version", 8), (error.Kind, error.Layer, error.Field, error.Offset));

        quote[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(quote.AsSpan(2), 12);
        Assert.False(IcmpQuotedDatagram.TryRead(quote, out _, out error));
        Assert.Equal((WireErrorKind.LengthTooSmall, "TotalLength", LengthSource.TotalLength, 20L, 12L), (error.Kind, error.Field, error.Source, error.Required, error.Actual));

        // A total length shorter than the quote trims the quoted payload to the original datagram.
        BinaryPrimitives.WriteUInt16BigEndian(quote.AsSpan(2), 24);
        Assert.True(IcmpQuotedDatagram.TryRead(quote, out IcmpQuotedDatagram q, out _));
        Assert.Equal(4, q.Payload.Length);
        Assert.False(q.IsTruncated);
    }

    [Fact]
    public void Option_annotations_cover_every_byte_once()
    {
        ReadOnlySpan<byte> options = Frames.RecordRouteRequest.AsSpan(14 + 20, 40);
        var annotations = new List<HexAnnotation>();
        Ipv4OptionReader.Annotate(options, 20, annotations);
        Assert.Equal(
            [
                new HexAnnotation(20, 1, "Option NoOperation"),
                new HexAnnotation(21, 39, "Option RecordRoute len=39 ptr=8 [127.0.0.1, 0.0.0.0, 0.0.0.0, 0.0.0.0, 0.0.0.0, 0.0.0.0, 0.0.0.0, 0.0.0.0, 0.0.0.0]"),
            ],
            annotations);
    }
}
