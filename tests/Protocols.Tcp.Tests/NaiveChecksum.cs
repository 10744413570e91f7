using Protocols.Wire;

namespace Protocols.Tcp.Tests;

/// <summary>
/// A deliberately plain RFC 1071 checksum over an explicitly built IPv4 pseudo-header (RFC 9293 3.1):
/// independent of Protocols.Wire.Checksum, used to check the generated helpers.
/// </summary>
internal static class NaiveChecksum
{
    public static ushort Tcp(Ipv4Address source, Ipv4Address destination, byte[] segment, int checksumOffset = 16)
    {
        var bytes = new List<byte>();
        bytes.AddRange(source.ToUInt32() is uint s ? [(byte)(s >> 24), (byte)(s >> 16), (byte)(s >> 8), (byte)s] : []);
        bytes.AddRange(destination.ToUInt32() is uint d ? [(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d] : []);
        bytes.Add(0);
        bytes.Add(6);
        bytes.Add((byte)(segment.Length >> 8));
        bytes.Add((byte)segment.Length);
        byte[] copy = (byte[])segment.Clone();
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

        return (ushort)~sum;
    }
}
