using System.CommandLine;
using System.CommandLine.Completions;
using Protocols.Ip;
using Protocols.Ip.Devices.Linux;
using Protocols.Wire;

namespace Protocols.Cli.CommandLine;

/// <summary>Which kind of Linux device a verb runs on.</summary>
internal enum DeviceKind
{
    /// <summary><c>--tun NAME</c>: a TUN interface, created or attached.</summary>
    Tun,

    /// <summary><c>--raw IFACE</c>: an existing Ethernet interface through AF_PACKET.</summary>
    Raw,
}

/// <summary>The device a verb runs the stack on, and the stack's addresses there.</summary>
/// <param name="Kind">TUN or raw.</param>
/// <param name="Name">The interface name.</param>
/// <param name="Addresses">The stack's own addresses with their prefix lengths (at most one IPv4; none with <paramref name="Slaac"/> alone).</param>
/// <param name="Gateways">The routers for off-link destinations, at most one per family.</param>
/// <param name="Mtu">The MTU to use instead of the interface's, or null.</param>
/// <param name="Slaac">Take IPv6 addresses, the default router and the MTU from router advertisements.</param>
/// <param name="Offloads">Ask for offloads (virtio-net header: checksums, segmentation); false opens the device in plain mode.</param>
internal sealed record DeviceSettings(DeviceKind Kind, string Name, IReadOnlyList<InterfaceAddress> Addresses, IReadOnlyList<IpAddress> Gateways, int? Mtu, bool Slaac = false, bool Offloads = true)
{
    /// <summary>Settings with one IPv4 address and an optional IPv4 gateway.</summary>
    public DeviceSettings(DeviceKind kind, string name, Ipv4Address address, int prefixLength, Ipv4Address? gateway, int? mtu)
        : this(kind, name, [new InterfaceAddress(address, prefixLength)], gateway is { } g ? [g] : [], mtu)
    {
    }

    /// <summary>True when the stack runs IPv6 (an IPv6 address or <see cref="Slaac"/>).</summary>
    public bool HasIpv6 => Slaac || Addresses.Any(a => a.Address.IsIpv6);

    /// <summary>What <see cref="NetworkStack.AddInterface(Ip.Devices.INetworkDevice, InterfaceConfiguration)"/> takes.</summary>
    public InterfaceConfiguration Configuration => new()
    {
        Addresses = Addresses,
        Gateways = Gateways,
        Mtu = Mtu,
        Ipv6 = Slaac ? new Ipv6InterfaceOptions { AcceptRouterAdvertisements = true } : null,
    };

    /// <summary>Opens the device (needs root, or CAP_NET_ADMIN / CAP_NET_RAW).</summary>
    public LinuxDevice Open() => Kind == DeviceKind.Tun
        ? TunDevice.Open(Name, new TunDeviceOptions { Mtu = Mtu, Offloads = Offloads })
        : RawPacketDevice.Open(Name, new RawPacketDeviceOptions { Mtu = Mtu, Offloads = Offloads });

    /// <inheritdoc/>
    public bool Equals(DeviceSettings? other) =>
        other is not null && Kind == other.Kind && Name == other.Name && Addresses.SequenceEqual(other.Addresses)
        && Gateways.SequenceEqual(other.Gateways) && Mtu == other.Mtu && Slaac == other.Slaac && Offloads == other.Offloads;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Name, Addresses.Count, Gateways.Count, Mtu, Slaac, Offloads);
}

/// <summary>
/// The options of every verb that runs the stack on a real device (<c>serve</c>, <c>get</c>):
/// <c>--tun NAME | --raw IFACE</c>, <c>--address ADDR/LEN</c> (repeatable, either family),
/// <c>--gateway G</c> (repeatable, one per family), <c>--slaac</c>, <c>--mtu M</c>, <c>--no-offloads</c>.
/// </summary>
internal sealed class DeviceOptions
{
    /// <summary>Declares the options on <paramref name="command"/>.</summary>
    public DeviceOptions(Command command)
    {
        Tun = CommonOptions.Value("--tun", "NAME", "the TUN interface to create or attach to", OptionValues.InterfaceName);
        Raw = CommonOptions.Value("--raw", "IFACE", "an existing Ethernet interface to drive through AF_PACKET", OptionValues.InterfaceName);
        Tun.CompletionSources.Add(_ => NetworkInterfaceNames().Select(name => new CompletionItem(name)));
        Raw.CompletionSources.Add(_ => NetworkInterfaceNames().Select(name => new CompletionItem(name)));
        Address = CommonOptions.Repeated("--address", "ADDR/LEN", "the stack's own address and prefix length, IPv4 (A.B.C.D/LEN, at most one) or IPv6 (2001:db8::2/64); repeat for more (required unless --slaac)", OptionValues.HostPrefixes);
        Gateway = CommonOptions.Repeated("--gateway", "G", "the router for destinations off the subnets, IPv4 or IPv6 (on a subnet of --address, or link-local); at most one per family", OptionValues.Addresses);
        Slaac = CommonOptions.Flag("--slaac", "--raw: take IPv6 addresses (SLAAC), the default router, the MTU and DNS servers from router advertisements");
        Mtu = CommonOptions.Mtu(68, "the MTU to use (default: the interface's; 68 to 65535, 1280 or more with IPv6)");
        NoOffloads = CommonOptions.Flag("--no-offloads", "open the device without offloads (plain mode: one wire-sized packet per read or write, checksums in software)");
        foreach (Option option in new Option[] { Tun, Raw, Address, Gateway, Slaac, Mtu, NoOffloads })
        {
            command.Options.Add(option);
        }
    }

