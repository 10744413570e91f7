using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// The invoking packet an ICMPv6 error quotes (RFC 4443 2.4(c): as much as fits without the error
/// exceeding the minimum MTU): its IPv6 header, the extension headers present, and as much of the
/// upper-layer header as is there.
/// </summary>
/// <remarks>
/// The quoted payload length is the original packet's, usually longer than the quote, so the lax
/// <c>Ipv6Header.TryReadHeader</c> reads it. The extension headers are walked within the quote
/// (at most <see cref="MaxQuotedHeaders"/>); the walk stops at the first header the quote cuts, at
/// a non-first fragment (whose data carries no upper-layer header) and at No Next Header.
/// </remarks>
public readonly ref struct Icmpv6QuotedPacket
{
    /// <summary>The most extension headers walked inside a quote.</summary>
    public const int MaxQuotedHeaders = 8;

    private const string Layer = "ICMPv6";

    private Icmpv6QuotedPacket(Ipv6Header.Reader header, IpProtocol upperLayer, ReadOnlySpan<byte> upperLayerBytes, bool hasUpperLayer)
    {
        Header = header;
        UpperLayer = upperLayer;
        UpperLayerBytes = upperLayerBytes;
        HasUpperLayer = hasUpperLayer;
    }

    /// <summary>The quoted IPv6 header: fields read in place (the payload length is the original packet's).</summary>
    public Ipv6Header.Reader Header { get; }

    /// <summary>The upper-layer protocol when <see cref="HasUpperLayer"/>.</summary>
    public IpProtocol UpperLayer { get; }

    /// <summary>The quoted bytes of the upper-layer header and data (may be fewer than the header's fixed part).</summary>
    public ReadOnlySpan<byte> UpperLayerBytes { get; }

    /// <summary>True when the walk reached the upper layer inside the quote (not a non-first fragment, not cut in an extension header).</summary>
    public bool HasUpperLayer { get; }

    /// <summary>
    /// Reads the quote from an ICMPv6 error's payload (after its 8-byte header). Fails with
    /// <see cref="WireErrorKind.TooShort"/> (layer ICMPv6, field QuotedPacket) when the quote cannot
    /// hold an IPv6 header, or with the quoted header's own error (offsets from the ICMPv6 header).
    /// </summary>
    /// <param name="icmpPayload">The ICMPv6 message after its 8-byte header.</param>
    /// <param name="quote">The quote, on success.</param>
    /// <param name="error">What is wrong, on failure.</param>
    /// <param name="baseOffset">Offset of <paramref name="icmpPayload"/> in the ICMPv6 message, for error offsets (8).</param>
    public static bool TryRead(ReadOnlySpan<byte> icmpPayload, out Icmpv6QuotedPacket quote, out WireError error, int baseOffset = 8)
    {
        quote = default;
        if (icmpPayload.Length < Ipv6Header.FixedLength)
        {
            error = WireError.TooShort(Layer, "QuotedPacket", Ipv6Header.FixedLength, icmpPayload.Length, LengthSource.Buffer, baseOffset);
            return false;
        }

        if (!Ipv6Header.TryReadHeader(icmpPayload, out Ipv6Header.Reader header, out error))
        {
            error = error.WithOffset(baseOffset);
            return false;
        }

        ReadOnlySpan<byte> bytes = header.Bytes;
        IpProtocol next = header.NextHeader;
        int offset = Ipv6Header.FixedLength;
        for (int walked = 0; walked <= MaxQuotedHeaders; walked++)
        {
            ReadOnlySpan<byte> rest = bytes[offset..];
            int length;
            switch (next)
            {
                case IpProtocol.HopByHop or IpProtocol.Ipv6DestinationOptions:
                    if (!Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader options))
                    {
                        return Without(header, out quote, out error);
                    }

                    (next, length) = (options.NextHeader, options.HeaderLength);
                    break;
                case IpProtocol.Ipv6Routing:
                    if (!Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader routing))
                    {
                        return Without(header, out quote, out error);
                    }

                    (next, length) = (routing.NextHeader, routing.HeaderLength);
                    break;
                case IpProtocol.Ipv6Fragment:
                    if (!Ipv6FragmentHeader.TryRead(rest, out Ipv6FragmentHeader.Reader fragment) || fragment.FragmentOffset != 0)
                    {
                        return Without(header, out quote, out error);
                    }

                    (next, length) = (fragment.NextHeader, Ipv6FragmentHeader.FixedLength);
                    break;
                case IpProtocol.Ipv6NoNextHeader:
                    return Without(header, out quote, out error);
                default:
                    quote = new Icmpv6QuotedPacket(header, next, rest, hasUpperLayer: true);
                    error = default;
                    return true;
            }

            offset += length;
        }

        return Without(header, out quote, out error);
    }

    private static bool Without(Ipv6Header.Reader header, out Icmpv6QuotedPacket quote, out WireError error)
    {
        quote = new Icmpv6QuotedPacket(header, default, default, hasUpperLayer: false);
        error = default;
        return true;
    }
}
