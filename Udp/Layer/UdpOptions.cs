using System.Net.Sockets;
namespace Protocols.Udp;

/// <summary>Settings of a stack's UDP layer (<see cref="UdpStackExtensions.UseUdp"/>).</summary>
public sealed class UdpOptions
{
    /// <summary>First port of the ephemeral range: Linux's default 32768 (ip_local_port_range).</summary>
    public ushort EphemeralPortFirst { get; init; } = 32768;

    /// <summary>Last port of the ephemeral range (inclusive): Linux's default 60999.</summary>
    public ushort EphemeralPortLast { get; init; } = 60999;

    /// <summary>Seed for ephemeral port selection; null for an unpredictable one (RFC 6056). Simulations set it.</summary>
    public int? Seed { get; init; }

    /// <summary>The <c>protocols.stack</c> tag of this layer's metrics; null for the stack's name (as its <c>Protocols.Ip</c> measurements).</summary>
    public string? Name { get; init; }

    /// <summary>Defaults for sockets that are bound without their own options.</summary>
    public UdpSocketOptions DefaultSocketOptions { get; init; } = new();
}

/// <summary>Settings of one <see cref="UdpSocket"/>.</summary>
public sealed class UdpSocketOptions
{
    /// <summary>At most this many datagrams wait to be received; more are dropped and counted.</summary>
    public int ReceiveQueueDatagrams { get; init; } = 1024;

    /// <summary>At most this many bytes of data wait to be received (Linux's default rmem 212992); an empty queue takes any one datagram.</summary>
    public int ReceiveQueueBytes { get; init; } = 212_992;

    /// <summary>At most this many receives wait at once on the socket.</summary>
    public int MaxPendingReceives { get; init; } = 1024;

    /// <summary>
    /// Report every ICMP error about datagrams this socket sent, on connected and unconnected
    /// sockets alike (Linux's IP_RECVERR). Without it, only a connected socket reports, and only
    /// hard errors about its peer (port or protocol unreachable, prohibited...), as Linux does.
    /// </summary>
    public bool ReceiveIcmpErrors { get; init; }

    /// <summary>Time to live of datagrams sent; null for the stack's default (64). RFC 1122 4.1.4: the application may set it.</summary>
    public byte? Ttl { get; init; }

    /// <summary>The type-of-service octet (DSCP and ECN) of datagrams sent (RFC 1122 4.1.4: the application may set it).</summary>
    public byte TypeOfService { get; init; }

    /// <summary>Set DF on datagrams sent: a datagram larger than the path fails with <see cref="SocketError.MessageSize"/> instead of being fragmented.</summary>
    public bool DontFragment { get; init; }

    /// <summary>Compute checksums on send (RFC 1122 4.1.3.4: must default to on). Off sends zero: "no checksum".</summary>
    public bool ComputeChecksums { get; init; } = true;
}
