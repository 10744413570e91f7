using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// A protocol above IP (UDP, TCP, or an ICMP consumer such as a ping client) registered with
/// <see cref="NetworkStack.RegisterTransport"/>. Both callbacks run on the stack's loop.
/// </summary>
public interface IIpTransport
{
    /// <summary>The IP protocol number this transport owns; one transport per number.</summary>
    IpProtocol Protocol { get; }

    /// <summary>
    /// A datagram or packet of either family addressed to us (or to a broadcast or multicast
    /// group we accept), reassembled, IP header and extension headers validated. For
    /// <see cref="IpProtocol.Icmp"/> and <see cref="IpProtocol.Icmpv6"/>: the messages the stack
    /// does not consume itself (echo replies and other informational messages), checksum verified.
    /// </summary>
    void OnDatagram(NetworkStack stack, in IpDatagram datagram);

    /// <summary>An ICMP or ICMPv6 error (destination unreachable, packet too big, time exceeded, parameter problem) quoting a packet of this protocol that we sent.</summary>
    void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error);

    /// <summary>
    /// True when this transport checks ICMPv6 packet too big messages quoting its packets itself
    /// (TCP: the quoted sequence number must be in flight, RFC 5927 4.1) and lowers the path MTU
    /// with <see cref="NetworkStack.LowerPathMtu"/> for those it believes; the stack then only
    /// checks the quoted flow label and leaves the path MTU alone. False (the default): the stack
    /// lowers the path MTU for every packet too big whose quoted flow label is ours.
    /// </summary>
    bool ValidatesPacketTooBig => false;

    /// <summary>
    /// The end of one device's receive batch: a transport that held datagrams with a non-zero
    /// <see cref="IpDatagram.CoalescingKey"/> to merge them processes what it holds now, and one
    /// that asked with <see cref="NetworkStack.RequestReceiveBatchEnd"/> finishes the batch's work.
    /// Called on the loop after a device's frames of a <see cref="NetworkStack.Poll"/> were
    /// delivered, or where a request posted with <see cref="NetworkStack.PostBetweenFrames"/> cuts
    /// the batch, before requests and timers run. The default does nothing.
    /// </summary>
    /// <param name="stack">The stack.</param>
    void OnReceiveBatchEnd(NetworkStack stack)
    {
    }
}

/// <summary>A received IPv4 datagram or IPv6 packet as a transport sees it. Valid only during the callback.</summary>
public readonly ref struct IpDatagram
{
    /// <summary>Describes a datagram; the stack makes these, tests and wrappers may too.</summary>
    public IpDatagram(
        NetworkInterface networkInterface,
        ReadOnlySpan<byte> header,
        ReadOnlySpan<byte> payload,
        IpAddress source,
        IpAddress destination,
        IpProtocol protocol,
        byte ttl,
        ushort identification,
        bool isBroadcast,
        bool checksumsVerifiedByDevice,
        ulong coalescingKey = 0)
    {
        CoalescingKey = coalescingKey;
        Interface = networkInterface;
        Header = header;
        Payload = payload;
        Source = source;
        Destination = destination;
        Protocol = protocol;
        Ttl = ttl;
        Identification = identification;
        IsBroadcast = isBroadcast;
        ChecksumsVerifiedByDevice = checksumsVerifiedByDevice;
    }

    /// <summary>The sender.</summary>
    public IpAddress Source { get; }

    /// <summary>The address it was sent to (ours, or a broadcast or multicast address).</summary>
    public IpAddress Destination { get; }

    /// <summary>True for an IPv6 packet.</summary>
    public bool IsIpv6 => Source.IsIpv6;

    /// <summary>The payload's protocol (for IPv6, the upper-layer protocol after the extension headers).</summary>
    public IpProtocol Protocol { get; }

    /// <summary>The time to live (IPv4) or hop limit (IPv6) as received.</summary>
    public byte Ttl { get; }

    /// <summary>The IPv4 identification field as received; for IPv6 0 (or the fragment identification of a reassembled packet's low 16 bits).</summary>
    public ushort Identification { get; }

    /// <summary>The payload (after the header, trimmed to the total length; for IPv6 after the extension headers).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>The header as received: the IPv4 header with its options, or the IPv6 header and its extension headers; for ICMP errors that quote it.</summary>
    public ReadOnlySpan<byte> Header { get; }

    /// <summary>The interface it arrived on.</summary>
    public NetworkInterface Interface { get; }

    /// <summary>True when it was sent to a broadcast or multicast address (IP or link layer): never answered with an ICMP error (RFC 1122 3.2.2).</summary>
    public bool IsBroadcast { get; }

    /// <summary>True when the device verified the transport checksum already (<c>DeviceCapabilities.ReceiveChecksumsVerified</c>).</summary>
    public bool ChecksumsVerifiedByDevice { get; }

    /// <summary>
    /// Non-zero when the transport may merge this datagram's payload with others of the same flow
    /// and the same key before its input (receive coalescing), holding it until
    /// <see cref="IIpTransport.OnReceiveBatchEnd"/> at the latest. The key packs the IP header
    /// fields two datagrams must share to be merged, as Linux's inet_gro_receive and
    /// ipv6_gro_receive compare them: for IPv4 the TOS byte (DSCP and ECN), the TTL and DF; for
    /// IPv6 the traffic class, the flow label and the hop limit. Zero (never merge) for datagrams
    /// with IPv4 options or IPv6 extension headers, fragments and reassembled datagrams,
    /// broadcasts, datagrams to ourselves, datagrams from a device that coalesces itself, and
    /// whenever <see cref="NetworkStackOptions.ReceiveCoalescing"/> is off.
    /// </summary>
    public ulong CoalescingKey { get; }
}

