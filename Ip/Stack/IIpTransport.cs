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
    /// A datagram addressed to us (or to a broadcast we accept), reassembled, IP header validated.
    /// For <see cref="IpProtocol.Icmp"/>: the ICMP messages the stack does not consume itself
    /// (echo replies and other informational messages), checksum verified.
    /// </summary>
    void OnDatagram(NetworkStack stack, in IpDatagram datagram);

    /// <summary>An ICMP error (destination unreachable, time exceeded, parameter problem) quoting a datagram of this protocol that we sent.</summary>
    void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error);
}

/// <summary>A received IPv4 datagram as a transport sees it. Valid only during the callback.</summary>
public readonly ref struct IpDatagram
{
    /// <summary>Describes a datagram; the stack makes these, tests and wrappers may too.</summary>
    public IpDatagram(
        NetworkInterface networkInterface,
        ReadOnlySpan<byte> header,
        ReadOnlySpan<byte> payload,
        Ipv4Address source,
        Ipv4Address destination,
        IpProtocol protocol,
        byte ttl,
        ushort identification,
        bool isBroadcast,
        bool checksumsVerifiedByDevice)
    {
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
    public Ipv4Address Source { get; }

    /// <summary>The address it was sent to (ours, or a broadcast).</summary>
    public Ipv4Address Destination { get; }

    /// <summary>The payload's protocol.</summary>
    public IpProtocol Protocol { get; }

    /// <summary>The time to live as received.</summary>
    public byte Ttl { get; }

    /// <summary>The identification field as received.</summary>
    public ushort Identification { get; }

    /// <summary>The payload (after the header, trimmed to the total length).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>The IPv4 header as received (options included), for ICMP errors that quote it.</summary>
    public ReadOnlySpan<byte> Header { get; }

    /// <summary>The interface it arrived on.</summary>
    public NetworkInterface Interface { get; }

    /// <summary>True when it was sent to a broadcast or multicast address (IP or link layer): never answered with an ICMP error (RFC 1122 3.2.2).</summary>
    public bool IsBroadcast { get; }

    /// <summary>True when the device verified the transport checksum already (<c>DeviceCapabilities.ReceiveChecksumsVerified</c>).</summary>
    public bool ChecksumsVerifiedByDevice { get; }
}

/// <summary>A received ICMP error, as the transport owning the quoted flow sees it. Valid only during the callback.</summary>
public readonly ref struct IcmpErrorInfo
{
    /// <summary>Describes an ICMP error; the stack makes these, tests may too.</summary>
    public IcmpErrorInfo(
        IcmpType type,
        byte code,
        ushort nextHopMtu,
        Ipv4Address reportedBy,
        Ipv4Address quotedSource,
        Ipv4Address quotedDestination,
        IpProtocol quotedProtocol,
        ReadOnlySpan<byte> quotedTransportHeader)
    {
        Type = type;
        Code = code;
        NextHopMtu = nextHopMtu;
        ReportedBy = reportedBy;
        QuotedSource = quotedSource;
        QuotedDestination = quotedDestination;
        QuotedProtocol = quotedProtocol;
        QuotedTransportHeader = quotedTransportHeader;
    }

    /// <summary>Destination unreachable, time exceeded or parameter problem.</summary>
    public IcmpType Type { get; }

    /// <summary>The code for <see cref="Type"/> (e.g. <see cref="IcmpUnreachableCode.PortUnreachable"/>).</summary>
    public byte Code { get; }

    /// <summary>For fragmentation needed (type 3 code 4): the next-hop MTU (RFC 1191 4); 0 otherwise or from old routers.</summary>
    public ushort NextHopMtu { get; }

    /// <summary>Who sent the ICMP error (a router, the destination host, or this stack for a failed ARP resolution).</summary>
    public Ipv4Address ReportedBy { get; }

    /// <summary>The quoted datagram's source: one of our addresses.</summary>
    public Ipv4Address QuotedSource { get; }

    /// <summary>The quoted datagram's destination: the peer.</summary>
    public Ipv4Address QuotedDestination { get; }

    /// <summary>The quoted datagram's protocol.</summary>
    public IpProtocol QuotedProtocol { get; }

    /// <summary>The quoted payload present: at least the first 8 bytes of the transport header (the ports, RFC 792).</summary>
    public ReadOnlySpan<byte> QuotedTransportHeader { get; }
}
