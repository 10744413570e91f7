using System.Buffers.Binary;
using Protocols.Ip.Devices.Linux;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Devices;

/// <summary>
/// RawPacketDevice finishes transport checksums the kernel left to offload (CHECKSUM_PARTIAL:
/// the field holds the folded pseudo-header sum, not complemented).
/// </summary>
public sealed class ChecksumCompletionTests
{
    private static readonly Ipv4Address Source = Ipv4Address.Parse("10.66.0.1");
    private static readonly Ipv4Address Destination = Ipv4Address.Parse("10.66.0.2");

    [Theory]
    [InlineData(IpProtocol.Udp, 8, 6, 0)]
    [InlineData(IpProtocol.Udp, 8, 6, 1)]
    [InlineData(IpProtocol.Udp, 8, 6, 1473)]
    [InlineData(IpProtocol.Tcp, 20, 16, 0)]
    [InlineData(IpProtocol.Tcp, 20, 16, 999)]
    public void PartialChecksumIsCompletedToTheFullOne(IpProtocol protocol, int headerLength, int checksumOffset, int payloadLength)
    {
        byte[] frame = Frame(protocol, headerLength, payloadLength, seed: payloadLength);
        Span<byte> transport = frame.AsSpan(14 + 20);
        transport.Slice(checksumOffset, 2).Clear();
        ushort full = Checksum.Compute(transport, Checksum.PseudoHeaderSum(Source, Destination, (byte)protocol, transport.Length));
        if (full == 0 && protocol == IpProtocol.Udp)
        {
            full = 0xffff;
        }

        // What the sending kernel leaves for offload: the pseudo-header sum, folded, not complemented.
        ushort partial = (ushort)Checksum.Fold(Checksum.PseudoHeaderSum(Source, Destination, (byte)protocol, transport.Length));
        BinaryPrimitives.WriteUInt16BigEndian(transport[checksumOffset..], partial);

        RawPacketDevice.CompleteTransportChecksum(frame);

        Assert.Equal(full, BinaryPrimitives.ReadUInt16BigEndian(transport[checksumOffset..]));
        Assert.Equal(0, Checksum.Compute(transport, Checksum.PseudoHeaderSum(Source, Destination, (byte)protocol, transport.Length))); // verifies
    }

    [Fact]
    public void FragmentsOtherProtocolsAndGarbageAreLeftAlone()
    {
        byte[] fragment = Frame(IpProtocol.Udp, 8, 100, seed: 1);
        fragment[14 + 6] = 0x20; // More Fragments
        byte[] before = (byte[])fragment.Clone();
        RawPacketDevice.CompleteTransportChecksum(fragment);
        Assert.Equal(before, fragment);

        byte[] icmp = Frame(IpProtocol.Icmp, 8, 10, seed: 2);
        before = (byte[])icmp.Clone();
        RawPacketDevice.CompleteTransportChecksum(icmp);
        Assert.Equal(before, icmp);

        var random = new Random(7);
        for (int i = 0; i < 20000; i++)
        {
            byte[] garbage = new byte[random.Next(0, 80)];
            random.NextBytes(garbage);
            if (garbage.Length > 14 && random.Next(2) == 0)
            {
                garbage[12] = 0x08;
                garbage[13] = 0x00;
                garbage[14] = (byte)(0x40 | random.Next(16));
            }

            RawPacketDevice.CompleteTransportChecksum(garbage); // never throws, never writes out of bounds
        }
    }

    private static byte[] Frame(IpProtocol protocol, int headerLength, int payloadLength, int seed)
    {
        byte[] transport = new byte[headerLength + payloadLength];
        new Random(seed).NextBytes(transport);
        if (protocol == IpProtocol.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport.AsSpan(4), (ushort)transport.Length);
        }

        byte[] frame = new byte[14 + 20 + transport.Length];
        new EthernetHeader { EtherType = EtherType.Ipv4 }.WriteTo(frame);
        Ipv4Packet.Write(frame.AsSpan(14), new Ipv4Header { Ttl = 64, Protocol = protocol, Source = Source, Destination = Destination }, default, transport);
        return frame;
    }
}
