using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

public class IcmpTests
{
    private static readonly Ipv4Address A = TwoStacks.AddressA;
    private static readonly Ipv4Address B = TwoStacks.AddressB;

    [Theory]
    [InlineData(DeviceMedium.Ip)]
    [InlineData(DeviceMedium.Ethernet)]
    public void Ping_between_two_stacks_gets_the_echo_back(DeviceMedium medium)
    {
        var net = new TwoStacks(medium);
        var pinger = new RecordingTransport(IpProtocol.Icmp);
        net.B.RegisterTransport(pinger);
        byte[] data = [.. Enumerable.Range(0, 56).Select(i => (byte)i)];
        IpSendResult r = net.B.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 0x1234, 7, data));
        Assert.Equal(medium == DeviceMedium.Ip ? IpSendResult.Sent : IpSendResult.Queued, r);
        net.Pump();

        var reply = Assert.Single(pinger.Datagrams);
        Assert.Equal(A, reply.Source);
        Assert.Equal(B, reply.Destination);
        Assert.True(IcmpEchoHeader.TryRead(reply.Payload, out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal(IcmpType.EchoReply, echo.Type);
        Assert.Equal(0x1234, echo.Identifier);
        Assert.Equal(7, echo.SequenceNumber);
        Assert.True(IcmpHeader.VerifyChecksum(reply.Payload));
        Assert.Equal(data, echo.Payload.ToArray());
        Assert.Equal(1, net.A.Counters.Snapshot().IcmpInOf(IcmpType.EchoRequest));
        Assert.Equal(1, net.A.Counters.Snapshot().IcmpOutOf(IcmpType.EchoReply));
    }

    [Fact]
    public void Echo_to_broadcast_is_ignored()
    {
        var net = new TwoStacks();
        net.DeviceA.Inject(Packets.Ip(B, Ipv4Address.Broadcast, IpProtocol.Icmp, Packets.Echo(IcmpType.EchoRequest, 1, 1, [1])));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());
        Assert.Equal(1, net.A.Counters.Snapshot().DroppedFor(DropReason.IcmpIgnored));
    }

    [Fact]
    public void ICMP_with_bad_checksum_is_dropped()
    {
        var net = new TwoStacks();
        byte[] echo = Packets.Echo(IcmpType.EchoRequest, 1, 1, [1, 2]);
        echo[9] ^= 0x40;
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Icmp, echo));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());
        StackCountersSnapshot s = net.A.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(DropReason.BadChecksum));
        Assert.Equal(1, s.ChecksumErrors);
    }

    [Fact]
    public void Unknown_protocol_is_answered_with_protocol_unreachable_quoting_the_datagram()
    {
        var net = new TwoStacks();
        byte[] offending = Packets.Ip(B, A, (IpProtocol)99, Packets.Ports(1000, 2000));
        net.DeviceA.Inject(offending);
        net.A.Poll();

        Ipv4Header.Reader ip = Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent()));
        Assert.Equal(A, ip.Source);
        Assert.Equal(B, ip.Destination);
        Assert.Equal(IpProtocol.Icmp, ip.Protocol);
        Assert.True(IcmpHeader.VerifyChecksum(ip.Payload));
        Assert.Equal(IcmpType.DestinationUnreachable, (IcmpType)ip.Payload[0]);
        Assert.Equal((byte)IcmpUnreachableCode.ProtocolUnreachable, ip.Payload[1]);
        Assert.Equal(offending, ip.Payload[8..].ToArray());
        StackCountersSnapshot s = net.A.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(DropReason.NoTransport));
        Assert.Equal(1, s.IcmpOutOf(IcmpType.DestinationUnreachable));
    }

    [Fact]
    public void No_protocol_unreachable_for_broadcasts_ICMP_errors_or_non_first_fragments()
    {
        var net = new TwoStacks();

        // To a broadcast (IP level).
        net.DeviceA.Inject(Packets.Ip(B, Ipv4Address.Broadcast, (IpProtocol)99, Packets.Ports(1, 2)));
        net.DeviceA.Inject(Packets.Ip(B, Ipv4Address.Parse("10.0.0.255"), (IpProtocol)99, Packets.Ports(1, 2)));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());

        // The rules applied to what a transport asks for: about an ICMP error, about a non-first
        // fragment, about a broadcast.
        byte[] icmpError = Packets.Ip(B, A, IpProtocol.Icmp, [3, 3, 0, 0, 0, 0, 0, 0, .. Packets.Ip(A, B, IpProtocol.Udp, Packets.Ports(5, 6))]);
        byte[] nonFirst = Packets.Ip(B, A, IpProtocol.Udp, Packets.Ports(5, 6), fragmentOffset: 100);
        byte[] echo = Packets.Ip(B, A, IpProtocol.Icmp, Packets.Echo(IcmpType.EchoRequest, 1, 2, [3]));
        NetworkInterface nic = net.NicA;
        Assert.False(net.A.SendIcmpError(nic, icmpError, broadcast: false, IcmpType.DestinationUnreachable, 3, 0));
        Assert.False(net.A.SendIcmpError(nic, nonFirst, broadcast: false, IcmpType.DestinationUnreachable, 3, 0));
        Assert.False(net.A.SendIcmpError(nic, echo, broadcast: true, IcmpType.DestinationUnreachable, 3, 0));
        Assert.False(net.A.SendIcmpError(nic, Packets.Ip(Ipv4Address.Any, A, IpProtocol.Udp, Packets.Ports(5, 6)), broadcast: false, IcmpType.DestinationUnreachable, 3, 0));
        Assert.Empty(net.DeviceA.TakeSent());
        Assert.Equal(6, net.A.Counters.Snapshot().IcmpErrorsSuppressed);

        // An ICMP query (echo) may be the subject of an error.
        Assert.True(net.A.SendIcmpError(nic, echo, broadcast: false, IcmpType.DestinationUnreachable, 3, 0));
        Assert.Single(net.DeviceA.TakeSent());
    }

    [Fact]
    public void Link_layer_broadcasts_get_no_errors()
    {
        var net = new TwoStacks(DeviceMedium.Ethernet);
        net.DeviceA.Inject(Packets.Ethernet(MacAddress.Broadcast, net.DeviceB.HardwareAddress, EtherType.Ipv4, Packets.Ip(B, A, (IpProtocol)99, Packets.Ports(1, 2))));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());
        Assert.Equal(1, net.A.Counters.Snapshot().IcmpErrorsSuppressed);
    }

    [Fact]
    public void Transport_port_unreachable_goes_out_but_not_for_broadcasts()
    {
        var net = new TwoStacks();
        var udp = new RecordingTransport(IpProtocol.Udp) { Reject = IcmpUnreachableCode.PortUnreachable };
        net.A.RegisterTransport(udp);
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Udp, Packets.Ports(1000, 53)));
        net.DeviceA.Inject(Packets.Ip(B, Ipv4Address.Broadcast, IpProtocol.Udp, Packets.Ports(1000, 53)));
        net.A.Poll();
        Assert.Equal([true, false], udp.RejectResults);
        Ipv4Header.Reader ip = Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent()));
        Assert.Equal((byte)IcmpUnreachableCode.PortUnreachable, ip.Payload[1]);
    }

    [Fact]
    public void ICMP_errors_are_rate_limited_by_a_token_bucket()
    {
        var net = new TwoStacks(options: new NetworkStackOptions { IcmpErrorBurst = 5, IcmpErrorsPerSecond = 2 });
        for (int i = 0; i < 20; i++)
        {
            net.DeviceA.Inject(Packets.Ip(B, A, (IpProtocol)99, Packets.Ports(1, 2), id: (ushort)i));
        }

        net.A.Poll();
        Assert.Equal(5, net.DeviceA.TakeSent().Count);
        Assert.Equal(15, net.A.Counters.Snapshot().IcmpRateLimited);

        net.Clock.Advance(TimeSpan.FromSeconds(1)); // two more tokens
        for (int i = 0; i < 5; i++)
        {
            net.DeviceA.Inject(Packets.Ip(B, A, (IpProtocol)99, Packets.Ports(1, 2)));
        }

        net.A.Poll();
        Assert.Equal(2, net.DeviceA.TakeSent().Count);

        net.Clock.Advance(TimeSpan.FromHours(1)); // refills to the burst, no further
        for (int i = 0; i < 10; i++)
        {
            net.DeviceA.Inject(Packets.Ip(B, A, (IpProtocol)99, Packets.Ports(1, 2)));
        }

        net.A.Poll();
        Assert.Equal(5, net.DeviceA.TakeSent().Count);
    }

    [Fact]
    public void Received_errors_reach_the_transport_of_the_quoted_flow()
    {
        var net = new TwoStacks();
        var udp = new RecordingTransport(IpProtocol.Udp);
        net.A.RegisterTransport(udp);

        // B has no UDP: its protocol unreachable comes back to A's transport with our ports.
        net.A.SendDatagram(new IpSendRequest(B, IpProtocol.Udp), Packets.Ports(4000, 5000));
        net.Pump();
        var e = Assert.Single(udp.Errors);
        Assert.Equal(IcmpType.DestinationUnreachable, e.Type);
        Assert.Equal((byte)IcmpUnreachableCode.ProtocolUnreachable, e.Code);
        Assert.Equal(B, e.ReportedBy);
        Assert.Equal(A, e.QuotedSource);
        Assert.Equal(B, e.QuotedDestination);
        Assert.Equal(4000, BinaryPrimitives.ReadUInt16BigEndian(e.Quoted));
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(e.Quoted.AsSpan(2)));
    }

    [Fact]
    public void Fragmentation_needed_carries_the_next_hop_MTU()
    {
        var net = new TwoStacks();
        var udp = new RecordingTransport(IpProtocol.Udp);
        net.A.RegisterTransport(udp);
        Ipv4Address router = Ipv4Address.Parse("10.0.0.254");
        byte[] quoted = Packets.Ip(A, Ipv4Address.Parse("192.0.2.1"), IpProtocol.Udp, Packets.Ports(1234, 80, 1000));
        var icmp = new byte[8 + 28];
        IcmpMessage.WriteError(icmp, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, 1400, quoted);
        net.DeviceA.Inject(Packets.Ip(router, A, IpProtocol.Icmp, icmp));
        net.A.Poll();
        var e = Assert.Single(udp.Errors);
        Assert.Equal(1400, e.Mtu);
        Assert.Equal(router, e.ReportedBy);
        Assert.Equal(1234, BinaryPrimitives.ReadUInt16BigEndian(e.Quoted));
    }

    [Fact]
    public void Errors_quoting_someone_elses_datagram_are_dropped()
    {
        var net = new TwoStacks();
        var udp = new RecordingTransport(IpProtocol.Udp);
        net.A.RegisterTransport(udp);
        byte[] quoted = Packets.Ip(Ipv4Address.Parse("10.0.0.77"), B, IpProtocol.Udp, Packets.Ports(1, 2));
        var icmp = new byte[8 + quoted.Length];
        IcmpMessage.WriteError(icmp, IcmpType.DestinationUnreachable, 3, 0, quoted);
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Icmp, icmp));

        // And a truncated quote (RFC 792 guarantees 8 bytes).
        byte[] shortQuote = Packets.Ip(A, B, IpProtocol.Udp, [1, 2, 3]);
        var icmp2 = new byte[8 + shortQuote.Length];
        IcmpMessage.WriteError(icmp2, IcmpType.TimeExceeded, 0, 0, shortQuote);
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Icmp, icmp2));
        net.A.Poll();
        Assert.Empty(udp.Errors);
        StackCountersSnapshot s = net.A.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(DropReason.IcmpErrorNotOurs));
        Assert.Equal(1, s.DroppedFor(DropReason.Malformed));
        Assert.Equal(1, s.IcmpInOf(IcmpType.TimeExceeded));
    }
}
