using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Nat.Tests;

/// <summary>Whole IPv4 datagrams built with the project's codecs, every checksum filled, and readers that check every checksum.</summary>
internal static class Packets
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;

    public static Ipv4Address A(string text) => Ipv4Address.Parse(text);

    public static byte[] Ip(IpProtocol protocol, ReadOnlySpan<byte> payload, Ipv4Address source, Ipv4Address destination, byte ttl = 64, bool dontFragment = false, ushort id = 1) =>
        Ipv4Packets.Datagram(protocol, payload, source, destination, ttl, id, dontFragment);

    public static byte[] Udp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort, int dataLength = 16, byte ttl = 64, bool dontFragment = false, bool checksum = true)
    {
        byte[] udp = new byte[UdpHeader.FixedLength + dataLength];
        for (int i = 0; i < dataLength; i++)
        {
            udp[UdpHeader.FixedLength + i] = (byte)(i * 7);
        }

        var w = new UdpHeader.Writer(udp) { SourcePort = sourcePort, DestinationPort = destinationPort, Length = (ushort)udp.Length };
        if (checksum)
        {
            w.FillChecksum(Checksum.PseudoHeaderSum(source, destination, UdpHeader.IpProtocolNumber, udp.Length));
        }

        return Ip(IpProtocol.Udp, udp, source, destination, ttl, dontFragment);
    }

    public static byte[] Tcp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort, byte flags, uint seq = 1000, uint ack = 0, int dataLength = 0, byte ttl = 64)
    {
        byte[] tcp = new byte[TcpHeader.FixedLength + dataLength];
        var w = new TcpHeader.Writer(tcp)
        {
            SourcePort = sourcePort,
            DestinationPort = destinationPort,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            DataOffset = 5,
            Window = 65535,
        };
        w.SetFlags((TcpFlags)flags);
        w.FillChecksum(Checksum.PseudoHeaderSum(source, destination, TcpHeader.IpProtocolNumber, tcp.Length));
        return Ip(IpProtocol.Tcp, tcp, source, destination, ttl, dontFragment: true);
    }

    public static byte[] Echo(IcmpType type, Ipv4Address source, Ipv4Address destination, ushort id, ushort seq = 1, byte ttl = 64)
    {
        return Ip(IpProtocol.Icmp, Ipv4Packets.EchoMessage(type, id, seq, new byte[24]), source, destination, ttl);
    }

    /// <summary>An ICMP error from <paramref name="reporter"/> to the source of <paramref name="offending"/>, quoting it.</summary>
    public static byte[] Error(IcmpType type, byte code, Ipv4Address reporter, byte[] offending, int quoteBytes = 548)
    {
        byte[] icmp = new byte[IcmpHeader.FixedLength + Math.Min(offending.Length, quoteBytes)];
        int length = IcmpMessage.WriteError(icmp, type, code, 0, offending, Math.Max(8, quoteBytes - ((offending[0] & 0xf) * 4)));
        return Ip(IpProtocol.Icmp, icmp.AsSpan(0, length), reporter, Source(offending));
    }

    public static Ipv4Address Source(ReadOnlySpan<byte> datagram) => Ipv4Address.Create(datagram[12..]);

    public static Ipv4Address Destination(ReadOnlySpan<byte> datagram) => Ipv4Address.Create(datagram[16..]);

    public static IpProtocol Protocol(ReadOnlySpan<byte> datagram) => (IpProtocol)datagram[9];

    public static int HeaderLength(ReadOnlySpan<byte> datagram) => (datagram[0] & 0xf) * 4;

    public static ushort SourcePort(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt16BigEndian(datagram[HeaderLength(datagram)..]);

    public static ushort DestinationPort(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt16BigEndian(datagram[(HeaderLength(datagram) + 2)..]);

    public static ushort EchoId(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt16BigEndian(datagram[(HeaderLength(datagram) + 4)..]);

    public static byte Ttl(ReadOnlySpan<byte> datagram) => datagram[8];

    public static byte TcpFlagsOf(ReadOnlySpan<byte> datagram) => datagram[HeaderLength(datagram) + 13];

    /// <summary>Asserts the IPv4 header checksum and the transport checksum (with the pseudo-header) of a whole datagram.</summary>
    public static void AssertChecksums(ReadOnlySpan<byte> datagram)
    {
        int hl = HeaderLength(datagram);
        Assert.True(Checksum.Compute(datagram[..hl]) == 0, "IPv4 header checksum");
        ReadOnlySpan<byte> transport = datagram[hl..];
        switch (Protocol(datagram))
        {
            case IpProtocol.Udp:
                Assert.True(UdpHeader.VerifyChecksum(transport, Checksum.PseudoHeaderSum(Source(datagram), Destination(datagram), UdpHeader.IpProtocolNumber, transport.Length)), "UDP checksum");
                break;
            case IpProtocol.Tcp:
                Assert.True(TcpHeader.VerifyChecksum(transport, Checksum.PseudoHeaderSum(Source(datagram), Destination(datagram), TcpHeader.IpProtocolNumber, transport.Length)), "TCP checksum");
                break;
            case IpProtocol.Icmp:
                Assert.True(Checksum.Compute(transport) == 0, "ICMP checksum");
                break;
        }
    }

    /// <summary>The datagram an ICMP error quotes.</summary>
    public static ReadOnlySpan<byte> Quoted(ReadOnlySpan<byte> error) => error[(HeaderLength(error) + 8)..];
}
