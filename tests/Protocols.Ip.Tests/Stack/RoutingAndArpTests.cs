using Protocols.Ip.Arp;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

public class RoutingTests
{
    [Fact]
    public void On_link_gateway_longest_prefix_and_no_route()
    {
        var clock = new ManualClock();
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock });
        var wide = new TestDevice("wide", DeviceMedium.Ip, default);
        var narrow = new TestDevice("narrow", DeviceMedium.Ip, default);
        var uplink = new TestDevice("uplink", DeviceMedium.Ip, default);
        stack.AddInterface(wide, Ipv4Address.Parse("10.0.0.1"), 8);
        stack.AddInterface(narrow, Ipv4Address.Parse("10.1.2.1"), 24);
        Assert.Null(stack.RouteSourceFor(Ipv4Address.Parse("8.8.8.8")));
        Assert.Equal(IpSendResult.NoRoute, stack.SendDatagram(new IpSendRequest(Ipv4Address.Parse("8.8.8.8"), IpProtocol.Udp), [1]));
        stack.AddInterface(uplink, Ipv4Address.Parse("192.168.1.10"), 24, gateway: Ipv4Address.Parse("192.168.1.1"));

        Assert.Equal(Ipv4Address.Parse("10.0.0.1"), stack.RouteSourceFor(Ipv4Address.Parse("10.9.9.9")));
        Assert.Equal(Ipv4Address.Parse("10.1.2.1"), stack.RouteSourceFor(Ipv4Address.Parse("10.1.2.77")));
        Assert.Equal(Ipv4Address.Parse("192.168.1.10"), stack.RouteSourceFor(Ipv4Address.Parse("8.8.8.8")));
        Assert.Equal(Ipv4Address.Parse("10.1.2.1"), stack.RouteSourceFor(Ipv4Address.Parse("10.1.2.1")));
        Assert.Null(stack.RouteSourceFor(Ipv4Address.Parse("127.0.0.1")));

        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(Ipv4Address.Parse("10.1.2.77"), IpProtocol.Udp), [1]));
        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(Ipv4Address.Parse("8.8.8.8"), IpProtocol.Udp), [2]));
        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(Ipv4Address.Parse("10.200.0.1"), IpProtocol.Udp), [3]));
        Assert.Equal(3, Packets.ReadIp(Assert.Single(wide.TakeSent())).Payload[0]);
        Assert.Equal(1, Packets.ReadIp(Assert.Single(narrow.TakeSent())).Payload[0]);
        Ipv4Header.Reader viaGateway = Packets.ReadIp(Assert.Single(uplink.TakeSent()));
        Assert.Equal(Ipv4Address.Parse("192.168.1.10"), viaGateway.Source);
        Assert.Equal(Ipv4Address.Parse("8.8.8.8"), viaGateway.Destination);
        Assert.Equal(64, viaGateway.Ttl);
    }

    [Fact]
    public void Send_request_fields_and_limits()
    {
        var net = new TwoStacks();
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp) { Ttl = 5, DontFragment = true, Tos = 0xb8 }, [1, 2]));
        Ipv4Header.Reader ip = Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent()));
        Assert.Equal(5, ip.Ttl);
        Assert.True(ip.DontFragment);
        Assert.Equal(0xb8 >> 2, ip.Dscp);
        Assert.Equal(IpSendResult.MessageTooBig, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp) { DontFragment = true }, new byte[1481]));
        Assert.Equal(IpSendResult.Sent, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp), new byte[1480]));
        Assert.Equal(IpSendResult.MessageTooBig, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp), new byte[65516]));
        Assert.Equal(IpSendResult.Dropped, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp) { Source = Ipv4Address.Parse("10.0.0.99") }, [1]));
        net.DeviceA.Refuse = true;
        Assert.Equal(IpSendResult.QueueFull, net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp), [1]));
        StackCountersSnapshot s = net.A.Counters.Snapshot();
        Assert.Equal(2, s.SendDroppedFor(DropReason.TooBig));
        Assert.Equal(1, s.SendDroppedFor(DropReason.BadSourceAddress));
        Assert.Equal(1, s.SendDroppedFor(DropReason.DeviceQueueFull));
    }

    [Fact]
    public void Identifications_differ_between_consecutive_datagrams()
    {
        var net = new TwoStacks();
        var ids = new HashSet<ushort>();
        for (int i = 0; i < 1000; i++)
        {
            net.A.SendDatagram(new IpSendRequest(TwoStacks.AddressB, IpProtocol.Udp), [1]);
            ids.Add(Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent())).Identification);
        }

        Assert.Equal(1000, ids.Count);
    }
}

