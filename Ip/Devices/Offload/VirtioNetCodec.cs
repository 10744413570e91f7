using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>Why a virtio-net header was refused (receive) or could not be made (transmit).</summary>
public enum VirtioHeaderError
{
    /// <summary>Accepted.</summary>
    None = 0,

    /// <summary>Fewer bytes than the 10-byte header, or no packet after it.</summary>
    Truncated,

    /// <summary>Flags other than NEEDS_CSUM and DATA_VALID (RSC_INFO was never negotiated), or both at once.</summary>
    UnknownFlags,

    /// <summary>NEEDS_CSUM pointing anywhere but the TCP or UDP checksum of an unfragmented IPv4 packet in the frame.</summary>
    BadChecksumLocation,

    /// <summary>A GSO type this device did not ask for (TCPv6 without IPv6, UFO, ECN).</summary>
    UnsupportedSegmentation,

    /// <summary>GSO without a partial checksum, of zero size, or on a packet that is not the TCP/IPv4 (or UDP/IPv4) it claims.</summary>
    BadSegmentation,

    /// <summary>GSO segments (headers plus gso_size) larger than the MTU.</summary>
    SegmentLargerThanMtu,
}

/// <summary>
/// Reads and writes the virtio-net header (<see cref="VirtioNetHeader"/>) that TUN (IFF_VNET_HDR)
/// and AF_PACKET (PACKET_VNET_HDR) put in front of every packet, and checks it against the
/// packet it describes: a malformed or unasked-for header is an error, never a crash; a partial
/// or verified checksum is believed only for the TCP or UDP header it names.
/// </summary>
public static class VirtioNetCodec
{
    /// <summary>The header's length: struct virtio_net_hdr without num_buffers (the TUN and AF_PACKET default).</summary>
    public const int HeaderLength = VirtioNetHeader.FixedLength;

    private const int EthernetLength = 14;

    /// <summary>
    /// Decodes the header in front of a received packet into the <see cref="PacketOffload"/> the
    /// stack understands, checking it against the packet.
    /// </summary>
    /// <param name="header">The 10 header bytes.</param>
    /// <param name="frame">The frame after the header (Ethernet frame or IP packet per <paramref name="medium"/>).</param>
    /// <param name="medium">What the frame starts with.</param>
    /// <param name="mtu">The device's MTU: a GSO segment (IP and TCP headers plus gso_size) may not exceed it.</param>
    /// <param name="granted">The offloads the device asked for: coalesced TCP (<see cref="DeviceCapabilities.ReceiveCoalescing"/>) and UDP segmentation.</param>
    /// <param name="offload">The frame's checksum state and segmentation, on success.</param>
    /// <returns><see cref="VirtioHeaderError.None"/>, or why the frame must be dropped.</returns>
    public static VirtioHeaderError Decode(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame, DeviceMedium medium, int mtu, DeviceCapabilities granted, out PacketOffload offload)
    {
        offload = default;
        if (!VirtioNetHeader.TryRead(header, out VirtioNetHeader.Reader h) || frame.IsEmpty)
        {
            return VirtioHeaderError.Truncated;
        }

        VirtioNetFlags flags = h.Flags;
        if ((flags & ~(VirtioNetFlags.NeedsChecksum | VirtioNetFlags.DataValid)) != 0
            || flags == (VirtioNetFlags.NeedsChecksum | VirtioNetFlags.DataValid))
        {
            return VirtioHeaderError.UnknownFlags;
        }

        VirtioNetGsoType gso = h.GsoType;
        if (flags == VirtioNetFlags.None && gso == VirtioNetGsoType.None)
        {
            return VirtioHeaderError.None; // the common case: an ordinary packet, checksums to verify
        }

        int ipStart = medium == DeviceMedium.Ethernet ? EthernetLength : 0;
        bool located = TryLocateTransport(frame, medium, out int transportStart, out IpProtocol protocol, out int transportLength, out bool ipv6);
        ChecksumState checksum = ChecksumState.None;
        ushort start = 0, offset = 0;
        if (flags == VirtioNetFlags.NeedsChecksum)
        {
            // Trusted only where it says: the TCP (offset 16) or UDP (offset 6) checksum of this packet.
            int expected = protocol == IpProtocol.Tcp ? 16 : protocol == IpProtocol.Udp ? 6 : -1;
            if (!located || h.CsumStart != transportStart || h.CsumOffset != expected || transportLength < expected + 2)
            {
                return VirtioHeaderError.BadChecksumLocation;
            }

            checksum = ChecksumState.Partial;
            start = h.CsumStart;
            offset = h.CsumOffset;
        }
        else if (flags == VirtioNetFlags.DataValid)
        {
            // DATA_VALID vouches for the outermost transport checksum only; the stack applies it to TCP and UDP.
            checksum = ChecksumState.Verified;
        }

        SegmentationKind kind = SegmentationKind.None;
        ushort segmentSize = 0, headerLength = 0;
        if (gso != VirtioNetGsoType.None)
        {
            VirtioHeaderError error = CheckSegmentation(gso, granted, located, ipv6, protocol, checksum, h.GsoSize, frame, ipStart, transportStart, transportLength, mtu, out kind, out headerLength);
            if (error != VirtioHeaderError.None)
            {
                return error;
            }

            segmentSize = h.GsoSize;
        }

        offload = new PacketOffload
        {
            Checksum = checksum,
            ChecksumStart = start,
            ChecksumOffset = offset,
            Segmentation = kind,
            SegmentSize = segmentSize,
            HeaderLength = headerLength,
        };
        return VirtioHeaderError.None;
    }

