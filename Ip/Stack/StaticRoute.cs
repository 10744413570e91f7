using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// A static route (RFC 1812 5.2.4.3): datagrams to <see cref="Prefix"/>/<see cref="PrefixLength"/>
/// leave through <see cref="Interface"/>, to <see cref="Gateway"/> when one is given, else straight
/// to their destination (an on-link route). Added with <see cref="NetworkStack.AddRoute"/>; the
/// longest matching prefix wins over the interfaces' own subnets and their default gateways.
/// </summary>
/// <param name="Prefix">The destination prefix (host bits are cleared when the route is added).</param>
/// <param name="PrefixLength">0 to 32; 0 is a default route.</param>
/// <param name="Gateway">The next hop, on the subnet of <paramref name="Interface"/>; null for an on-link route.</param>
/// <param name="Interface">The interface datagrams leave through.</param>
public sealed record StaticRoute(Ipv4Address Prefix, int PrefixLength, Ipv4Address? Gateway, NetworkInterface Interface)
{
    internal uint MaskValue => PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);

    internal uint PrefixValue => Prefix.ToUInt32() & MaskValue;

    /// <summary>True when the route covers <paramref name="destination"/>.</summary>
    internal bool Matches(uint destination) => (destination & MaskValue) == PrefixValue;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Prefix}/{PrefixLength} " + (Gateway is { } g ? $"via {g} " : string.Empty) + $"dev {Interface.Name}";
}
