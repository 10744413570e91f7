using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// The datagram an ICMP error message quotes (RFC 792: "Internet Header + 64 bits of Original
/// Data Datagram"; RFC 1812 4.3.2.3 lets routers quote more): the complete IP header of the
/// offending datagram and whatever part of its payload is there.
/// </summary>
/// <remarks>
/// The quoted header's total length describes the original datagram, which is usually longer
/// than the quote, so <c>Ipv4Header.TryRead</c> over the quote would report the missing bytes.
/// <see cref="TryRead"/> uses the lax <c>Ipv4Header.TryReadHeader</c> instead (version, IHL, header
/// within the quote, total length not below IHL; a total length past the quote is accepted): its
/// reader's getters show the original fields (total length included), its <c>Payload</c> is the
/// quoted payload present and its <c>IsTruncated</c> says whether the original was longer.
/// </remarks>
public readonly ref struct IcmpQuotedDatagram
{
    /// <summary>Bytes of original data every ICMP error quotes after the header (RFC 792).</summary>
    public const int GuaranteedPayloadLength = 8;

    private const string Layer = "ICMPv4";

    private IcmpQuotedDatagram(Ipv4Header.Reader header) => Header = header;

    /// <summary>
    /// The quoted datagram: fields read in place (the total length is the original datagram's),
    /// <c>Bytes</c> is the quote trimmed to the original total length, <c>Payload</c> the quoted payload present.
    /// </summary>
    public Ipv4Header.Reader Header { get; }

    /// <summary>The quoted header's bytes, options included.</summary>
    public ReadOnlySpan<byte> HeaderBytes => Header.Header;

    /// <summary>The quoted header's options region.</summary>
    public ReadOnlySpan<byte> Options => Header.Options;

    /// <summary>The quoted payload bytes present (at most the original payload length).</summary>
    public ReadOnlySpan<byte> Payload => Header.Payload;

    /// <summary>The payload length of the original datagram, from its total length.</summary>
    public int OriginalPayloadLength => Header.TotalLength - Header.HeaderLength;

    /// <summary>True when fewer payload bytes are quoted than the original datagram carried.</summary>
    public bool IsTruncated => Header.IsTruncated;

    /// <summary>
    /// Reads the quote from an ICMP error's payload (the bytes after its 8-byte header). Fails with
    /// <see cref="WireErrorKind.TooShort"/> (layer ICMPv4, field QuotedDatagram) when the quote cannot
    /// hold an IP header, or with the quoted header's own IPv4 error (offsets from the ICMP header).
    /// </summary>
    /// <param name="icmpPayload">The ICMP message after its 8-byte header.</param>
    /// <param name="quote">The quote, on success.</param>
    /// <param name="error">What is wrong, on failure.</param>
    /// <param name="baseOffset">Offset of <paramref name="icmpPayload"/> in the ICMP message, for error offsets (8).</param>
    public static bool TryRead(ReadOnlySpan<byte> icmpPayload, out IcmpQuotedDatagram quote, out WireError error, int baseOffset = 8)
    {
        quote = default;
        if (icmpPayload.Length < Ipv4Header.FixedLength)
        {
            error = WireError.TooShort(Layer, "QuotedDatagram", Ipv4Header.FixedLength, icmpPayload.Length, LengthSource.Buffer, baseOffset);
            return false;
        }

        // The lax generated read: every IPv4 check except that the total length (the original
        // datagram's) may run past the quote; Bytes is what the quote holds of it.
        if (!Ipv4Header.TryReadHeader(icmpPayload, out Ipv4Header.Reader header, out error))
        {
            error = error.WithOffset(baseOffset);
            return false;
        }

        quote = new IcmpQuotedDatagram(header);
        error = default;
        return true;
    }
}
