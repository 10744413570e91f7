using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>What <see cref="NetworkStack.SendDatagram"/> did with a datagram.</summary>
public enum IpSendResult
{
    /// <summary>Handed to the device (every fragment of it).</summary>
    Sent = 0,

    /// <summary>Waiting for ARP to resolve the next hop; sent when it resolves, dropped (and counted) when it fails.</summary>
    Queued,

    /// <summary>No interface or gateway reaches the destination.</summary>
    NoRoute,

    /// <summary>Larger than the interface MTU and not fragmentable (DF set, or no fragmenter), or larger than 65535 bytes.</summary>
    MessageTooBig,

    /// <summary>A bounded queue (ARP pending packets, the device's send queue, loopback) is full.</summary>
    QueueFull,

    /// <summary>Refused for another reason (a source address that is not ours), counted by <see cref="DropReason"/>.</summary>
    Dropped,
}

/// <summary>The IPv4 header fields a transport chooses for one datagram it sends.</summary>
public readonly record struct IpSendRequest
{
    /// <summary>A request to send to <paramref name="destination"/> with <paramref name="protocol"/>; other fields take their defaults.</summary>
    public IpSendRequest(Ipv4Address destination, IpProtocol protocol)
    {
        Destination = destination;
        Protocol = protocol;
    }

    /// <summary>The receiver.</summary>
    public Ipv4Address Destination { get; init; }

    /// <summary>The payload's protocol.</summary>
    public IpProtocol Protocol { get; init; }

    /// <summary>The source address: one of ours; null for the outgoing interface's address (<see cref="NetworkStack.RouteSourceFor"/>).</summary>
    public Ipv4Address? Source { get; init; }

    /// <summary>Time to live; null for <see cref="NetworkStackOptions.DefaultTtl"/> (64). Zero is replaced by the default (RFC 1122 3.2.1.7: never send TTL 0).</summary>
    public byte? Ttl { get; init; }

    /// <summary>Sets DF: the datagram is not fragmented and <see cref="IpSendResult.MessageTooBig"/> is returned when it does not fit.</summary>
    public bool DontFragment { get; init; }

    /// <summary>The type-of-service octet (DSCP and ECN, RFC 2474 / RFC 3168).</summary>
    public byte Tos { get; init; }

    /// <summary>
    /// Non-zero: the payload is a TCP super-segment for a device that cuts it (TSO,
    /// <c>DeviceCapabilities.TcpSegmentationV4</c>) into segments of this many payload bytes, and its
    /// TCP checksum field holds only the pseudo-header sum (the device completes each segment's).
    /// The datagram may then exceed the MTU (each segment must fit it). Used only on routes whose
    /// device has the capability (<see cref="NetworkStack.TcpSegmentationLimit"/>).
    /// </summary>
    public ushort TcpSegmentSize { get; init; }
}
