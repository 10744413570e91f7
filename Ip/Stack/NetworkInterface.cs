using Protocols.Ip.Arp;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// One interface of a <see cref="NetworkStack"/>: a device with, for IPv4, an address, the prefix of
/// its directly attached subnet and an optional gateway; for IPv6, a link-local address, configured
/// or autoconfigured addresses, on-link prefixes and default routers (<see cref="Ipv6Addresses"/>);
/// and an MTU. Made by <see cref="NetworkStack.AddInterface(INetworkDevice, InterfaceConfiguration)"/>.
/// </summary>
public sealed class NetworkInterface
{
    internal NetworkInterface(NetworkStack stack, int index, INetworkDevice device, InterfaceAddress? ipv4, Ipv4Address? gateway, int mtu)
    {
        Index = index;
        Device = device;
        Mtu = mtu;
        HasIpv4 = ipv4 is not null;
        Address = ipv4 is { } a ? a.Address.ToIpv4() : Ipv4Address.Any;
        PrefixLength = ipv4?.PrefixLength ?? 0;
        Gateway = gateway;
        uint mask = PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);
        MaskValue = HasIpv4 ? mask : uint.MaxValue;
        NetworkValue = HasIpv4 ? Address.ToUInt32() & mask : 0u;

        // RFC 919/922: the directed broadcast is the network with all host bits set; /31 and /32
        // subnets have none (RFC 3021).
        BroadcastValue = HasIpv4 && PrefixLength <= 30 ? NetworkValue | ~mask : 0u;
        IsEthernet = device.Medium == DeviceMedium.Ethernet;
        Arp = IsEthernet && HasIpv4 ? new ArpCache(stack, this) : null;
        Handler = (frame, in offload) => stack.OnBatchFrame(this, frame, offload);
        PlainHandler = frame => stack.OnBatchFrame(this, frame, default);
    }

    /// <summary>The position of the interface in the stack, from 0 in the order added.</summary>
    public int Index { get; }

    /// <summary>The device frames go through.</summary>
    public INetworkDevice Device { get; }

    /// <summary>The device's name.</summary>
    public string Name => Device.Name;

    /// <summary>True when the interface has an IPv4 address.</summary>
    public bool HasIpv4 { get; }

    /// <summary>True when IPv6 runs on the interface.</summary>
    public bool HasIpv6 => Ipv6 is not null;

    /// <summary>The interface's IPv4 address (0.0.0.0 when it has none).</summary>
    public Ipv4Address Address { get; }

    /// <summary>The prefix length of the directly attached IPv4 subnet (0..32).</summary>
    public int PrefixLength { get; }

    /// <summary>The IPv4 gateway for destinations off the subnet, or null when there is none on this interface.</summary>
    public Ipv4Address? Gateway { get; }

    /// <summary>The largest IP packet sent on this interface; larger IPv4 datagrams are fragmented (RFC 791 2.3).</summary>
    public int Mtu { get; }

    /// <summary>The MTU IPv6 uses on the link: <see cref="Mtu"/>, lowered by a router's MTU option (RFC 4861 6.3.4); 0 without IPv6.</summary>
    public int Ipv6Mtu => Ipv6?.LinkMtu ?? 0;

    /// <summary>The subnet's network address.</summary>
    public Ipv4Address Network => Ipv4Address.FromUInt32(NetworkValue);

    /// <summary>The subnet's directed broadcast address; 0.0.0.0 for /31 and /32 (which have none).</summary>
    public Ipv4Address BroadcastAddress => Ipv4Address.FromUInt32(BroadcastValue);

    /// <summary>The device's hardware address (Ethernet medium).</summary>
    public MacAddress HardwareAddress => Device.HardwareAddress;

    /// <summary>The interface's ARP cache (Ethernet medium with IPv4); null otherwise.</summary>
    public ArpCache? Arp { get; }

    /// <summary>The IPv6 neighbour cache (Ethernet medium with IPv6); null otherwise.</summary>
    public NeighborCache? Neighbors { get; private set; }

    /// <summary>The IPv6 addresses and their states (a copy; call on the loop).</summary>
    public IReadOnlyList<Ipv6AddressInfo> Ipv6Addresses => Ipv6?.Addresses ?? [];

    /// <summary>The IPv6 link-local address once duplicate address detection is done, or null.</summary>
    public Ipv6Address? LinkLocalAddress => Ipv6?.LinkLocalAddress;

    /// <summary>The IPv6 default routers: the configured gateway and those router advertisements named (a copy; call on the loop).</summary>
    public IReadOnlyList<Ipv6RouterInfo> Ipv6Routers => Ipv6?.Routers ?? [];

    /// <summary>The IPv6 on-link prefixes: those of configured addresses and advertised ones (a copy; call on the loop).</summary>
    public IReadOnlyList<Ipv6PrefixInfo> Ipv6Prefixes => Ipv6?.Prefixes ?? [];

    /// <summary>DNS servers router advertisements named (RFC 8106), for the application's resolver (a copy; call on the loop).</summary>
    public IReadOnlyList<Ipv6Address> DnsServers => Ipv6?.DnsServers ?? [];

    internal Ipv6Interface? Ipv6 { get; private set; }

    internal uint MaskValue { get; }

    internal uint NetworkValue { get; }

    internal uint BroadcastValue { get; }

    internal uint AddressValue => Address.ToUInt32();

    /// <summary>
    /// Transparent mode (what a tun2socks forwarder needs, gVisor's promiscuous mode and spoofing
    /// together): every unicast IPv4 datagram arriving here is taken as addressed to this stack, whatever
    /// its destination, and the stack may send from any address through this interface (the replies
    /// of a connection accepted for another address carry that address). Off by default. Set it
    /// before the loop runs (or on it). The checks on sources (RFC 1122 3.2.1.3) still apply.
    /// </summary>
    public bool AcceptAnyDestination { get; set; }

    internal OffloadFrameHandler Handler { get; }

    /// <summary>The handler for a device that hands up no per-frame offload state: made once, so a device implementing only the plain overload costs no allocation per poll.</summary>
    internal FrameHandler PlainHandler { get; }

    /// <summary>What the device offloads in its current mode (on, refused and why, unsupported).</summary>
    public DeviceOffloadStatus Offloads => Device.OffloadStatus;

    internal bool IsEthernet { get; }

    /// <summary>True when <paramref name="address"/> is on this interface's IPv4 subnet (directly reachable).</summary>
    public bool IsOnLink(Ipv4Address address) => HasIpv4 && (address.ToUInt32() & MaskValue) == NetworkValue;

    /// <summary>True when <paramref name="address"/> is on one of this interface's IPv6 on-link prefixes (or link-local).</summary>
    public bool IsOnLink(Ipv6Address address) => Ipv6 is { } v6 && v6.IsOnLink(address, out _);

    /// <inheritdoc/>
    public override string ToString()
    {
        var parts = new List<string> { Name };
        if (HasIpv4)
        {
            parts.Add($"{Address}/{PrefixLength}" + (Gateway is { } g ? $" via {g}" : string.Empty));
        }

        if (Ipv6 is { } v6)
        {
            parts.AddRange(v6.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"));
            if (v6.ConfiguredGateway is { } g6)
            {
                parts.Add($"via {g6}");
            }
        }

        parts.Add($"mtu {Mtu}");
        return string.Join(' ', parts);
    }

    internal void EnableIpv6(Ipv6Interface ipv6, NetworkStack stack)
    {
        Ipv6 = ipv6;
        Neighbors = IsEthernet ? new NeighborCache(stack, this) : null;
    }
}
