using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>The EtherType of an Ethernet II frame: which protocol the payload carries (IEEE 802.3, IANA registry).</summary>
public enum EtherType : ushort
{
    /// <summary>Internet Protocol version 4 (RFC 894).</summary>
    Ipv4 = 0x0800,

    /// <summary>Address Resolution Protocol (RFC 826).</summary>
    Arp = 0x0806,

    /// <summary>IEEE 802.1Q VLAN tag.</summary>
    Vlan = 0x8100,

    /// <summary>Internet Protocol version 6 (RFC 2464).</summary>
    Ipv6 = 0x86DD,
}

/// <summary>
/// An Ethernet II frame header (RFC 894): destination and source MAC addresses, then the
/// EtherType. 14 bytes; the frame check sequence is not part of what devices hand us.
/// </summary>
[WireHeader("Ethernet")]
public partial struct EthernetHeader
{
    /// <summary>The receiving station (or a group address).</summary>
    public MacAddress Destination;

    /// <summary>The sending station.</summary>
    public MacAddress Source;

    /// <summary>The protocol of the payload.</summary>
    public EtherType EtherType;
}