/// <summary>
/// A received ICMP or ICMPv6 error, as the transport owning the quoted flow sees it. Valid only
/// during the callback. ICMPv6 errors come in ICMPv4's vocabulary (<see cref="Type"/>,
/// <see cref="Code"/>), so transports handle both families alike: destination unreachable codes
/// map to host unreachable, administratively prohibited or port unreachable; packet too big is
/// fragmentation needed with its MTU; an unrecognized next header is protocol unreachable; other
/// parameter problems stay parameter problems; time exceeded keeps its code. The original
/// ICMPv6 type and code are in <see cref="Icmpv6Type"/> and <see cref="Icmpv6Code"/>.
/// </summary>
public readonly ref struct IcmpErrorInfo
{
    /// <summary>Describes an ICMP error; the stack makes these, tests may too.</summary>
    public IcmpErrorInfo(
        IcmpType type,
        byte code,
        ushort nextHopMtu,
        IpAddress reportedBy,
        IpAddress quotedSource,
        IpAddress quotedDestination,
        IpProtocol quotedProtocol,
        ReadOnlySpan<byte> quotedTransportHeader,
        Icmpv6Type? icmpv6Type = null,
        byte icmpv6Code = 0)
    {
        Icmpv6Type = icmpv6Type;
        Icmpv6Code = icmpv6Code;
        Type = type;
        Code = code;
        NextHopMtu = nextHopMtu;
        ReportedBy = reportedBy;
        QuotedSource = quotedSource;
        QuotedDestination = quotedDestination;
        QuotedProtocol = quotedProtocol;
        QuotedTransportHeader = quotedTransportHeader;
    }

    /// <summary>Destination unreachable, time exceeded or parameter problem (for ICMPv6, the equivalent ICMPv4 type).</summary>
    public IcmpType Type { get; }

    /// <summary>For an ICMPv6 error: its own type; null for ICMPv4.</summary>
    public Icmpv6Type? Icmpv6Type { get; }

    /// <summary>For an ICMPv6 error: its own code.</summary>
    public byte Icmpv6Code { get; }

    /// <summary>The code for <see cref="Type"/> (e.g. <see cref="IcmpUnreachableCode.PortUnreachable"/>).</summary>
    public byte Code { get; }

    /// <summary>For fragmentation needed (type 3 code 4) or ICMPv6 packet too big: the next-hop MTU (RFC 1191 4, RFC 8201); 0 otherwise or from old routers.</summary>
    public ushort NextHopMtu { get; }

    /// <summary>Who sent the error (a router, the destination host, or this stack for a failed ARP or neighbour resolution).</summary>
    public IpAddress ReportedBy { get; }

    /// <summary>The quoted packet's source: one of our addresses.</summary>
    public IpAddress QuotedSource { get; }

    /// <summary>The quoted packet's destination: the peer.</summary>
    public IpAddress QuotedDestination { get; }

    /// <summary>The quoted datagram's protocol.</summary>
    public IpProtocol QuotedProtocol { get; }

    /// <summary>The quoted transport header and data present: at least the first 8 bytes (the ports, RFC 792; RFC 4443 quotes as much as fits).</summary>
    public ReadOnlySpan<byte> QuotedTransportHeader { get; }
}
