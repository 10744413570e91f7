using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

/// <summary>The stack with the fragmenter on output and the reassembler on input.</summary>
public class FragmentationIntegrationTests
{
    private static readonly Ipv4Address A = TwoStacks.AddressA;
    private static readonly Ipv4Address B = TwoStacks.AddressB;

    [Theory]
    [InlineData(DeviceMedium.Ip, 1500, 3000)]
    [InlineData(DeviceMedium.Ethernet, 1500, 3000)]
    [InlineData(DeviceMedium.Ip, 576, 65000)]
    public void Large_ping_is_fragmented_both_ways_and_answered(DeviceMedium medium, int mtu, int size)
    {
        var net = new TwoStacks(medium, mtu: mtu);
        var pinger = new RecordingTransport(IpProtocol.Icmp);
        net.B.RegisterTransport(pinger);
        byte[] data = new byte[size];
        new Random(5).NextBytes(data);
        net.B.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 3, 4, data));
        net.Pump();

        var reply = Assert.Single(pinger.Datagrams);
        Assert.True(IcmpEchoHeader.TryRead(reply.Payload, out IcmpEchoHeader.Reader echo, out _));
        Assert.Equal(IcmpType.EchoReply, echo.Type);
        Assert.Equal(data, echo.Payload.ToArray());
        int fragments = (size + 8 + ((mtu - 20) & ~7) - 1) / ((mtu - 20) & ~7);
        StackCountersSnapshot a = net.A.Counters.Snapshot();
        StackCountersSnapshot b = net.B.Counters.Snapshot();
        Assert.Equal(fragments, b.FragmentsSent);
        Assert.Equal(fragments, a.FragmentsReceived);
        Assert.Equal(1, a.Reassembled);
        Assert.Equal(fragments, a.FragmentsSent);
        Assert.Equal(1, b.Reassembled);
        Assert.Equal(a.FramesReceived, a.Delivered + a.ArpReceived + a.TotalDropped + a.FragmentsQueued);
        Assert.Equal(0, a.ReassemblyFailures);
    }

    [Fact]
    public void Reassembly_timeout_sends_time_exceeded_only_when_the_first_fragment_came()
    {
        var net = new TwoStacks();
        byte[] payload = new byte[64];
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Udp, payload.AsSpan(0, 32), moreFragments: true, id: 10));
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Udp, payload.AsSpan(0, 32), fragmentOffset: 4, moreFragments: true, id: 11));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());
        Assert.NotNull(net.A.NextDeadline);

        net.Clock.Advance(TimeSpan.FromSeconds(29));
        net.A.Poll();
        Assert.Empty(net.DeviceA.TakeSent());
        net.Clock.Advance(TimeSpan.FromSeconds(1));
        net.A.Poll();

        Ipv4Header.Reader ip = Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent()));
        Assert.Equal(IcmpType.TimeExceeded, (IcmpType)ip.Payload[0]);
        Assert.Equal((byte)IcmpTimeExceededCode.FragmentReassemblyTimeExceeded, ip.Payload[1]);
        Assert.True(IcmpQuotedDatagram.TryRead(ip.Payload[8..], out IcmpQuotedDatagram quote, out _));
        Assert.Equal(10, quote.Header.Identification);
        StackCountersSnapshot s = net.A.Counters.Snapshot();
        Assert.Equal(2, s.ReassemblyTimeouts);
        Assert.Equal(2, s.ReassemblyFailures);
        Assert.Equal(2, s.FragmentsQueued);
        Assert.Null(net.A.NextDeadline);
    }

    [Fact]
    public void Overlapping_fragments_drop_the_datagram()
    {
        var net = new TwoStacks();
        var udp = new RecordingTransport(IpProtocol.Udp);
        net.A.RegisterTransport(udp);
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Udp, new byte[16], moreFragments: true, id: 5));
        net.DeviceA.Inject(Packets.Ip(B, A, IpProtocol.Udp, Enumerable.Repeat((byte)1, 16).ToArray(), fragmentOffset: 1, id: 5));
        net.A.Poll();
        Assert.Empty(udp.Datagrams);
        Assert.Equal(1, net.A.Counters.Snapshot().DroppedFor(DropReason.ReassemblyOverlap));
    }

    [Fact]
    public void Reassembled_datagram_to_an_unknown_protocol_gets_protocol_unreachable()
    {
        var net = new TwoStacks();
        byte[] payload = new byte[40];
        payload[0] = 0xab;
        net.DeviceA.Inject(Packets.Ip(B, A, (IpProtocol)99, payload.AsSpan(16), fragmentOffset: 2, id: 9));
        net.DeviceA.Inject(Packets.Ip(B, A, (IpProtocol)99, payload.AsSpan(0, 16), moreFragments: true, id: 9));
        net.A.Poll();
        Ipv4Header.Reader ip = Packets.ReadIp(Assert.Single(net.DeviceA.TakeSent()));
        Assert.Equal((byte)IcmpUnreachableCode.ProtocolUnreachable, ip.Payload[1]);
        Assert.True(IcmpQuotedDatagram.TryRead(ip.Payload[8..], out IcmpQuotedDatagram quote, out _));
        Assert.False(quote.Header.MoreFragments);
        Assert.Equal(0xab, quote.Payload[0]);
        Assert.Equal(1, net.A.Counters.Snapshot().Reassembled);
    }
}
