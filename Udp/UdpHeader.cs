using System.Globalization;
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

/// <summary>Datagram-level helpers declared next to the generated header code.</summary>
public partial struct UdpHeader
{
    /// <summary>
    /// Annotations for a whole datagram: the header fields (<see cref="Annotate"/>), the payload
    /// length, and any bytes past the length field. When the header cannot be read, one annotation
    /// with the error.
    /// </summary>
    /// <param name="datagram">The UDP datagram, header first.</param>
    /// <param name="baseOffset">Where the datagram starts in the dump.</param>
    /// <param name="into">Receives the annotations.</param>
    public static void AnnotateDatagram(ReadOnlySpan<byte> datagram, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!TryRead(datagram, out Reader reader, out WireError error))
        {
            into.Add(new HexAnnotation(baseOffset, Math.Max(datagram.Length, 1), "Unreadable UDP header: " + error.ToString()));
            return;
        }

        Annotate(reader.Header, baseOffset, into);
        if (!reader.Payload.IsEmpty)
        {
            into.Add(new HexAnnotation(baseOffset + FixedLength, reader.Payload.Length, string.Create(CultureInfo.InvariantCulture, $"Payload {reader.Payload.Length} bytes")));
        }

        if (datagram.Length > reader.Bytes.Length)
        {
            // RFC 768: the length field bounds the datagram; what follows (e.g. link-layer padding) is not UDP.
            into.Add(new HexAnnotation(baseOffset + reader.Bytes.Length, datagram.Length - reader.Bytes.Length, string.Create(CultureInfo.InvariantCulture, $"Beyond UDP length: {datagram.Length - reader.Bytes.Length} bytes")));
        }
    }
}
