using Protocols.Ip;

namespace Protocols.Nat;

/// <summary>How a mapping got its outside address.</summary>
public enum NatMappingKind
{
    /// <summary>A static 1:1 entry (address only, every protocol).</summary>
    Static,

    /// <summary>An address of the dynamic pool, bound to the inside host while it has flows; ports are kept.</summary>
    Pool,

    /// <summary>The shared outside address, told apart by port (or ICMP identifier).</summary>
    Pat,
}

/// <summary>What the NAT has seen of a TCP connection (RFC 5382 5: only "established" and "transitory" matter for the lifetime).</summary>
public enum NatTcpState
{
    /// <summary>Not TCP.</summary>
    None,

    /// <summary>A SYN went out; no answer yet (transitory).</summary>
    SynSent,

    /// <summary>A SYN came in (an open from outside, or a simultaneous open); no SYN went out yet (transitory).</summary>
    SynReceived,

    /// <summary>SYNs seen both ways, or a connection picked up in the middle from inside: the long lifetime.</summary>
    Established,

    /// <summary>A FIN one way (transitory).</summary>
    FinWait,

    /// <summary>FINs both ways (transitory).</summary>
    TimeWait,

    /// <summary>A RST seen (transitory).</summary>
    Closed,

    /// <summary>Segments other than SYN came in first (endpoint-independent filtering lets them): transitory until SYNs are seen.</summary>
    Unknown,
}

/// <summary>Which lifetime applies to a session.</summary>
internal enum NatTimeoutClass
{
    Udp,
    Icmp,
    TcpTransitory,
    TcpEstablished,
}

/// <summary>One mapping: an inside endpoint (address, port or ICMP identifier) and its outside endpoint, endpoint-independent (RFC 4787 REQ-1, RFC 5382 REQ-1, RFC 5508 3.1).</summary>
internal sealed class NatMapping
{
    public NatMapping(IpProtocol protocol, uint insideAddress, ushort insidePort, uint outsideAddress, ushort outsidePort, NatMappingKind kind)
    {
        Protocol = protocol;
        InsideAddress = insideAddress;
        InsidePort = insidePort;
        OutsideAddress = outsideAddress;
        OutsidePort = outsidePort;
        Kind = kind;
    }

    public IpProtocol Protocol { get; }

    public uint InsideAddress { get; }

    public ushort InsidePort { get; }

    public uint OutsideAddress { get; }

    public ushort OutsidePort { get; }

    public NatMappingKind Kind { get; }

    /// <summary>The first of the mapping's sessions (a list through <see cref="NatSession.NextInMapping"/>).</summary>
    public NatSession? Sessions { get; set; }

    public int SessionCount { get; set; }
}

/// <summary>
/// One session: a mapping and one remote endpoint. It carries the filtering state (who the inside
/// endpoint has talked to), the TCP state, and the idle time; the mapping lives while it has sessions.
/// </summary>
internal sealed class NatSession
{
    public NatSession(NatMapping mapping, uint remoteAddress, ushort remotePort)
    {
        Mapping = mapping;
        RemoteAddress = remoteAddress;
        RemotePort = remotePort;
    }

    public NatMapping Mapping { get; }

    public uint RemoteAddress { get; }

    public ushort RemotePort { get; }

    /// <summary>True once the inside endpoint has sent to this remote (address- and port-dependent filtering admits only those).</summary>
    public bool OutboundSeen { get; set; }

    public NatTcpState TcpState { get; set; }

    public bool OutboundSyn { get; set; }

    public bool InboundSyn { get; set; }

    public bool OutboundFin { get; set; }

    public bool InboundFin { get; set; }

    public long LastActivityTicks { get; set; }

    public NatTimeoutClass TimeoutClass { get; set; }

    public NatSession? NextInMapping { get; set; }

    public NatSession? PreviousInMapping { get; set; }

    // The idle list of its timeout class (least recently used first).
    public NatSession? Older { get; set; }

    public NatSession? Newer { get; set; }

    public bool InIdleList { get; set; }
}
