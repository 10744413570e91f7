using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary>Golden annotated dumps of every header (shared/SNAPSHOTS.md). Review diffs as field changes.</summary>
public class SnapshotTests
{
    private static readonly Ipv4Address Host = Ipv4Address.Parse("192.0.2.2");
    private static readonly Ipv4Address Router = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");

    public static TheoryData<string> FrameCases => new(
        "ping-request", "ping-reply", "record-route-request", "record-route-reply", "timestamp-reply",
        "port-unreachable", "arp-request", "arp-reply");

    private static byte[] FrameFor(string name) => name switch
    {
        "ping-request" => Frames.PingRequest,
        "ping-reply" => Frames.PingReply,
        "record-route-request" => Frames.RecordRouteRequest,
        "record-route-reply" => Frames.RecordRouteReply,
        "timestamp-reply" => Frames.TimestampReply,
        "port-unreachable" => Frames.PortUnreachable,
        "arp-request" => Frames.ArpRequest,
        "arp-reply" => Frames.ArpReply,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Real captured frames, decoded through every layer.</summary>
    [Theory]
    [MemberData(nameof(FrameCases))]
    public void Captured(string name) => Snapshot.Match(Decode.Dump(FrameFor(name)), name);

    [Fact]
    public void Ethernet_edges()
    {
        Snapshot.Match(Decode.Dump(new byte[EthernetHeader.FixedLength]), "all-zero");
        Snapshot.Match(Decode.Dump(Enumerable.Repeat((byte)0xff, EthernetHeader.FixedLength).ToArray()), "all-max");
        var frame = new byte[EthernetHeader.FixedLength + 4];
        new EthernetHeader
        {
            Destination = MacAddress.Create(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01),
            Source = MacAddress.Create(0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc),
            EtherType = EtherType.Vlan,
        }.WriteTo(frame);
        Snapshot.Match(Decode.Dump(frame), "vlan");
    }

    [Fact]
    public void Arp_edges()
    {
        var packet = new byte[ArpPacket.FixedLength];
        default(ArpPacket).WriteTo(packet);
        Snapshot.Match(Decode.DumpArp(packet), "all-zero");
        new ArpPacket
        {
            Operation = (ArpOperation)0xffff,
            SenderHardwareAddress = MacAddress.Broadcast,
            SenderProtocolAddress = Ipv4Address.Broadcast,
            TargetHardwareAddress = MacAddress.Broadcast,
            TargetProtocolAddress = Ipv4Address.Broadcast,
        }.WriteTo(packet);
        Snapshot.Match(Decode.DumpArp(packet), "all-max");
    }

    [Fact]
    public void Ipv4_edges()
    {
        var buffer = new byte[100];
        int n = Ipv4Packet.Write(buffer, default, [], []);
        Snapshot.Match(Decode.DumpIpv4(buffer.AsSpan(0, n)), "all-zero");

        // All fields at their maximum and IHL 15: a full record route of 9 slots + EOL.
        Span<byte> options = stackalloc byte[40];
        var w = new Ipv4OptionWriter(options);
        Ipv4Address[] slots = Enumerable.Repeat(Ipv4Address.Broadcast, 9).ToArray();
        w.WriteRecordRoute(9, slots);
        w.WriteEndOfList();
        var max = new Ipv4Header
        {
            Dscp = 63,
            Ecn = 3,
            Identification = 0xffff,
            Reserved = true,
            DontFragment = true,
            MoreFragments = true,
            FragmentOffset = 8191,
            Ttl = 255,
            Protocol = (IpProtocol)255,
            Source = Ipv4Address.Broadcast,
            Destination = Ipv4Address.Broadcast,
        };
        n = Ipv4Packet.Write(buffer, max, w.Written, [0xff, 0xff, 0xff, 0xff]);
        Snapshot.Match(Decode.DumpIpv4(buffer.AsSpan(0, n)), "all-max-ihl15");
    }

    public static TheoryData<string> OptionCases => new(
        "eol", "nop", "record-route", "loose-source-route", "strict-source-route", "timestamp-only",
        "timestamp-address", "timestamp-prespecified", "router-alert", "unknown", "malformed");

    /// <summary>An IPv4 header carrying each option kind, with a UDP-protocol payload of 4 bytes.</summary>
    [Theory]
    [MemberData(nameof(OptionCases))]
    public void Ipv4_option(string name)
    {
        var options = new byte[40];
        var w = new Ipv4OptionWriter(options);
        Ipv4Address a = Ipv4Address.Parse("10.0.0.1");
        Ipv4Address b = Ipv4Address.Parse("10.0.0.2");
        switch (name)
        {
            case "eol":
                w.WriteEndOfList();
                break;
            case "nop":
                w.WriteNoOperation();
                w.WriteNoOperation();
                w.WriteNoOperation();
                w.WriteNoOperation();
                break;
            case "record-route":
                w.WriteRecordRoute(2, [a]);
                break;
            case "loose-source-route":
                w.WriteRoute(Ipv4OptionKind.LooseSourceRoute, 2, [a, b]);
                break;
            case "strict-source-route":
                w.WriteRoute(Ipv4OptionKind.StrictSourceRoute, 2, [a, b], recorded: 2);
                break;
            case "timestamp-only":
                w.WriteTimestamp(Ipv4TimestampFlag.TimestampsOnly, 3, [new(default, 19463122), new(default, 0x8000_0001)], recorded: 2, overflow: 1);
                break;
            case "timestamp-address":
                w.WriteTimestamp(Ipv4TimestampFlag.AddressAndTimestamp, 2, [new(a, 1000)], recorded: 1);
                break;
            case "timestamp-prespecified":
                w.WriteTimestamp(Ipv4TimestampFlag.Prespecified, 2, [new(a, 0), new(b, 0)], recorded: 0);
                break;
            case "router-alert":
                w.WriteOption((byte)Ipv4OptionKind.RouterAlert, [0, 0]); // RFC 2113: value 0, "router shall examine"
                break;
            case "unknown":
                w.WriteNoOperation();
                w.WriteOption(0x9e, [0xde, 0xad, 0xbe, 0xef, 0x01]);
                break;
            case "malformed":
                w.WriteNoOperation();
                w.WriteOption((byte)Ipv4OptionKind.RecordRoute, [0x05, 0, 0, 0, 0]); // RR pointer 5: not a slot boundary
                break;
        }

        w.PadToWord();
        var header = new Ipv4Header { Identification = 0x1234, Ttl = 64, Protocol = IpProtocol.Udp, Source = Host, Destination = Server };
        var buffer = new byte[80];
        int n = Ipv4Packet.Write(buffer, header, w.Written, [0x00, 0x35, 0x00, 0x35]);
        Snapshot.Match(Decode.DumpIpv4(buffer.AsSpan(0, n)), name);
    }

    [Fact]
    public void Icmp_echo()
    {
        var buffer = new byte[64];
        int n = IcmpMessage.WriteEcho(buffer, IcmpType.EchoRequest, 0x1234, 1, "abcdefgh"u8);
        Snapshot.Match(Decode.DumpIcmp(buffer.AsSpan(0, n)), "request");
        n = IcmpMessage.WriteEcho(buffer, IcmpType.EchoReply, 0xffff, 0xffff, []);
        Snapshot.Match(Decode.DumpIcmp(buffer.AsSpan(0, n)), "reply-max-ids-no-data");
    }

    /// <summary>A router with a 1400-byte next hop refuses a 1500-byte DF TCP segment (RFC 1191 4).</summary>
    [Fact]
    public void Icmp_fragmentation_needed_with_quote()
    {
        byte[] offending = OffendingTcp(out _);
        var icmp = new byte[100];
        int n = IcmpMessage.WriteError(icmp, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, 1400, offending);
        var packet = new byte[200];
        int total = Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 255, Protocol = IpProtocol.Icmp, Source = Router, Destination = Host }, [], icmp.AsSpan(0, n));
        Snapshot.Match(Decode.DumpIpv4(packet.AsSpan(0, total)));
    }

    [Fact]
    public void Icmp_time_exceeded()
    {
        // A traceroute probe: UDP to port 33434 with TTL 1, quoted by the first router.
        var probe = new byte[60];
        int n = Ipv4Packet.Write(probe, new Ipv4Header { Identification = 7, Ttl = 1, Protocol = IpProtocol.Udp, Source = Host, Destination = Server }, [],
            [0x9c, 0x40, 0x82, 0x9a, 0x00, 0x14, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b]);
        var icmp = new byte[100];
        int m = IcmpMessage.WriteError(icmp, IcmpType.TimeExceeded, (byte)IcmpTimeExceededCode.TtlExceeded, 0, probe.AsSpan(0, n));
        Snapshot.Match(Decode.DumpIcmp(icmp.AsSpan(0, m)));
    }

    [Fact]
    public void Icmp_redirect_and_parameter_problem()
    {
        ReadOnlySpan<byte> datagram = Frames.PingRequest.AsSpan(14);
        var icmp = new byte[100];
        int n = IcmpMessage.WriteError(icmp, IcmpType.Redirect, (byte)IcmpRedirectCode.Host, Ipv4Address.Parse("192.0.2.254").ToUInt32(), datagram);
        Snapshot.Match(Decode.DumpIcmp(icmp.AsSpan(0, n)), "redirect-host");

        // RFC 792: pointer 1 names the octet holding the TOS; here the quoted datagram's second octet.
        n = IcmpMessage.WriteError(icmp, IcmpType.ParameterProblem, 0, 1u << 24, datagram);
        Snapshot.Match(Decode.DumpIcmp(icmp.AsSpan(0, n)), "parameter-problem-pointer");
    }

    [Fact]
    public void Icmp_edges()
    {
        var buffer = new byte[IcmpHeader.FixedLength];
        default(IcmpHeader).WriteTo(buffer);
        Snapshot.Match(Decode.DumpIcmp(buffer), "all-zero-echo-reply");
        new IcmpHeader { Type = (IcmpType)255, Code = 255, Checksum = 0xffff, RestOfHeader = 0xffff_ffff }.WriteTo(buffer);
        Snapshot.Match(Decode.DumpIcmp(buffer), "all-max");

        // An unreachable whose quote cannot hold an IP header: a typed error, not an exception.
        var shortQuote = new byte[IcmpHeader.FixedLength + 12];
        new IcmpHeader { Type = IcmpType.DestinationUnreachable, Code = 3 }.WriteTo(shortQuote);
        shortQuote[8] = 0x45;
        IcmpHeader.FillChecksum(shortQuote);
        Snapshot.Match(Decode.DumpIcmp(shortQuote), "quote-too-short");
    }

    /// <summary>A 1500-byte IPv4 + TCP segment with DF set (TCP header 20 bytes, ACK+PSH).</summary>
    internal static byte[] OffendingTcp(out int payloadLength)
    {
        payloadLength = 1500 - 40;
        var tcp = new byte[20 + payloadLength];
        byte[] tcpHeader = Convert.FromHexString("c35001bb0000100100002002501801f600000000");
        tcpHeader.CopyTo(tcp, 0);
        var packet = new byte[1500];
        Ipv4Packet.Write(packet, new Ipv4Header { Identification = 0xbeef, DontFragment = true, Ttl = 63, Protocol = IpProtocol.Tcp, Source = Host, Destination = Server }, [], tcp);
        return packet;
    }
}
