using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Simulation;

/// <summary>Packets built with the project's codecs for the simulation and tracer tests.</summary>
internal static class TestPackets
{
    public static readonly Ipv4Address A = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address B = Ipv4Address.Parse("10.0.0.2");

    public static byte[] Ip(IpProtocol protocol, ReadOnlySpan<byte> payload, Ipv4Address? source = null, Ipv4Address? destination = null, ushort id = 1234, bool moreFragments = false, ushort fragmentOffsetBytes = 0, bool dontFragment = false) =>
        Ipv4Packets.Datagram(protocol, payload, source ?? A, destination ?? B, id: id, dontFragment: dontFragment, moreFragments: moreFragments, fragmentOffsetUnits: (ushort)(fragmentOffsetBytes / 8));

    public static byte[] Echo(IcmpType type, ushort id, ushort seq, int dataLength, Ipv4Address? source = null, Ipv4Address? destination = null)
    {
        byte[] data = new byte[dataLength];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)i;
        }

        return Ip(IpProtocol.Icmp, Ipv4Packets.EchoMessage(type, id, seq, data), source, destination);
    }

    public static byte[] Udp(ushort sourcePort, ushort destinationPort, int dataLength)
    {
        byte[] udp = new byte[8 + dataLength];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        return Ip(IpProtocol.Udp, udp);
    }

    public static byte[] TcpSyn(ushort sourcePort, ushort destinationPort)
    {
        // RFC 9293 3.1: ports, seq 1, ack 0, data offset 6 (one MSS option), SYN, window 65535, MSS 1460.
        byte[] tcp = new byte[24];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 1);
        tcp[12] = 6 << 4;
        tcp[13] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);
        tcp[20] = 2;
        tcp[21] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(22), 1460);
        return Ip(IpProtocol.Tcp, tcp);
    }

    public static byte[] Ethernet(MacAddress destination, MacAddress source, EtherType type, ReadOnlySpan<byte> payload) =>
        Ipv4Packets.Ethernet(destination, source, type, payload);

    public static byte[] ArpRequest(MacAddress sender, Ipv4Address senderIp, Ipv4Address target)
    {
        byte[] arp = new byte[ArpPacket.FixedLength];
        new ArpPacket { Operation = ArpOperation.Request, SenderHardwareAddress = sender, SenderProtocolAddress = senderIp, TargetProtocolAddress = target }.WriteTo(arp);
        return Ethernet(MacAddress.Broadcast, sender, EtherType.Arp, arp);
    }

    /// <summary>A frame of <paramref name="length"/> bytes whose first four carry <paramref name="sequence"/>.</summary>
    public static byte[] Numbered(int sequence, int length = 100)
    {
        byte[] frame = new byte[Math.Max(length, 4)];
        BinaryPrimitives.WriteInt32BigEndian(frame, sequence);
        return frame;
    }
}

/// <summary>Polls a device under the harness and records every frame with its arrival time.</summary>
internal sealed class Collector(INetworkDevice device, TimeProvider clock) : IPollDriven
{
    public List<(DateTimeOffset Time, byte[] Frame)> Frames { get; } = [];

    public IEnumerable<int> Sequences => Frames.Select(f => BinaryPrimitives.ReadInt32BigEndian(f.Frame));

    public DateTimeOffset? NextDeadline => null;

    public int Poll() => device.Receive(frame => Frames.Add((clock.GetUtcNow(), frame.ToArray())), 64);
}
