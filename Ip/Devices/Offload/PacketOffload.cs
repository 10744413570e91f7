namespace Protocols.Ip.Devices;

/// <summary>The state of a packet's transport checksum as it crosses a device.</summary>
public enum ChecksumState : byte
{
    /// <summary>Complete on transmit; on receive not yet verified (the stack verifies it).</summary>
    None = 0,

    /// <summary>
    /// Partial: the checksum field holds only the pseudo-header sum and the sum of the bytes from
    /// <see cref="PacketOffload.ChecksumStart"/> on still has to be folded in (by the device on
    /// transmit). Received from the local kernel, it means the bytes never crossed a wire: trusted.
    /// </summary>
    Partial = 1,

    /// <summary>Receive only: the device verified the TCP or UDP checksum of this packet (nothing else).</summary>
    Verified = 2,
}

/// <summary>The segmentation a super-segment carries.</summary>
public enum SegmentationKind : byte
{
    /// <summary>An ordinary packet.</summary>
    None = 0,

    /// <summary>A TCP over IPv4 super-segment: payload to be cut into <see cref="PacketOffload.SegmentSize"/> pieces.</summary>
    TcpV4 = 1,

    /// <summary>A TCP over IPv6 super-segment (kept for the IPv6 path; no IPv6 device path uses it yet).</summary>
    TcpV6 = 2,

    /// <summary>A UDP over IPv4 super-datagram cut into <see cref="PacketOffload.SegmentSize"/> datagrams (UDP segmentation).</summary>
    UdpV4 = 3,
}

/// <summary>
/// What travels with one frame between the stack and a device besides its bytes: the state of its
/// transport checksum and, for a super-segment, how it is cut into wire-sized segments. The
/// default value is an ordinary frame with complete checksums. Offsets count from the start of
/// the frame as the stack sees it (the Ethernet header on an Ethernet device, the IP header on an
/// IP device), never from a device's own header.
/// </summary>
public readonly record struct PacketOffload
{
    /// <summary>The transport checksum's state.</summary>
    public ChecksumState Checksum { get; init; }

    /// <summary>With <see cref="ChecksumState.Partial"/>: where the checksummed bytes begin (the transport header).</summary>
    public ushort ChecksumStart { get; init; }

    /// <summary>With <see cref="ChecksumState.Partial"/>: where the checksum field lies, from <see cref="ChecksumStart"/> (TCP 16, UDP 6).</summary>
    public ushort ChecksumOffset { get; init; }

    /// <summary>The segmentation carried (None for an ordinary frame).</summary>
    public SegmentationKind Segmentation { get; init; }

    /// <summary>With segmentation: the payload bytes of every segment but the last (the MSS on the wire).</summary>
    public ushort SegmentSize { get; init; }

    /// <summary>With segmentation: the bytes of headers (link, IP, transport with options) repeated in every segment.</summary>
    public ushort HeaderLength { get; init; }

    /// <summary>With TCP segmentation: the super-segment carries CWR, which goes on the first segment only (RFC 3168 6.1.2).</summary>
    public bool Ecn { get; init; }

    /// <summary>True for an ordinary frame (complete checksums, no segmentation).</summary>
    public bool IsNone => Checksum == ChecksumState.None && Segmentation == SegmentationKind.None;

    /// <summary>True when the transport checksum need not be verified by the stack (partial from the local kernel, or verified by the device).</summary>
    public bool TransportChecksumTrusted => Checksum != ChecksumState.None;

    /// <summary>A frame whose TCP checksum is left partial: the transport header starts at <paramref name="transportStart"/>.</summary>
    /// <param name="transportStart">The offset of the TCP header in the frame.</param>
    public static PacketOffload PartialTcp(int transportStart) => new()
    {
        Checksum = ChecksumState.Partial,
        ChecksumStart = (ushort)transportStart,
        ChecksumOffset = 16, // RFC 9293 3.1: the checksum is bytes 16-17 of the TCP header
    };

    /// <summary>A frame whose UDP checksum is left partial: the transport header starts at <paramref name="transportStart"/>.</summary>
    /// <param name="transportStart">The offset of the UDP header in the frame.</param>
    public static PacketOffload PartialUdp(int transportStart) => new()
    {
        Checksum = ChecksumState.Partial,
        ChecksumStart = (ushort)transportStart,
        ChecksumOffset = 6, // RFC 768: the checksum is bytes 6-7 of the UDP header
    };
}
