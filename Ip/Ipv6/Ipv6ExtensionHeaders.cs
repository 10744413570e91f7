using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// The Hop-by-Hop Options and Destination Options headers (RFC 8200 4.3 and 4.6), which share one
/// layout: next header, length, then options (<see cref="Ipv6OptionReader"/>) to a multiple of 8 bytes.
/// </summary>
/// <remarks>
/// <c>HdrExtLen</c> counts 8-byte units after the first 8 bytes, so the header is
/// (HdrExtLen + 1) × 8 bytes; <c>Reader.Options</c> is everything after the first two bytes.
/// </remarks>
[WireHeader("IPv6 options")]
[HeaderLength(nameof(HdrExtLen), Unit = 8, Bias = 1)]
public partial struct Ipv6OptionsHeader
{
    /// <summary>The type of the header that follows.</summary>
    public IpProtocol NextHeader;

    /// <summary>Length in 8-byte units, not counting the first 8 bytes.</summary>
    public byte HdrExtLen;
}

/// <summary>Routing types (IANA "IPv6 Routing Types").</summary>
public enum Ipv6RoutingType : byte
{
    /// <summary>0: source route, deprecated for its amplification attack (RFC 5095); never processed.</summary>
    SourceRoute = 0,

    /// <summary>1: Nimrod (deprecated).</summary>
    Nimrod = 1,

    /// <summary>2: type 2 routing header of Mobile IPv6 (RFC 6275).</summary>
    MobileIpv6 = 2,

    /// <summary>3: RPL source route (RFC 6554).</summary>
    Rpl = 3,

    /// <summary>4: segment routing header (RFC 8754).</summary>
    SegmentRouting = 4,
}

/// <summary>
/// The Routing header (RFC 8200 4.4): next header, length, routing type, segments left, then
/// type-specific data (<c>Reader.Options</c>) to a multiple of 8 bytes.
/// </summary>
[WireHeader("IPv6 routing")]
[HeaderLength(nameof(HdrExtLen), Unit = 8, Bias = 1)]
public partial struct Ipv6RoutingHeader
{
    /// <summary>The type of the header that follows.</summary>
    public IpProtocol NextHeader;

    /// <summary>Length in 8-byte units, not counting the first 8 bytes.</summary>
    public byte HdrExtLen;

    /// <summary>The routing variant.</summary>
    public Ipv6RoutingType RoutingType;

    /// <summary>Route segments still to visit before the final destination.</summary>
    public byte SegmentsLeft;
}

/// <summary>
/// The Fragment header (RFC 8200 4.5): 8 bytes, next header, the fragment's offset in 8-byte
/// units, the more-fragments flag and the 32-bit identification shared by a packet's fragments.
/// </summary>
[WireHeader("IPv6 fragment")]
public partial struct Ipv6FragmentHeader
{
    /// <summary>The type of the first header of the fragmentable part of the original packet.</summary>
    public IpProtocol NextHeader;

    /// <summary>Reserved: sent as zero, ignored on receipt.</summary>
    public byte Reserved;

    /// <summary>The offset of this fragment's data in the fragmentable part, in 8-byte units.</summary>
    [Bits(13)]
    public ushort FragmentOffset;

    /// <summary>Res: two reserved bits, sent as zero, ignored on receipt.</summary>
    [Bits(2)]
    public byte Res;

    /// <summary>M: more fragments follow.</summary>
    [Bits(1)]
    public bool MoreFragments;

    /// <summary>Identifies the fragments of one original packet (RFC 7739: unpredictable).</summary>
    public uint Identification;
}
