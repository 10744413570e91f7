using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Tests.Shared;

/// <summary>
/// Hand-built IPv4 datagrams and the Ethernet frames that carry them, written with the generated
/// codecs (header checksum filled). The test projects' own packet builders put their defaults
/// (addresses, identification, TTL) around these.
/// </summary>
internal static class Ipv4Packets
{
    /// <summary>An IPv4 datagram around <paramref name="payload"/>, with <paramref name="options"/> (padded to 32 bits) when given.</summary>
    public static byte[] Datagram(
        IpProtocol protocol,
        ReadOnlySpan<byte> payload,
        Ipv4Address source,
        Ipv4Address destination,
        byte ttl = 64,
        ushort id = 1,
        bool dontFragment = false,
        bool moreFragments = false,
        ushort fragmentOffsetUnits = 0,
        ReadOnlySpan<byte> options = default)
    {
        var buffer = new byte[Ipv4Packet.MaxHeaderLength + payload.Length];
        int n = Ipv4Packet.Write(buffer, new Ipv4Header
        {
            Ttl = ttl,
            Protocol = protocol,
            Identification = id,
            DontFragment = dontFragment,
            MoreFragments = moreFragments,
            FragmentOffset = fragmentOffsetUnits,
            Source = source,
            Destination = destination,
        }, options, payload);
        return buffer[..n];
    }

    /// <summary>An ICMP echo request or reply message (no IP header) carrying <paramref name="data"/>.</summary>
    public static byte[] EchoMessage(IcmpType type, ushort id, ushort seq, ReadOnlySpan<byte> data)
    {
        var icmp = new byte[IcmpEchoHeader.FixedLength + data.Length];
        IcmpMessage.WriteEcho(icmp, type, id, seq, data);
        return icmp;
    }

    /// <summary>An Ethernet II frame around <paramref name="payload"/>.</summary>
    public static byte[] Ethernet(MacAddress destination, MacAddress source, EtherType type, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[EthernetHeader.FixedLength + payload.Length];
        new EthernetHeader { Destination = destination, Source = source, EtherType = type }.WriteTo(frame);
        payload.CopyTo(frame.AsSpan(EthernetHeader.FixedLength));
        return frame;
    }
}
