using Protocols.Wire;

namespace Protocols.Nat;

/// <summary>Which inbound packets a mapping lets through (RFC 4787 5, RFC 5382 4.3).</summary>
public enum NatFiltering
{
    /// <summary>Any external endpoint may send to a mapping (RFC 4787 REQ-8: recommended when application transparency matters most).</summary>
    EndpointIndependent,

    /// <summary>Only external addresses the inside endpoint has sent to, from any port.</summary>
    AddressDependent,

    /// <summary>Only the external address and port pairs the inside endpoint has sent to.</summary>
    AddressAndPortDependent,
}

/// <summary>What happens to a new flow when the translation table or the outside ports are exhausted.</summary>
public enum NatExhaustionAction
{
    /// <summary>The flow's first packet is answered with ICMP destination unreachable, port unreachable, and dropped.</summary>
    PortUnreachable,

    /// <summary>The packet is dropped silently.</summary>
    Drop,
}

/// <summary>A static 1:1 entry: every datagram of <paramref name="Inside"/> leaves as <paramref name="Outside"/>, and every datagram to <paramref name="Outside"/> is let in to <paramref name="Inside"/> (RFC 3022 2.3, basic NAT, static).</summary>
/// <param name="Inside">The inside host.</param>
/// <param name="Outside">Its address on the outside.</param>
public readonly record struct NatStaticEntry(Ipv4Address Inside, Ipv4Address Outside);

/// <summary>Configuration of a <see cref="NatGateway"/>. The defaults follow RFC 4787, RFC 5382 and RFC 5508.</summary>
public sealed class NatOptions
{
    /// <summary>The shared outside address of PAT; null for the outside interface's own address.</summary>
    public Ipv4Address? OutsideAddress { get; init; }

    /// <summary>Static 1:1 entries; they take precedence over the pool and PAT.</summary>
    public IReadOnlyList<NatStaticEntry> Static { get; init; } = [];

    /// <summary>The first address of the dynamic pool (with <see cref="PoolLast"/>); null for no pool.</summary>
    public Ipv4Address? PoolFirst { get; init; }

    /// <summary>The last address of the dynamic pool.</summary>
    public Ipv4Address? PoolLast { get; init; }

    /// <summary>The filtering behaviour; endpoint-independent by default (RFC 4787 REQ-8, RFC 5382 REQ-3: for application transparency).</summary>
    public NatFiltering Filtering { get; init; } = NatFiltering.EndpointIndependent;

    /// <summary>The most mappings (inside endpoint to outside endpoint) at once; new flows past it are refused.</summary>
    public int MaxMappings { get; init; } = 65536;

    /// <summary>The most sessions (a mapping and one remote endpoint) at once; new flows past it are refused.</summary>
    public int MaxSessions { get; init; } = 131072;

    /// <summary>What a new flow gets when the table or the ports are exhausted.</summary>
    public NatExhaustionAction Exhaustion { get; init; } = NatExhaustionAction.PortUnreachable;

    /// <summary>Idle time after which a UDP session ends; RFC 4787 REQ-5: at least 2 minutes, 5 or more recommended.</summary>
    public TimeSpan UdpTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Idle time after which an established TCP session ends; RFC 5382 REQ-5: at least 2 hours 4 minutes.</summary>
    public TimeSpan TcpEstablishedTimeout { get; init; } = TimeSpan.FromMinutes(124);

    /// <summary>Idle time after which a TCP session that is opening, closing or reset ends; RFC 5382 REQ-5: at least 4 minutes.</summary>
    public TimeSpan TcpTransitoryTimeout { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>Idle time after which an ICMP query session ends; RFC 5508 REQ-2: at least 60 seconds (the recommended value).</summary>
    public TimeSpan IcmpTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long an unsolicited inbound SYN is held before it is answered with port unreachable (RFC 5382 REQ-4: at least 6 s).</summary>
    public TimeSpan UnsolicitedSynHold { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>The most unsolicited SYNs held at once; past it they are dropped silently.</summary>
    public int UnsolicitedSynQueue { get; init; } = 64;

    /// <summary>Seeds the choice of outside ports when the inside port is taken; null for a random seed.</summary>
    public int? Seed { get; init; }

    /// <summary>The meter's <c>protocols.stack</c> tag; null for the stack's name.</summary>
    public string? Name { get; init; }

    internal void Validate()
    {
        // The RFCs' MUSTs: shorter lifetimes than these break applications that follow them.
        ArgumentOutOfRangeException.ThrowIfLessThan(UdpTimeout, TimeSpan.FromMinutes(2), nameof(UdpTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(TcpEstablishedTimeout, TimeSpan.FromMinutes(124), nameof(TcpEstablishedTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(TcpTransitoryTimeout, TimeSpan.FromMinutes(4), nameof(TcpTransitoryTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(IcmpTimeout, TimeSpan.FromSeconds(60), nameof(IcmpTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(UnsolicitedSynHold, TimeSpan.FromSeconds(6), nameof(UnsolicitedSynHold));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMappings, 1, nameof(MaxMappings));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSessions, 1, nameof(MaxSessions));
        ArgumentOutOfRangeException.ThrowIfLessThan(UnsolicitedSynQueue, 0, nameof(UnsolicitedSynQueue));
        if ((PoolFirst is null) != (PoolLast is null) || (PoolFirst is { } f && PoolLast is { } l && f.ToUInt32() > l.ToUInt32()))
        {
            throw new ArgumentException("The pool needs a first and a last address, first <= last.", nameof(PoolFirst));
        }

        if (PoolFirst is { } first && PoolLast is { } last && last.ToUInt32() - first.ToUInt32() >= 65536)
        {
            throw new ArgumentException("The pool holds at most 65536 addresses.", nameof(PoolLast));
        }
    }
}
