using Protocols.Wire;

namespace Protocols.Udp.Tests;

/// <summary>
/// A deliberately plain RFC 768 checksum over an explicitly built IPv4 pseudo-header, independent
/// of Protocols.Wire.Checksum. Returns the raw complemented sum (0 is not mapped to 0xFFFF here).
/// </summary>
internal static class NaiveChecksum
{
    public static ushort Udp(Ipv4Address source, Ipv4Address destination, byte[] datagram) =>
        (ushort)~Sum(source, destination, datagram);

    /// <summary>The folded ones'-complement sum of pseudo-header and datagram (checksum field taken as 0).</summary>
    public static ushort Sum(Ipv4Address source, Ipv4Address destination, byte[] datagram)
    {
        uint s = source.ToUInt32(), d = destination.ToUInt32();
        var bytes = new List<byte>
        {
            (byte)(s >> 24), (byte)(s >> 16), (byte)(s >> 8), (byte)s,
            (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d,
            0, 17, (byte)(datagram.Length >> 8), (byte)datagram.Length,
        };
        byte[] copy = (byte[])datagram.Clone();
        copy[6] = 0;
        copy[7] = 0;
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
