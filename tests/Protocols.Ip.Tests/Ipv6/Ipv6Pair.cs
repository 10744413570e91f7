using Protocols.Ip.Devices;
using Protocols.Ip.Tests.Stack;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Ipv6;

/// <summary>Two IPv6 stacks (2001:db8::1 and 2001:db8::2 /64) on test devices, with a manual clock.</summary>
internal sealed class Ipv6Pair
{
    public static readonly Ipv6Address AddressA = Ipv6Address.Parse("2001:db8::1");
    public static readonly Ipv6Address AddressB = Ipv6Address.Parse("2001:db8::2");

    public Ipv6Pair(DeviceMedium medium = DeviceMedium.Ethernet, int mtu = 1500, Func<NetworkStackOptions, NetworkStackOptions>? options = null, Ipv6InterfaceOptions? ipv6A = null, Ipv6InterfaceOptions? ipv6B = null, bool addB = true, Ipv6Address? addressB = null)
    {
        Clock = new ManualClock();
        (DeviceA, DeviceB) = TestDevice.Pair(medium, mtu);
        A = new NetworkStack((options ?? (o => o))(new NetworkStackOptions { TimeProvider = Clock, Seed = 1, Name = "a" }));
        B = new NetworkStack((options ?? (o => o))(new NetworkStackOptions { TimeProvider = Clock, Seed = 2, Name = "b" }));
        NicA = A.AddInterface(DeviceA, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressA, 64)], Ipv6 = ipv6A });
        if (addB)
        {
            NicB = B.AddInterface(DeviceB, new InterfaceConfiguration { Addresses = [new InterfaceAddress(addressB ?? AddressB, 64)], Ipv6 = ipv6B });
        }

        TransportA = new RecordingTransport(IpProtocol.Udp);
        TransportB = new RecordingTransport(IpProtocol.Udp);
        IcmpA = new RecordingTransport(IpProtocol.Icmpv6);
        A.RegisterTransport(TransportA);
        B.RegisterTransport(TransportB);
        A.RegisterTransport(IcmpA);
    }

    public ManualClock Clock { get; }

    public TestDevice DeviceA { get; }

    public TestDevice DeviceB { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public NetworkInterface NicA { get; }

    public NetworkInterface? NicB { get; private set; }

    public RecordingTransport TransportA { get; }

    public RecordingTransport TransportB { get; }

    public RecordingTransport IcmpA { get; }

    public void AddB(Ipv6Address address, Ipv6InterfaceOptions? options = null) =>
        NicB = B.AddInterface(DeviceB, new InterfaceConfiguration { Addresses = [new InterfaceAddress(address, 64)], Ipv6 = options });

    /// <summary>Polls both stacks until neither has work (bounded).</summary>
    public void Pump()
    {
        for (int i = 0; i < 10_000; i++)
        {
            if (A.Poll() + B.Poll() == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("the stacks never went idle");
    }

    /// <summary>Advances the clock in steps, polling, until <paramref name="span"/> has passed.</summary>
    public void RunFor(TimeSpan span, TimeSpan? step = null)
    {
        TimeSpan s = step ?? TimeSpan.FromMilliseconds(50);
        Pump();
        for (TimeSpan t = TimeSpan.Zero; t < span; t += s)
        {
            Clock.Advance(s);
            Pump();
        }
    }

    /// <summary>Runs until duplicate address detection is over on both sides (a few seconds of virtual time).</summary>
    public void Settle() => RunFor(TimeSpan.FromSeconds(3));

    /// <summary>A UDP-like payload from port 4000 to 5000.</summary>
    public static byte[] Udp(int dataLength = 4) => Packets.Ports(4000, 5000, dataLength);

    /// <summary>The IPv6 packets a device sent (Ethernet headers stripped; other frames skipped).</summary>
    public static List<byte[]> Ipv6Sent(TestDevice device)
    {
        var packets = new List<byte[]>();
        foreach (byte[] frame in device.TakeSent())
        {
            if (device.Medium == DeviceMedium.Ip)
            {
                packets.Add(frame);
            }
            else if (frame.Length > 14 && frame[12] == 0x86 && frame[13] == 0xdd)
            {
                packets.Add(frame[14..]);
            }
        }

        return packets;
    }

    /// <summary>The ICMPv6 messages of <paramref name="packets"/> (type, whole packet), extension headers skipped.</summary>
    public static List<(Icmpv6Type Type, byte[] Packet, int At)> Icmpv6(IEnumerable<byte[]> packets)
    {
        var list = new List<(Icmpv6Type, byte[], int)>();
        foreach (byte[] p in packets)
        {
            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(p);
            if (chain.Status == Ipv6ChainStatus.UpperLayer && chain.NextHeader == IpProtocol.Icmpv6 && p.Length > chain.PayloadOffset)
            {
                list.Add(((Icmpv6Type)p[chain.PayloadOffset], p, chain.PayloadOffset));
            }
        }

        return list;
    }

    /// <summary>Frames a packet for <paramref name="device"/>'s medium (Ethernet to its MAC, or multicast MAC).</summary>
    public static byte[] Frame(TestDevice device, byte[] packet, MacAddress from)
    {
        if (device.Medium == DeviceMedium.Ip)
        {
            return packet;
        }

        var destination = Ipv6Address.Create(packet.AsSpan(24));
        MacAddress to = destination.IsMulticast ? MacAddress.Create(0x33, 0x33, destination[12], destination[13], destination[14], destination[15]) : device.HardwareAddress;
        return Packets.Ethernet(to, from, EtherType.Ipv6, packet);
    }
}
