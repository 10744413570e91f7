using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// Router solicitation (RFC 4861 4.1, type 133): 8 bytes, then options (the source link-layer
/// address, unless sent from the unspecified address). Code 0 only (RFC 4861 6.1.1).
/// </summary>
[WireHeader("NDP")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct NdpRouterSolicitationHeader
{
    /// <summary>Always <see cref="Icmpv6Type.RouterSolicitation"/>.</summary>
    [Const(133)]
    public Icmpv6Type Type;

    /// <summary>Always 0.</summary>
    [Const(0)]
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Zero when sent, ignored when received.</summary>
    public uint Reserved;
}

/// <summary>
/// Router advertisement (RFC 4861 4.2, type 134): 16 bytes, then options (source link-layer
/// address, MTU, prefix information, RDNSS...). Code 0 only (RFC 4861 6.1.2).
/// </summary>
[WireHeader("NDP")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct NdpRouterAdvertisementHeader
{
    /// <summary>Always <see cref="Icmpv6Type.RouterAdvertisement"/>.</summary>
    [Const(134)]
    public Icmpv6Type Type;

    /// <summary>Always 0.</summary>
    [Const(0)]
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>The hop limit hosts should use; 0 for unspecified.</summary>
    public byte CurHopLimit;

    /// <summary>M: addresses are available through DHCPv6.</summary>
    [Bits(1)]
    public bool ManagedAddressConfiguration;

    /// <summary>O: other configuration is available through DHCPv6.</summary>
    [Bits(1)]
    public bool OtherConfiguration;

    /// <summary>Reserved and later-defined flag bits (home agent, router preference, proxy).</summary>
    [Bits(6)]
    public byte Flags;

    /// <summary>Seconds the router may be a default router; 0: not a default router.</summary>
    public ushort RouterLifetime;

    /// <summary>Milliseconds a neighbour stays reachable after a confirmation (RFC 4861 6.3.2); 0 for unspecified.</summary>
    public uint ReachableTime;

    /// <summary>Milliseconds between retransmitted neighbour solicitations; 0 for unspecified.</summary>
    public uint RetransTimer;
}

/// <summary>
/// Neighbor solicitation (RFC 4861 4.3, type 135): the target address, then options (source
/// link-layer address, absent in duplicate address detection). Code 0 only (RFC 4861 7.1.1).
/// </summary>
[WireHeader("NDP")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct NdpNeighborSolicitationHeader
{
    /// <summary>Always <see cref="Icmpv6Type.NeighborSolicitation"/>.</summary>
    [Const(135)]
    public Icmpv6Type Type;

    /// <summary>Always 0.</summary>
    [Const(0)]
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Zero when sent, ignored when received.</summary>
    public uint Reserved;

    /// <summary>The address whose link-layer address is sought; never multicast.</summary>
    public Ipv6Address TargetAddress;
}

/// <summary>
/// Neighbor advertisement (RFC 4861 4.4, type 136): flags, the target address, then options
/// (target link-layer address). Code 0 only (RFC 4861 7.1.2).
/// </summary>
[WireHeader("NDP")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct NdpNeighborAdvertisementHeader
{
    /// <summary>Always <see cref="Icmpv6Type.NeighborAdvertisement"/>.</summary>
    [Const(136)]
    public Icmpv6Type Type;

    /// <summary>Always 0.</summary>
    [Const(0)]
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>R: the sender is a router.</summary>
    [Bits(1)]
    public bool Router;

    /// <summary>S: sent in response to a solicitation.</summary>
    [Bits(1)]
    public bool Solicited;

    /// <summary>O: the advertisement should override a cached link-layer address.</summary>
    [Bits(1)]
    public bool Override;

    /// <summary>Zero when sent, ignored when received.</summary>
    [Bits(29)]
    public uint Reserved;

    /// <summary>The solicitation's target, or the address whose link-layer address changed.</summary>
    public Ipv6Address TargetAddress;
}

/// <summary>
/// Redirect (RFC 4861 4.5, type 137): a better first hop for a destination, then options (target
/// link-layer address, redirected header). Code 0 only (RFC 4861 8.1).
/// </summary>
[WireHeader("NDP")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct NdpRedirectHeader
{
    /// <summary>Always <see cref="Icmpv6Type.Redirect"/>.</summary>
    [Const(137)]
    public Icmpv6Type Type;

    /// <summary>Always 0.</summary>
    [Const(0)]
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Zero when sent, ignored when received.</summary>
    public uint Reserved;

    /// <summary>The better first hop (a link-local router address), or the destination itself when it is on-link.</summary>
    public Ipv6Address TargetAddress;

    /// <summary>The destination that is redirected.</summary>
    public Ipv6Address DestinationAddress;
}
