using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Where an IPv6 address of an interface stands (RFC 4862 2).</summary>
public enum Ipv6AddressState
{
    /// <summary>Duplicate address detection is running: not used as a source, packets to it are discarded (RFC 4862 5.4).</summary>
    Tentative = 0,

    /// <summary>Valid and preferred: used freely.</summary>
    Preferred,

    /// <summary>Valid but deprecated (its preferred lifetime ran out): kept for existing communication, not chosen for new (RFC 4862 5.5.4).</summary>
    Deprecated,

    /// <summary>Duplicate address detection found another node using it: never used (RFC 4862 5.4.5).</summary>
    Duplicate,
}

/// <summary>How an IPv6 address came to an interface.</summary>
public enum Ipv6AddressOrigin
{
    /// <summary>The link-local address (RFC 4862 5.3).</summary>
    LinkLocal = 0,

    /// <summary>Configured.</summary>
    Static,

    /// <summary>Stateless autoconfiguration from a router advertisement's prefix (RFC 4862 5.5.3).</summary>
    Autoconfigured,
}

/// <summary>One IPv6 address of an interface, as <see cref="NetworkInterface.Ipv6Addresses"/> shows it.</summary>
/// <param name="Address">The address.</param>
/// <param name="PrefixLength">The prefix length of its subnet.</param>
/// <param name="State">Tentative, preferred, deprecated or duplicate.</param>
/// <param name="Origin">Link-local, configured or autoconfigured.</param>
/// <param name="ValidUntil">When it goes away; null for never.</param>
/// <param name="PreferredUntil">When it becomes deprecated; null for never.</param>
public readonly record struct Ipv6AddressInfo(Ipv6Address Address, int PrefixLength, Ipv6AddressState State, Ipv6AddressOrigin Origin, DateTimeOffset? ValidUntil, DateTimeOffset? PreferredUntil);

/// <summary>A default router learnt from a router advertisement or configured (RFC 4861 6.3.4).</summary>
/// <param name="Address">The router's link-local (or configured) address.</param>
/// <param name="ExpiresAt">When its router lifetime runs out; null for a configured gateway.</param>
public readonly record struct Ipv6RouterInfo(Ipv6Address Address, DateTimeOffset? ExpiresAt);

/// <summary>An on-link prefix (RFC 4861 5.1 prefix list).</summary>
/// <param name="Prefix">The prefix, host bits zero.</param>
/// <param name="PrefixLength">Its length.</param>
/// <param name="ValidUntil">When it stops being on-link; null for a configured address's prefix.</param>
public readonly record struct Ipv6PrefixInfo(Ipv6Address Prefix, int PrefixLength, DateTimeOffset? ValidUntil);
