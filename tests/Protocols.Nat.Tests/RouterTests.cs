using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;
using static Protocols.Nat.Tests.NatRig;

namespace Protocols.Nat.Tests;

/// <summary>The stack as a router (RFC 1812), without translation.</summary>
public class RouterTests
{
    [Fact]
    public void A_host_does_not_forward_by_default()
    {
        // RFC 1122 3.3.4 / RFC 1812: forwarding is off unless asked for.
        var sim = new NetworkSimulator(1);
        MemoryLink inside = sim.Network.CreateLink();
        MemoryLink outside = sim.Network.CreateLink();
        NetworkStack host = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock }));
        host.AddInterface(inside.A, RouterInside, 24);
        host.AddInterface(outside.A, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));
        Assert.True(inside.B.TrySend(Packets.Udp(HostA, 5000, Remote, 53)));
        sim.RunFor(TimeSpan.Zero);
        Assert.Equal(0, outside.B.Receive(_ => { }, 10));
        Assert.Equal(1, host.Counters.Snapshot().DroppedFor(DropReason.NotForUs));
        Assert.Equal(0, host.Counters.Snapshot().Forwarded);
    }

    [Fact]
    public void Forwarded_datagram_has_its_ttl_decremented_and_the_header_checksum_updated()
    {
        var rig = new NatRig(forwardingOnly: true);
        byte[] sent = Packets.Udp(HostA, 5000, Remote, 53, ttl: 17);
        byte[] got = rig.OneOut(sent);
        Assert.Equal(16, Packets.Ttl(got));
        Assert.Equal(HostA, Packets.Source(got));
        Assert.Equal(Remote, Packets.Destination(got));
        Assert.Equal(sent[20..], got[20..]);
        StackCountersSnapshot c = rig.Counters;
        Assert.Equal(1, c.Forwarded);
        Assert.Equal(c.FramesReceived, c.Delivered + c.Forwarded + c.ArpReceived + c.TotalDropped + c.FragmentsQueued);
    }

    [Fact]
    public void Ttl_that_would_reach_zero_gets_time_exceeded_from_the_router_quoting_the_datagram()
    {
        // RFC 1812 5.3.1 and 4.3.2.3: time exceeded, code 0, quoting the datagram as received.
        var rig = new NatRig(forwardingOnly: true);
        byte[] sent = Packets.Udp(HostA, 33434, Remote, 33435, ttl: 1);
        Assert.Empty(rig.FromInside(sent));
        byte[] error = Assert.Single(rig.InsideReceived);
        Packets.AssertChecksums(error);
        Assert.Equal(RouterInside, Packets.Source(error));
        Assert.Equal(HostA, Packets.Destination(error));
        Assert.Equal((byte)IcmpType.TimeExceeded, error[20]);
        Assert.Equal(0, error[21]);
        Assert.Equal(sent.AsSpan(0, 28).ToArray(), Packets.Quoted(error)[..28].ToArray());
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.TtlExpired));
        Assert.Equal(1, rig.Counters.IcmpOutOf(IcmpType.TimeExceeded));
    }

    [Fact]
    public void Too_big_with_df_gets_fragmentation_needed_with_the_next_hop_mtu()
    {
        // RFC 1812 5.2.6, RFC 1191 4: the next-hop MTU in the low 16 bits.
        var rig = new NatRig(forwardingOnly: true, outsideMtu: 1000);
        byte[] sent = Packets.Udp(HostA, 5000, Remote, 9, dataLength: 1200, dontFragment: true);
        Assert.Empty(rig.FromInside(sent));
        byte[] error = Assert.Single(rig.InsideReceived);
        Packets.AssertChecksums(error);
        Assert.Equal((byte)IcmpType.DestinationUnreachable, error[20]);
        Assert.Equal((byte)IcmpUnreachableCode.FragmentationNeeded, error[21]);
        Assert.Equal(1000, (error[26] << 8) | error[27]);
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.FragmentationNeeded));
    }

    [Fact]
    public void Too_big_without_df_is_fragmented_on_the_way_out()
    {
        var rig = new NatRig(forwardingOnly: true, outsideMtu: 576);
        byte[] sent = Packets.Udp(HostA, 5000, Remote, 9, dataLength: 1400);
        List<byte[]> fragments = rig.FromInside(sent);
        Assert.Equal(3, fragments.Count);
        var payload = new List<byte>();
        foreach (byte[] f in fragments)
        {
            Assert.True(f.Length <= 576);
            Assert.True(Checksum.Compute(f.AsSpan(0, 20)) == 0);
            Assert.Equal(63, Packets.Ttl(f));
            Assert.Equal(payload.Count, (((f[6] & 0x1f) << 8) | f[7]) * 8);
            payload.AddRange(f.Skip(20));
        }

        Assert.Equal(sent[20..], payload.ToArray());
        Assert.Equal(1, rig.Counters.Forwarded);
        Assert.Equal(3, rig.Counters.FragmentsSent);
    }

    [Fact]
    public void The_longest_matching_prefix_wins()
    {
        // RFC 1812 5.2.4.3: 198.51.100.0/25 back inside via 10.0.0.254 beats the default route out.
        var rig = new NatRig(forwardingOnly: true);
        rig.Router.AddRoute(Packets.A("198.51.100.0"), 25, Packets.A("10.0.0.254"));
        rig.Router.AddRoute(Packets.A("198.51.0.0"), 16, Packets.A("203.0.113.253"));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote2, 1, Packets.A("198.51.100.200"), 2)));
        Assert.Single(rig.OutsideReceived); // the /16, back out through the outside
        Assert.Single(rig.FromOutside(Packets.Udp(Remote2, 1, Packets.A("198.51.100.100"), 2))); // /25 inside
    }

    [Fact]
    public void No_route_gets_network_unreachable()
    {
        var rig = new NatRig(forwardingOnly: true, outsideGateway: false);
        Assert.Empty(rig.FromInside(Packets.Udp(HostA, 5000, Remote, 53)));
        byte[] error = Assert.Single(rig.InsideReceived);
        Assert.Equal((byte)IcmpType.DestinationUnreachable, error[20]);
        Assert.Equal((byte)IcmpUnreachableCode.NetUnreachable, error[21]);
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.NoRoute));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_datagram_received_as_a_link_broadcast_is_not_forwarded(bool linkBroadcast)
    {
        // RFC 1812 5.3.4: a datagram that arrived as a link-layer broadcast is not forwarded, even
        // when its IP destination is a unicast address reachable through another interface.
        var sim = new NetworkSimulator(1);
        MemoryLink inside = sim.Network.CreateLink(medium: DeviceMedium.Ethernet);
        MemoryLink outside = sim.Network.CreateLink();
        NetworkStack router = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Forwarding = true }));
        NetworkInterface nic = router.AddInterface(inside.A, RouterInside, 24);
        router.AddInterface(outside.A, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));

        byte[] datagram = Packets.Udp(HostA, 5000, Remote, 53);
        byte[] frame = new byte[EthernetHeader.FixedLength + datagram.Length];
        MacAddress destination = linkBroadcast ? MacAddress.Broadcast : nic.HardwareAddress;
        for (int i = 0; i < 6; i++)
        {
            frame[i] = destination[i];
        }

        frame[6] = 0x02;
        frame[11] = 0x0a;
        frame[12] = 0x08; // EtherType IPv4
        datagram.CopyTo(frame, EthernetHeader.FixedLength);
        Assert.True(inside.B.TrySend(frame));
        sim.RunFor(TimeSpan.Zero);

        int leftOutside = outside.B.Receive(_ => { }, 10);
        StackCountersSnapshot counters = router.Counters.Snapshot();
        Assert.Equal(linkBroadcast ? 0 : 1, leftOutside);
        Assert.Equal(linkBroadcast ? 0 : 1, counters.Forwarded);
        Assert.Equal(linkBroadcast ? 1 : 0, counters.DroppedFor(DropReason.LinkBroadcastNotForwarded));
    }

    [Theory]
    [InlineData("127.0.0.1", "198.51.100.7", DropReason.MartianSource)]
    [InlineData("224.0.0.9", "198.51.100.7", DropReason.MartianSource)]
    [InlineData("203.0.113.1", "198.51.100.7", DropReason.MartianSource)]
    [InlineData("10.0.0.255", "198.51.100.7", DropReason.MartianSource)]
    [InlineData("10.0.0.10", "0.1.2.3", DropReason.MartianDestination)]
    [InlineData("10.0.0.10", "127.0.0.1", DropReason.MartianDestination)]
    [InlineData("10.0.0.10", "240.0.0.1", DropReason.MartianDestination)]
    [InlineData("10.0.0.10", "203.0.113.255", DropReason.MartianDestination)]
    public void Martians_are_never_forwarded(string source, string destination, DropReason reason)
    {
        // RFC 1812 5.3.7 and 5.3.5.2 (directed broadcasts off by default).
        var rig = new NatRig(forwardingOnly: true);
        Assert.Empty(rig.FromInside(Packets.Udp(Packets.A(source), 5000, Packets.A(destination), 53)));
        Assert.Empty(rig.InsideReceived);
        Assert.Equal(1, rig.Counters.DroppedFor(reason));
        Assert.Equal(0, rig.Counters.Forwarded);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Forwarding_allocates_nothing_per_datagram(bool translated)
    {
        var inside = new ReplayDevice(Packets.Udp(HostA, 5000, Remote, 53, dataLength: 1200));
        var outside = new ReplayDevice(null);
        var clock = new VirtualClock(DateTimeOffset.UnixEpoch);
        using var router = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Forwarding = true });
        router.AddInterface(inside, RouterInside, 24);
        NetworkInterface outsideNic = router.AddInterface(outside, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));
        using NatGateway? nat = translated ? new NatGateway(router, outsideNic) : null;
        for (int i = 0; i < 1000; i++)
        {
            router.Poll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            router.Poll();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long forwarded = router.Counters.Snapshot().Forwarded;
        Assert.True(forwarded >= 11_000);
        Assert.Equal(forwarded, outside.Sent);
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for {forwarded} forwarded datagrams");
    }

    [Fact]
    public void A_tcp_super_segment_larger_than_its_input_link_is_cut_to_the_next_hop_instead_of_refused()
    {
        // What a veth peer's TSO or GRO hands an AF_PACKET socket: one 4000-byte TCP segment with DF.
        byte[] super = Packets.Tcp(Remote, 80, HostA, 40000, Packets.Ack | Packets.Psh | Packets.Fin, seq: 5000, ack: 77, dataLength: 4000);
        var inside = new QueueDevice(1500);
        var outside = new QueueDevice(1500);
        outside.Inbound.Enqueue(super);
        var clock = new VirtualClock(DateTimeOffset.UnixEpoch);
        using var router = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Forwarding = true });
        router.AddInterface(inside, RouterInside, 24);
        router.AddInterface(outside, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));
        router.Poll();
        Assert.Equal(3, inside.Sent.Count);
        var payload = new List<byte>();
        for (int i = 0; i < 3; i++)
        {
            byte[] s = inside.Sent[i];
            Packets.AssertChecksums(s);
            Assert.True(s.Length <= 1500);
            Assert.Equal(5000u + (uint)payload.Count, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(24)));
            Assert.Equal(i == 2 ? Packets.Ack | Packets.Psh | Packets.Fin : Packets.Ack, Packets.TcpFlagsOf(s));
            Assert.Equal(63, Packets.Ttl(s));
            payload.AddRange(s.Skip(40));
        }

        Assert.Equal(super[40..], payload.ToArray());
        Assert.Equal(1, router.Counters.Snapshot().ForwardResegmented);

        // A datagram that fits its input link but not the next hop is still refused (DF): a real PMTU signal.
        var narrow = new QueueDevice(1000);
        var wide = new QueueDevice(1500);
        wide.Inbound.Enqueue(Packets.Tcp(Remote, 80, HostA, 40000, Packets.Ack, dataLength: 1400));
        using var second = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Forwarding = true });
        second.AddInterface(narrow, RouterInside, 24);
        second.AddInterface(wide, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));
        second.Poll();
        Assert.Empty(narrow.Sent);
        Assert.Equal(1, second.Counters.Snapshot().DroppedFor(DropReason.FragmentationNeeded));
    }

    [Fact]
    public void A_super_segment_goes_whole_to_a_device_that_cuts_super_segments_itself()
    {
        // GSO passthrough: the output device does TSO, so the router hands the super-segment on with
        // the segment size that fits its MTU and the checksum partial, as the device expects.
        byte[] super = Packets.Tcp(Remote, 80, HostA, 40000, Packets.Ack | Packets.Psh, seq: 5000, ack: 77, dataLength: 4000);
        var inside = new QueueDevice(1500) { Capabilities = DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TransmitChecksumOffload };
        var outside = new QueueDevice(1500);
        outside.Inbound.Enqueue(super);
        using var router = new NetworkStack(new NetworkStackOptions { TimeProvider = new VirtualClock(DateTimeOffset.UnixEpoch), Forwarding = true });
        router.AddInterface(inside, RouterInside, 24);
        router.AddInterface(outside, RouterOutside, 24, gateway: Packets.A("203.0.113.254"));
        router.Poll();
        byte[] sent = Assert.Single(inside.Sent);
        PacketOffload offload = Assert.Single(inside.Offloads);
        Assert.Equal(super.Length, sent.Length);
        Assert.Equal(SegmentationKind.TcpV4, offload.Segmentation);
        Assert.Equal(1460, offload.SegmentSize);
        Assert.Equal(ChecksumState.Partial, offload.Checksum);
        Assert.Equal(20, offload.ChecksumStart);
        uint pseudo = Checksum.PseudoHeaderSum(Remote, HostA, 6, sent.Length - 20);
        Assert.Equal((ushort)Checksum.Fold(pseudo), System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(36)));
        Assert.Equal(63, Packets.Ttl(sent));
        Assert.Equal(super[40..], sent[40..]);
    }

    /// <summary>A device fed from a queue, keeping what it is given to send.</summary>
    private sealed class QueueDevice(int mtu) : INetworkDevice
    {
        public Queue<byte[]> Inbound { get; } = new();

        public List<byte[]> Sent { get; } = [];

        public List<PacketOffload> Offloads { get; } = [];

        public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload)
        {
            Sent.Add(frame.ToArray());
            Offloads.Add(offload);
            return true;
        }

        public string Name => "queue";

        public DeviceMedium Medium => DeviceMedium.Ip;

        public int Mtu => mtu;

        public MacAddress HardwareAddress => default;

        public DeviceCapabilities Capabilities { get; init; }

        public int Receive(FrameHandler handler, int maxFrames)
        {
            int n = 0;
            while (n < maxFrames && Inbound.TryDequeue(out byte[]? frame))
            {
                handler(frame);
                n++;
            }

            return n;
        }

        public bool TrySend(ReadOnlySpan<byte> frame)
        {
            Sent.Add(frame.ToArray());
            return true;
        }

        public void Flush()
        {
        }

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose()
        {
        }
    }

    /// <summary>A device that offers the same frame at every receive and counts what it is given to send.</summary>
    private sealed class ReplayDevice(byte[]? frame) : INetworkDevice
    {
        public string Name => "replay";

        public DeviceMedium Medium => DeviceMedium.Ip;

        public int Mtu => 1500;

        public MacAddress HardwareAddress => default;

        public DeviceCapabilities Capabilities => DeviceCapabilities.None;

        public long Sent { get; private set; }

        // The offload-aware overload too: the interface's default adapts with a closure per call.
        public int Receive(OffloadFrameHandler handler, int maxFrames)
        {
            if (frame is null)
            {
                return 0;
            }

            handler(frame, default);
            return 1;
        }

        public int Receive(FrameHandler handler, int maxFrames)
        {
            if (frame is null)
            {
                return 0;
            }

            handler(frame);
            return 1;
        }

        public bool TrySend(ReadOnlySpan<byte> frame)
        {
            Sent++;
            return true;
        }

        public void Flush()
        {
        }

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose()
        {
        }
    }
}
