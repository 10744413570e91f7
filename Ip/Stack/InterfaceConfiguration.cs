using System.Globalization;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>An address of an interface with the prefix length of its subnet: <c>10.0.0.2/24</c>, <c>2001:db8::2/64</c>.</summary>
/// <param name="Address">The address (IPv4 or IPv6).</param>
/// <param name="PrefixLength">The prefix length: 0..32 for IPv4, 0..128 for IPv6.</param>
public readonly record struct InterfaceAddress(IpAddress Address, int PrefixLength)
{
    /// <summary>Parses <c>ADDRESS/LENGTH</c> of either family.</summary>
    /// <param name="text">The text.</param>
    /// <param name="value">The address, when the text is one.</param>
    /// <returns>Whether the text is an address with a valid prefix length.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out InterfaceAddress value)
    {
        value = default;
        int slash = text.IndexOf('/');
        if (slash <= 0
            || !IpAddress.TryParse(text[..slash], out IpAddress address)
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length > (address.IsIpv6 ? 128 : 32))
        {
            return false;
        }

        value = new InterfaceAddress(address, length);
        return true;
    }

    /// <summary>Parses <c>ADDRESS/LENGTH</c>, throwing <see cref="FormatException"/> when the text is not one.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The address.</returns>
    public static InterfaceAddress Parse(string text) =>
        TryParse(text, out InterfaceAddress value) ? value : throw new FormatException($"'{text}' is not ADDRESS/LENGTH");

    /// <summary><c>ADDRESS/LENGTH</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}/{PrefixLength}");
}

/// <summary>How an interface makes its IPv6 link-local address (RFC 4291 2.5.6).</summary>
public enum LinkLocalMode
{
    /// <summary>Modified EUI-64 from the MAC address on Ethernet (RFC 4291 2.5.1, RFC 2464 4), a stable identifier (RFC 7217) on other media.</summary>
    Automatic = 0,

    /// <summary>Modified EUI-64 from the MAC address (Ethernet only).</summary>
    Eui64,

    /// <summary>A semantically opaque, stable identifier (RFC 7217) from a secret, the interface name and the prefix.</summary>
    StablePrivacy,

    /// <summary>No link-local address (neighbour discovery then cannot run: only for point-to-point media such as TUN).</summary>
    None,
}

/// <summary>IPv6 on one interface.</summary>
public sealed record Ipv6InterfaceOptions
{
    /// <summary>How the link-local address is made.</summary>
    public LinkLocalMode LinkLocal { get; init; } = LinkLocalMode.Automatic;

    /// <summary>
    /// Listen to router advertisements (RFC 4861 6.3.4): solicit them when the interface starts,
    /// take default routers, on-link prefixes, the MTU, the hop limit and DNS servers (RFC 8106)
    /// from them, and autoconfigure addresses from their prefixes (SLAAC, RFC 4862 5.5). Off by
    /// default: configured addresses and gateway only.
    /// </summary>
    public bool AcceptRouterAdvertisements { get; init; }

    /// <summary>The 128-bit secret of RFC 7217 identifiers; null for one drawn at random per stack (or from its seed).</summary>
    public byte[]? StableSecret { get; init; }
}

/// <summary>
/// What <see cref="NetworkStack.AddInterface(Devices.INetworkDevice, InterfaceConfiguration)"/> sets up: addresses of
/// either family, at most one gateway per family, the MTU and IPv6's own settings.
/// </summary>
public sealed record InterfaceConfiguration
{
    /// <summary>The interface's addresses: at most one IPv4 address, any number of IPv6 ones. IPv6 runs on the interface when one is given or <see cref="Ipv6"/> is set.</summary>
    public IReadOnlyList<InterfaceAddress> Addresses { get; init; } = [];

    /// <summary>Gateways (default routers): at most one per family, each on one of the interface's subnets (an IPv6 gateway may also be link-local).</summary>
    public IReadOnlyList<IpAddress> Gateways { get; init; } = [];

    /// <summary>The interface MTU; null for the device's. At least 68, and 1280 when IPv6 runs (RFC 8200 5).</summary>
    public int? Mtu { get; init; }

    /// <summary>IPv6 settings; null to run IPv6 with the defaults only when an IPv6 address is configured.</summary>
    public Ipv6InterfaceOptions? Ipv6 { get; init; }
}
