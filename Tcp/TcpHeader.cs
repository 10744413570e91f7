using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// The TCP header (RFC 9293 3.1): 20 fixed bytes, then options up to the data offset.
/// The header compiler generates <c>TcpHeader.Reader</c>, <c>TcpHeader.Writer</c>, the value form,
/// the pseudo-header checksum helpers and RFC 1624 incremental updates from this declaration.
/// </summary>
/// <remarks>
/// The data offset is not given a <c>[Range(5, 15)]</c>: 15 is the most four bits hold, and a
/// value below 5 fails the header-length check with <see cref="WireErrorKind.LengthTooSmall"/>
/// and <see cref="LengthSource.DataOffset"/>, which says more than a generic invalid value.
/// Options are read with <see cref="TcpOptionReader"/> / <see cref="TcpOptions"/> over
/// <c>Reader.Options</c> (see <see cref="TcpHeaderExtensions"/>).
/// </remarks>
[WireHeader("TCP")]
[HeaderLength(nameof(DataOffset), Unit = 4, Source = LengthSource.DataOffset)]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
[Prefix(8)] // RFC 792: what an ICMP error is sure to quote (ports and sequence number, RFC 5927 4.1)
public partial struct TcpHeader
{
    /// <summary>The IP protocol number of TCP (RFC 9293 3.1, IANA).</summary>
    public const byte IpProtocolNumber = 6;

    /// <summary>The sending port.</summary>
    public ushort SourcePort;

    /// <summary>The receiving port.</summary>
    public ushort DestinationPort;

    /// <summary>Sequence number of the first data octet (of the ISN when SYN is set).</summary>
    public uint SequenceNumber;

    /// <summary>The next sequence number the sender expects to receive; significant when ACK is set.</summary>
    public uint AcknowledgmentNumber;

    /// <summary>Header length in 32-bit words: 5 (no options) to 15 (40 bytes of options).</summary>
    [Bits(4)]
    public byte DataOffset;

    /// <summary>Reserved bits (RFC 9293 3.1 "Rsrvd"); sent as zero.</summary>
    [Bits(4)]
    public byte Reserved;

    /// <summary>CWR: congestion window reduced (RFC 3168 6.1).</summary>
    public bool Cwr;

    /// <summary>ECE: ECN-Echo (RFC 3168 6.1).</summary>
    public bool Ece;

    /// <summary>URG: the urgent pointer is significant.</summary>
    public bool Urg;

    /// <summary>ACK: the acknowledgment number is significant.</summary>
    public bool Ack;

    /// <summary>PSH: push function.</summary>
    public bool Psh;

    /// <summary>RST: reset the connection.</summary>
    public bool Rst;

    /// <summary>SYN: synchronize sequence numbers.</summary>
    public bool Syn;

    /// <summary>FIN: no more data from the sender.</summary>
    public bool Fin;

    /// <summary>The number of octets, starting at the acknowledgment number, the sender will accept (scaled by RFC 7323 when negotiated).</summary>
    public ushort Window;

    /// <summary>Internet checksum over the pseudo-header, the header and the data (RFC 9293 3.1).</summary>
    public ushort Checksum;

    /// <summary>Offset from the sequence number of the urgent data's end; significant when URG is set.</summary>
    public ushort UrgentPointer;

    /// <summary>The eight control bits as one <see cref="TcpFlags"/> value (byte 13 of the header).</summary>
    public TcpFlags Flags
    {
        readonly get =>
            (Cwr ? TcpFlags.Cwr : 0) | (Ece ? TcpFlags.Ece : 0) | (Urg ? TcpFlags.Urg : 0) | (Ack ? TcpFlags.Ack : 0)
            | (Psh ? TcpFlags.Psh : 0) | (Rst ? TcpFlags.Rst : 0) | (Syn ? TcpFlags.Syn : 0) | (Fin ? TcpFlags.Fin : 0);
        set
        {
            Cwr = (value & TcpFlags.Cwr) != 0;
            Ece = (value & TcpFlags.Ece) != 0;
            Urg = (value & TcpFlags.Urg) != 0;
            Ack = (value & TcpFlags.Ack) != 0;
            Psh = (value & TcpFlags.Psh) != 0;
            Rst = (value & TcpFlags.Rst) != 0;
            Syn = (value & TcpFlags.Syn) != 0;
            Fin = (value & TcpFlags.Fin) != 0;
        }
    }
}