    /// <summary>
    /// Writes the header for a frame about to be sent, from its <see cref="PacketOffload"/>: the
    /// partial checksum and the GSO request, after checking them against the frame, the MTU and
    /// what the device was granted.
    /// </summary>
    /// <param name="offload">What the stack asks of the device.</param>
    /// <param name="frame">The frame (Ethernet or IP per <paramref name="medium"/>).</param>
    /// <param name="medium">What the frame starts with.</param>
    /// <param name="mtu">The largest IP packet on the wire: each segment's headers plus the segment size must fit.</param>
    /// <param name="granted">The offloads the device has.</param>
    /// <param name="header">Where the 10 header bytes go.</param>
    /// <returns><see cref="VirtioHeaderError.None"/>, or why the frame cannot be sent.</returns>
    public static VirtioHeaderError Encode(in PacketOffload offload, ReadOnlySpan<byte> frame, DeviceMedium medium, int mtu, DeviceCapabilities granted, Span<byte> header)
    {
        if (header.Length < HeaderLength)
        {
            return VirtioHeaderError.Truncated;
        }

        var value = default(VirtioNetHeader);
        if (offload.Checksum == ChecksumState.Partial)
        {
            if ((granted & DeviceCapabilities.TransmitChecksumOffload) == 0
                || offload.ChecksumStart + offload.ChecksumOffset + 2 > frame.Length)
            {
                return VirtioHeaderError.BadChecksumLocation;
            }

            value.Flags = VirtioNetFlags.NeedsChecksum;
            value.CsumStart = offload.ChecksumStart;
            value.CsumOffset = offload.ChecksumOffset;
        }
        else if (offload.Checksum == ChecksumState.Verified)
        {
            return VirtioHeaderError.UnknownFlags; // virtio 1.2 5.1.6.2: a driver never sets DATA_VALID
        }

        if (offload.Segmentation != SegmentationKind.None)
        {
            DeviceCapabilities needed = offload.Segmentation switch
            {
                SegmentationKind.TcpV4 => DeviceCapabilities.TcpSegmentationV4,
                SegmentationKind.UdpV4 => DeviceCapabilities.UdpSegmentationV4,
                _ => DeviceCapabilities.TcpSegmentationV6,
            };
            if ((granted & needed) == 0)
            {
                return VirtioHeaderError.UnsupportedSegmentation;
            }

            int ipStart = medium == DeviceMedium.Ethernet ? EthernetLength : 0;
            bool located = TryLocateTransport(frame, medium, out int transportStart, out IpProtocol protocol, out int transportLength, out bool ipv6);
            VirtioNetGsoType type = offload.Segmentation switch
            {
                SegmentationKind.TcpV4 => VirtioNetGsoType.TcpV4,
                SegmentationKind.TcpV6 => VirtioNetGsoType.TcpV6,
                _ => VirtioNetGsoType.UdpL4,
            };
            VirtioHeaderError error = CheckSegmentation(type, granted | DeviceCapabilities.ReceiveCoalescing, located, ipv6, protocol, offload.Checksum, offload.SegmentSize, frame, ipStart, transportStart, transportLength, mtu, out _, out ushort headerLength);
            if (error != VirtioHeaderError.None)
            {
                return error;
            }

            value.GsoType = offload.Ecn ? type | VirtioNetGsoType.Ecn : type;
            value.GsoSize = offload.SegmentSize;
            value.HdrLen = headerLength;
        }

        value.WriteTo(header);
        return VirtioHeaderError.None;
    }

