using System.Buffers.Binary;
using System.Text;
using Protocols.Ip.Devices;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Devices;

/// <summary>
/// The virtio-net header (generated codec, little-endian fields) and <see cref="VirtioNetCodec"/>:
/// golden dumps of the headers the kernel and the stack exchange, and every way a header can be
/// refused (malformed, not asked for, a GSO size over the MTU) without throwing.
/// </summary>
public sealed class VirtioNetHeaderTests
{
    private const int Mtu = 1500;
    private const DeviceCapabilities Tun = DeviceCapabilities.TransmitChecksumOffload | DeviceCapabilities.ReceiveChecksumOffload
        | DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.ReceiveCoalescing | DeviceCapabilities.UdpSegmentationV4;

    private static readonly Ipv4Address A = Ipv4Address.Parse("10.66.0.1");
    private static readonly Ipv4Address B = Ipv4Address.Parse("10.66.0.2");

    public static TheoryData<string> SnapshotCases => new("plain", "tso4-from-kernel", "partial-udp", "data-valid", "uso4-ecn-max");

    private static VirtioNetHeader HeaderFor(string name) => name switch
    {
        "plain" => default,
        "tso4-from-kernel" => new VirtioNetHeader { Flags = VirtioNetFlags.NeedsChecksum, GsoType = VirtioNetGsoType.TcpV4, HdrLen = 52, GsoSize = 1448, CsumStart = 20, CsumOffset = 16 },
        "partial-udp" => new VirtioNetHeader { Flags = VirtioNetFlags.NeedsChecksum, CsumStart = 34, CsumOffset = 6 },
        "data-valid" => new VirtioNetHeader { Flags = VirtioNetFlags.DataValid },
        "uso4-ecn-max" => new VirtioNetHeader { Flags = (VirtioNetFlags)0xff, GsoType = VirtioNetGsoType.UdpL4 | VirtioNetGsoType.Ecn, HdrLen = 0xffff, GsoSize = 0x1234, CsumStart = 0xabcd, CsumOffset = 0x0102 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(SnapshotCases))]
    public void Encoded(string name)
    {
        var bytes = new byte[VirtioNetHeader.FixedLength];
        HeaderFor(name).WriteTo(bytes);
        Assert.True(VirtioNetHeader.TryRead(bytes, out VirtioNetHeader.Reader r, out WireError error), error.ToString());
        var annotations = new List<HexAnnotation>();
        VirtioNetHeader.Annotate(r.Header, 0, annotations);
        Snapshot.Match(r.ToString() + "\n" + HexDump.Annotated(bytes, annotations), name);
        Assert.Equal(HeaderFor(name), VirtioNetHeader.Read(bytes));
    }

    [Fact]
    public void Fields_are_little_endian()
    {
        var bytes = new byte[VirtioNetHeader.FixedLength];
        new VirtioNetHeader { HdrLen = 0x0102, GsoSize = 0x0304, CsumStart = 0x0506, CsumOffset = 0x0708 }.WriteTo(bytes);
        Assert.Equal(new byte[] { 0, 0, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07 }, bytes);
        Assert.True(VirtioNetHeader.TryRead(bytes, out VirtioNetHeader.Reader r));
        Assert.Equal(0x0304, r.GsoSize);
    }

    [Fact]
    public void A_truncated_header_is_a_typed_error()
    {
        Assert.False(VirtioNetHeader.TryRead(new byte[9], out _, out WireError error));
        Assert.True(error.IsError);
        Assert.Equal(VirtioHeaderError.Truncated, VirtioNetCodec.Decode(new byte[9], TcpPacket(10), DeviceMedium.Ip, Mtu, Tun, out _));
    }

