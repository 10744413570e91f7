using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Ip.Tests.Stack;
using Protocols.Tests.Shared;
using Protocols.Wire;
using static Protocols.Ip.Tests.Ipv6.Ipv6Pair;

namespace Protocols.Ip.Tests.Ipv6;

/// <summary>The stack over IPv6 in virtual time: addresses and DAD, neighbour discovery and NUD, router advertisements, fragmentation, path MTU, ICMPv6 errors.</summary>
public class Ipv6StackTests
{
    private static IpSendRequest ToB(IpProtocol protocol = IpProtocol.Udp) => new(AddressB, protocol);

    [Fact]
    public void Over_a_tun_like_link_addresses_are_usable_at_once_and_packets_flow_both_ways()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip);
        net.Pump();
        Assert.Contains(net.NicA.Ipv6Addresses, a => a.Address == AddressA && a.State == Ipv6AddressState.Preferred);
        Assert.Contains(net.NicA.Ipv6Addresses, a => a.Origin == Ipv6AddressOrigin.LinkLocal && a.Address.IsLinkLocal);
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), Udp()));
        net.Pump();
        (IpAddress source, IpAddress destination, byte[] payload, bool multicast) = Assert.Single(net.TransportB.Datagrams);
        Assert.Equal((IpAddress)AddressA, source);
        Assert.Equal((IpAddress)AddressB, destination);
        Assert.False(multicast);
        Assert.Equal(Udp(), payload);
        Assert.Equal(1, net.B.Counters.Snapshot().Ipv6.Delivered);
    }

    [Fact]
    public void A_forwarding_stack_routes_ipv4_only_ipv6_not_for_it_is_dropped_and_ipv6_for_it_delivered()
    {
        // RFC 1812 forwarding is IPv4's; an IPv6 packet to another address is not for us (RFC 8504 5).
        var clock = new ManualClock();
        (TestDevice a, TestDevice b) = TestDevice.Pair(DeviceMedium.Ip, 1500);
        var router = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 2, Name = "router", Forwarding = true });
        router.AddInterface(b, new InterfaceConfiguration
        {
            Addresses = [new InterfaceAddress(Ipv4Address.Parse("10.0.0.2"), 24), new InterfaceAddress(AddressB, 64)],
        });
        var udp = new RecordingTransport(IpProtocol.Udp);
        router.RegisterTransport(udp);
        router.Poll();
        b.TakeSent();

        b.Inject(Ipv6Packets.Packet(IpProtocol.Udp, [], Udp(), Ipv6Address.Parse("2001:db8::99"), source: AddressA));
        router.Poll();
        StackCountersSnapshot counters = router.Counters.Snapshot();
        Assert.Equal(1, counters.DroppedFor(DropReason.NotForUs));
        Assert.Equal(0, counters.Forwarded);
        Assert.Empty(b.TakeSent());
        Assert.Empty(udp.Datagrams);

        b.Inject(Ipv6Packets.Packet(IpProtocol.Udp, [], Udp(), AddressB, source: AddressA));
        router.Poll();
        (IpAddress source, IpAddress destination, _, _) = Assert.Single(udp.Datagrams);
        Assert.Equal((IpAddress)AddressA, source);
        Assert.Equal((IpAddress)AddressB, destination);
        Assert.Equal(1, router.Counters.Snapshot().Ipv6.Delivered);
        GC.KeepAlive(a);
    }

    [Fact]
    public void Echo_requests_are_answered_from_the_address_they_were_sent_to()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip);
        net.Pump();
        var message = new byte[8 + 100];
        int n = Icmpv6Message.WriteEcho(message, AddressA, AddressB, Icmpv6Type.EchoRequest, 77, 1, new byte[100]);
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(IpProtocol.Icmpv6), message.AsSpan(0, n)));
        net.Pump();
        (IpAddress source, _, byte[] reply, _) = Assert.Single(net.IcmpA.Datagrams);
        Assert.Equal((IpAddress)AddressB, source);
        Assert.Equal((byte)Icmpv6Type.EchoReply, reply[0]);
        Assert.Equal(77, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(4)));
        Assert.Equal(1, net.B.Counters.Snapshot().Icmpv6OutOf(Icmpv6Type.EchoReply));
    }

    [Fact]
    public void Duplicate_address_detection_holds_addresses_tentative_then_prefers_them()
    {
        var net = new Ipv6Pair();
        net.Pump();
        Assert.All(net.NicA.Ipv6Addresses, a => Assert.Equal(Ipv6AddressState.Tentative, a.State));
        Task ready = net.A.WaitForAddressesAsync();
        net.Pump();
        Assert.False(ready.IsCompleted);

        // A tentative address is not a source: sending now fails (RFC 4862 5.4).
        Assert.Equal(IpSendResult.NoRoute, net.A.SendDatagram(ToB(), Udp()));

        List<(Icmpv6Type Type, byte[] Packet, int At)> sent = Icmpv6(Ipv6Sent(net.DeviceA));
        net.RunFor(TimeSpan.FromSeconds(2.5));
        Assert.True(ready.IsCompleted);
        Assert.All(net.NicA.Ipv6Addresses, a => Assert.Equal(Ipv6AddressState.Preferred, a.State));
        sent.AddRange(Icmpv6(Ipv6Sent(net.DeviceA)));

        // One DAD solicitation per address from ::, to its solicited-node group, with a nonce and no link-layer address.
        var dad = sent.Where(m => m.Type == Icmpv6Type.NeighborSolicitation).ToList();
        Assert.Equal(2, dad.Count);
        foreach ((_, byte[] packet, int at) in dad)
        {
            Assert.Equal(Ipv6Address.Any, Ipv6Address.Create(packet.AsSpan(8)));
            Assert.Equal(255, packet[7]);
            var target = Ipv6Address.Create(packet.AsSpan(at + 8));
            Assert.Equal(target.SolicitedNode, Ipv6Address.Create(packet.AsSpan(24)));
            Assert.True(NdpOptionReader.Validate(packet.AsSpan(at + 24), out _));
            Assert.Equal((byte)NdpOptionType.Nonce, packet[at + 24]);
        }

        // MLDv2 reports join the solicited-node groups (RFC 4861 7.2.1), hop limit 1 with Router Alert.
        (_, byte[] report, int reportAt) = Assert.Single(sent, m => m.Type == Icmpv6Type.MulticastListenerReportV2);
        Assert.Equal(1, report[7]);
        Assert.Equal((byte)IpProtocol.HopByHop, report[6]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(report.AsSpan(reportAt + 6)));
        Assert.Equal(2, net.A.Counters.Snapshot().Ipv6.DadCompleted);
    }

    [Fact]
    public void Neighbour_discovery_resolves_the_next_hop_and_the_queued_packet_goes_out()
    {
        var net = new Ipv6Pair();
        net.Settle();
        Assert.Equal(IpSendResult.Queued, net.A.SendDatagram(ToB(), Udp()));
        Assert.Equal(NeighborState.Incomplete, net.NicA.Neighbors!.StateOf(AddressB));
        net.Pump();
        Assert.Single(net.TransportB.Datagrams);
        Assert.Equal(NeighborState.Reachable, net.NicA.Neighbors.StateOf(AddressB));

        // B learnt A from the solicitation's source link-layer address (RFC 4861 7.2.3): STALE, no solicitation of its own.
        Assert.Equal(NeighborState.Stale, net.NicB!.Neighbors!.StateOf(AddressA));
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), Udp()));
        Assert.Equal(1, net.A.Counters.Snapshot().Ipv6.NeighborSolicitationsSent - 2); // two were DAD
    }

    [Fact]
    public void Neighbour_unreachability_detection_walks_reachable_stale_delay_probe_in_virtual_time()
    {
        var net = new Ipv6Pair(options: o => new NetworkStackOptions { TimeProvider = o.TimeProvider, Seed = o.Seed, Name = o.Name, Ipv6BaseReachableTime = TimeSpan.FromSeconds(30) });
        net.Settle();
        net.A.SendDatagram(ToB(), Udp());
        net.Pump();
        NeighborCache cache = net.NicA.Neighbors!;
        Assert.Equal(NeighborState.Reachable, cache.StateOf(AddressB));

        // ReachableTime is 15 to 45 s: after 46 s the entry is stale.
        net.RunFor(TimeSpan.FromSeconds(46), TimeSpan.FromSeconds(1));
        Assert.Equal(NeighborState.Stale, cache.StateOf(AddressB));

        // A packet to a stale neighbour goes out at once and starts DELAY (RFC 4861 7.3.3).
        net.DeviceA.TakeSent();
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), Udp()));
        Assert.Equal(NeighborState.Delay, cache.StateOf(AddressB));

        // No upper-layer confirmation in DELAY_FIRST_PROBE_TIME (5 s): PROBE with a unicast solicitation, which B answers.
        net.RunFor(TimeSpan.FromSeconds(5.1), TimeSpan.FromMilliseconds(100));
        List<(Icmpv6Type Type, byte[] Packet, int At)> probes = Icmpv6(Ipv6Sent(net.DeviceA));
        (_, byte[] probe, _) = Assert.Single(probes, m => m.Type == Icmpv6Type.NeighborSolicitation);
        Assert.Equal(AddressB, Ipv6Address.Create(probe.AsSpan(24)));
        Assert.Equal(NeighborState.Reachable, cache.StateOf(AddressB));

        // Again, with B silent: three probes, then the entry is gone.
        net.RunFor(TimeSpan.FromSeconds(46), TimeSpan.FromSeconds(1));
        net.DeviceA.Peer = null;
        net.A.SendDatagram(ToB(), Udp());
        net.RunFor(TimeSpan.FromSeconds(5 + 3 + 0.5), TimeSpan.FromMilliseconds(100));
        Assert.Equal(3, Icmpv6(Ipv6Sent(net.DeviceA)).Count(m => m.Type == Icmpv6Type.NeighborSolicitation && Ipv6Address.Create(m.Packet.AsSpan(24)) == AddressB));
        Assert.Null(cache.StateOf(AddressB));
        Assert.Equal(1, net.A.Counters.Snapshot().Ipv6.NeighborUnreachable);
    }

    [Fact]
    public void Failed_resolution_drops_the_queue_and_tells_the_transport()
    {
        var net = new Ipv6Pair();
        net.Settle();
        net.DeviceA.Peer = null;
        Assert.Equal(IpSendResult.Queued, net.A.SendDatagram(ToB(), Udp()));
        Assert.Equal(IpSendResult.Queued, net.A.SendDatagram(ToB(), Udp()));
        net.RunFor(TimeSpan.FromSeconds(3.5));
        Assert.Equal(2, net.TransportA.Errors.Count);
        Assert.All(net.TransportA.Errors, e =>
        {
            Assert.Equal(IcmpType.DestinationUnreachable, e.Type);
            Assert.Equal((byte)IcmpUnreachableCode.HostUnreachable, e.Code);
            Assert.Equal((IpAddress)AddressB, e.QuotedDestination);
        });
        Assert.Equal(2, net.A.Counters.Snapshot().SendDroppedFor(DropReason.NeighborResolutionFailed));
        Assert.Equal(0, net.NicA.Neighbors!.PendingPackets);
    }

    [Fact]
    public void Simultaneous_detection_of_one_address_never_leaves_both_using_it()
    {
        // Both come up with 2001:db8::1 at once: whichever solicitation arrives first marks the
        // other's tentative address duplicate (RFC 4862 5.4.3); never do both keep it.
        var net = new Ipv6Pair(addB: false);
        net.AddB(AddressA);
        net.Settle();
        Ipv6AddressState a = net.NicA.Ipv6Addresses.Single(x => x.Address == AddressA).State;
        Ipv6AddressState b = net.NicB!.Ipv6Addresses.Single(x => x.Address == AddressA).State;
        Assert.Contains(Ipv6AddressState.Duplicate, new[] { a, b });
        Assert.False(a == Ipv6AddressState.Preferred && b == Ipv6AddressState.Preferred);
        NetworkStack loser = a == Ipv6AddressState.Duplicate ? net.A : net.B;
        Assert.Equal(1, loser.Counters.Snapshot().Ipv6.DadFailures);
        Assert.False(loser.IsLocalAddress(AddressA));
        Assert.Equal(IpSendResult.Dropped, loser.SendDatagram(new IpSendRequest(Ipv6Address.Parse("2001:db8::9"), IpProtocol.Udp) { Source = AddressA }, Udp()));
    }

    [Fact]
    public void A_defended_address_wins_against_a_newcomer()
    {
        var net = new Ipv6Pair(addB: false);
        net.Settle();
        Assert.Contains(net.NicA.Ipv6Addresses, a => a.Address == AddressA && a.State == Ipv6AddressState.Preferred);
        net.AddB(AddressA);
        net.Settle();
        Assert.Contains(net.NicA.Ipv6Addresses, a => a.Address == AddressA && a.State == Ipv6AddressState.Preferred);
        Assert.Contains(net.NicB!.Ipv6Addresses, a => a.Address == AddressA && a.State == Ipv6AddressState.Duplicate);
        Assert.Equal(0, net.A.Counters.Snapshot().Ipv6.DadFailures);
        Assert.Equal(1, net.B.Counters.Snapshot().Ipv6.DadFailures);
    }

    [Fact]
    public void A_looped_back_dad_solicitation_is_recognised_by_its_nonce()
    {
        var net = new Ipv6Pair(addB: false);
        net.Pump();
        net.RunFor(TimeSpan.FromSeconds(1.2));
        byte[] own = Assert.Single(Icmpv6(Ipv6Sent(net.DeviceA)), m => m.Type == Icmpv6Type.NeighborSolicitation && Ipv6Address.Create(m.Packet.AsSpan(m.At + 8)) == AddressA).Packet;
        net.DeviceA.Inject(Frame(net.DeviceA, own, net.DeviceA.HardwareAddress));
        net.Settle();
        Assert.Contains(net.NicA.Ipv6Addresses, a => a.Address == AddressA && a.State == Ipv6AddressState.Preferred);
    }

    [Fact]
    public void Router_advertisements_give_a_default_router_slaac_an_mtu_and_dns_servers()
    {
        var net = new Ipv6Pair(addB: false, ipv6A: new Ipv6InterfaceOptions { AcceptRouterAdvertisements = true });
        net.Settle();

        // A solicited routers once its link-local address was usable (RFC 4861 6.3.7).
        net.RunFor(TimeSpan.FromSeconds(1));
        (_, byte[] rs, int rsAt) = Icmpv6(Ipv6Sent(net.DeviceA)).First(m => m.Type == Icmpv6Type.RouterSolicitation);
        Assert.True(Ipv6Address.Create(rs.AsSpan(8)).IsLinkLocal);
        Assert.Equal((byte)NdpOptionType.SourceLinkLayerAddress, rs[rsAt + 8]);

        var router = Ipv6Address.Parse("fe80::1");
        MacAddress routerMac = MacAddress.Create(2, 0, 0, 0, 0, 0x99);
        net.DeviceA.Inject(Frame(net.DeviceA, RouterAdvertisement(router, routerMac, lifetime: 1800, prefix: Ipv6Address.Parse("2001:db8:5::"), mtu: 1400), routerMac));
        net.Settle();

        Ipv6AddressInfo slaac = Assert.Single(net.NicA.Ipv6Addresses, a => a.Origin == Ipv6AddressOrigin.Autoconfigured);
        Assert.Equal(Ipv6Address.Parse("2001:db8:5::"), slaac.Address.Prefix(64));
        Assert.Equal(Ipv6Address.Parse("2001:db8:5::ff:fe00:a"), slaac.Address); // EUI-64 from 02:00:00:00:00:0a
        Assert.Equal(Ipv6AddressState.Preferred, slaac.State);
        Assert.Equal(router, Assert.Single(net.NicA.Ipv6Routers).Address);
        Assert.Equal(1400, net.NicA.Ipv6Mtu);
        Assert.Equal([Ipv6Address.Parse("2001:db8::53")], net.NicA.DnsServers);
        Assert.Contains(net.NicA.Ipv6Prefixes, p => p.Prefix == Ipv6Address.Parse("2001:db8:5::") && p.PrefixLength == 64);
        Assert.Equal(NeighborState.Stale, net.NicA.Neighbors!.StateOf(router)); // from the source link-layer address option

        // Off-link traffic now goes to the router, from the autoconfigured address.
        Assert.Equal((IpAddress)slaac.Address, net.A.RouteSourceFor((IpAddress)Ipv6Address.Parse("2001:db8:5:1::1")));
        net.DeviceA.TakeSent();
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(new IpSendRequest(Ipv6Address.Parse("2001:db8:5:1::1"), IpProtocol.Udp), Udp()));
        byte[] frame = net.DeviceA.TakeSent().Single(f => f[12] == 0x86);
        Assert.Equal(routerMac, MacAddress.Create(frame));

        // A zero router lifetime withdraws the router; the prefix's lifetime runs out later.
        net.DeviceA.Inject(Frame(net.DeviceA, RouterAdvertisement(router, routerMac, lifetime: 0, prefix: null, mtu: null), routerMac));
        net.Pump();
        Assert.Empty(net.NicA.Ipv6Routers);
        Assert.Equal(IpSendResult.NoRoute, net.A.SendDatagram(new IpSendRequest(Ipv6Address.Parse("2001:db8:5:1::1"), IpProtocol.Udp), Udp()));
        net.RunFor(TimeSpan.FromSeconds(3700), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(net.NicA.Ipv6Addresses, a => a.Origin == Ipv6AddressOrigin.Autoconfigured);
    }

    [Fact]
    public void Router_advertisements_are_ignored_unless_asked_for_and_invalid_ones_always()
    {
        var net = new Ipv6Pair(addB: false);
        net.Settle();
        var router = Ipv6Address.Parse("fe80::1");
        MacAddress routerMac = MacAddress.Create(2, 0, 0, 0, 0, 0x99);
        net.DeviceA.Inject(Frame(net.DeviceA, RouterAdvertisement(router, routerMac, 1800, Ipv6Address.Parse("2001:db8:5::"), null), routerMac));
        net.Pump();
        Assert.Empty(net.NicA.Ipv6Routers);

        var listening = new Ipv6Pair(addB: false, ipv6A: new Ipv6InterfaceOptions { AcceptRouterAdvertisements = true });
        listening.Settle();
        byte[] hop64 = RouterAdvertisement(router, routerMac, 1800, Ipv6Address.Parse("2001:db8:5::"), null);
        hop64[7] = 64; // not 255: forwarded, hence forged (RFC 4861 6.1.2)
        listening.DeviceA.Inject(Frame(listening.DeviceA, hop64, routerMac));
        byte[] global = RouterAdvertisement(Ipv6Address.Parse("2001:db8::1:1"), routerMac, 1800, null, null);
        listening.DeviceA.Inject(Frame(listening.DeviceA, global, routerMac));
        listening.Pump();
        Assert.Empty(listening.NicA.Ipv6Routers);
        Assert.Equal(2, listening.A.Counters.Snapshot().DroppedFor(DropReason.NdpInvalid));
    }

    [Fact]
    public void Large_datagrams_are_fragmented_to_1280_and_reassembled()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip, mtu: 1280);
        net.Pump();
        byte[] big = Udp(3000);
        new Random(1).NextBytes(big.AsSpan(8));
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), big));
        List<byte[]> fragments = Ipv6Sent(net.DeviceA);
        Assert.Equal(3, fragments.Count);
        Assert.All(fragments, f => Assert.True(f.Length <= 1280));
        net.Pump();
        Assert.Equal(big, Assert.Single(net.TransportB.Datagrams).Payload);
        Ipv6CountersSnapshot b = net.B.Counters.Snapshot().Ipv6;
        Assert.Equal(1, b.Reassembled);
        Assert.Equal(2, b.FragmentsQueued);

        // DontFragment refuses instead.
        Assert.Equal(IpSendResult.MessageTooBig, net.A.SendDatagram(ToB() with { DontFragment = true }, big));
    }

    [Fact]
    public void An_incomplete_packet_times_out_with_time_exceeded_quoting_the_first_fragment()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip, mtu: 1280);
        net.Pump();
        net.A.SendDatagram(ToB(), Udp(3000));
        List<byte[]> fragments = Ipv6Sent(net.DeviceA);
        net.DeviceB.TakeSent();
        net.B.Poll(); // takes all three; deliver only the first two by injecting them again into a fresh stack run
        net.Pump();

        var lone = new Ipv6Pair(DeviceMedium.Ip, mtu: 1280);
        lone.Pump();
        lone.DeviceB.Inject(fragments[0]);
        lone.DeviceB.Inject(fragments[2]);
        lone.Pump();
        lone.DeviceB.TakeSent();
        lone.RunFor(TimeSpan.FromSeconds(61), TimeSpan.FromSeconds(1));
        (Icmpv6Type type, byte[] packet, int at) = Assert.Single(Icmpv6(Ipv6Sent(lone.DeviceB)));
        Assert.Equal(Icmpv6Type.TimeExceeded, type);
        Assert.Equal((byte)Icmpv6TimeExceededCode.FragmentReassemblyTimeExceeded, packet[at + 1]);
        Assert.Equal(fragments[0].AsSpan(0, 48).ToArray(), packet.AsSpan(at + 8, 48).ToArray());
        Assert.Equal(1, lone.B.Counters.Snapshot().Ipv6.ReassemblyTimeouts);
    }

    [Fact]
    public void Packet_too_big_quoting_our_packet_lowers_the_path_mtu_to_no_less_than_1280()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip, mtu: 9000);
        net.Pump();
        byte[] payload = Udp(3000);
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), payload));
        byte[] sent = Assert.Single(Ipv6Sent(net.DeviceA));
        net.Pump();

        // A router reports MTU 1400 for it, quoting the packet (flow label intact).
        net.DeviceA.Inject(PacketTooBig(Ipv6Address.Parse("2001:db8::fe"), sent, 1400));
        net.Pump();
        Assert.Equal(1400, net.A.PathMtu.Lookup(AddressB, net.A.Now));
        (IcmpType type, byte code, ushort mtu, IpAddress reporter, _, _, _) = Assert.Single(net.TransportA.Errors);
        Assert.Equal(IcmpType.DestinationUnreachable, type);
        Assert.Equal((byte)IcmpUnreachableCode.FragmentationNeeded, code);
        Assert.Equal(1400, mtu);
        Assert.Equal((IpAddress)Ipv6Address.Parse("2001:db8::fe"), reporter);
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(ToB(), payload));
        Assert.All(Ipv6Sent(net.DeviceA), p => Assert.True(p.Length <= 1400));

        // An MTU below the IPv6 minimum counts as 1280 (RFC 8201 4).
        net.DeviceA.Inject(PacketTooBig(Ipv6Address.Parse("2001:db8::fe"), sent, 600));
        net.Pump();
        Assert.Equal(1280, net.A.PathMtu.Lookup(AddressB, net.A.Now));

        // The lowered MTU is forgotten after the path MTU timeout.
        net.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Null(net.A.PathMtu.Lookup(AddressB, net.A.Now));
    }

    [Fact]
    public void A_forged_packet_too_big_is_ignored()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip, mtu: 9000);
        net.Pump();
        net.A.SendDatagram(ToB(), Udp(100));
        byte[] sent = Assert.Single(Ipv6Sent(net.DeviceA));
        net.Pump();

        // An off-path forger knows the addresses and ports, not the flow label.
        byte[] forged = (byte[])sent.Clone();
        forged[3] ^= 0x5a;
        net.DeviceA.Inject(PacketTooBig(Ipv6Address.Parse("2001:db8::fe"), forged, 1280));

        // Nor may it quote a packet from someone else.
        byte[] notOurs = (byte[])sent.Clone();
        IpAddress.Parse("2001:db8::77").WriteTo(notOurs.AsSpan(8));
        net.DeviceA.Inject(PacketTooBig(Ipv6Address.Parse("2001:db8::fe"), notOurs, 1280, to: AddressA));
        net.Pump();
        Assert.Null(net.A.PathMtu.Lookup(AddressB, net.A.Now));
        Assert.Empty(net.TransportA.Errors);
        StackCountersSnapshot c = net.A.Counters.Snapshot();
        Assert.Equal(1, c.DroppedFor(DropReason.PacketTooBigNotOurs));
        Assert.Equal(1, c.DroppedFor(DropReason.IcmpErrorNotOurs));
    }

    [Fact]
    public void Extension_header_problems_draw_parameter_problems_within_the_rate_limit()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip, options: o => new NetworkStackOptions { TimeProvider = o.TimeProvider, Seed = o.Seed, Name = o.Name, IcmpErrorBurst = 5, IcmpErrorsPerSecond = 1 });
        net.Pump();

        // An unknown option with action bits 10: parameter problem code 2 pointing at it.
        byte[] packet = Ipv6Packets.Packet(IpProtocol.Ipv6DestinationOptions, Ipv6Packets.Options(IpProtocol.Udp, Ipv6Packets.Option(0x9e, 0, 0)), Udp(), AddressB, source: AddressA);
        for (int i = 0; i < 20; i++)
        {
            net.DeviceB.Inject(packet);
        }

        // An upper layer nobody takes: parameter problem code 1 pointing at the Next Header byte.
        byte[] unknown = Ipv6Packets.Packet((IpProtocol)253, [], [1, 2, 3], AddressB, source: AddressA);
        net.RunFor(TimeSpan.FromSeconds(1));
        net.DeviceB.TakeSent();
        net.DeviceB.Inject(unknown);
        net.Pump();
        (Icmpv6Type type, byte[] error, int at) = Assert.Single(Icmpv6(Ipv6Sent(net.DeviceB)));
        Assert.Equal(Icmpv6Type.ParameterProblem, type);
        Assert.Equal((byte)Icmpv6ParameterProblemCode.UnrecognizedNextHeader, error[at + 1]);
        Assert.Equal(6u, BinaryPrimitives.ReadUInt32BigEndian(error.AsSpan(at + 4)));

        StackCountersSnapshot c = net.B.Counters.Snapshot();
        Assert.Equal(6, c.Icmpv6OutOf(Icmpv6Type.ParameterProblem)); // the burst of 5, then one token a second
        Assert.Equal(15, c.Ipv6.IcmpRateLimited);
        Assert.Equal(20, c.DroppedFor(DropReason.UnrecognizedOption));
    }

    [Fact]
    public void No_error_about_errors_multicast_or_unspecified_sources()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip);
        net.Pump();

        // To all-nodes with an unknown next header: silence (RFC 4443 2.4(e.3)).
        net.DeviceB.Inject(Ipv6Packets.Packet((IpProtocol)253, [], [1], Ipv6Address.AllNodes, source: AddressA));

        // An ICMPv6 error with a routing header problem: no error about an error (2.4(e.1)).
        var error = new byte[200];
        int n = Icmpv6Message.WriteError(error, AddressA, AddressB, Icmpv6Type.DestinationUnreachable, 0, 0, Ipv6Packets.Packet(IpProtocol.Udp, [], Udp(), AddressA, source: AddressB));
        net.DeviceB.Inject(Ipv6Packets.Packet(IpProtocol.Ipv6Routing, Ipv6Packets.Routing(IpProtocol.Icmpv6, Ipv6RoutingType.SourceRoute, 1), error[..n], AddressB, source: AddressA));
        net.Pump();
        Assert.Empty(Ipv6Sent(net.DeviceB));
        Assert.Equal(2, net.B.Counters.Snapshot().Ipv6.IcmpErrorsSuppressed);
    }

    [Fact]
    public void Neighbour_discovery_with_a_hop_limit_other_than_255_or_bad_options_is_discarded()
    {
        var net = new Ipv6Pair();
        net.Settle();
        MacAddress peer = MacAddress.Create(2, 0, 0, 0, 0, 0x55);
        var ns = new byte[64];
        int n = Icmpv6Message.WriteNeighborSolicitation(ns, Ipv6Address.Parse("2001:db8::55"), AddressA.SolicitedNode, AddressA, peer);
        byte[] hop64 = Ipv6Packets.Packet(IpProtocol.Icmpv6, [], ns[..n], AddressA.SolicitedNode, hopLimit: 64, source: Ipv6Address.Parse("2001:db8::55"));
        byte[] zeroLength = ns[..n];
        zeroLength[25] = 0; // a zero-length option (RFC 4861 4.6)
        BinaryPrimitives.WriteUInt16BigEndian(zeroLength.AsSpan(2), 0);
        Icmpv6Header.FillChecksum(zeroLength, Icmpv6Message.PseudoHeaderSum(Ipv6Address.Parse("2001:db8::55"), AddressA.SolicitedNode, n));
        byte[] badOption = Ipv6Packets.Packet(IpProtocol.Icmpv6, [], zeroLength, AddressA.SolicitedNode, hopLimit: 255, source: Ipv6Address.Parse("2001:db8::55"));
        net.DeviceA.TakeSent();
        net.DeviceA.Inject(Frame(net.DeviceA, hop64, peer));
        net.DeviceA.Inject(Frame(net.DeviceA, badOption, peer));
        net.Pump();
        Assert.Empty(Icmpv6(Ipv6Sent(net.DeviceA)));
        Assert.Equal(2, net.A.Counters.Snapshot().DroppedFor(DropReason.NdpInvalid));
        Assert.Null(net.NicA.Neighbors!.StateOf(Ipv6Address.Parse("2001:db8::55")));

        // The valid solicitation is answered with a solicited advertisement carrying our MAC.
        net.DeviceA.Inject(Frame(net.DeviceA, Ipv6Packets.Packet(IpProtocol.Icmpv6, [], ns[..n], AddressA.SolicitedNode, hopLimit: 255, source: Ipv6Address.Parse("2001:db8::55")), peer));
        net.Pump();
        (Icmpv6Type type, byte[] na, int at) = Assert.Single(Icmpv6(Ipv6Sent(net.DeviceA)));
        Assert.Equal(Icmpv6Type.NeighborAdvertisement, type);
        Assert.True(NdpNeighborAdvertisementHeader.TryRead(na.AsSpan(at), out NdpNeighborAdvertisementHeader.Reader reader, out _));
        Assert.True(reader.Solicited);
        Assert.True(reader.Override);
        Assert.Equal(AddressA, reader.TargetAddress);
        Assert.Equal(NeighborState.Stale, net.NicA.Neighbors.StateOf(Ipv6Address.Parse("2001:db8::55")));
    }

    [Fact]
    public void Echo_to_all_nodes_is_answered_from_a_unicast_address()
    {
        var net = new Ipv6Pair(DeviceMedium.Ip);
        net.Pump();
        var message = new byte[16];
        int n = Icmpv6Message.WriteEcho(message, AddressA, Ipv6Address.AllNodes, Icmpv6Type.EchoRequest, 1, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
        net.DeviceB.Inject(Ipv6Packets.Packet(IpProtocol.Icmpv6, [], message[..n], Ipv6Address.AllNodes, source: AddressA));
        net.Pump();
        (IpAddress source, _, byte[] reply, _) = Assert.Single(net.IcmpA.Datagrams);
        Assert.False(source.IsMulticast);
        Assert.Equal((byte)Icmpv6Type.EchoReply, reply[0]);
    }

    [Fact]
    public void Frames_are_accounted_for_once_each()
    {
        var net = new Ipv6Pair();
        net.Settle();
        for (int i = 0; i < 5; i++)
        {
            net.A.SendDatagram(ToB(), Udp(i * 700));
        }

        net.Pump();
        StackCountersSnapshot c = net.B.Counters.Snapshot();
        Assert.Equal(c.FramesReceived, c.Delivered + c.Ipv6.Delivered + c.ArpReceived + c.TotalDropped + c.FragmentsQueued + c.Ipv6.FragmentsQueued);
    }

    private static byte[] RouterAdvertisement(Ipv6Address router, MacAddress mac, ushort lifetime, Ipv6Address? prefix, uint? mtu)
    {
        var options = new byte[8 + 32 + 8 + 24];
        int at = Icmpv6Message.WriteLinkLayerAddressOption(options, NdpOptionType.SourceLinkLayerAddress, mac);
        if (prefix is { } p)
        {
            at += Icmpv6Message.WritePrefixInformationOption(options.AsSpan(at), p, 64, true, true, 3600, 1800);
        }

        if (mtu is { } m)
        {
            at += Icmpv6Message.WriteMtuOption(options.AsSpan(at), m);
        }

        at += Icmpv6Message.WriteRdnssOption(options.AsSpan(at), 600, [Ipv6Address.Parse("2001:db8::53")]);
        var message = new byte[16 + at];
        int n = Icmpv6Message.WriteRouterAdvertisement(message, router, Ipv6Address.AllNodes, new NdpRouterAdvertisementHeader { CurHopLimit = 64, RouterLifetime = lifetime }, options.AsSpan(0, at));
        return Ipv6Packets.Packet(IpProtocol.Icmpv6, [], message[..n], Ipv6Address.AllNodes, hopLimit: 255, source: router);
    }

    private static byte[] PacketTooBig(Ipv6Address router, byte[] invoking, uint mtu, Ipv6Address? to = null)
    {
        Ipv6Address destination = to ?? Ipv6Address.Create(invoking.AsSpan(8));
        var message = new byte[1240];
        int n = Icmpv6Message.WriteError(message, router, destination, Icmpv6Type.PacketTooBig, 0, mtu, invoking);
        return Ipv6Packets.Packet(IpProtocol.Icmpv6, [], message[..n], destination, source: router);
    }
}
