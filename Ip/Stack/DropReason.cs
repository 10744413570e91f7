using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Why the stack dropped a frame it received or a datagram it was asked to send.</summary>
public enum DropReason
{
    /// <summary>The IP version field is not 4 or 6 (RFC 791 3.1, RFC 1122 3.2.1.1, RFC 8200 3), or not the family the frame says.</summary>
    BadVersion = 0,

    /// <summary>The IHL is below 5 or the header does not fit in the frame (RFC 791 3.1).</summary>
    BadHeaderLength,

    /// <summary>The total length is below the header length or beyond the frame (RFC 791 3.1).</summary>
    BadTotalLength,

    /// <summary>A header checksum (IPv4, ICMP) does not verify (RFC 1122 3.2.1.2).</summary>
    BadChecksum,

    /// <summary>The source address cannot be a single host's: broadcast, multicast, reserved, loopback from the wire, ours (RFC 1122 3.2.1.3).</summary>
    BadSourceAddress,

    /// <summary>The destination is none of our addresses nor a broadcast we accept; hosts do not forward (RFC 1122 3.3.4).</summary>
    NotForUs,

    /// <summary>The time to live ran out (reserved: a host does not forward, so it never decrements TTL).</summary>
    TtlExpired,

    /// <summary>No transport is registered for the datagram's protocol (protocol unreachable sent when allowed).</summary>
    NoTransport,

    /// <summary>A datagram's fragments did not all arrive in time (RFC 791 3.2, RFC 1122 3.3.2).</summary>
    ReassemblyTimeout,

    /// <summary>Fragments of one datagram overlap (RFC 5722 spirit: the datagram is dropped).</summary>
    ReassemblyOverlap,

    /// <summary>Reassembly ran out of its bounded datagrams or bytes, or a datagram would exceed 65535 bytes.</summary>
    ReassemblyLimit,

    /// <summary>A datagram to send does not fit the MTU and may not (or cannot) be fragmented.</summary>
    TooBig,

    /// <summary>The bounded queue of packets waiting for ARP resolution is full (per address or in total).</summary>
    ArpQueueFull,

    /// <summary>The device refused the frame: its bounded send queue is full or it is closed.</summary>
    DeviceQueueFull,

    /// <summary>A header (Ethernet, ARP, ICMP, a quoted datagram) cannot be parsed.</summary>
    Malformed,

    /// <summary>The frame is shorter than the header it must hold.</summary>
    Truncated,

    /// <summary>The IPv4 options are malformed (RFC 791 3.1; RFC 1122 3.2.1.8).</summary>
    BadOptions,

    /// <summary>The datagram carries a source route option; like Linux by default, this host does not accept source-routed datagrams.</summary>
    SourceRouted,

    /// <summary>An Ethernet frame of an EtherType the stack does not speak (VLAN..., or IPv4/IPv6 on an interface without that family).</summary>
    UnsupportedEtherType,

    /// <summary>ARP resolution of the next hop failed after its retries; the waiting packets are dropped.</summary>
    ArpResolutionFailed,

    /// <summary>An ICMP message the stack does not act upon (broadcast echo, source quench, redirect, unknown type, an informational message no ICMP transport takes).</summary>
    IcmpIgnored,

    /// <summary>An ICMP error quoting a datagram that is not ours, or one whose flow cannot be identified (a non-first fragment).</summary>
    IcmpErrorNotOurs,

    /// <summary>No interface or gateway reaches the destination.</summary>
    NoRoute,

    /// <summary>The bounded queue of datagrams sent to our own addresses is full.</summary>
    LoopbackQueueFull,

    /// <summary>An ARP packet reports one of our own addresses from another station (an address conflict, RFC 5227).</summary>
    ArpAddressConflict,

    /// <summary>Forwarding: the source is martian (RFC 1812 5.3.7): 0/8, 127/8, multicast, 240/4, a subnet broadcast, or one of ours.</summary>
    MartianSource,

    /// <summary>Forwarding: the destination is martian (RFC 1812 5.3.7): 0/8, 127/8, multicast, 240/4, or a directed broadcast (RFC 1812 5.3.5.2).</summary>
    MartianDestination,

    /// <summary>Forwarding: the datagram came in a link-layer broadcast or multicast frame (RFC 1812 5.3.4).</summary>
    LinkBroadcastNotForwarded,

    /// <summary>Forwarding: too big for the next hop with DF set; fragmentation needed was sent (RFC 1812 5.2.6, RFC 1191).</summary>
    FragmentationNeeded,

    /// <summary>NAT: an inbound datagram to an outside address matches no mapping (or, ICMP errors, no flow: RFC 5508 4.1).</summary>
    NatNoMapping,

