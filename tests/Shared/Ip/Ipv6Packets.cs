using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Tests.Shared;

/// <summary>Hand-built IPv6 packets: header, extension headers (options, routing, fragment), payload.</summary>
internal static class Ipv6Packets
{
    public static readonly Ipv6Address Source = Ipv6Address.Parse("2001:db8::1");
    public static readonly Ipv6Address Destination = Ipv6Address.Parse("2001:db8::2");

    /// <summary>An IPv6 packet: header (hop limit 64), extension headers, payload.</summary>
    public static byte[] Packet(IpProtocol first, byte[] extensions, byte[] payload, Ipv6Address? destination = null, byte hopLimit = 64, Ipv6Address? source = null)
    {
        var buffer = new byte[Ipv6Header.FixedLength + extensions.Length + payload.Length];
        Ipv6Packet.Write(buffer, new Ipv6Header { NextHeader = first, HopLimit = hopLimit, Source = source ?? Source, Destination = destination ?? Destination, FlowLabel = 0x12345 }, extensions, payload);
        return buffer;
    }

    /// <summary>A Hop-by-Hop or Destination Options header holding <paramref name="options"/>, padded to 8 bytes with Pad1/PadN.</summary>
    public static byte[] Options(IpProtocol next, params byte[][] options)
    {
        var body = new List<byte> { (byte)next, 0 };
        foreach (byte[] option in options)
        {
            body.AddRange(option);
        }

        int pad = (8 - (body.Count % 8)) % 8;
        if (pad == 1)
        {
            body.Add(0);
        }
        else if (pad > 1)
        {
            body.Add(1);
            body.Add((byte)(pad - 2));
            body.AddRange(new byte[pad - 2]);
        }

        body[1] = (byte)((body.Count / 8) - 1);
        return [.. body];
    }

    /// <summary>An options header from raw option bytes, with HdrExtLen set from the length (which must be a multiple of 8 with the 2 leading bytes).</summary>
    public static byte[] RawOptions(IpProtocol next, params byte[] optionBytes)
    {
        byte[] header = [(byte)next, (byte)(((optionBytes.Length + 2) / 8) - 1), .. optionBytes];
        return header;
    }

    public static byte[] Option(byte type, params byte[] data) => [type, (byte)data.Length, .. data];

    public static byte[] Routing(IpProtocol next, Ipv6RoutingType type, byte segmentsLeft, int addresses = 1)
    {
        var header = new byte[8 + (addresses * 16)];
        new Ipv6RoutingHeader { NextHeader = next, HdrExtLen = (byte)(addresses * 2), RoutingType = type, SegmentsLeft = segmentsLeft }.WriteTo(header);
        return header;
    }

    public static byte[] Fragment(IpProtocol next, ushort offsetUnits, bool more, uint identification)
    {
        var header = new byte[8];
        new Ipv6FragmentHeader { NextHeader = next, FragmentOffset = offsetUnits, MoreFragments = more, Identification = identification }.WriteTo(header);
        return header;
    }

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>An 8-byte UDP header and 8 bytes of data (no valid checksum: the chain walker does not look).</summary>
    public static byte[] Udp => [0x30, 0x39, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8];
}