    [Fact]
    public void Kernel_super_segment_decodes_to_partial_TCP_with_its_wire_segment_size()
    {
        byte[] packet = TcpPacket(60000);
        byte[] header = Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, gsoSize: 1448, csumStart: 20, csumOffset: 16, hdrLen: 40);
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(header, packet, DeviceMedium.Ip, Mtu, Tun, out PacketOffload offload));
        Assert.Equal(ChecksumState.Partial, offload.Checksum);
        Assert.Equal(SegmentationKind.TcpV4, offload.Segmentation);
        Assert.Equal(1448, offload.SegmentSize);
        Assert.Equal(40, offload.HeaderLength); // the IP and TCP headers as measured, not the hint
        Assert.True(offload.TransportChecksumTrusted);
    }

    [Fact]
    public void Ipv6_partial_checksums_and_tcpv6_super_segments_are_located_after_the_extension_headers()
    {
        // A TCP packet over IPv6 with an 8-byte destination options header: the TCP header starts at 48.
        byte[] options = [(byte)IpProtocol.Tcp, 0, 1, 4, 0, 0, 0, 0];
        var tcp = new byte[20 + 3000];
        tcp[12] = 5 << 4;
        var packet = new byte[40 + options.Length + tcp.Length];
        Ipv6Packet.Write(packet, new Ipv6Header { NextHeader = IpProtocol.Ipv6DestinationOptions, HopLimit = 64, Source = Ipv6Address.Parse("2001:db8::1"), Destination = Ipv6Address.Parse("2001:db8::2") }, options, tcp);
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, csumStart: 48, csumOffset: 16), packet, DeviceMedium.Ip, Mtu, Tun, out PacketOffload partial));
        Assert.Equal(ChecksumState.Partial, partial.Checksum);
        Assert.True(partial.TransportChecksumTrusted);
        Assert.Equal(VirtioHeaderError.BadChecksumLocation, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, csumStart: 40, csumOffset: 16), packet, DeviceMedium.Ip, Mtu, Tun, out _));

        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV6, 1412, 48, 16), packet, DeviceMedium.Ip, Mtu, Tun, out PacketOffload super));
        Assert.Equal(SegmentationKind.TcpV6, super.Segmentation);
        Assert.Equal(68, super.HeaderLength);
        Assert.Equal(VirtioHeaderError.UnsupportedSegmentation, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1412, 48, 16), packet, DeviceMedium.Ip, Mtu, Tun, out _));
        Assert.Equal(VirtioHeaderError.SegmentLargerThanMtu, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV6, 1433, 48, 16), packet, DeviceMedium.Ip, Mtu, Tun, out _));
    }

    [Fact]
    public void Plain_header_is_an_ordinary_frame()
    {
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(new byte[10], TcpPacket(100), DeviceMedium.Ip, Mtu, Tun, out PacketOffload offload));
        Assert.True(offload.IsNone);
        Assert.False(offload.TransportChecksumTrusted);
    }

    [Fact]
    public void Data_valid_is_trusted_for_the_transport_only()
    {
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(Header(VirtioNetFlags.DataValid), TcpPacket(100), DeviceMedium.Ip, Mtu, Tun, out PacketOffload offload));
        Assert.Equal(ChecksumState.Verified, offload.Checksum);
    }

    public static TheoryData<string, VirtioHeaderError> Malformed => new()
    {
        { "rsc-info flag", VirtioHeaderError.UnknownFlags },
        { "both checksum flags", VirtioHeaderError.UnknownFlags },
        { "high flag bits", VirtioHeaderError.UnknownFlags },
        { "csum_start not the TCP header", VirtioHeaderError.BadChecksumLocation },
        { "csum_offset of UDP on TCP", VirtioHeaderError.BadChecksumLocation },
        { "csum_start beyond the packet", VirtioHeaderError.BadChecksumLocation },
        { "partial checksum on a fragment", VirtioHeaderError.BadChecksumLocation },
        { "partial checksum on ICMP", VirtioHeaderError.BadChecksumLocation },
        { "tcpv6 gso", VirtioHeaderError.UnsupportedSegmentation },
        { "ufo gso", VirtioHeaderError.UnsupportedSegmentation },
        { "ecn gso not asked for", VirtioHeaderError.UnsupportedSegmentation },
        { "unknown gso type", VirtioHeaderError.UnsupportedSegmentation },
        { "gso without partial checksum", VirtioHeaderError.BadSegmentation },
        { "gso size zero", VirtioHeaderError.BadSegmentation },
        { "tcp gso on udp", VirtioHeaderError.BadSegmentation },
        { "gso size larger than the mtu", VirtioHeaderError.SegmentLargerThanMtu },
        { "tcp gso without coalescing granted", VirtioHeaderError.UnsupportedSegmentation },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_headers_are_refused_with_a_reason(string name, VirtioHeaderError expected)
    {
        byte[] tcp = TcpPacket(3000);
        (byte[] header, byte[] packet, DeviceCapabilities granted) = name switch
        {
            "rsc-info flag" => (Header(VirtioNetFlags.RscInfo), tcp, Tun),
            "both checksum flags" => (Header(VirtioNetFlags.NeedsChecksum | VirtioNetFlags.DataValid, csumStart: 20, csumOffset: 16), tcp, Tun),
            "high flag bits" => (Header((VirtioNetFlags)0x80), tcp, Tun),
            "csum_start not the TCP header" => (Header(VirtioNetFlags.NeedsChecksum, csumStart: 24, csumOffset: 16), tcp, Tun),
            "csum_offset of UDP on TCP" => (Header(VirtioNetFlags.NeedsChecksum, csumStart: 20, csumOffset: 6), tcp, Tun),
            "csum_start beyond the packet" => (Header(VirtioNetFlags.NeedsChecksum, csumStart: 60000, csumOffset: 16), tcp, Tun),
            "partial checksum on a fragment" => (Header(VirtioNetFlags.NeedsChecksum, csumStart: 20, csumOffset: 16), TcpPacket(100, moreFragments: true), Tun),
            "partial checksum on ICMP" => (Header(VirtioNetFlags.NeedsChecksum, csumStart: 20, csumOffset: 2), Packet(IpProtocol.Icmp, 8, 100), Tun),
            "tcpv6 gso" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV6, 1448, 20, 16), tcp, Tun),
            "ufo gso" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.Udp, 1448, 20, 6), Packet(IpProtocol.Udp, 8, 3000), Tun),
            "ecn gso not asked for" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4 | VirtioNetGsoType.Ecn, 1448, 20, 16), tcp, Tun),
            "unknown gso type" => (Header(VirtioNetFlags.NeedsChecksum, (VirtioNetGsoType)2, 1448, 20, 16), tcp, Tun),
            "gso without partial checksum" => (Header(VirtioNetFlags.None, VirtioNetGsoType.TcpV4, 1448), tcp, Tun),
            "gso size zero" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 0, 20, 16), tcp, Tun),
            "tcp gso on udp" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1448, 20, 6), Packet(IpProtocol.Udp, 8, 3000), Tun),
            "gso size larger than the mtu" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1461, 20, 16), tcp, Tun),
            "tcp gso without coalescing granted" => (Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1448, 20, 16), tcp, DeviceCapabilities.TransmitChecksumOffload),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };

        Assert.Equal(expected, VirtioNetCodec.Decode(header, packet, DeviceMedium.Ip, Mtu, granted, out PacketOffload offload));
        Assert.Equal(default, offload);
    }

    [Fact]
    public void GSO_size_at_the_MTU_is_accepted()
    {
        // 20 (IPv4) + 20 (TCP) + 1460 = 1500: exactly the MTU.
        byte[] header = Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1460, 20, 16);
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(header, TcpPacket(5000), DeviceMedium.Ip, Mtu, Tun, out _));
        Assert.Equal(VirtioHeaderError.SegmentLargerThanMtu, VirtioNetCodec.Decode(header, TcpPacket(5000), DeviceMedium.Ip, Mtu - 1, Tun, out _));
    }

    [Fact]
    public void Ethernet_frames_locate_the_transport_after_the_link_header()
    {
        byte[] frame = new byte[14 + 3040];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ushort)EtherType.Ipv4);
        TcpPacket(3000).CopyTo(frame, 14);
        byte[] header = Header(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 1448, 34, 16);
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Decode(header, frame, DeviceMedium.Ethernet, Mtu, Tun, out PacketOffload offload));
        Assert.Equal(54, offload.HeaderLength);
        Assert.Equal(VirtioHeaderError.BadChecksumLocation, VirtioNetCodec.Decode(Header(VirtioNetFlags.NeedsChecksum, csumStart: 20, csumOffset: 16), frame, DeviceMedium.Ethernet, Mtu, Tun, out _));
    }

    /// <summary>A TCP/IPv6 super-segment the stack sends: GSO type TCPV6, the header length past the 40-byte IPv6 header, refused without TcpSegmentationV6.</summary>
    [Fact]
    public void Encode_makes_a_tcpv6_super_segment_header_only_when_granted()
    {
        var tcp = new byte[20 + 60000];
        tcp[12] = 5 << 4;
        var packet = new byte[40 + tcp.Length];
        Ipv6Packet.Write(packet, new Ipv6Header { NextHeader = IpProtocol.Tcp, HopLimit = 64, Source = Ipv6Address.Parse("2001:db8::1"), Destination = Ipv6Address.Parse("2001:db8::2") }, default, tcp);
        var tso = new PacketOffload
        {
            Checksum = ChecksumState.Partial,
            ChecksumStart = 40,
            ChecksumOffset = 16,
            Segmentation = SegmentationKind.TcpV6,
            SegmentSize = 1440,
        };
        var header = new byte[10];
        Assert.Equal(VirtioHeaderError.UnsupportedSegmentation, VirtioNetCodec.Encode(tso, packet, DeviceMedium.Ip, Mtu, Tun, header));
        const DeviceCapabilities withTso6 = Tun | DeviceCapabilities.TcpSegmentationV6;
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Encode(tso, packet, DeviceMedium.Ip, Mtu, withTso6, header));
        Assert.Equal(new VirtioNetHeader { Flags = VirtioNetFlags.NeedsChecksum, GsoType = VirtioNetGsoType.TcpV6, HdrLen = 60, GsoSize = 1440, CsumStart = 40, CsumOffset = 16 }, VirtioNetHeader.Read(header));

        // 40 + 20 + 1441 > 1500; and a TCPv6 super-segment is not a TCPv4 one.
        Assert.Equal(VirtioHeaderError.SegmentLargerThanMtu, VirtioNetCodec.Encode(tso with { SegmentSize = 1441 }, packet, DeviceMedium.Ip, Mtu, withTso6, header));
        Assert.Equal(VirtioHeaderError.UnsupportedSegmentation, VirtioNetCodec.Encode(tso with { Segmentation = SegmentationKind.TcpV4 }, packet, DeviceMedium.Ip, Mtu, withTso6, header));
    }

    [Fact]
    public void Encode_makes_the_kernels_super_segment_header_and_refuses_what_is_not_granted()
    {
        byte[] packet = TcpPacket(60000);
        var tso = new PacketOffload
        {
            Checksum = ChecksumState.Partial,
            ChecksumStart = 20,
            ChecksumOffset = 16,
            Segmentation = SegmentationKind.TcpV4,
            SegmentSize = 1448,
        };
        var header = new byte[10];
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Encode(tso, packet, DeviceMedium.Ip, Mtu, Tun, header));
        Assert.Equal(new VirtioNetHeader { Flags = VirtioNetFlags.NeedsChecksum, GsoType = VirtioNetGsoType.TcpV4, HdrLen = 40, GsoSize = 1448, CsumStart = 20, CsumOffset = 16 }, VirtioNetHeader.Read(header));

        Assert.Equal(VirtioHeaderError.SegmentLargerThanMtu, VirtioNetCodec.Encode(tso with { SegmentSize = 1461 }, packet, DeviceMedium.Ip, Mtu, Tun, header));
        Assert.Equal(VirtioHeaderError.UnsupportedSegmentation, VirtioNetCodec.Encode(tso, packet, DeviceMedium.Ip, Mtu, DeviceCapabilities.TransmitChecksumOffload, header));
        Assert.Equal(VirtioHeaderError.BadSegmentation, VirtioNetCodec.Encode(tso with { Checksum = ChecksumState.None }, packet, DeviceMedium.Ip, Mtu, Tun, header));
        Assert.Equal(VirtioHeaderError.UnknownFlags, VirtioNetCodec.Encode(new PacketOffload { Checksum = ChecksumState.Verified }, packet, DeviceMedium.Ip, Mtu, Tun, header));
        Assert.Equal(VirtioHeaderError.BadChecksumLocation, VirtioNetCodec.Encode(PacketOffload.PartialTcp(20), packet, DeviceMedium.Ip, Mtu, DeviceCapabilities.None, header));
        Assert.Equal(VirtioHeaderError.None, VirtioNetCodec.Encode(default, packet, DeviceMedium.Ip, Mtu, DeviceCapabilities.None, header));
        Assert.Equal(new byte[10], header);
    }

    [Fact]
    public void Random_headers_and_packets_never_throw()
    {
        var random = new Random(10);
        var header = new byte[10];
        int accepted = 0;
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(header);
            if (random.Next(2) == 0)
            {
                header[0] &= 3;
                header[1] = (byte)random.Next(0, 6);
            }

            byte[] packet = random.Next(3) == 0 ? new byte[random.Next(0, 80)] : TcpPacket(random.Next(0, 4000));
            random.NextBytes(packet.AsSpan(0, Math.Min(packet.Length, random.Next(0, 4) == 0 ? packet.Length : 0)));
            DeviceMedium medium = random.Next(2) == 0 ? DeviceMedium.Ip : DeviceMedium.Ethernet;
            if (VirtioNetCodec.Decode(header, packet, medium, random.Next(68, 70000), Tun, out _) == VirtioHeaderError.None)
            {
                accepted++;
            }
        }

        Assert.InRange(accepted, 1, 19999);
    }

    private static byte[] Header(VirtioNetFlags flags, VirtioNetGsoType gso = VirtioNetGsoType.None, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0, ushort hdrLen = 0)
    {
        var bytes = new byte[10];
        new VirtioNetHeader { Flags = flags, GsoType = gso, GsoSize = gsoSize, CsumStart = csumStart, CsumOffset = csumOffset, HdrLen = hdrLen }.WriteTo(bytes);
        return bytes;
    }

    private static byte[] TcpPacket(int payload, bool moreFragments = false) => Packet(IpProtocol.Tcp, 20, payload, moreFragments);

    /// <summary>An IPv4 packet with a transport header of <paramref name="transportHeader"/> bytes (TCP data offset set) and a payload.</summary>
    private static byte[] Packet(IpProtocol protocol, int transportHeader, int payload, bool moreFragments = false)
    {
        int total = Ipv4Header.FixedLength + transportHeader + payload;
        var bytes = new byte[total];
        new Ipv4Header
        {
            Ihl = 5,
            TotalLength = (ushort)Math.Min(total, ushort.MaxValue),
            Ttl = 64,
            Protocol = protocol,
            MoreFragments = moreFragments,
            Source = A,
            Destination = B,
        }.WriteTo(bytes);
        if (protocol == IpProtocol.Tcp)
        {
            bytes[20 + 12] = (byte)((transportHeader / 4) << 4);
        }

        Encoding.ASCII.GetBytes("payload").CopyTo(bytes, Math.Min(total - 7, 20 + transportHeader));
        return bytes;
    }
}