    private static VirtioHeaderError CheckSegmentation(
        VirtioNetGsoType gso,
        DeviceCapabilities granted,
        bool located,
        bool ipv6,
        IpProtocol protocol,
        ChecksumState checksum,
        ushort gsoSize,
        ReadOnlySpan<byte> frame,
        int ipStart,
        int transportStart,
        int transportLength,
        int mtu,
        out SegmentationKind kind,
        out ushort headerLength)
    {
        kind = SegmentationKind.None;
        headerLength = 0;
        if (gso == VirtioNetGsoType.TcpV4 && (granted & DeviceCapabilities.ReceiveCoalescing) != 0 && !ipv6)
        {
            kind = SegmentationKind.TcpV4;
        }
        else if (gso == VirtioNetGsoType.TcpV6 && (granted & DeviceCapabilities.ReceiveCoalescing) != 0 && ipv6)
        {
            // A TCP over IPv6 super-segment, received (the kernel's TSO on a veth reaching AF_PACKET,
            // or TUN_F_TSO6) and taken whole with its partial checksum, or sent for the kernel to cut.
            kind = SegmentationKind.TcpV6;
        }
        else if (gso == VirtioNetGsoType.UdpL4 && (granted & DeviceCapabilities.UdpSegmentationV4) != 0 && !ipv6)
        {
            kind = SegmentationKind.UdpV4;
        }
        else
        {
            return VirtioHeaderError.UnsupportedSegmentation;
        }

        IpProtocol wanted = kind == SegmentationKind.UdpV4 ? IpProtocol.Udp : IpProtocol.Tcp;

        // Linux (virtio_net_hdr_to_skb) requires the partial checksum with GSO: segments get theirs from it.
        if (!located || protocol != wanted || checksum != ChecksumState.Partial || gsoSize == 0)
        {
            return VirtioHeaderError.BadSegmentation;
        }

        int minimum = wanted == IpProtocol.Tcp ? 20 : 8;
        if (transportLength < minimum)
        {
            return VirtioHeaderError.BadSegmentation;
        }

        int transportHeader = wanted == IpProtocol.Tcp ? (frame[transportStart + 12] >> 4) * 4 : 8;
        if (transportHeader < minimum || transportHeader > transportLength)
        {
            return VirtioHeaderError.BadSegmentation;
        }

        // Each segment on the wire: the IP header, the transport header, gso_size bytes.
        int segmentIpLength = transportStart - ipStart + transportHeader + gsoSize;
        if (segmentIpLength > mtu)
        {
            return VirtioHeaderError.SegmentLargerThanMtu;
        }

        headerLength = (ushort)(transportStart + transportHeader);
        return VirtioHeaderError.None;
    }

    /// <summary>
    /// Finds the transport header of an unfragmented IPv4 packet, or of an IPv6 packet whose
    /// extension headers (walked with the default limits) lead to it, in <paramref name="frame"/>.
    /// </summary>
    private static bool TryLocateTransport(ReadOnlySpan<byte> frame, DeviceMedium medium, out int transportStart, out IpProtocol protocol, out int transportLength, out bool ipv6)
    {
        transportStart = 0;
        protocol = 0;
        transportLength = 0;
        ipv6 = false;
        int ipStart = 0;
        if (medium == DeviceMedium.Ethernet)
        {
            if (frame.Length < EthernetLength)
            {
                return false;
            }

            ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            if (etherType != (ushort)EtherType.Ipv4 && etherType != (ushort)EtherType.Ipv6)
            {
                return false;
            }

            ipStart = EthernetLength;
        }

        bool six = medium == DeviceMedium.Ethernet
            ? BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == (ushort)EtherType.Ipv6
            : frame.Length > 0 && frame[0] >> 4 == 6;
        if (six)
        {
            ipv6 = true;
            if (!Ipv6Header.TryRead(frame[ipStart..], out Ipv6Header.Reader ip6))
            {
                return false;
            }

            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(ip6.Bytes);
            if (chain.Status != Ipv6ChainStatus.UpperLayer)
            {
                return false;
            }

            transportStart = ipStart + chain.PayloadOffset;
            protocol = chain.NextHeader;
            transportLength = ip6.Bytes.Length - chain.PayloadOffset;
            return true;
        }

        if (!Ipv4Header.TryRead(frame[ipStart..], out Ipv4Header.Reader ip) || ip.MoreFragments || ip.FragmentOffset != 0)
        {
            return false;
        }

        transportStart = ipStart + ip.HeaderLength;
        protocol = ip.Protocol;
        transportLength = ip.Payload.Length;
        return true;
    }
}
