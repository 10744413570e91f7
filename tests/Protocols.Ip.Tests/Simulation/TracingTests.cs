using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Ip.Tests.Ipv6;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Ip.Tests.Simulation;

public class TracingTests
{
    private static readonly PacketFormatter Formatter = new();

    private static string Ip(byte[] packet) => Formatter.Format(packet, DeviceMedium.Ip);

    private static string Ethernet(byte[] frame) => Formatter.Format(frame, DeviceMedium.Ethernet);

    [Fact]
    public void ICMP_echo()
    {
        Assert.Equal("IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64", Ip(TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 56)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64", Ip(TestPackets.Echo(IcmpType.EchoReply, 1, 1, 56, TestPackets.B, TestPackets.A)));
    }

    [Fact]
    public void UDP_and_TCP_ports()
    {
        // Ip reads only the ports (TransportPorts); the rest of the line is the transport's own
        // formatter's (Udp and Tcp register theirs), else the protocol and the IP payload length.
        Assert.Equal("IP 10.0.0.1.5000 > 10.0.0.2.53: udp 20", Ip(TestPackets.Udp(5000, 53, 12)));
        Assert.Equal("IP 10.0.0.1.40000 > 10.0.0.2.80: tcp 24", Ip(TestPackets.TcpSyn(40000, 80)));
    }

    [Fact]
    public void Transports_above_IP_describe_their_own_segments()
    {
        var formatter = new PacketFormatter();
        formatter.Register(IpProtocol.Tcp, segment =>
        {
            // What Tcp would register: here just enough to prove the hook gets the segment.
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(segment[4..]);
            ushort window = BinaryPrimitives.ReadUInt16BigEndian(segment[14..]);
            ushort mss = BinaryPrimitives.ReadUInt16BigEndian(segment[22..]);
            return $"Flags [S], seq {seq}, win {window}, options [mss {mss}], length 0";
        });

        Assert.Equal(
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1, win 65535, options [mss 1460], length 0",
            formatter.Format(TestPackets.TcpSyn(40000, 80), DeviceMedium.Ip));
        Assert.Equal("IP 10.0.0.1.40000 > 10.0.0.2.80: tcp 24", Ip(TestPackets.TcpSyn(40000, 80))); // other formatters unaffected

        formatter.Register(IpProtocol.Tcp, _ => null); // null falls back to the default
        Assert.Equal("IP 10.0.0.1.40000 > 10.0.0.2.80: tcp 24", formatter.Format(TestPackets.TcpSyn(40000, 80), DeviceMedium.Ip));
    }

    [Fact]
    public void ARP()
    {
        Assert.Equal("ARP, Request who-has 192.0.2.1 tell 192.0.2.2, length 28", Ethernet(Frames.ArpRequest));
        Assert.Equal("ARP, Reply 192.0.2.1 is-at 02:fc:00:00:00:05, length 28", Ethernet(Frames.ArpReply));
        Assert.Equal(
            "02:fc:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: ARP, Request who-has 192.0.2.1 tell 192.0.2.2, length 28",
            new PacketFormatter { ShowLinkLayer = true }.Format(Frames.ArpRequest, DeviceMedium.Ethernet));
    }

    [Fact]
    public void Captured_kernel_frames()
    {
        Assert.Equal("IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id 10586, seq 1, length 64", Ethernet(Frames.PingRequest));
        Assert.Equal("IP 127.0.0.1 > 127.0.0.1: ICMP 127.0.0.1 udp port 9 unreachable, length 41", Ethernet(Frames.PortUnreachable));
    }

    [Fact]
    public void Fragments()
    {
        byte[] icmp = new byte[1480];
        IcmpMessage.WriteEcho(icmp, IcmpType.EchoRequest, 1, 1, new byte[1472]);
        Assert.Equal(
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 1480 (frag 1234:1480@0+)",
            Ip(TestPackets.Ip(IpProtocol.Icmp, icmp, moreFragments: true)));
        Assert.Equal(
            "IP 10.0.0.1 > 10.0.0.2: icmp (frag 1234:1008@1480)",
            Ip(TestPackets.Ip(IpProtocol.Icmp, new byte[1008], fragmentOffsetBytes: 1480)));

        byte[] udp = new byte[1480];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 5000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), 7);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), 3008);
        Assert.Equal(
            "IP 10.0.0.1.5000 > 10.0.0.2.7: udp 1480 (frag 77:1480@0+)",
            Ip(TestPackets.Ip(IpProtocol.Udp, udp, id: 77, moreFragments: true)));
        Assert.Equal(
            "IP 10.0.0.1 > 10.0.0.2: udp (frag 77:1480@1480+)",
            Ip(TestPackets.Ip(IpProtocol.Udp, udp, id: 77, moreFragments: true, fragmentOffsetBytes: 1480)));
    }

    [Fact]
    public void ICMP_errors()
    {
        byte[] offending = TestPackets.Udp(5000, 53, 12);
        byte[] Error(IcmpType type, byte code, uint rest)
        {
            byte[] message = new byte[IcmpHeader.FixedLength + offending.Length];
            int length = IcmpMessage.WriteError(message, type, code, rest, offending);
            return TestPackets.Ip(IpProtocol.Icmp, message.AsSpan(0, length), TestPackets.B, TestPackets.A);
        }

        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 53 unreachable, length 36", Ip(Error(IcmpType.DestinationUnreachable, 3, 0)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 protocol 17 unreachable, length 36", Ip(Error(IcmpType.DestinationUnreachable, 2, 0)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP host 10.0.0.2 unreachable, length 36", Ip(Error(IcmpType.DestinationUnreachable, 1, 0)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36", Ip(Error(IcmpType.DestinationUnreachable, 4, 1400)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP time exceeded in-transit, length 36", Ip(Error(IcmpType.TimeExceeded, 0, 0)));
        Assert.Equal("IP 10.0.0.2 > 10.0.0.1: ICMP ip reassembly time exceeded, length 36", Ip(Error(IcmpType.TimeExceeded, 1, 0)));
    }

    [Fact]
    public void Ipv6_with_extension_headers_fragments_and_icmpv6()
    {
        Ipv6Address a = Ipv6Packets.Source, b = Ipv6Packets.Destination;
        Assert.Equal("IP6 2001:db8::1.12345 > 2001:db8::2.53: udp 16", Ip(Ipv6Packets.Packet(IpProtocol.Udp, [], Ipv6Packets.Udp)));
        byte[] options = Ipv6Packets.Options(IpProtocol.Udp, Ipv6Packets.Option(1, 0, 0, 0, 0));
        Assert.Equal("IP6 2001:db8::1.12345 > 2001:db8::2.53: udp 16", Ip(Ipv6Packets.Packet(IpProtocol.Ipv6DestinationOptions, options, Ipv6Packets.Udp)));
        byte[] first = Ipv6Packets.Fragment(IpProtocol.Udp, 0, true, 0x1234);
        Assert.Equal("IP6 2001:db8::1.12345 > 2001:db8::2.53: udp 16 (frag 4660:16@0+)", Ip(Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, first, Ipv6Packets.Udp)));
        byte[] later = Ipv6Packets.Fragment(IpProtocol.Udp, 2, false, 0x1234);
        Assert.Equal("IP6 2001:db8::1 > 2001:db8::2: udp (frag 4660:16@16)", Ip(Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, later, Ipv6Packets.Udp)));
        Assert.Equal("IP6 2001:db8::1 > 2001:db8::2: no next header, length 0", Ip(Ipv6Packets.Packet(IpProtocol.Ipv6NoNextHeader, [], [])));
        byte[] rh0 = Ipv6Packets.Routing(IpProtocol.Udp, Ipv6RoutingType.SourceRoute, 1);
        Assert.StartsWith("IP6 2001:db8::1 > 2001:db8::2: [bad extension headers: ", Ip(Ipv6Packets.Packet(IpProtocol.Ipv6Routing, rh0, Ipv6Packets.Udp)));

        var icmp = new byte[64];
        int n = Icmpv6Message.WriteEcho(icmp, a, b, Icmpv6Type.EchoRequest, 7, 3, new byte[56]);
        Assert.Equal("IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 7, seq 3, length 64", Ip(Ipv6Packets.Packet(IpProtocol.Icmpv6, [], icmp[..n])));
        n = Icmpv6Message.WriteNeighborSolicitation(icmp, a, b.SolicitedNode, b, default);
        Assert.Equal("IP6 2001:db8::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has 2001:db8::2, length 24", Ip(Ipv6Packets.Packet(IpProtocol.Icmpv6, [], icmp[..n], b.SolicitedNode, 255)));
        byte[] quoted = Ipv6Packets.Packet(IpProtocol.Udp, [], Ipv6Packets.Udp, a, 64, b);
        var error = new byte[200];
        n = Icmpv6Message.WriteError(error, a, b, Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.PortUnreachable, 0, quoted);
        Assert.Equal("IP6 2001:db8::1 > 2001:db8::2: ICMP6, destination unreachable, 2001:db8::1 udp port 53 unreachable, length 64", Ip(Ipv6Packets.Packet(IpProtocol.Icmpv6, [], error[..n])));
        n = Icmpv6Message.WriteError(error, a, b, Icmpv6Type.PacketTooBig, 0, 1280, quoted);
        Assert.Equal("IP6 2001:db8::1 > 2001:db8::2: ICMP6, packet too big, mtu 1280, length 64", Ip(Ipv6Packets.Packet(IpProtocol.Icmpv6, [], error[..n])));
        Assert.StartsWith("IP6 [invalid: ", Ip([0x60, 0, 0, 0, 0, 8, 17, 64, .. new byte[32]]));
    }

    [Fact]
    public void Other_protocols_and_malformed_frames()
    {
        Assert.Equal("IP 10.0.0.1 > 10.0.0.2: ip-proto-47 24", Ip(TestPackets.Ip(IpProtocol.Gre, new byte[24])));
        Assert.StartsWith("IP [invalid: ", Ip(TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 8)[..30]));
        Assert.Equal("[|ip] length 0", Ip([]));
        Assert.Equal("IP6 :: > ::: [bad extension headers: Truncated], length 0", Ip([0x60, .. new byte[39]]));
        Assert.Equal("[|ether] length 5", Ethernet(new byte[5]));
        Assert.Equal("ethertype 0x88cc, length 60", Ethernet([.. new byte[12], 0x88, 0xcc, .. new byte[46]]));
        Assert.Equal("ARP, malformed, length 10", Ethernet([.. new byte[12], 0x08, 0x06, .. new byte[10]]));
    }

    [Fact]
    public void Random_and_mutated_frames_never_throw()
    {
        var random = new Random(2024);
        byte[][] valid =
        [
            TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 56), TestPackets.Udp(1, 2, 30), TestPackets.TcpSyn(3, 4),
            Frames.PortUnreachable[14..], Frames.RecordRouteRequest[14..],
        ];
        for (int i = 0; i < 50_000; i++)
        {
            byte[] frame;
            if (i % 2 == 0)
            {
                frame = new byte[random.Next(0, 120)];
                random.NextBytes(frame);
            }
            else
            {
                byte[] source = valid[random.Next(valid.Length)];
                frame = source[..random.Next(0, source.Length + 1)];
                for (int flips = random.Next(1, 4); flips > 0 && frame.Length > 0; flips--)
                {
                    frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                }
            }

            Assert.NotNull(Formatter.Format(frame, DeviceMedium.Ip));
            Assert.NotNull(Formatter.Format(frame, DeviceMedium.Ethernet));
        }
    }

    [Fact]
    public async Task Tcpdump_describes_the_same_frames_the_same_way()
    {
        if (!Tcpdump.IsInstalled)
        {
            return; // the golden strings above stand alone; this is the independent check when tcpdump is present
        }

        MacAddress a = MacAddress.Create(2, 0, 0, 0, 0, 1);
        MacAddress b = MacAddress.Create(2, 0, 0, 0, 0, 2);
        byte[] offending = TestPackets.Udp(40000, 9999, 12);
        byte[] Error(IcmpType type, byte code, uint rest)
        {
            byte[] message = new byte[IcmpHeader.FixedLength + offending.Length];
            IcmpMessage.WriteError(message, type, code, rest, offending);
            return TestPackets.Ip(IpProtocol.Icmp, message, TestPackets.B, TestPackets.A);
        }

        // The UDP datagram itself is the Udp layer's to describe (its own test compares with tcpdump).
        byte[][] packets =
        [
            TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 56), TestPackets.Echo(IcmpType.EchoReply, 7, 300, 1000),
            Error(IcmpType.DestinationUnreachable, 3, 0), Error(IcmpType.DestinationUnreachable, 2, 0),
            Error(IcmpType.DestinationUnreachable, 1, 0), Error(IcmpType.DestinationUnreachable, 0, 0),
            Error(IcmpType.DestinationUnreachable, 4, 1400), Error(IcmpType.TimeExceeded, 0, 0), Error(IcmpType.TimeExceeded, 1, 0),
        ];
        List<byte[]> frames = [.. packets.Select(p => TestPackets.Ethernet(b, a, EtherType.Ipv4, p)), Frames.ArpRequest, Frames.ArpReply, TestPackets.ArpRequest(a, TestPackets.A, TestPackets.B)];

        Assert.Equal(frames.Select(Ethernet), await Tcpdump.DescribeAsync(frames, Wire.Capture.LinkType.Ethernet));
    }

    [Fact]
    public void Tracing_device_logs_through_ILogger_only_when_enabled()
    {
        var sim = new NetworkSimulator(1);
        var (a, b) = sim.Network.CreateLink();
        var logger = new ListLogger(LogLevel.Debug);
        using var traced = new TracingDevice(a, logger, LogLevel.Debug, sim.Clock);
        using var quiet = new TracingDevice(b, logger, LogLevel.Trace, sim.Clock);

        traced.TrySend(TestPackets.Udp(5000, 53, 12));
        quiet.Receive(_ => { }, 8);

        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Debug, entry.Level);
        Assert.Equal("00:00:00.000000 link1.a Out IP 10.0.0.1.5000 > 10.0.0.2.53: udp 20", entry.Message);
    }

    [Fact]
    public void Tracing_device_writes_one_line_per_frame_each_way()
    {
        var sim = new NetworkSimulator(1);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMicroseconds(100) }, medium: DeviceMedium.Ethernet);
        var lines = new List<string>();
        using var tracedA = new TracingDevice(a, lines.Add, sim.Clock);
        using var tracedB = new TracingDevice(b, lines.Add, sim.Clock, showDirection: false);
        byte[] request = TestPackets.Ethernet(b.HardwareAddress, a.HardwareAddress, EtherType.Ipv4, TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 56));
        byte[] reply = TestPackets.Ethernet(a.HardwareAddress, b.HardwareAddress, EtherType.Ipv4, TestPackets.Echo(IcmpType.EchoReply, 1, 1, 56, TestPackets.B, TestPackets.A));
        sim.Register(() => tracedB.Receive(_ => tracedB.TrySend(reply), 8));
        int replies = 0;
        sim.Register(() => tracedA.Receive(_ => replies++, 8));

        sim.RunFor(TimeSpan.FromHours(12));
        Assert.True(tracedA.TrySend(request));
        sim.RunUntil(() => replies == 1, TimeSpan.FromSeconds(1));

        Assert.Equal(
            [
                "12:00:00.000000 link1.a Out IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64",
                "12:00:00.000100 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64",
                "12:00:00.000100 IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64",
                "12:00:00.000200 link1.a In  IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64",
            ],
            lines);
        Assert.Equal(a.HardwareAddress, tracedA.HardwareAddress);
        Assert.Equal(DeviceMedium.Ethernet, tracedA.Medium);
    }
}
