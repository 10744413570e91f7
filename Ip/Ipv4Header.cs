using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>The IPv4 Protocol field / IPv6 Next Header values (IANA "Assigned Internet Protocol Numbers").</summary>
public enum IpProtocol : byte
{
    /// <summary>IPv6 Hop-by-Hop options (RFC 8200).</summary>
    HopByHop = 0,

    /// <summary>Internet Control Message Protocol (RFC 792).</summary>
    Icmp = 1,

    /// <summary>Internet Group Management Protocol (RFC 1112, RFC 3376).</summary>
    Igmp = 2,

    /// <summary>IPv4 encapsulated in IPv4 (RFC 2003).</summary>
    IpInIp = 4,

    /// <summary>Transmission Control Protocol (RFC 9293).</summary>
    Tcp = 6,

    /// <summary>User Datagram Protocol (RFC 768).</summary>
    Udp = 17,

    /// <summary>IPv6 encapsulated in IPv4 (RFC 4213).</summary>
    Ipv6 = 41,

    /// <summary>IPv6 Routing header (RFC 8200 4.4).</summary>
    Ipv6Routing = 43,

    /// <summary>IPv6 Fragment header (RFC 8200 4.5).</summary>
    Ipv6Fragment = 44,

    /// <summary>Generic Routing Encapsulation (RFC 2784).</summary>
    Gre = 47,

    /// <summary>Encapsulating Security Payload (RFC 4303).</summary>
    Esp = 50,

    /// <summary>Authentication Header (RFC 4302).</summary>
    Ah = 51,

    /// <summary>ICMP for IPv6 (RFC 4443).</summary>
    Icmpv6 = 58,

    /// <summary>No next header: nothing follows this IPv6 header (RFC 8200 4.7).</summary>
    Ipv6NoNextHeader = 59,

    /// <summary>IPv6 Destination Options header (RFC 8200 4.6).</summary>
    Ipv6DestinationOptions = 60,

    /// <summary>Stream Control Transmission Protocol (RFC 9260).</summary>
    Sctp = 132,

    /// <summary>Mobility header, an IPv6 extension header (RFC 6275).</summary>
    Mobility = 135,

    /// <summary>UDP-Lite (RFC 3828).</summary>
    UdpLite = 136,

    /// <summary>Host Identity Protocol, an IPv6 extension header (RFC 7401).</summary>
    Hip = 139,

    /// <summary>Shim6, an IPv6 extension header (RFC 5533).</summary>
    Shim6 = 140,
}

/// <summary>
/// The IPv4 header (RFC 791 3.1): 20 fixed bytes, then up to 40 bytes of options (IHL counts
/// 32-bit words), then the payload up to the total length. The checksum covers the header only.
/// </summary>
/// <remarks>
/// The layout is the contract's own example (docs/header-compiler.md); other projects use these
/// field names. Walk the options with <see cref="Ipv4OptionReader"/>; build whole packets with
/// <see cref="Ipv4Packet"/>.
/// </remarks>
[WireHeader("IPv4")]
[HeaderLength(nameof(Ihl), Unit = 4)]
[TotalLength(nameof(TotalLength))]
[Checksum(nameof(HeaderChecksum), ChecksumCoverage.Header)]
public partial struct Ipv4Header
{
    /// <summary>Version: always 4.</summary>
    [Bits(4), Const(4)]
    public byte Version;

    /// <summary>Internet Header Length in 32-bit words, 5..15.</summary>
    [Bits(4), Range(5, 15)]
    public byte Ihl;

    /// <summary>Differentiated Services code point (RFC 2474).</summary>
    [Bits(6)]
    public byte Dscp;

    /// <summary>Explicit Congestion Notification (RFC 3168).</summary>
    [Bits(2)]
    public byte Ecn;

    /// <summary>Length of the datagram in bytes, header included.</summary>
    public ushort TotalLength;

    /// <summary>Identifies the fragments of one datagram (RFC 6864).</summary>
    public ushort Identification;

    /// <summary>The reserved flag bit; must be zero (RFC 791 3.1).</summary>
    [Bits(1)]
    public bool Reserved;

    /// <summary>DF: do not fragment.</summary>
    [Bits(1)]
    public bool DontFragment;

    /// <summary>MF: more fragments follow.</summary>
    [Bits(1)]
    public bool MoreFragments;

    /// <summary>Offset of this fragment in the datagram, in 8-byte units.</summary>
    [Bits(13)]
    public ushort FragmentOffset;

    /// <summary>Time to live: decremented by each router; the datagram is dropped at zero.</summary>
    public byte Ttl;

    /// <summary>The protocol of the payload.</summary>
    public IpProtocol Protocol;

    /// <summary>The Internet checksum of the header (options included).</summary>
    public ushort HeaderChecksum;

    /// <summary>The sender.</summary>
    public Ipv4Address Source;

    /// <summary>The receiver.</summary>
    public Ipv4Address Destination;
}
