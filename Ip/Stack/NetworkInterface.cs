using Protocols.Ip.Arp;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// One interface of a <see cref="NetworkStack"/>: a device with an IPv4 address, the prefix of its
/// directly attached subnet, an optional gateway (a default route through it) and an MTU.
/// Made by <see cref="NetworkStack.AddInterface"/>.
/// </summary>
public sealed class NetworkInterface
{
    internal NetworkInterface(NetworkStack stack, int index, INetworkDevice device, Ipv4Address address, int prefixLength, Ipv4Address? gateway, int mtu)
    {
        Index = index;
        Device = device;
        Address = address;
        PrefixLength = prefixLength;
        Gateway = gateway;
        Mtu = mtu;
        uint mask = prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);
        MaskValue = mask;
        NetworkValue = address.ToUInt32() & mask;

        // RFC 919/922: the directed broadcast is the network with all host bits set; /31 and /32
        // subnets have none (RFC 3021).
        BroadcastValue = prefixLength <= 30 ? NetworkValue | ~mask : 0u;
        Arp = device.Medium == DeviceMedium.Ethernet ? new ArpCache(stack, this) : null;
        Handler = (frame, in offload) => stack.OnFrame(this, frame, offload);
    }

    /// <summary>The position of the interface in the stack, from 0 in the order added.</summary>
    public int Index { get; }

    /// <summary>The device frames go through.</summary>
    public INetworkDevice Device { get; }

    /// <summary>The device's name.</summary>
    public string Name => Device.Name;

    /// <summary>The interface's IPv4 address.</summary>
    public Ipv4Address Address { get; }

    /// <summary>The prefix length of the directly attached subnet (0..32).</summary>
    public int PrefixLength { get; }

    /// <summary>The gateway for destinations off the subnet, or null when there is none on this interface.</summary>
    public Ipv4Address? Gateway { get; }

    /// <summary>The largest IP datagram sent on this interface; larger ones are fragmented (RFC 791 2.3).</summary>
    public int Mtu { get; }

    /// <summary>The subnet's network address.</summary>
    public Ipv4Address Network => Ipv4Address.FromUInt32(NetworkValue);

    /// <summary>The subnet's directed broadcast address; 0.0.0.0 for /31 and /32 (which have none).</summary>
    public Ipv4Address BroadcastAddress => Ipv4Address.FromUInt32(BroadcastValue);

    /// <summary>The device's hardware address (Ethernet medium).</summary>
    public MacAddress HardwareAddress => Device.HardwareAddress;

    internal uint MaskValue { get; }

    internal uint NetworkValue { get; }

    internal uint BroadcastValue { get; }

    internal uint AddressValue => Address.ToUInt32();

    /// <summary>The interface's ARP cache (Ethernet medium); null for IP-medium devices.</summary>
    public ArpCache? Arp { get; }

    internal OffloadFrameHandler Handler { get; }

    /// <summary>What the device offloads in its current mode (on, refused and why, unsupported).</summary>
    public DeviceOffloadStatus Offloads => Device.OffloadStatus;

    internal bool IsEthernet => Arp is not null;

    /// <summary>True when <paramref name="address"/> is on this interface's subnet (directly reachable).</summary>
    public bool IsOnLink(Ipv4Address address) => (address.ToUInt32() & MaskValue) == NetworkValue;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Address}/{PrefixLength}" + (Gateway is { } g ? $" via {g}" : string.Empty) + $" mtu {Mtu}";
}
