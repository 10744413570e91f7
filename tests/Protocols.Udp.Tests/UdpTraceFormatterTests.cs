using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Udp.Tests;

/// <summary>UDP's trace lines: what the Udp layer registers with the stack's packet formatter.</summary>
public class UdpTraceFormatterTests
{
    private static readonly Ipv4Address A = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address B = Ipv4Address.Parse("10.0.0.2");

    private static PacketFormatter Formatter()
    {
        var formatter = new PacketFormatter();
        UdpTraceFormatter.Register(formatter);
        return formatter;
    }

    private static byte[] Packet(ushort sourcePort, ushort destinationPort, int dataLength, int? lengthField = null, int? present = null, bool moreFragments = false)
    {
        byte[] udp = new byte[UdpHeader.FixedLength + dataLength];
        new UdpHeader { SourcePort = sourcePort, DestinationPort = destinationPort, Length = (ushort)(lengthField ?? udp.Length) }.WriteTo(udp);
        byte[] packet = new byte[Ipv4Header.FixedLength + (present ?? udp.Length)];
        Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Identification = 77, MoreFragments = moreFragments, Protocol = IpProtocol.Udp, Source = A, Destination = B }, default, udp.AsSpan(0, present ?? udp.Length));
        return packet;
    }

    [Fact]
    public void A_datagram_reads_like_tcpdump()
    {
        Assert.Equal("IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 12", Formatter().Format(Packet(5000, 53, 12), DeviceMedium.Ip));
    }

    [Fact]
    public void A_first_fragment_gives_the_whole_datagram_length_from_its_header()
    {
        Assert.Equal(
            "IP 10.0.0.1.5000 > 10.0.0.2.7: UDP, length 3000 (frag 77:1480@0+)",
            Formatter().Format(Packet(5000, 7, 3000, present: 1480, moreFragments: true), DeviceMedium.Ip));
    }

    [Fact]
    public void A_header_the_generated_reader_refuses_says_why()
    {
        Assert.Equal(
            "IP 10.0.0.1.5000 > 10.0.0.2.7: UDP [invalid: UDP.Length: length 4 is below the minimum 8 (total length) at offset 4], length 20",
            Formatter().Format(Packet(5000, 7, 12, lengthField: 4), DeviceMedium.Ip));
    }

    [Fact]
    public async Task Tcpdump_describes_the_same_datagrams_the_same_way()
    {
        if (!Tcpdump.IsInstalled)
        {
            return; // the golden strings above stand alone; this is the independent check when tcpdump is present
        }

        byte[][] packets = [Packet(40000, 9999, 12), Packet(5000, 6000, 0), Packet(1, 65535, 1000)];
        PacketFormatter formatter = Formatter();
        Assert.Equal(packets.Select(p => formatter.Format(p, DeviceMedium.Ip)), await Tcpdump.DescribeAsync(packets, LinkType.Raw));
    }
}
