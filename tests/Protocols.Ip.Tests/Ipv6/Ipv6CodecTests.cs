using System.Buffers.Binary;
using Protocols.Tests.Shared;
using Protocols.Wire;
using static Protocols.Tests.Shared.Ipv6Packets;

namespace Protocols.Ip.Tests.Ipv6;

/// <summary>IPv6, ICMPv6, NDP and MLDv2 codecs: known answers, checksums, builders, golden dumps.</summary>
public class Ipv6CodecTests
{
    private static readonly Ipv6Address LinkLocalA = Ipv6Address.Parse("fe80::200:ff:fe00:a");
    private static readonly Ipv6Address LinkLocalB = Ipv6Address.Parse("fe80::200:ff:fe00:b");
    private static readonly MacAddress MacA = MacAddress.Create(0x02, 0x00, 0x00, 0x00, 0x00, 0x0a);

    // An independent RFC 8200 8.1 checksum: sum the pseudo-header bytes and the message as 16-bit words.
    private static ushort NaiveChecksum(Ipv6Address src, Ipv6Address dst, byte next, ReadOnlySpan<byte> message)
    {
        var all = new byte[40 + message.Length + 1];
        ((ReadOnlySpan<byte>)src).CopyTo(all);
        ((ReadOnlySpan<byte>)dst).CopyTo(all.AsSpan(16));
        BinaryPrimitives.WriteInt32BigEndian(all.AsSpan(32), message.Length);
        all[39] = next;
        message.CopyTo(all.AsSpan(40));
        ulong sum = 0;
        for (int i = 0; i + 1 < all.Length; i += 2)
        {
            sum += (uint)((all[i] << 8) | all[i + 1]);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    [Fact]
    public void The_fixed_header_reads_known_bytes()
    {
        // 6, traffic class 0xb8 (EF, not ECT), flow label 0xabcde, payload 8, UDP, hop limit 255.
        byte[] bytes = Convert.FromHexString("6b8abcde" + "0008" + "11" + "ff" + "20010db8000000000000000000000001" + "fe800000000000000000000000000002" + "0035003500080000");
        Assert.True(Ipv6Header.TryRead(bytes, out Ipv6Header.Reader ip, out WireError error), error.ToString());
        Assert.Equal(6, ip.Version);
        Assert.Equal(0xb8, ip.TrafficClass);
        Assert.Equal(46, Ipv6Packet.Dscp(ip.TrafficClass));
        Assert.Equal(0, Ipv6Packet.Ecn(ip.TrafficClass));
        Assert.Equal(0xabcdeu, ip.FlowLabel);
        Assert.Equal(8, ip.PayloadLength);
        Assert.Equal(IpProtocol.Udp, ip.NextHeader);
        Assert.Equal(255, ip.HopLimit);
        Assert.Equal(Ipv6Address.Parse("2001:db8::1"), ip.Source);
        Assert.Equal(Ipv6Address.Parse("fe80::2"), ip.Destination);
        Assert.Equal(8, ip.Payload.Length);
    }

    [Fact]
    public void Version_payload_length_and_truncation_are_checked()
    {
        byte[] packet = Packet(IpProtocol.Udp, [], Udp);
        for (int n = 0; n < 40; n++)
        {
            Assert.False(Ipv6Header.TryRead(packet.AsSpan(0, n), out _, out WireError e));
            Assert.Equal(WireErrorKind.TooShort, e.Kind);
        }

        // The payload length past the buffer: strict read fails, the lax one reads the header.
        Assert.False(Ipv6Header.TryRead(packet.AsSpan(0, 50), out _, out WireError tooShort));
        Assert.Equal(WireErrorKind.TooShort, tooShort.Kind);
        Assert.Equal(56, tooShort.Required);
        Assert.True(Ipv6Header.TryReadHeader(packet.AsSpan(0, 50), out Ipv6Header.Reader lax, out _));
        Assert.True(lax.IsTruncated);
        Assert.Equal(10, lax.Payload.Length);

        // Trailing link padding is trimmed.
        byte[] padded = [.. packet, 0, 0, 0, 0];
        Assert.True(Ipv6Header.TryRead(padded, out Ipv6Header.Reader trimmed, out _));
        Assert.Equal(packet.Length, trimmed.Bytes.Length);

        packet[0] = 0x45;
        Assert.False(Ipv6Header.TryRead(packet, out _, out WireError version));
        Assert.Equal(WireErrorKind.InvalidValue, version.Kind);
        Assert.Equal("Version", version.Field);
    }

    [Fact]
    public void Echo_checksum_covers_the_pseudo_header_and_verifies()
    {
        var buffer = new byte[100];
        int n = Icmpv6Message.WriteEcho(buffer, Source, Destination, Icmpv6Type.EchoRequest, 0x1234, 7, "abcdefgh"u8);
        ReadOnlySpan<byte> message = buffer.AsSpan(0, n);
        Assert.Equal(NaiveChecksum(Source, Destination, 58, message[..2].ToArray().Concat(new byte[2]).Concat(message[4..].ToArray()).ToArray()), BinaryPrimitives.ReadUInt16BigEndian(message[2..]));
        uint pseudo = Icmpv6Message.PseudoHeaderSum(Source, Destination, n);
        Assert.True(Icmpv6EchoHeader.TryRead(message, out Icmpv6EchoHeader.Reader echo, out _));
        Assert.True(echo.VerifyChecksum(pseudo));
        Assert.Equal(0x1234, echo.Identifier);
        Assert.Equal(7, echo.SequenceNumber);

        // Another destination address: the checksum no longer verifies (the pseudo-header is covered).
        Assert.False(echo.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(Source, Ipv6Address.Parse("2001:db8::3"), n)));
    }

    [Fact]
    public void Errors_quote_as_much_as_fits_in_the_minimum_mtu()
    {
        byte[] invoking = Packet(IpProtocol.Udp, [], [.. Udp, .. new byte[2984]]);
        var buffer = new byte[2000];
        int n = Icmpv6Message.WriteError(buffer, Destination, Source, Icmpv6Type.PacketTooBig, 0, 1280, invoking);
        Assert.Equal(1240, n);
        Assert.True(Icmpv6PacketTooBigHeader.TryRead(buffer.AsSpan(0, n), out Icmpv6PacketTooBigHeader.Reader ptb, out _));
        Assert.Equal(1280u, ptb.Mtu);
        Assert.True(ptb.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(Destination, Source, n)));
        Assert.True(Icmpv6QuotedPacket.TryRead(ptb.Payload, out Icmpv6QuotedPacket quote, out _));
        Assert.True(quote.HasUpperLayer);
        Assert.Equal(IpProtocol.Udp, quote.UpperLayer);
        Assert.Equal(3000, quote.Header.PayloadLength);
        Assert.True(quote.Header.IsTruncated);
        Assert.Equal(0x3039, BinaryPrimitives.ReadUInt16BigEndian(quote.UpperLayerBytes));

        // Small invoking packets are quoted whole.
        byte[] small = Packet(IpProtocol.Udp, [], Udp);
        Assert.Equal(8 + small.Length, Icmpv6Message.WriteError(buffer, Destination, Source, Icmpv6Type.DestinationUnreachable, 4, 0, small));
        Assert.Throws<ArgumentException>(() => Icmpv6Message.WriteError(buffer, Destination, Source, Icmpv6Type.EchoReply, 0, 0, small));
        Assert.Throws<ArgumentException>(() => Icmpv6Message.WriteError(buffer, Destination, Source, Icmpv6Type.TimeExceeded, 0, 0, small.AsSpan(0, 39)));
    }

