using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>What <see cref="NetworkStack.SendDatagram"/> did with a datagram.</summary>
public enum IpSendResult
{
    /// <summary>Handed to the device (every fragment of it).</summary>
    Sent = 0,

    /// <summary>Waiting for ARP or neighbour discovery to resolve the next hop; sent when it resolves, dropped (and counted) when it fails.</summary>
    Queued,

    /// <summary>No interface or gateway reaches the destination.</summary>
    NoRoute,

    /// <summary>Larger than the interface MTU (IPv6: the path MTU) and not fragmentable (DF set), or larger than 65535 bytes.</summary>
    MessageTooBig,

    /// <summary>A bounded queue (ARP or neighbour pending packets, the device's send queue, loopback) is full.</summary>
    QueueFull,

    /// <summary>Refused for another reason (a source address that is not ours or is tentative, families that differ), counted by <see cref="DropReason"/>.</summary>
    Dropped,
}

/// <summary>The IP header fields a transport chooses for one datagram or packet it sends (IPv4 or IPv6, by <see cref="Destination"/>).</summary>
public readonly record struct IpSendRequest
{
    /// <summary>A request to send to <paramref name="destination"/> with <paramref name="protocol"/>; other fields take their defaults.</summary>
    public IpSendRequest(IpAddress destination, IpProtocol protocol)
    {
        Destination = destination;
        Protocol = protocol;
    }

    /// <summary>The receiver; its family picks IPv4 or IPv6.</summary>
    public IpAddress Destination { get; init; }

    /// <summary>The payload's protocol (the IPv6 Next Header).</summary>
    public IpProtocol Protocol { get; init; }

    /// <summary>The source address: one of ours, of the destination's family; null for the one source address selection picks (<see cref="NetworkStack.RouteSourceFor(IpAddress)"/>).</summary>
    public IpAddress? Source { get; init; }

    /// <summary>Time to live or hop limit; null for <see cref="NetworkStackOptions.DefaultTtl"/> (64; for IPv6 a router's advertised hop limit when there is one). Zero is replaced by the default (RFC 1122 3.2.1.7).</summary>
    public byte? Ttl { get; init; }

    /// <summary>
    /// IPv4: sets DF: the datagram is not fragmented and <see cref="IpSendResult.MessageTooBig"/> is
    /// returned when it does not fit. IPv6: the packet is not fragmented by this source either
    /// (only sources fragment in IPv6, RFC 8200 5); <see cref="IpSendResult.MessageTooBig"/> when it
    /// exceeds the path MTU.
    /// </summary>
    public bool DontFragment { get; init; }

    /// <summary>The type-of-service octet or IPv6 traffic class (DSCP and ECN, RFC 2474 / RFC 3168).</summary>
    public byte Tos { get; init; }

    /// <summary>The IPv6 flow label (20 bits); null for the stack's keyed hash of the flow's addresses, protocol and ports (RFC 6437).</summary>
    public uint? FlowLabel { get; init; }

    /// <summary>
    /// Non-zero: the payload is a TCP super-segment for a device that cuts it (TSO,
    /// <c>DeviceCapabilities.TcpSegmentationV4</c> or <c>TcpSegmentationV6</c>) into segments of this
    /// many payload bytes, and its TCP checksum field holds only the pseudo-header sum (the device
    /// completes each segment's). The datagram may then exceed the MTU (each segment must fit it).
    /// Used only on routes whose device has the capability
    /// (<see cref="NetworkStack.TcpSegmentationLimit(IpAddress, IpAddress)"/>).
    /// </summary>
    public ushort TcpSegmentSize { get; init; }
}