    /// <summary>NAT: an inbound datagram refused by the mapping's filtering (RFC 4787 5, RFC 5382 4.3).</summary>
    NatFiltered,

    /// <summary>NAT: a new flow found the translation table, its sessions or the outside ports exhausted.</summary>
    NatTableFull,

    /// <summary>NAT: a datagram of a protocol the NAT cannot translate behind a shared address (not TCP, UDP or ICMP).</summary>
    NatUnsupportedProtocol,

    /// <summary>NAT: an unsolicited inbound TCP SYN held for 6 s (RFC 5382 REQ-4) and then dropped, or dropped because the hold queue was full.</summary>
    NatUnsolicitedSyn,
    /// <summary>An IPv6 payload length beyond the frame, or an IPv6 header cut short (RFC 8200 3).</summary>
    BadPayloadLength,

    /// <summary>An IPv6 extension header chain that is malformed, too long, or has too many headers or options (RFC 8200 4, <see cref="Ipv6ChainLimits"/>).</summary>
    BadExtensionHeaders,

    /// <summary>An IPv6 option the stack does not recognise, discarded by its action bits (RFC 8200 4.2).</summary>
    UnrecognizedOption,

    /// <summary>An IPv6 Routing header with segments left (RFC 8200 4.4; type 0 per RFC 5095).</summary>
    RoutingHeader,

    /// <summary>A packet with No Next Header: nothing to deliver (RFC 8200 4.7).</summary>
    NoNextHeader,

    /// <summary>A neighbour discovery message that fails validation (hop limit not 255, bad code, bad options, RFC 4861 6.1 and 7.1).</summary>
    NdpInvalid,

    /// <summary>A valid neighbour discovery or MLD message this host does not act upon (router solicitations, advertisements when not accepted, redirects).</summary>
    NdpIgnored,

    /// <summary>A packet to one of our addresses still being checked for duplicates, or found duplicate (RFC 4862 5.4).</summary>
    TentativeAddress,

    /// <summary>The bounded queue of packets waiting for neighbour resolution is full (per neighbour or in total).</summary>
    NeighborQueueFull,

    /// <summary>Neighbour resolution failed after its solicitations; the waiting packets are dropped (RFC 4861 7.2.2).</summary>
    NeighborResolutionFailed,

    /// <summary>A packet too big message that does not quote a packet this stack sent (the flow label does not match, RFC 8201 4).</summary>
    PacketTooBigNotOurs,
}

/// <summary>How the stack files what a generated reader refused (a <see cref="WireError"/>) under a <see cref="DropReason"/>.</summary>
internal static class WireErrors
{
    /// <summary>
    /// The drop reason of a read error, by layer, field and kind: for IPv4 (RFC 791 3.1) a fixed
    /// part that is not all there is <see cref="DropReason.Truncated"/>, the version field
    /// <see cref="DropReason.BadVersion"/>, IHL <see cref="DropReason.BadHeaderLength"/> and the total
    /// length <see cref="DropReason.BadTotalLength"/>; for IPv6 (RFC 8200 3) a fixed header that is
    /// not all there is <see cref="DropReason.Truncated"/>, the version field
    /// <see cref="DropReason.BadVersion"/> and a payload length beyond the frame
    /// <see cref="DropReason.BadPayloadLength"/>; in any other layer a buffer too short for the
    /// header is <see cref="DropReason.Truncated"/> and anything else <see cref="DropReason.Malformed"/>.
    /// </summary>
    public static DropReason ToDropReason(in WireError error) => error.Layer switch
    {
        Ipv4Header.LayerName when error.Kind == WireErrorKind.TooShort && error.Required <= Ipv4Header.FixedLength => DropReason.Truncated,
        Ipv4Header.LayerName => error.Field switch
        {
            nameof(Ipv4Header.Version) => DropReason.BadVersion,
            nameof(Ipv4Header.Ihl) => DropReason.BadHeaderLength,
            nameof(Ipv4Header.TotalLength) => DropReason.BadTotalLength,
            _ => DropReason.Malformed,
        },
        Ipv6Header.LayerName when error.Kind == WireErrorKind.TooShort && error.Required <= Ipv6Header.FixedLength => DropReason.Truncated,
        Ipv6Header.LayerName => error.Field switch
        {
            nameof(Ipv6Header.Version) => DropReason.BadVersion,
            nameof(Ipv6Header.PayloadLength) => DropReason.BadPayloadLength,
            _ => DropReason.Malformed,
        },
        _ when error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer => DropReason.Truncated,
        _ => DropReason.Malformed,
    };
}
