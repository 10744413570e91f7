using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// The IPv6 fixed header (RFC 8200 3): 40 bytes, then the extension headers and the upper-layer
/// payload, <see cref="PayloadLength"/> bytes in all. No checksum: the transports cover the
/// addresses with their pseudo-header (RFC 8200 8.1).
/// </summary>
/// <remarks>
/// Walk the extension headers with <see cref="Ipv6ExtensionChain"/>; build whole packets with
/// <see cref="Ipv6Packet"/>. The payload length counts extension headers and payload, not these
/// 40 bytes; a zero payload length with a Jumbo Payload option (RFC 2675) is not supported.
/// </remarks>
[WireHeader("IPv6")]
[PayloadLength(nameof(PayloadLength))]
public partial struct Ipv6Header
{
    /// <summary>Version: always 6.</summary>
    [Bits(4), Const(6)]
    public byte Version;

    /// <summary>Traffic class (RFC 8200 7): DSCP in the upper 6 bits (RFC 2474), ECN in the lower 2 (RFC 3168).</summary>
    public byte TrafficClass;

    /// <summary>Flow label (RFC 6437): 20 bits labelling the packets of one flow; 0 for none.</summary>
    [Bits(20)]
    public uint FlowLabel;

    /// <summary>Length of what follows this header (extension headers and upper-layer payload), in bytes.</summary>
    public ushort PayloadLength;

    /// <summary>The type of the header that follows: an extension header or the upper-layer protocol.</summary>
    public IpProtocol NextHeader;

    /// <summary>Hop limit: decremented by each node that forwards the packet; discarded at zero.</summary>
    public byte HopLimit;

    /// <summary>The sender.</summary>
    public Ipv6Address Source;

    /// <summary>The receiver (possibly not the final one when a Routing header is present).</summary>
    public Ipv6Address Destination;
}