    /// <summary><c>--tun NAME</c>.</summary>
    public Option<string?> Tun { get; }

    /// <summary><c>--raw IFACE</c>.</summary>
    public Option<string?> Raw { get; }

    /// <summary><c>--address ADDR/LEN</c>, repeatable.</summary>
    public Option<InterfaceAddress[]> Address { get; }

    /// <summary><c>--gateway G</c>, repeatable.</summary>
    public Option<IpAddress[]> Gateway { get; }

    /// <summary><c>--slaac</c>.</summary>
    public Option<bool> Slaac { get; }

    /// <summary><c>--mtu M</c>.</summary>
    public Option<int?> Mtu { get; }

    /// <summary><c>--no-offloads</c>.</summary>
    public Option<bool> NoOffloads { get; }

    /// <summary>The device settings of <paramref name="parse"/>; throws <see cref="UsageException"/> naming the flag for a missing or inconsistent one.</summary>
    public DeviceSettings Read(ParseResult parse)
    {
        string? tun = parse.GetValue(Tun);
        string? raw = parse.GetValue(Raw);
        if ((tun is null) == (raw is null))
        {
            throw new UsageException(tun is null ? "--tun or --raw: one device is required" : "--raw: give either --tun or --raw, not both");
        }

        InterfaceAddress[] addresses = parse.GetValue(Address) ?? [];
        bool slaac = parse.GetValue(Slaac);
        if (slaac && raw is null)
        {
            throw new UsageException("--slaac: only with --raw (router advertisements come over Ethernet)");
        }

        if (addresses.Length == 0 && !slaac)
        {
            throw new UsageException("--address: required (the stack's own address, e.g. 10.66.0.2/24 or 2001:db8::2/64)");
        }

        if (addresses.Count(a => a.Address.IsIpv4) > 1)
        {
            throw new UsageException("--address: at most one IPv4 address");
        }

        for (int i = 0; i < addresses.Length; i++)
        {
            if (addresses.Take(i).Any(a => a.Address == addresses[i].Address))
            {
                throw new UsageException($"--address: {addresses[i].Address} given twice");
            }
        }

        IpAddress[] gateways = parse.GetValue(Gateway) ?? [];
        foreach (IpAddress gw in gateways)
        {
            if (gateways.Count(g => g.IsIpv6 == gw.IsIpv6) > 1)
            {
                throw new UsageException($"--gateway: at most one {(gw.IsIpv6 ? "IPv6" : "IPv4")} gateway");
            }

            bool linkLocal = gw.IsIpv6 && gw.ToIpv6().IsLinkLocal;
            bool onSubnet = addresses.Any(a => a.Address.IsIpv6 == gw.IsIpv6 && a.Address != gw && SameSubnet(a, gw));
            if (gw.IsMulticast || addresses.Any(a => a.Address == gw) || !(onSubnet || linkLocal || (gw.IsIpv6 && slaac)))
            {
                string subnets = string.Join(", ", addresses.Where(a => a.Address.IsIpv6 == gw.IsIpv6));
                throw new UsageException($"--gateway: {gw} is not another host on {(subnets.Length == 0 ? "a subnet of --address" : subnets)}");
            }
        }

        int? mtu = parse.GetValue(Mtu);
        if (mtu < Ipv6Packet.MinimumMtu && (slaac || addresses.Any(a => a.Address.IsIpv6)))
        {
            throw new UsageException($"--mtu: {mtu} is below IPv6's minimum of {Ipv6Packet.MinimumMtu}");
        }

        return new DeviceSettings(tun is null ? DeviceKind.Raw : DeviceKind.Tun, tun ?? raw!, addresses, gateways, mtu, slaac, Offloads: !parse.GetValue(NoOffloads));
    }

    /// <summary>True when <paramref name="other"/> (of the same family) is on <paramref name="subnet"/>.</summary>
    public static bool SameSubnet(InterfaceAddress subnet, IpAddress other)
    {
        if (subnet.Address.TryGetIpv4(out Ipv4Address v4))
        {
            uint mask = subnet.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - subnet.PrefixLength);
            return other.TryGetIpv4(out Ipv4Address o) && (o.ToUInt32() & mask) == (v4.ToUInt32() & mask);
        }

        return other.IsIpv6 && subnet.Address.ToIpv6().SharesPrefix(other.ToIpv6(), subnet.PrefixLength);
    }

    private static IEnumerable<string> NetworkInterfaceNames()
    {
        try
        {
            return Directory.Exists("/sys/class/net") ? Directory.EnumerateDirectories("/sys/class/net").Select(System.IO.Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList() : [];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }
}
