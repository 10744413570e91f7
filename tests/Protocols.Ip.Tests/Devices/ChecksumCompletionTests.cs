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
    public void Partial_checksum_is_completed_to_the_full_one(IpProtocol protocol, int headerLength, int checksumOffset, int payloadLength)
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
    public void Fragments_other_protocols_and_garbage_are_left_alone()
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
                bool six = random.Next(2) == 0;
                garbage[12] = six ? (byte)0x86 : (byte)0x08;
                garbage[13] = six ? (byte)0xdd : (byte)0x00;
                garbage[14] = (byte)((six ? 0x60 : 0x40) | random.Next(16));
            }

            RawPacketDevice.CompleteTransportChecksum(garbage); // never throws, never writes out of bounds
        }
    }

    [Theory]
    [InlineData(IpProtocol.Udp, 6, false)]
    [InlineData(IpProtocol.Tcp, 16, false)]
    [InlineData(IpProtocol.Tcp, 16, true)]
    public void Ipv6_partial_checksums_are_completed_after_the_extension_headers(IpProtocol protocol, int checksumOffset, bool withDestinationOptions)
    {
        Ipv6Address source = Ipv6Address.Parse("2001:db8::1"), destination = Ipv6Address.Parse("2001:db8::2");
        byte[] transport = new byte[(protocol == IpProtocol.Udp ? 8 : 20) + 333];
        new Random(3).NextBytes(transport);
        if (protocol == IpProtocol.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport.AsSpan(4), (ushort)transport.Length);
        }

        transport.AsSpan(checksumOffset, 2).Clear();
        ushort full = Checksum.Compute(transport, Checksum.PseudoHeaderSum(source, destination, (byte)protocol, transport.Length));
        ushort partial = (ushort)Checksum.Fold(Checksum.PseudoHeaderSum(source, destination, (byte)protocol, transport.Length));
        BinaryPrimitives.WriteUInt16BigEndian(transport.AsSpan(checksumOffset), partial);
        byte[] options = withDestinationOptions ? [(byte)protocol, 0, 1, 4, 0, 0, 0, 0] : [];
        byte[] frame = new byte[14 + 40 + options.Length + transport.Length];
        new EthernetHeader { EtherType = EtherType.Ipv6 }.WriteTo(frame);
        Ipv6Packet.Write(frame.AsSpan(14), new Ipv6Header { NextHeader = withDestinationOptions ? IpProtocol.Ipv6DestinationOptions : protocol, HopLimit = 64, Source = source, Destination = destination }, options, transport);

        RawPacketDevice.CompleteTransportChecksum(frame);

        Span<byte> completed = frame.AsSpan(14 + 40 + options.Length);
        Assert.Equal(full, BinaryPrimitives.ReadUInt16BigEndian(completed[checksumOffset..]));
        Assert.Equal(0, Checksum.Compute(completed, Checksum.PseudoHeaderSum(source, destination, (byte)protocol, completed.Length)));
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
