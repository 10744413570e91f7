using Protocols.Wire;

namespace Protocols.Tests.Shared;

/// <summary>
/// A deliberately plain RFC 1071 checksum over an explicitly built IPv4 pseudo-header (RFC 9293 3.1,
/// RFC 768): byte by byte into a list, independent of <see cref="Checksum"/>, so the tests can check
/// the generated checksum helpers and the SIMD sum against it.
/// </summary>
public static class NaiveChecksum
{
    /// <summary>The TCP checksum of <paramref name="segment"/> (its checksum field taken as 0).</summary>
    /// <param name="source">The IPv4 source address.</param>
    /// <param name="destination">The IPv4 destination address.</param>
    /// <param name="segment">The whole TCP segment, header first.</param>
    /// <param name="checksumOffset">Where the checksum field lies (16 in a TCP header).</param>
    /// <returns>The complemented sum, as the field carries it.</returns>
    public static ushort Tcp(Ipv4Address source, Ipv4Address destination, byte[] segment, int checksumOffset = 16) =>
        (ushort)~Sum(source, destination, 6, segment, checksumOffset);

    /// <summary>
    /// The UDP checksum of <paramref name="datagram"/> (its checksum field taken as 0): the raw
    /// complemented sum, so 0 is not mapped to 0xFFFF here.
    /// </summary>
    /// <param name="source">The IPv4 source address.</param>
    /// <param name="destination">The IPv4 destination address.</param>
    /// <param name="datagram">The whole UDP datagram, header first.</param>
    /// <returns>The complemented sum.</returns>
    public static ushort Udp(Ipv4Address source, Ipv4Address destination, byte[] datagram) =>
        (ushort)~UdpSum(source, destination, datagram);

    /// <summary>The folded ones'-complement sum of the UDP pseudo-header and datagram (checksum field taken as 0), not complemented.</summary>
    /// <param name="source">The IPv4 source address.</param>
    /// <param name="destination">The IPv4 destination address.</param>
    /// <param name="datagram">The whole UDP datagram, header first.</param>
    /// <returns>The folded sum.</returns>
    public static ushort UdpSum(Ipv4Address source, Ipv4Address destination, byte[] datagram) =>
        Sum(source, destination, 17, datagram, checksumOffset: 6);

    private static ushort Sum(Ipv4Address source, Ipv4Address destination, byte protocol, byte[] message, int checksumOffset)
    {
        uint s = source.ToUInt32(), d = destination.ToUInt32();
        var bytes = new List<byte>
        {
            (byte)(s >> 24), (byte)(s >> 16), (byte)(s >> 8), (byte)s,
            (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d,
            0, protocol, (byte)(message.Length >> 8), (byte)message.Length,
        };
        byte[] copy = (byte[])message.Clone();
        copy[checksumOffset] = 0;
        copy[checksumOffset + 1] = 0;
        bytes.AddRange(copy);
        if (bytes.Count % 2 == 1)
        {
            bytes.Add(0);
        }

        long sum = 0;
        for (int i = 0; i < bytes.Count; i += 2)
        {
            sum += (bytes[i] << 8) | bytes[i + 1];
        }

        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)sum;
    }
}
