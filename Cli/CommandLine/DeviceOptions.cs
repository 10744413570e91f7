using System.CommandLine;
using System.CommandLine.Completions;
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

/// <summary>The device a verb runs the stack on, and the stack's address there.</summary>
/// <param name="Kind">TUN or raw.</param>
/// <param name="Name">The interface name.</param>
/// <param name="Address">The stack's own address.</param>
/// <param name="PrefixLength">The subnet's prefix length.</param>
/// <param name="Gateway">The router for off-link destinations, or null.</param>
/// <param name="Mtu">The MTU to use instead of the interface's, or null.</param>
/// <param name="Offloads">Ask for offloads (virtio-net header: checksums, segmentation); false opens the device in plain mode.</param>
internal sealed record DeviceSettings(DeviceKind Kind, string Name, Ipv4Address Address, int PrefixLength, Ipv4Address? Gateway, int? Mtu, bool Offloads = true)
{
    /// <summary>Opens the device (needs root, or CAP_NET_ADMIN / CAP_NET_RAW).</summary>
    public LinuxDevice Open() => Kind == DeviceKind.Tun
        ? TunDevice.Open(Name, new TunDeviceOptions { Mtu = Mtu, Offloads = Offloads })
        : RawPacketDevice.Open(Name, new RawPacketDeviceOptions { Mtu = Mtu, Offloads = Offloads });
}

/// <summary>
/// The options of every verb that runs the stack on a real device (<c>serve</c>, <c>get</c>):
/// <c>--tun NAME | --raw IFACE</c>, <c>--address A.B.C.D/LEN</c>, <c>--gateway G</c>, <c>--mtu M</c>, <c>--no-offloads</c>.
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
        Address = CommonOptions.Value("--address", "A.B.C.D/LEN", "the stack's own address and prefix length (required)", OptionValues.HostPrefix);
        Gateway = CommonOptions.Value("--gateway", "G", "the router for destinations off the subnet", OptionValues.Ipv4);
        Mtu = CommonOptions.Mtu(68, "the MTU to use (default: the interface's; 68 to 65535)");
        NoOffloads = CommonOptions.Flag("--no-offloads", "open the device without offloads (plain mode: one wire-sized packet per read or write, checksums in software)");
        foreach (Option option in new Option[] { Tun, Raw, Address, Gateway, Mtu, NoOffloads })
        {
            command.Options.Add(option);
        }
    }

    /// <summary><c>--tun NAME</c>.</summary>
    public Option<string?> Tun { get; }

    /// <summary><c>--raw IFACE</c>.</summary>
    public Option<string?> Raw { get; }

    /// <summary><c>--address A.B.C.D/LEN</c>.</summary>
    public Option<InterfaceAddress?> Address { get; }

    /// <summary><c>--gateway G</c>.</summary>
    public Option<Ipv4Address?> Gateway { get; }

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

        InterfaceAddress own = parse.GetValue(Address) ?? throw new UsageException("--address: required (the stack's own address, e.g. 10.66.0.2/24)");
        Ipv4Address? gateway = parse.GetValue(Gateway);
        if (gateway is { } gw && (!own.Contains(gw) || gw == own.Address))
        {
            throw new UsageException($"--gateway: {gw} is not another host on {own}");
        }

        return new DeviceSettings(tun is null ? DeviceKind.Raw : DeviceKind.Tun, tun ?? raw!, own.Address, own.PrefixLength, gateway, parse.GetValue(Mtu), Offloads: !parse.GetValue(NoOffloads));
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
