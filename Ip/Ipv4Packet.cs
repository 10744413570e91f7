using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Whole-datagram helpers on top of <see cref="Ipv4Header"/>: building a packet and the transport pseudo-header.</summary>
public static class Ipv4Packet
{
    /// <summary>The largest IPv4 header: IHL 15 × 4 bytes.</summary>
    public const int MaxHeaderLength = 60;

    /// <summary>The smallest MTU an IPv4 link may have: every internet module must be able to forward a datagram of 68 octets (RFC 791 3.2).</summary>
    public const int MinimumMtu = 68;

    /// <summary>
    /// Writes <paramref name="header"/>, <paramref name="options"/> (padded with zeros, i.e. End of
    /// Option List, to a 32-bit boundary) and <paramref name="payload"/> into
    /// <paramref name="destination"/>. IHL and the total length are computed; the header checksum
    /// is filled (RFC 791 3.1). The other fields are written as given.
    /// </summary>
    /// <returns>The number of bytes written: the total length.</returns>
    /// <exception cref="ArgumentException">Options longer than 40 bytes, a datagram over 65535 bytes, or a destination too small.</exception>
    public static int Write(Span<byte> destination, Ipv4Header header, scoped ReadOnlySpan<byte> options, scoped ReadOnlySpan<byte> payload)
    {
        int optionsLength = (options.Length + 3) & ~3;
        if (optionsLength > Ipv4OptionWriter.MaxOptionsLength)
        {
            throw new ArgumentException($"IPv4 options are limited to 40 bytes; got {options.Length}.", nameof(options));
        }

        int headerLength = Ipv4Header.FixedLength + optionsLength;
        int total = headerLength + payload.Length;
        if (total > ushort.MaxValue)
        {
            throw new ArgumentException($"An IPv4 datagram is limited to 65535 bytes; this one would be {total}.", nameof(payload));
        }

        if (destination.Length < total)
        {
            throw new ArgumentException($"The datagram needs {total} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        header.Ihl = (byte)(headerLength / 4);
        header.TotalLength = (ushort)total;
        header.HeaderChecksum = 0;
        header.WriteTo(destination);
        options.CopyTo(destination[Ipv4Header.FixedLength..]);
        destination[(Ipv4Header.FixedLength + options.Length)..headerLength].Clear();
        payload.CopyTo(destination[headerLength..]);
        Ipv4Header.FillChecksum(destination[..total]);
        return total;
    }

    /// <summary>
    /// The partial sum of the pseudo-header TCP and UDP checksums start from (RFC 9293 3.1,
    /// RFC 768): source, destination, zero, protocol and the payload length of this datagram.
    /// </summary>
    public static uint PseudoHeaderSum(this Ipv4Header.Reader ip) =>
        Checksum.PseudoHeaderSum(ip.Source, ip.Destination, (byte)ip.Protocol, ip.Payload.Length);

    /// <summary>A walker over the header's options (RFC 791 3.1).</summary>
    public static Ipv4OptionReader GetOptions(this Ipv4Header.Reader ip) => new(ip.Options);
}
