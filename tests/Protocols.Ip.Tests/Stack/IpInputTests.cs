using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

public class IpInputTests
{
    private static readonly Ipv4Address Us = TwoStacks.AddressA;
    private static readonly Ipv4Address Peer = TwoStacks.AddressB;

    private static (NetworkStack Stack, TestDevice Device, RecordingTransport Transport) Host()
    {
        var clock = new ManualClock();
        var device = new TestDevice("t", DeviceMedium.Ip, default);
        var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 7 });
        stack.AddInterface(device, Us, 24);
        var transport = new RecordingTransport((IpProtocol)253);
        stack.RegisterTransport(transport);
        return (stack, device, transport);
    }

    private static byte[] Valid(Ipv4Address? source = null, Ipv4Address? destination = null) =>
        Packets.Ip(source ?? Peer, destination ?? Us, (IpProtocol)253, [1, 2, 3, 4, 5, 6, 7, 8]);

    private static void Refill(byte[] p)
    {
        p[10] = 0;
        p[11] = 0;
        int hl = (p[0] & 0xf) * 4;
        ushort c = Checksum.Compute(p.AsSpan(0, Math.Min(hl, p.Length)));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), c);
    }

    [Fact]
    public void Valid_datagram_is_delivered()
    {
        var (stack, device, transport) = Host();
        device.Inject(Valid());
        stack.Poll();
        var d = Assert.Single(transport.Datagrams);
        Assert.Equal(Peer, d.Source);
        Assert.Equal(Us, d.Destination);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, d.Payload);
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(1, s.Delivered);
        Assert.Equal(0, s.TotalDropped);
    }

    [Fact]
    public void Link_padding_after_total_length_is_trimmed()
    {
        var (stack, device, transport) = Host();
        byte[] padded = [.. Valid(), 0, 0, 0, 0, 0, 0];
        device.Inject(padded);
        stack.Poll();
        Assert.Equal(8, Assert.Single(transport.Datagrams).Payload.Length);
    }

    public static TheoryData<string, DropReason> Malformations => new()
    {
        { "version6", DropReason.BadVersion },
        { "ihl4", DropReason.BadHeaderLength },
        { "ihlBeyondFrame", DropReason.BadHeaderLength },
        { "totalBelowHeader", DropReason.BadTotalLength },
        { "totalBeyondFrame", DropReason.BadTotalLength },
        { "checksum", DropReason.BadChecksum },
        { "short", DropReason.Truncated },
        { "empty", DropReason.Truncated },
        { "sourceBroadcast", DropReason.BadSourceAddress },
        { "sourceMulticast", DropReason.BadSourceAddress },
        { "sourceLoopback", DropReason.BadSourceAddress },
        { "sourceOurs", DropReason.BadSourceAddress },
        { "sourceZeroToUnicast", DropReason.BadSourceAddress },
        { "sourceSubnetBroadcast", DropReason.BadSourceAddress },
        { "sourceClassE", DropReason.BadSourceAddress },
        { "notForUs", DropReason.NotForUs },
        { "multicastDestination", DropReason.NotForUs },
        { "otherSubnetBroadcast", DropReason.NotForUs },
        { "badOptions", DropReason.BadOptions },
        { "sourceRoute", DropReason.SourceRouted },
        { "fragmentNotMultipleOf8", DropReason.Malformed },
    };

    [Theory]
    [MemberData(nameof(Malformations))]
    public void Malformed_datagrams_are_dropped_and_counted_by_reason(string kind, DropReason reason)
    {
        var (stack, device, transport) = Host();
        byte[] p = kind switch
        {
            "version6" => Set(Valid(), 0, 0x65),
            "ihl4" => Set(Valid(), 0, 0x44),
            "ihlBeyondFrame" => Set(Valid()[..24], 0, 0x47),
            "totalBelowHeader" => Refilled(SetU16(Valid(), 2, 19)),
            "totalBeyondFrame" => Refilled(SetU16(Valid(), 2, 29)),
            "checksum" => Set(Valid(), 11, (byte)(Valid()[11] ^ 1)),
            "short" => Valid()[..19],
            "empty" => [],
            "sourceBroadcast" => Valid(source: Ipv4Address.Broadcast),
            "sourceMulticast" => Valid(source: Ipv4Address.Parse("224.0.0.1")),
            "sourceLoopback" => Valid(source: Ipv4Address.Parse("127.0.0.1")),
            "sourceOurs" => Valid(source: Us),
            "sourceZeroToUnicast" => Valid(source: Ipv4Address.Any),
            "sourceSubnetBroadcast" => Valid(source: Ipv4Address.Parse("10.0.0.255")),
            "sourceClassE" => Valid(source: Ipv4Address.Parse("240.0.0.1")),
            "notForUs" => Valid(destination: Ipv4Address.Parse("10.0.0.3")),
            "multicastDestination" => Valid(destination: Ipv4Address.Parse("224.0.0.1")),
            "otherSubnetBroadcast" => Valid(destination: Ipv4Address.Parse("10.0.1.255")),
            "badOptions" => Packets.Ip(Peer, Us, (IpProtocol)253, [1, 2, 3, 4, 5, 6, 7, 8], options: [7, 2, 0, 0]),
            "sourceRoute" => Packets.Ip(Peer, Us, (IpProtocol)253, [1, 2, 3, 4, 5, 6, 7, 8], options: [131, 7, 4, 10, 0, 0, 9, 0]),
            "fragmentNotMultipleOf8" => Packets.Ip(Peer, Us, (IpProtocol)253, [1, 2, 3, 4, 5, 6, 7], moreFragments: true),
            _ => throw new ArgumentException(kind),
        };
        device.Inject(p);
        stack.Poll();
        Assert.Empty(transport.Datagrams);
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(reason));
        Assert.Equal(1, s.TotalDropped);
        Assert.Equal(1, s.FramesReceived);
        Assert.Equal(reason == DropReason.BadChecksum ? 1 : 0, s.ChecksumErrors);
    }

    [Theory]
    [InlineData("ihl4", "t: dropped (BadHeaderLength): IPv4.Ihl: invalid value 4 (expected 5) at offset 0")]
    [InlineData("totalBeyondFrame", "t: dropped (BadTotalLength): IPv4.TotalLength: need 29 bytes, have 28 (limited by buffer) at offset 0")]
    [InlineData("short", "t: dropped (Truncated): IPv4.Destination: need 20 bytes, have 19 (limited by buffer) at offset 0")]
    public void Drops_say_which_layer_and_field_when_debug_is_on(string kind, string line)
    {
        var logger = new ListLogger(Microsoft.Extensions.Logging.LogLevel.Debug);
        var device = new TestDevice("t", DeviceMedium.Ip, default);
        var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = new ManualClock(), Seed = 7, Logger = logger });
        stack.AddInterface(device, Us, 24);
        device.Inject(kind switch
        {
            "ihl4" => Set(Valid(), 0, 0x44),
            "totalBeyondFrame" => Refilled(SetU16(Valid(), 2, 29)),
            _ => Valid()[..19],
        });
        stack.Poll();
        Assert.Equal(line, Assert.Single(logger.Entries).Message);
        Assert.Equal(1, stack.Counters.Snapshot().TotalDropped);
    }

    [Fact]
    public void Malformed_options_answer_with_parameter_problem_pointing_at_the_option()
    {
        var (stack, device, _) = Host();
        device.Inject(Packets.Ip(Peer, Us, (IpProtocol)253, [1, 2, 3, 4, 5, 6, 7, 8], options: [1, 7, 2, 0]));
        stack.Poll();
        Ipv4Header.Reader reply = Packets.ReadIp(Assert.Single(device.TakeSent()));
        Assert.Equal(IcmpType.ParameterProblem, (IcmpType)reply.Payload[0]);
        Assert.Equal(22, reply.Payload[4]); // the length octet of the record route option at offset 21
    }

    [Fact]
    public void Valid_options_are_accepted()
    {
        var (stack, device, transport) = Host();
        device.Inject(Packets.Ip(Peer, Us, (IpProtocol)253, [9], options: [7, 7, 4, 0, 0, 0, 0, 1]));
        stack.Poll();
        Assert.Single(transport.Datagrams);
    }

    [Fact]
    public void Broadcasts_are_accepted_and_marked()
    {
        var (stack, device, transport) = Host();
        device.Inject(Valid(destination: Ipv4Address.Broadcast));
        device.Inject(Valid(destination: Ipv4Address.Parse("10.0.0.255")));
        device.Inject(Valid(source: Ipv4Address.Any, destination: Ipv4Address.Broadcast)); // DHCP-like
        stack.Poll();
        Assert.Equal(3, transport.Datagrams.Count);
        Assert.All(transport.Datagrams, d => Assert.True(d.Broadcast));
    }

    [Fact]
    public void Device_verified_checksums_are_not_rechecked()
    {
        var (stack, device, transport) = Host();
        device.Capabilities = DeviceCapabilities.ReceiveChecksumsVerified;
        byte[] p = Valid();
        p[10] ^= 0xff;
        device.Inject(p);
        stack.Poll();
        Assert.Single(transport.Datagrams);
    }

    [Fact]
    public void Ethernet_frames_for_other_stations_and_other_ether_types_are_dropped()
    {
        var clock = new ManualClock();
        var device = new TestDevice("e", DeviceMedium.Ethernet, MacAddress.Create(2, 0, 0, 0, 0, 1));
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock });
        stack.AddInterface(device, Us, 24);
        var transport = new RecordingTransport((IpProtocol)253);
        stack.RegisterTransport(transport);
        MacAddress peer = MacAddress.Create(2, 0, 0, 0, 0, 2);
        device.Inject(Packets.Ethernet(MacAddress.Create(2, 0, 0, 0, 0, 9), peer, EtherType.Ipv4, Valid()));
        device.Inject(Packets.Ethernet(device.HardwareAddress, peer, EtherType.Ipv6, Valid()));
        device.Inject(new byte[10]);
        device.Inject(Packets.Ethernet(device.HardwareAddress, peer, EtherType.Ipv4, [.. Valid(), 0, 0, 0, 0]));
        stack.Poll();
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(1, s.DroppedFor(DropReason.NotForUs));
        Assert.Equal(1, s.DroppedFor(DropReason.UnsupportedEtherType));
        Assert.Equal(1, s.DroppedFor(DropReason.Truncated));
        Assert.Single(transport.Datagrams);
    }

    [Fact]
    public void Datagrams_to_our_own_address_go_through_loopback()
    {
        var (stack, device, transport) = Host();
        IpSendResult r = stack.SendDatagram(new IpSendRequest(Us, (IpProtocol)253), [5, 6]);
        Assert.Equal(IpSendResult.Sent, r);
        Assert.Empty(device.TakeSent());
        stack.Poll();
        var d = Assert.Single(transport.Datagrams);
        Assert.Equal(Us, d.Source);
        Assert.Equal(new byte[] { 5, 6 }, d.Payload);
    }

    [Fact]
    public void Duplicate_transport_registration_throws()
    {
        var (stack, _, _) = Host();
        Assert.Throws<InvalidOperationException>(() => stack.RegisterTransport(new RecordingTransport((IpProtocol)253)));
    }

    private static byte[] Set(byte[] p, int at, byte value)
    {
        p[at] = value;
        Refill(p);
        if (at is 10 or 11)
        {
            p[at] = value;
        }

        return p;
    }

    private static byte[] SetU16(byte[] p, int at, ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(at), value);
        return p;
    }

    private static byte[] Refilled(byte[] p)
    {
        Refill(p);
        return p;
    }
}
