using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// The UDP header (RFC 768): four 16-bit fields. The length covers header and data (at least 8);
/// the checksum covers the IPv4 pseudo-header, the header and the data, and a transmitted zero
/// means the sender computed none (RFC 768 "Fields", RFC 1122 4.1.3.4). The header compiler
/// generates <c>UdpHeader.Reader</c>, <c>UdpHeader.Writer</c>, the value form, the checksum helpers
/// and RFC 1624 incremental updates from this declaration.
/// </summary>
[WireHeader("UDP")]
[TotalLength(nameof(Length))]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage, ZeroMeansNone = true)]
public partial struct UdpHeader
{
    /// <summary>The IP protocol number of UDP (RFC 768, IANA).</summary>
    public const byte IpProtocolNumber = 17;

    /// <summary>The sending port; 0 when none (RFC 768).</summary>
    public ushort SourcePort;

    /// <summary>The receiving port.</summary>
    public ushort DestinationPort;

    /// <summary>Octets of header and data (RFC 768): 8 to 65535.</summary>
    public ushort Length;

    /// <summary>Internet checksum over pseudo-header, header and data; 0 means none, a computed 0 is sent as 0xFFFF (RFC 768).</summary>
    public ushort Checksum;
}
