using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Whole-packet helpers on top of <see cref="Ipv6Header"/>: building a packet, the transport pseudo-header, the extension chain.</summary>
public static class Ipv6Packet
{
    /// <summary>The minimum link MTU every IPv6 link carries (RFC 8200 5).</summary>
    public const int MinimumMtu = 1280;

    /// <summary>
    /// Writes <paramref name="header"/>, then <paramref name="extensionHeaders"/> as given (their
    /// Next Header fields are the caller's), then <paramref name="payload"/>. The version and the
    /// payload length are set; the other fields are written as given.
    /// </summary>
    /// <returns>The bytes written: 40 + extension headers + payload.</returns>
    /// <exception cref="ArgumentException">More than 65535 bytes after the fixed header, or a destination too small.</exception>
    public static int Write(Span<byte> destination, Ipv6Header header, scoped ReadOnlySpan<byte> extensionHeaders, scoped ReadOnlySpan<byte> payload)
    {
        int payloadLength = extensionHeaders.Length + payload.Length;
        if (payloadLength > ushort.MaxValue)
        {
            throw new ArgumentException($"An IPv6 payload is limited to 65535 bytes (jumbograms are not supported); this one would be {payloadLength}.", nameof(payload));
        }

        int total = Ipv6Header.FixedLength + payloadLength;
        if (destination.Length < total)
        {
            throw new ArgumentException($"The packet needs {total} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        header.PayloadLength = (ushort)payloadLength;
        header.WriteTo(destination);
        extensionHeaders.CopyTo(destination[Ipv6Header.FixedLength..]);
        payload.CopyTo(destination[(Ipv6Header.FixedLength + extensionHeaders.Length)..]);
        return total;
    }

    /// <summary>
    /// The partial sum of the pseudo-header an upper layer's checksum starts from (RFC 8200 8.1):
    /// source, destination (the final one: with no Routing header, this packet's), the
    /// upper-layer length and its Next Header value.
    /// </summary>
    /// <param name="ip">The packet.</param>
    /// <param name="upperLayer">The upper-layer protocol (the last Next Header).</param>
    /// <param name="upperLayerLength">The length of the upper-layer header and data.</param>
    public static uint PseudoHeaderSum(this Ipv6Header.Reader ip, IpProtocol upperLayer, int upperLayerLength) =>
        Checksum.PseudoHeaderSum(ip.Source, ip.Destination, (byte)upperLayer, upperLayerLength);

    /// <summary>Walks the packet's extension headers (<see cref="Ipv6ExtensionChain.Walk(ReadOnlySpan{byte})"/>).</summary>
    public static Ipv6ExtensionChain GetExtensionChain(this Ipv6Header.Reader ip) => Ipv6ExtensionChain.Walk(ip.Bytes);

    /// <summary>The DSCP of a traffic class (its upper 6 bits, RFC 2474).</summary>
    public static byte Dscp(byte trafficClass) => (byte)(trafficClass >> 2);

    /// <summary>The ECN codepoint of a traffic class (its lower 2 bits, RFC 3168).</summary>
    public static byte Ecn(byte trafficClass) => (byte)(trafficClass & 3);
}
