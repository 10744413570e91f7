using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>The flags of a <see cref="VirtioNetHeader"/> (virtio 1.2 5.1.6, linux/virtio_net.h).</summary>
[Flags]
public enum VirtioNetFlags : byte
{
    /// <summary>Nothing to say about the checksum: the packet's checksums are complete (transmit) or unchecked (receive).</summary>
    None = 0,

    /// <summary>
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at <see cref="VirtioNetHeader.CsumStart"/> +
    /// <see cref="VirtioNetHeader.CsumOffset"/> holds only the pseudo-header sum; the Internet
    /// checksum of the bytes from CsumStart to the end still has to be folded in. On receive from
    /// the local kernel this means the data never crossed a wire and is trusted.
    /// </summary>
    NeedsChecksum = 1,

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID (receive only): the device verified the packet's transport checksum.</summary>
    DataValid = 2,

    /// <summary>VIRTIO_NET_HDR_F_RSC_INFO (receive only, with the RSC feature): coalescing information in CsumStart/CsumOffset.</summary>
    RscInfo = 4,
}

/// <summary>The kind of segmentation a <see cref="VirtioNetHeader"/> asks for (its gso_type field).</summary>
public enum VirtioNetGsoType : byte
{
    /// <summary>VIRTIO_NET_HDR_GSO_NONE: one packet as it is.</summary>
    None = 0,

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV4: a TCP over IPv4 super-segment, cut into GsoSize payload pieces.</summary>
    TcpV4 = 1,

    /// <summary>VIRTIO_NET_HDR_GSO_UDP: UDP fragmentation offload (IPv4 fragments of one UDP datagram); refused here.</summary>
    Udp = 3,

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV6: a TCP over IPv6 super-segment.</summary>
    TcpV6 = 4,

    /// <summary>VIRTIO_NET_HDR_GSO_UDP_L4: UDP segmentation (each GsoSize piece its own UDP datagram).</summary>
    UdpL4 = 5,

    /// <summary>VIRTIO_NET_HDR_GSO_ECN, or-ed into another type: the super-segment carries CWR (split: on the first segment only).</summary>
    Ecn = 0x80,
}

/// <summary>
/// The virtio-net header (virtio 1.2 5.1.6, struct virtio_net_hdr in linux/virtio_net.h) that a
/// TUN device opened with IFF_VNET_HDR, or an AF_PACKET socket with PACKET_VNET_HDR, puts in
/// front of every packet: how the packet's checksum is left (complete, partial, verified) and
/// whether it is a super-segment the other side cuts into wire-sized segments (segmentation
/// offload). 10 bytes, in the host's byte order, which is little-endian on every host this
/// project supports (x86-64, arm64).
/// </summary>
[WireHeader("virtio-net")]
public partial struct VirtioNetHeader
{
    /// <summary>The checksum state.</summary>
    public VirtioNetFlags Flags;

    /// <summary>The segmentation asked for (possibly with <see cref="VirtioNetGsoType.Ecn"/>).</summary>
    public VirtioNetGsoType GsoType;

    /// <summary>hdr_len: the length of the headers (link, network, transport) repeated in front of every segment; a hint.</summary>
    [LittleEndian]
    public ushort HdrLen;

    /// <summary>gso_size: the payload bytes per segment (the MSS on the wire) when <see cref="GsoType"/> is not None.</summary>
    [LittleEndian]
    public ushort GsoSize;

    /// <summary>csum_start: where the checksummed bytes begin, counted from the start of the packet (after this header).</summary>
    [LittleEndian]
    public ushort CsumStart;

    /// <summary>csum_offset: where the checksum field lies, counted from <see cref="CsumStart"/> (16 for TCP, 6 for UDP).</summary>
    [LittleEndian]
    public ushort CsumOffset;
}