public class ArpTests
{
    private static readonly Ipv4Address A = TwoStacks.AddressA;
    private static readonly Ipv4Address B = TwoStacks.AddressB;

    private static (NetworkStack Stack, TestDevice Device, ManualClock Clock) Host(NetworkStackOptions? options = null)
    {
        var clock = new ManualClock();
        var device = new TestDevice("eth", DeviceMedium.Ethernet, MacAddress.Create(2, 0, 0, 0, 0, 0xa));
        var stack = new NetworkStack(new NetworkStackOptions
        {
            TimeProvider = clock,
            ArpPendingPerAddress = options?.ArpPendingPerAddress ?? 64,
            ArpPendingTotal = options?.ArpPendingTotal ?? 1024,
        });
        stack.AddInterface(device, A, 24);
        return (stack, device, clock);
    }

    private static readonly MacAddress PeerMac = MacAddress.Create(2, 0, 0, 0, 0, 0xb);

    [Fact]
    public void Answers_requests_for_its_address_and_learns_the_asker()
    {
        var (stack, device, _) = Host();
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, B, default, A)));
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, B, default, Ipv4Address.Parse("10.0.0.3"))));
        stack.Poll();
        byte[] frame = Assert.Single(device.TakeSent());
        Assert.True(EthernetHeader.TryRead(frame, out EthernetHeader.Reader eth, out _));
        Assert.Equal(PeerMac, eth.Destination);
        Assert.Equal(EtherType.Arp, eth.EtherType);
        Assert.True(ArpPacket.TryRead(eth.Payload, out ArpPacket.Reader arp, out _));
        Assert.Equal(ArpOperation.Reply, arp.Operation);
        Assert.Equal(device.HardwareAddress, arp.SenderHardwareAddress);
        Assert.Equal(A, arp.SenderProtocolAddress);
        Assert.Equal(PeerMac, arp.TargetHardwareAddress);
        Assert.Equal(B, arp.TargetProtocolAddress);

        ArpEntryInfo entry = Assert.Single(stack.Interfaces[0].Arp!.Entries);
        Assert.Equal(B, entry.Address);
        Assert.Equal(PeerMac, entry.HardwareAddress);

        // Sending to the learned neighbour needs no request.
        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        Assert.Equal(2, stack.Counters.Snapshot().ArpReceived);
        Assert.Equal(1, stack.Counters.Snapshot().ArpRepliesSent);
    }

    [Fact]
    public void Resolution_queues_then_flushes_on_reply()
    {
        var (stack, device, _) = Host();
        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [2]));
        byte[] request = Assert.Single(device.TakeSent());
        Assert.True(EthernetHeader.TryRead(request, out EthernetHeader.Reader eth, out _));
        Assert.Equal(MacAddress.Broadcast, eth.Destination);
        Assert.True(ArpPacket.TryRead(eth.Payload, out ArpPacket.Reader arp, out _));
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(B, arp.TargetProtocolAddress);

        device.Inject(Packets.Ethernet(device.HardwareAddress, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Reply, PeerMac, B, device.HardwareAddress, A)));
        stack.Poll();
        List<byte[]> sent = device.TakeSent();
        Assert.Equal(2, sent.Count);
        Assert.All(sent, f => Assert.Equal(PeerMac, MacAddress.Create(f)));
        Assert.Equal(1, Packets.ReadIp(sent[0][14..]).Payload[0]);
        Assert.Equal(2, Packets.ReadIp(sent[1][14..]).Payload[0]);
        Assert.Equal(0, stack.Interfaces[0].Arp!.PendingPackets);
    }

    [Fact]
    public void Unanswered_resolution_retries_then_fails_and_tells_the_transport()
    {
        var (stack, device, clock) = Host();
        var udp = new RecordingTransport(IpProtocol.Udp);
        stack.RegisterTransport(udp);
        stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), Packets.Ports(7, 9));
        Assert.Single(device.TakeSent());
        for (int i = 0; i < 2; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(999));
            stack.Poll();
            Assert.Empty(device.TakeSent());
            clock.Advance(TimeSpan.FromMilliseconds(1));
            stack.Poll();
            Assert.Single(device.TakeSent());
        }

        Assert.Empty(udp.Errors);
        clock.Advance(TimeSpan.FromSeconds(1));
        stack.Poll();
        Assert.Empty(device.TakeSent());
        var e = Assert.Single(udp.Errors);
        Assert.Equal((byte)IcmpUnreachableCode.HostUnreachable, e.Code);
        Assert.Equal(7, e.Quoted[1]);
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(3, s.ArpRequestsSent);
        Assert.Equal(1, s.SendDroppedFor(DropReason.ArpResolutionFailed));
        Assert.Equal(0, stack.Interfaces[0].Arp!.Count);
        Assert.Equal(0, stack.Timers.Count);
    }

    [Fact]
    public void Pending_queue_is_bounded_per_address_and_in_total()
    {
        var (stack, _, _) = Host(new NetworkStackOptions { ArpPendingPerAddress = 4, ArpPendingTotal = 6 });
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        }

        Assert.Equal(IpSendResult.QueueFull, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        Ipv4Address c = Ipv4Address.Parse("10.0.0.3");
        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(c, IpProtocol.Udp), [1]));
        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(c, IpProtocol.Udp), [1]));
        Assert.Equal(IpSendResult.QueueFull, stack.SendDatagram(new IpSendRequest(c, IpProtocol.Udp), [1]));
        Assert.Equal(2, stack.Counters.Snapshot().SendDroppedFor(DropReason.ArpQueueFull));
        Assert.Equal(6, stack.Interfaces[0].Arp!.PendingPackets);
    }

    [Fact]
    public void A_TCP_super_segment_waits_for_resolution_and_leaves_whole_with_its_segment_size()
    {
        var (stack, device, _) = Host();
        device.Capabilities = DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TransmitChecksumOffload;
        device.Offloads = new DeviceOffloadStatus(OffloadMode.On, device.Capabilities, 65535, "test TSO");

        // As TCP sends one: built in place, 30 segments of 1448 bytes behind a 20-byte TCP header.
        const int Payload = 20 + (30 * 1448);
        var request = new IpSendRequest(B, IpProtocol.Tcp) { DontFragment = true, TcpSegmentSize = 1448 };
        Span<byte> segment = stack.GetDatagramPayloadBuffer(in request, Payload);
        for (int i = 0; i < segment.Length; i++)
        {
            segment[i] = (byte)i;
        }

        Assert.Equal(IpSendResult.Queued, stack.SendDatagramInPlace(in request, Payload));
        Assert.Single(device.TakeSent()); // the ARP request
        device.SentOffloads.Clear();
        Assert.Equal(1, stack.Interfaces[0].Arp!.PendingPackets);

        device.Inject(Packets.Ethernet(device.HardwareAddress, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Reply, PeerMac, B, device.HardwareAddress, A)));
        stack.Poll();
        byte[] frame = Assert.Single(device.TakeSent());
        Assert.True(device.SentOffloads.TryDequeue(out PacketOffload offload));
        Assert.Equal(SegmentationKind.TcpV4, offload.Segmentation);
        Assert.Equal(1448, offload.SegmentSize);
        Assert.Equal(ChecksumState.Partial, offload.Checksum);
        Assert.Equal(14 + 20, offload.ChecksumStart);
        Assert.Equal(16, offload.ChecksumOffset);
        Assert.Equal(PeerMac, MacAddress.Create(frame));
        Ipv4Header.Reader ip = Packets.ReadIp(frame[14..]);
        Assert.Equal(20 + Payload, ip.TotalLength);
        Assert.Equal(IpProtocol.Tcp, ip.Protocol);
        Assert.True(ip.Payload.SequenceEqual(Enumerable.Range(0, Payload).Select(i => (byte)i).ToArray()));
        Assert.Equal(0, stack.Interfaces[0].Arp!.PendingPackets);
        Assert.Equal(0, stack.Counters.Snapshot().SendDroppedFor(DropReason.ArpQueueFull));
    }

    [Fact]
    public void Pending_super_segments_are_bounded_in_bytes_but_one_is_always_kept()
    {
        var clock = new ManualClock();
        var device = new TestDevice("eth", DeviceMedium.Ethernet, MacAddress.Create(2, 0, 0, 0, 0, 0xa))
        {
            Capabilities = DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TransmitChecksumOffload,
        };
        device.Offloads = new DeviceOffloadStatus(OffloadMode.On, device.Capabilities, 65535, "test TSO");
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, ArpPendingBytesPerAddress = 100_000 });
        stack.AddInterface(device, A, 24);
        var request = new IpSendRequest(B, IpProtocol.Tcp) { DontFragment = true, TcpSegmentSize = 1448 };
        byte[] superSegment = new byte[20 + (40 * 1448)]; // 57,960 bytes: one fits under 100,000, two do not

        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(in request, superSegment));
        Assert.Equal(IpSendResult.QueueFull, stack.SendDatagram(in request, superSegment));
        Assert.Equal(IpSendResult.Queued, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), new byte[1000]));
        Assert.Equal(2, stack.Interfaces[0].Arp!.PendingPackets);
        Assert.Equal(1, stack.Counters.Snapshot().SendDroppedFor(DropReason.ArpQueueFull));

        // A single datagram larger than the bound still waits (RFC 1122 2.3.2.2 keeps at least one).
        using var small = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, ArpPendingBytesPerAddress = 1000 });
        var other = new TestDevice("eth", DeviceMedium.Ethernet, MacAddress.Create(2, 0, 0, 0, 0, 0xc)) { Capabilities = device.Capabilities, Offloads = device.Offloads };
        small.AddInterface(other, A, 24);
        Assert.Equal(IpSendResult.Queued, small.SendDatagram(in request, superSegment));
        Assert.Equal(1, small.Interfaces[0].Arp!.PendingPackets);
    }

    [Fact]
    public void Entries_expire_and_are_confirmed_again_or_removed()
    {
        var (stack, device, clock) = Host();
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, B, default, A)));
        stack.Poll();
        device.TakeSent();

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        Assert.Single(device.TakeSent()); // just the datagram

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(IpSendResult.Sent, stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]));
        List<byte[]> sent = device.TakeSent();
        Assert.Equal(2, sent.Count); // a confirming request, and the datagram with the old address
        Assert.Equal(ArpEntryState.Probing, Assert.Single(stack.Interfaces[0].Arp!.Entries).State);

        // Confirmed by a reply: reachable again.
        device.Inject(Packets.Ethernet(device.HardwareAddress, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Reply, PeerMac, B, device.HardwareAddress, A)));
        stack.Poll();
        Assert.Equal(ArpEntryState.Reachable, Assert.Single(stack.Interfaces[0].Arp!.Entries).State);

        // Expired again and never confirmed: removed after the retries.
        clock.Advance(TimeSpan.FromSeconds(61));
        stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]);
        for (int i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            stack.Poll();
        }

        Assert.Equal(0, stack.Interfaces[0].Arp!.Count);
    }

    [Fact]
    public void Gratuitous_ARP_updates_a_known_entry_but_adds_no_new_one()
    {
        var (stack, device, _) = Host();
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, B, default, A)));
        stack.Poll();
        device.TakeSent();

        // RFC 826 merge: B moved to a new MAC and announces it (sender = target = B).
        MacAddress moved = MacAddress.Create(2, 0, 0, 0, 0, 0xc);
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, moved, EtherType.Arp, Packets.Arp(ArpOperation.Request, moved, B, default, B)));
        Ipv4Address c = Ipv4Address.Parse("10.0.0.3");
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, moved, EtherType.Arp, Packets.Arp(ArpOperation.Request, moved, c, default, c)));
        stack.Poll();
        Assert.Empty(device.TakeSent()); // neither is for us: no reply
        ArpEntryInfo entry = Assert.Single(stack.Interfaces[0].Arp!.Entries);
        Assert.Equal(B, entry.Address);
        Assert.Equal(moved, entry.HardwareAddress);
        stack.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), [1]);
        Assert.Equal(moved, MacAddress.Create(Assert.Single(device.TakeSent())));
    }

    [Fact]
    public void Conflicts_and_bogus_senders_are_not_learned()
    {
        var (stack, device, _) = Host();
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, A, default, A)));
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, MacAddress.Broadcast, B, default, A)));
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, Packets.Arp(ArpOperation.Request, PeerMac, Ipv4Address.Parse("192.0.2.1"), default, A)));
        device.Inject(Packets.Ethernet(MacAddress.Broadcast, PeerMac, EtherType.Arp, [0, 6, 8, 0, 6, 4, 0, 1]));
        stack.Poll();
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(DropReason.ArpAddressConflict));
        Assert.Equal(2, s.DroppedFor(DropReason.Malformed));
        Assert.Equal(0, stack.Interfaces[0].Arp!.Count); // the off-subnet asker is answered, not learned
        Assert.Single(device.TakeSent());
    }
}
