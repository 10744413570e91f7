using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary>Every field and checksum of real captured frames (see <see cref="Frames"/>), checked by hand.</summary>
public class KnownAnswerTests
{
    private static readonly Ipv4Address Loopback = Ipv4Address.Parse("127.0.0.1");

    private static Ipv4Header.Reader Ip(byte[] frame)
    {
        Assert.True(EthernetHeader.TryRead(frame, out EthernetHeader.Reader eth, out WireError error), error.ToString());
        Assert.Equal(EtherType.Ipv4, eth.EtherType);
        Assert.True(Ipv4Header.TryRead(frame.AsSpan(EthernetHeader.FixedLength), out Ipv4Header.Reader ip, out error), error.ToString());
        return ip;
    }

    [Fact]
    public void Linux_ping_echo_request()
    {
        byte[] frame = Frames.PingRequest;
        Assert.True(EthernetHeader.TryRead(frame, out EthernetHeader.Reader eth, out _));
        Assert.Equal(default(MacAddress), eth.Destination);
        Assert.Equal(default(MacAddress), eth.Source);
        Assert.Equal(14, eth.HeaderLength);
        Assert.Equal(84, eth.Payload.Length);

        Ipv4Header.Reader ip = Ip(frame);
        Assert.Equal(4, ip.Version);
        Assert.Equal(5, ip.Ihl);
        Assert.Equal(0, ip.Dscp);
        Assert.Equal(0, ip.Ecn);
        Assert.Equal(84, ip.TotalLength);
        Assert.Equal(57733, ip.Identification);
        Assert.False(ip.Reserved);
        Assert.True(ip.DontFragment);
        Assert.False(ip.MoreFragments);
        Assert.Equal(0, ip.FragmentOffset);
        Assert.Equal(64, ip.Ttl);
        Assert.Equal(IpProtocol.Icmp, ip.Protocol);
        Assert.Equal(0x5b21, ip.HeaderChecksum);
        Assert.Equal(Loopback, ip.Source);
        Assert.Equal(Loopback, ip.Destination);
        Assert.Equal(20, ip.HeaderLength);
        Assert.True(ip.Options.IsEmpty);
        Assert.Equal(64, ip.Payload.Length);
        Assert.True(ip.VerifyChecksum());
        Assert.Equal(0x5b21, Ipv4Header.ComputeChecksum(ip.Header));

        // Pseudo-header by hand: 0x7f00 + 0x0001 twice, protocol 1, length 64.
        Assert.Equal(0x7f00u + 0x0001 + 0x7f00 + 0x0001 + 1 + 64, ip.PseudoHeaderSum());

        Assert.True(IcmpHeader.TryRead(ip.Payload, out IcmpHeader.Reader icmp, out _));
        Assert.Equal(IcmpType.EchoRequest, icmp.Type);
        Assert.Equal(0, icmp.Code);
        Assert.Equal(0x1b6d, icmp.Checksum);
        Assert.Equal(0x295a0001u, icmp.RestOfHeader);
        Assert.True(icmp.VerifyChecksum());
        Assert.Equal(0x1b6d, IcmpHeader.ComputeChecksum(icmp.Bytes));

        Assert.True(IcmpEchoHeader.TryRead(ip.Payload, out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal(10586, echo.Identifier);
        Assert.Equal(1, echo.SequenceNumber);
        Assert.Equal(56, echo.Payload.Length);

        // Linux ping data: a 16-byte struct timeval (little-endian seconds), then 0x10, 0x11, ... 0x37.
        Assert.Equal(0x6b012b07L, BinaryPrimitives.ReadInt64LittleEndian(echo.Payload));
        for (int i = 16; i < 56; i++)
        {
            Assert.Equal(i, echo.Payload[i]);
        }
    }

    [Fact]
    public void Checksums_fail_after_any_bit_flip()
    {
        byte[] frame = (byte[])Frames.PingRequest.Clone();
        for (int bit = 0; bit < 20 * 8; bit++)
        {
            if (bit / 8 is 10 or 11)
            {
                continue; // flipping the checksum field itself is covered below
            }

            frame[14 + (bit / 8)] ^= (byte)(0x80 >> (bit % 8));
            Assert.False(Ipv4Header.VerifyChecksum(frame.AsSpan(14, 20)), $"IPv4 bit {bit}");
            frame[14 + (bit / 8)] ^= (byte)(0x80 >> (bit % 8));
        }

        frame[14 + 10] ^= 0x01;
        Assert.False(Ipv4Header.VerifyChecksum(frame.AsSpan(14, 20)));
        frame[14 + 10] ^= 0x01;
        Assert.True(Ipv4Header.VerifyChecksum(frame.AsSpan(14, 20)));

        for (int bit = 0; bit < 64 * 8; bit++)
        {
            frame[34 + (bit / 8)] ^= (byte)(0x80 >> (bit % 8));
            Assert.False(IcmpHeader.VerifyChecksum(frame.AsSpan(34)), $"ICMP bit {bit}");
            frame[34 + (bit / 8)] ^= (byte)(0x80 >> (bit % 8));
        }

        Assert.True(IcmpHeader.VerifyChecksum(frame.AsSpan(34)));
    }

    [Fact]
    public void Linux_echo_reply()
    {
        Ipv4Header.Reader ip = Ip(Frames.PingReply);
        Assert.False(ip.DontFragment);
        Assert.Equal(57734, ip.Identification);
        Assert.Equal(0x9b20, ip.HeaderChecksum);
        Assert.True(ip.VerifyChecksum());
        Assert.True(IcmpEchoHeader.TryRead(ip.Payload, out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal(IcmpType.EchoReply, echo.Type);
        Assert.Equal(0x236d, echo.Checksum);
        Assert.Equal(10586, echo.Identifier);
        Assert.Equal(1, echo.SequenceNumber);
        Assert.True(echo.VerifyChecksum());

        // The reply is the request with the type changed: RFC 1624 predicts its checksum.
        Assert.Equal(echo.Checksum, Checksum.Update(0x1b6d, (ushort)0x0800, (ushort)0x0000));
    }

    [Fact]
    public void Linux_record_route()
    {
        Ipv4Header.Reader ip = Ip(Frames.RecordRouteRequest);
        Assert.Equal(15, ip.Ihl);
        Assert.Equal(124, ip.TotalLength);
        Assert.Equal(0xa9e6, ip.HeaderChecksum);
        Assert.True(ip.VerifyChecksum());
        Assert.Equal(40, ip.Options.Length);
        var options = ip.GetOptions();
        Assert.True(options.TryReadNext(out Ipv4Option nop, out _));
        Assert.Equal(Ipv4OptionKind.NoOperation, nop.Kind);
        Assert.True(options.TryReadNext(out Ipv4Option rr, out _));
        Assert.Equal(21, rr.Offset);
        Assert.Equal(39, rr.Length);
        Assert.True(rr.TryGetRoute(out Ipv4RouteOption route));
        Assert.Equal(8, route.Pointer);
        Assert.Equal(9, route.SlotCount);
        Assert.Equal(1, route.RecordedCount);
        Assert.Equal(Loopback, route.GetAddress(0));
        Assert.Equal(Ipv4Address.Any, route.GetAddress(8));
        Assert.False(options.TryReadNext(out _, out WireError end));
        Assert.False(end.IsError);
        Assert.True(IcmpEchoHeader.TryRead(ip.Payload, out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal(10587, echo.Identifier);
        Assert.True(echo.VerifyChecksum());

        ip = Ip(Frames.RecordRouteReply);
        Assert.True(ip.VerifyChecksum());
        options = ip.GetOptions();
        Assert.True(options.TryReadNext(out rr, out _));
        Assert.True(rr.TryGetRoute(out route));
        Assert.Equal(16, route.Pointer);
        Assert.Equal(3, route.RecordedCount);
        Assert.Equal(Loopback, route.GetAddress(2));
        Assert.Equal(Ipv4Address.Any, route.GetAddress(3));
        Assert.True(options.TryReadNext(out Ipv4Option eol, out _));
        Assert.Equal(Ipv4OptionKind.EndOfOptionList, eol.Kind);
        Assert.Equal(59, eol.Offset);
        Assert.True(options.Padding.IsEmpty);
    }

    [Fact]
    public void Linux_timestamp_with_addresses()
    {
        Ipv4Header.Reader ip = Ip(Frames.TimestampReply);
        Assert.Equal(14, ip.Ihl);
        Assert.Equal(120, ip.TotalLength);
        Assert.True(ip.VerifyChecksum());
        var options = ip.GetOptions();
        Assert.True(options.TryReadNext(out Ipv4Option ts, out _));
        Assert.Equal(36, ts.Length);
        Assert.True(ts.TryGetTimestamp(out Ipv4TimestampOption t));
        Assert.Equal(29, t.Pointer);
        Assert.Equal(0, t.Overflow);
        Assert.Equal(Ipv4TimestampFlag.AddressAndTimestamp, t.Flag);
        Assert.Equal(4, t.SlotCount);
        Assert.Equal(3, t.RecordedCount);
        Assert.False(t.IsFull);
        for (int i = 0; i < 3; i++)
        {
            // 19463122 ms after midnight UT = 05:24:23.122, the capture's time.
            Assert.Equal(new Ipv4TimestampEntry(Loopback, 19463122), t.GetEntry(i));
        }

        Assert.Equal(default, t.GetEntry(3));
        Assert.False(options.TryReadNext(out _, out WireError end));
        Assert.False(end.IsError);
    }

    [Fact]
    public void Linux_port_unreachable_quotes_the_udp_datagram()
    {
        Ipv4Header.Reader ip = Ip(Frames.PortUnreachable);
        Assert.Equal(48, ip.Dscp); // TOS 0xc0: CS6, the kernel's ICMP error class
        Assert.Equal(0, ip.Ecn);
        Assert.Equal(61, ip.TotalLength);
        Assert.Equal(0x9a6b, ip.HeaderChecksum);
        Assert.True(ip.VerifyChecksum());

        Assert.True(IcmpDestinationUnreachableHeader.TryRead(ip.Payload, out IcmpDestinationUnreachableHeader.Reader du, out _));
        Assert.Equal(IcmpType.DestinationUnreachable, du.Type);
        Assert.Equal(IcmpUnreachableCode.PortUnreachable, du.Code);
        Assert.Equal(0xebe5, du.Checksum);
        Assert.Equal(0, du.Unused);
        Assert.Equal(0, du.NextHopMtu);
        Assert.True(du.VerifyChecksum());

        Assert.True(IcmpQuotedDatagram.TryRead(du.Payload, out IcmpQuotedDatagram quote, out WireError error), error.ToString());
        Ipv4Header.Reader q = quote.Header;
        Assert.True(q.VerifyChecksum());
        Assert.Equal(33, q.Bytes.Length);
        Assert.Equal(33, q.TotalLength);
        Assert.Equal(0x539e, q.Identification);
        Assert.True(q.DontFragment);
        Assert.Equal(IpProtocol.Udp, q.Protocol);
        Assert.Equal(0xe92b, q.HeaderChecksum);
        Assert.Equal(Loopback, q.Source);
        Assert.True(Ipv4Header.VerifyChecksum(quote.HeaderBytes));
        Assert.Equal(13, quote.Payload.Length);
        Assert.Equal(13, quote.OriginalPayloadLength);
        Assert.False(quote.IsTruncated);
        Assert.Equal(53005, BinaryPrimitives.ReadUInt16BigEndian(quote.Payload));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(quote.Payload[2..]));
        Assert.Equal("hello"u8.ToArray(), quote.Payload[8..].ToArray());
    }

    [Fact]
    public void Linux_arp_request_and_reply()
    {
        Ipv4Address me = Ipv4Address.Parse("192.0.2.2");
        Ipv4Address gateway = Ipv4Address.Parse("192.0.2.1");
        MacAddress myMac = MacAddress.Create(0x02, 0xfc, 0, 0, 0, 0x01);
        MacAddress gatewayMac = MacAddress.Create(0x02, 0xfc, 0, 0, 0, 0x05);

        Assert.True(EthernetHeader.TryRead(Frames.ArpRequest, out EthernetHeader.Reader eth, out _));
        Assert.Equal(MacAddress.Broadcast, eth.Destination);
        Assert.Equal(myMac, eth.Source);
        Assert.Equal(EtherType.Arp, eth.EtherType);
        Assert.True(ArpPacket.TryRead(eth.Payload, out ArpPacket.Reader arp, out _));
        Assert.Equal(1, arp.HardwareType);
        Assert.Equal(0x0800, arp.ProtocolType);
        Assert.Equal(6, arp.HardwareLength);
        Assert.Equal(4, arp.ProtocolLength);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(myMac, arp.SenderHardwareAddress);
        Assert.Equal(me, arp.SenderProtocolAddress);
        Assert.Equal(default(MacAddress), arp.TargetHardwareAddress);
        Assert.Equal(gateway, arp.TargetProtocolAddress);

        Assert.True(EthernetHeader.TryRead(Frames.ArpReply, out eth, out _));
        Assert.Equal(myMac, eth.Destination);
        Assert.Equal(gatewayMac, eth.Source);
        Assert.True(ArpPacket.TryRead(eth.Payload, out arp, out _));
        Assert.Equal(ArpOperation.Reply, arp.Operation);
        Assert.Equal(gatewayMac, arp.SenderHardwareAddress);
        Assert.Equal(gateway, arp.SenderProtocolAddress);
        Assert.Equal(myMac, arp.TargetHardwareAddress);
        Assert.Equal(me, arp.TargetProtocolAddress);

        // Writing the value form back gives the captured bytes.
        var again = new byte[ArpPacket.FixedLength];
        arp.ToValue().WriteTo(again);
        Assert.Equal(Frames.ArpReply.AsSpan(14).ToArray(), again);
    }

    [Theory]
    [InlineData(0, "HardwareType", 1, 6)]
    [InlineData(2, "ProtocolType", 0x0800, 0x86dd)]
    [InlineData(4, "HardwareLength", 6, 8)]
    [InlineData(5, "ProtocolLength", 4, 16)]
    public void Arp_rejects_other_hardware_or_protocols(int offset, string field, long expected, int value)
    {
        byte[] arp = Frames.ArpRequest.AsSpan(14).ToArray();
        if (offset < 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(offset), (ushort)value);
        }
        else
        {
            arp[offset] = (byte)value;
        }

        Assert.False(ArpPacket.TryRead(arp, out _, out WireError error));
        Assert.Equal(WireErrorKind.InvalidValue, error.Kind);
        Assert.Equal("ARP", error.Layer);
        Assert.Equal(field, error.Field);
        Assert.Equal(expected, error.Required);
        Assert.Equal(value, error.Actual);
    }

    [Fact]
    public void Ipv4_rejects_bad_version_ihl_and_total_length()
    {
        byte[] ip = Frames.PingRequest.AsSpan(14).ToArray();
        ip[0] = 0x65;
        Assert.False(Ipv4Header.TryRead(ip, out _, out WireError error));
        Assert.Equal((WireErrorKind.InvalidValue, "Version", 4L, 6L), (error.Kind, error.Field, error.Required, error.Actual));

        ip[0] = 0x44;
        Assert.False(Ipv4Header.TryRead(ip, out _, out error));
        Assert.Equal((WireErrorKind.InvalidValue, "Ihl", 4L), (error.Kind, error.Field, error.Actual));

        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), 19);
        Assert.False(Ipv4Header.TryRead(ip, out _, out error));
        Assert.Equal((WireErrorKind.LengthTooSmall, "TotalLength", LengthSource.TotalLength), (error.Kind, error.Field, error.Source));

        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), 85);
        Assert.False(Ipv4Header.TryRead(ip, out _, out error));
        Assert.Equal((WireErrorKind.TooShort, 85L, 84L, LengthSource.Buffer), (error.Kind, error.Required, error.Actual, error.Source));

        // Ethernet padding after the datagram is not part of it.
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), 60);
        Assert.True(Ipv4Header.TryRead(ip, out Ipv4Header.Reader r, out _));
        Assert.Equal(40, r.Payload.Length);
        Assert.Equal(60, r.Bytes.Length);
    }
}