    [Fact]
    public void The_quote_is_walked_through_extension_headers_to_the_ports()
    {
        byte[] invoking = Packet(IpProtocol.HopByHop, Concat(Options(IpProtocol.Ipv6Fragment, Option(5, 0, 0)), Fragment(IpProtocol.Tcp, 0, true, 5)), new byte[40]);
        BinaryPrimitives.WriteUInt16BigEndian(invoking.AsSpan(56), 443);
        Assert.True(Icmpv6QuotedPacket.TryRead(invoking, out Icmpv6QuotedPacket quote, out _));
        Assert.True(quote.HasUpperLayer);
        Assert.Equal(IpProtocol.Tcp, quote.UpperLayer);
        Assert.Equal(443, BinaryPrimitives.ReadUInt16BigEndian(quote.UpperLayerBytes));

        // A non-first fragment quoted: no upper-layer header to find.
        byte[] later = Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Tcp, 10, true, 5), new byte[40]);
        Assert.True(Icmpv6QuotedPacket.TryRead(later, out quote, out _));
        Assert.False(quote.HasUpperLayer);

        // A quote cut inside an extension header, and one too short for the IPv6 header.
        Assert.True(Icmpv6QuotedPacket.TryRead(invoking.AsSpan(0, 44), out quote, out _));
        Assert.False(quote.HasUpperLayer);
        Assert.False(Icmpv6QuotedPacket.TryRead(invoking.AsSpan(0, 39), out _, out WireError tooShort));
        Assert.Equal("QuotedPacket", tooShort.Field);
        Assert.Equal(8, tooShort.Offset);
    }

    [Fact]
    public void Neighbor_solicitation_and_advertisement_round_trip_with_their_options()
    {
        var buffer = new byte[64];
        Ipv6Address solicited = Ipv6Address.Parse("ff02::1:ff00:b");
        int n = Icmpv6Message.WriteNeighborSolicitation(buffer, LinkLocalA, solicited, LinkLocalB, MacA);
        Assert.Equal(32, n);
        Assert.True(NdpNeighborSolicitationHeader.TryRead(buffer.AsSpan(0, n), out NdpNeighborSolicitationHeader.Reader ns, out _));
        Assert.True(ns.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(LinkLocalA, solicited, n)));
        Assert.Equal(LinkLocalB, ns.TargetAddress);
        var options = new NdpOptionReader(ns.Payload, ns.HeaderLength);
        Assert.True(options.MoveNext());
        Assert.Equal(NdpOptionType.SourceLinkLayerAddress, options.Current.Type);
        Assert.True(NdpLinkLayerAddressOption.TryRead(options.Current.Bytes, out NdpLinkLayerAddressOption.Reader sll, out _));
        Assert.Equal(MacA, sll.LinkLayerAddress);
        Assert.False(options.MoveNext());
        Assert.False(options.Error.IsError);

        // DAD: from ::, no option (RFC 4862 5.4.2).
        Assert.Equal(24, Icmpv6Message.WriteNeighborSolicitation(buffer, Ipv6Address.Any, solicited, LinkLocalB, null));

        n = Icmpv6Message.WriteNeighborAdvertisement(buffer, LinkLocalB, LinkLocalA, LinkLocalB, router: false, solicited: true, @override: true, MacA);
        Assert.True(NdpNeighborAdvertisementHeader.TryRead(buffer.AsSpan(0, n), out NdpNeighborAdvertisementHeader.Reader na, out _));
        Assert.True(na.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(LinkLocalB, LinkLocalA, n)));
        Assert.False(na.Router);
        Assert.True(na.Solicited);
        Assert.True(na.Override);
        Assert.Equal(0x60, buffer[4]);

        // Code must be 0 (RFC 4861 7.1.1).
        buffer[1] = 1;
        Assert.False(NdpNeighborAdvertisementHeader.TryRead(buffer.AsSpan(0, n), out _, out WireError code));
        Assert.Equal("Code", code.Field);
    }

    [Fact]
    public void Router_advertisement_options_are_walked_and_read()
    {
        var options = new byte[8 + 32 + 8 + 40];
        int at = Icmpv6Message.WriteLinkLayerAddressOption(options, NdpOptionType.SourceLinkLayerAddress, MacA);
        at += Icmpv6Message.WritePrefixInformationOption(options.AsSpan(at), Ipv6Address.Parse("2001:db8:1::"), 64, true, true, 86400, 14400);
        at += Icmpv6Message.WriteMtuOption(options.AsSpan(at), 1400);
        at += Icmpv6Message.WriteRdnssOption(options.AsSpan(at), 600, [Ipv6Address.Parse("2001:db8::53"), Ipv6Address.Parse("2001:db8::54")]);
        Assert.Equal(options.Length, at);
        var buffer = new byte[200];
        int n = Icmpv6Message.WriteRouterAdvertisement(buffer, LinkLocalB, Ipv6Address.AllNodes, new NdpRouterAdvertisementHeader { CurHopLimit = 64, RouterLifetime = 1800, ReachableTime = 30000, RetransTimer = 1000, OtherConfiguration = true }, options);
        Assert.True(NdpRouterAdvertisementHeader.TryRead(buffer.AsSpan(0, n), out NdpRouterAdvertisementHeader.Reader ra, out _));
        Assert.True(ra.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(LinkLocalB, Ipv6Address.AllNodes, n)));
        Assert.Equal(1800, ra.RouterLifetime);
        Assert.True(ra.OtherConfiguration);
        Assert.False(ra.ManagedAddressConfiguration);

        var found = new List<string>();
        foreach (NdpOption option in new NdpOptionReader(ra.Payload, ra.HeaderLength))
        {
            found.Add(option.ToString());
            if (option.Type == NdpOptionType.PrefixInformation)
            {
                Assert.True(NdpPrefixInformationOption.TryRead(option.Bytes, out NdpPrefixInformationOption.Reader pi, out _));
                Assert.Equal(64, pi.PrefixLength);
                Assert.True(pi.Autonomous);
                Assert.Equal(14400u, pi.PreferredLifetime);
            }

            if (option.Type == NdpOptionType.RecursiveDnsServer)
            {
                Assert.True(NdpRdnssOption.TryRead(option.Bytes, out NdpRdnssOption.Reader rdnss, out _));
                Assert.Equal(5, rdnss.Length);
                Assert.Equal(Ipv6Address.Parse("2001:db8::54"), Ipv6Address.Create(rdnss.Options[16..]));
            }
        }

        Assert.Equal(
            [
                "SourceLinkLayerAddress 02:00:00:00:00:0a",
                "PrefixInformation 2001:db8:1::/64 L=True A=True valid=86400 preferred=14400",
                "Mtu 1400",
                "RecursiveDnsServer lifetime=600 servers=2",
            ],
            found);
    }

    [Fact]
    public void A_zero_length_or_overlong_option_stops_the_walk()
    {
        byte[] options = [1, 1, 2, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0];
        Assert.False(NdpOptionReader.Validate(options, out WireError zero, baseOffset: 24));
        Assert.Equal(WireErrorKind.InvalidValue, zero.Kind);
        Assert.Equal(33, zero.Offset); // the Length byte of the second option, 8 bytes past the first at 24
        options[9] = 3;
        Assert.False(NdpOptionReader.Validate(options, out WireError overlong));
        Assert.Equal(WireErrorKind.TooShort, overlong.Kind);
        Assert.True(NdpOptionReader.Validate(options.AsSpan(0, 8), out _));

        // Typed views check their own lengths.
        Assert.False(NdpLinkLayerAddressOption.TryRead([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], out _, out _));
        Assert.False(NdpRdnssOption.TryRead([25, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], out _, out _));
        Assert.False(NdpPrefixInformationOption.TryRead(new byte[] { 3, 4, 129 }.Concat(new byte[29]).ToArray(), out _, out WireError prefix));
        Assert.Equal("PrefixLength", prefix.Field);
    }

    [Fact]
    public void Mldv2_reports_round_trip_and_bad_records_are_reported()
    {
        var buffer = new byte[100];
        Ipv6Address[] groups = [Ipv6Address.Parse("ff02::1:ff00:a"), Ipv6Address.Parse("ff02::fb")];
        Ipv6Address mldRouters = Ipv6Address.Parse("ff02::16");
        int n = Icmpv6Message.WriteMldv2Report(buffer, LinkLocalA, mldRouters, MldRecordType.ChangeToExclude, groups);
        Assert.Equal(48, n);
        Assert.True(Mldv2ReportHeader.TryRead(buffer.AsSpan(0, n), out Mldv2ReportHeader.Reader report, out _));
        Assert.True(report.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(LinkLocalA, mldRouters, n)));
        var records = new MldAddressRecordReader(report);
        var seen = new List<Ipv6Address>();
        while (records.TryReadNext(out MldAddressRecordHeader.Reader record, out ReadOnlySpan<byte> sources, out _))
        {
            Assert.Equal(MldRecordType.ChangeToExclude, record.RecordType);
            Assert.True(sources.IsEmpty);
            seen.Add(record.MulticastAddress);
        }

        Assert.False(records.Error.IsError);
        Assert.Equal(groups, seen);

        // A record claiming a source that is not there.
        buffer[8 + 3] = 2;
        Assert.True(Mldv2ReportHeader.TryRead(buffer.AsSpan(0, n), out report, out _));
        records = new MldAddressRecordReader(report);
        Assert.False(records.TryReadNext(out _, out _, out WireError error));
        Assert.Equal(WireErrorKind.TooShort, error.Kind);
        Assert.Equal(10, error.Offset);
    }

    public static TheoryData<string> SnapshotCases => new(
        "udp", "hop-by-hop-router-alert", "routing-type-0", "fragment", "echo-request", "packet-too-big",
        "neighbor-solicitation", "neighbor-advertisement", "router-advertisement", "mldv2-report", "parameter-problem");

    private static byte[] SnapshotPacket(string name)
    {
        var buffer = new byte[1500];
        int n;
        switch (name)
        {
            case "udp":
                return Packet(IpProtocol.Udp, [], Udp);
            case "hop-by-hop-router-alert":
                return Packet(IpProtocol.HopByHop, Options(IpProtocol.Icmpv6, Option(5, 0, 0)), Icmp(b => Icmpv6Message.WriteMldv2Report(b, LinkLocalA, Ipv6Address.Parse("ff02::16"), MldRecordType.ChangeToExclude, [Ipv6Address.Parse("ff02::1:ff00:a")])), Ipv6Address.Parse("ff02::16"), 1, LinkLocalA);
            case "routing-type-0":
                return Packet(IpProtocol.Ipv6Routing, Routing(IpProtocol.Udp, Ipv6RoutingType.SourceRoute, 1), Udp);
            case "fragment":
                return Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 181, true, 0xdeadbeef), new byte[24]);
            case "echo-request":
                n = Icmpv6Message.WriteEcho(buffer, Source, Destination, Icmpv6Type.EchoRequest, 0x0c2a, 1, "0123456789abcdef"u8);
                return Packet(IpProtocol.Icmpv6, [], buffer[..n]);
            case "packet-too-big":
                n = Icmpv6Message.WriteError(buffer, Ipv6Address.Parse("2001:db8:ffff::1"), Source, Icmpv6Type.PacketTooBig, 0, 1280, Packet(IpProtocol.Udp, [], Udp));
                return Packet(IpProtocol.Icmpv6, [], buffer[..n], Source, source: Ipv6Address.Parse("2001:db8:ffff::1"));
            case "neighbor-solicitation":
                n = Icmpv6Message.WriteNeighborSolicitation(buffer, LinkLocalA, Ipv6Address.Parse("ff02::1:ff00:b"), LinkLocalB, MacA);
                return Packet(IpProtocol.Icmpv6, [], buffer[..n], Ipv6Address.Parse("ff02::1:ff00:b"), 255, LinkLocalA);
            case "neighbor-advertisement":
                n = Icmpv6Message.WriteNeighborAdvertisement(buffer, LinkLocalB, LinkLocalA, LinkLocalB, true, true, true, MacAddress.Create(2, 0, 0, 0, 0, 0x0b));
                return Packet(IpProtocol.Icmpv6, [], buffer[..n], LinkLocalA, 255, LinkLocalB);
            case "router-advertisement":
                {
                    var options = new byte[8 + 32 + 8 + 24];
                    int at = Icmpv6Message.WriteLinkLayerAddressOption(options, NdpOptionType.SourceLinkLayerAddress, MacAddress.Create(2, 0, 0, 0, 0, 0x0b));
                    at += Icmpv6Message.WritePrefixInformationOption(options.AsSpan(at), Ipv6Address.Parse("2001:db8:1::"), 64, true, true, 86400, 14400);
                    at += Icmpv6Message.WriteMtuOption(options.AsSpan(at), 1400);
                    Icmpv6Message.WriteRdnssOption(options.AsSpan(at), 600, [Ipv6Address.Parse("2001:db8::53")]);
                    n = Icmpv6Message.WriteRouterAdvertisement(buffer, LinkLocalB, Ipv6Address.AllNodes, new NdpRouterAdvertisementHeader { CurHopLimit = 64, RouterLifetime = 1800 }, options);
                    return Packet(IpProtocol.Icmpv6, [], buffer[..n], Ipv6Address.AllNodes, 255, LinkLocalB);
                }

            case "mldv2-report":
                n = Icmpv6Message.WriteMldv2Report(buffer, LinkLocalA, Ipv6Address.Parse("ff02::16"), MldRecordType.ModeIsExclude, [Ipv6Address.Parse("ff02::1:ff00:a"), Ipv6Address.Parse("ff02::1")]);
                return Packet(IpProtocol.Icmpv6, [], buffer[..n], Ipv6Address.Parse("ff02::16"), 1, LinkLocalA);
            case "parameter-problem":
                n = Icmpv6Message.WriteError(buffer, Destination, Source, Icmpv6Type.ParameterProblem, (byte)Icmpv6ParameterProblemCode.ErroneousHeaderField, 42, Packet(IpProtocol.Ipv6Routing, Routing(IpProtocol.Udp, Ipv6RoutingType.SourceRoute, 1), Udp));
                return Packet(IpProtocol.Icmpv6, [], buffer[..n], Source, source: Destination);
            default:
                throw new ArgumentOutOfRangeException(nameof(name));
        }
    }

    private static byte[] Icmp(Func<byte[], int> write)
    {
        var buffer = new byte[1500];
        return buffer[..write(buffer)];
    }

    [Theory]
    [MemberData(nameof(SnapshotCases))]
    public void Annotated(string name) => Snapshot.Match(Decode.DumpIpv6(SnapshotPacket(name)), name);

    [Theory]
    [MemberData(nameof(SnapshotCases))]
    public void Every_truncation_fails_cleanly_and_random_mutations_never_throw(string name)
    {
        byte[] packet = SnapshotPacket(name);
        for (int n = 0; n < packet.Length; n++)
        {
            _ = Decode.DumpIpv6(packet.AsSpan(0, n));
            _ = Ipv6ExtensionChain.Walk(packet.AsSpan(0, n));
        }

        var rng = new Random(name.Length);
        for (int i = 0; i < 2000; i++)
        {
            byte[] mutated = (byte[])packet.Clone();
            for (int k = rng.Next(1, 6); k > 0; k--)
            {
                mutated[rng.Next(mutated.Length)] = (byte)rng.Next(256);
            }

            _ = Decode.DumpIpv6(mutated);
        }
    }
}
