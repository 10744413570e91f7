using System.Diagnostics.Metrics;
using Protocols.Ip;

namespace Protocols.Nat;

/// <summary>
/// The NAT's counters and table gauges, also instruments on the gateway's <c>Protocols.Nat</c>
/// meter (tagged <c>protocols.stack</c>). Written on the loop; read from any thread.
/// </summary>
public sealed class NatCounters
{
    private const int StateCount = (int)NatTcpState.Unknown + 1;

    // Sessions by protocol (0 TCP, 1 UDP, 2 ICMP) and TCP state (NatTcpState.None for UDP and ICMP).
    private readonly long[] _sessionsByState = new long[3 * StateCount];
    private readonly KeyValuePair<string, object?> _stackTag;
    internal long OutboundTranslatedCount;
    internal long InboundTranslatedCount;
    internal long HairpinnedCount;
    internal long IcmpErrorsTranslatedCount;
    internal long ExhaustedCount;
    internal long FilteredCount;
    internal long NoMappingCount;
    internal long UnsolicitedSynsHeldCount;
    internal long UnsolicitedSynsAnsweredCount;
    internal long UnsolicitedSynsCancelledCount;
    internal int Mappings;
    internal int Sessions;

    internal NatCounters(Meter meter, string stackName)
    {
        _stackTag = new KeyValuePair<string, object?>("protocols.stack", stackName);
        meter.CreateObservableGauge("protocols.nat.mappings", () => new Measurement<int>(Volatile.Read(ref Mappings), _stackTag), "{mapping}", "Mappings in the translation table.");
        meter.CreateObservableGauge("protocols.nat.sessions", SessionMeasurements, "{session}", "Sessions in the translation table, by protocol and TCP state.");
        meter.CreateObservableCounter<long>("protocols.nat.translated", () => (Measurement<long>[])
        [
            new Measurement<long>(Volatile.Read(ref OutboundTranslatedCount), _stackTag, new("direction", "outbound")),
            new Measurement<long>(Volatile.Read(ref InboundTranslatedCount), _stackTag, new("direction", "inbound")),
            new Measurement<long>(Volatile.Read(ref HairpinnedCount), _stackTag, new("direction", "hairpin")),
        ], "{datagram}", "Datagrams translated.");
        meter.CreateObservableCounter("protocols.nat.icmp_errors_translated", () => new Measurement<long>(Volatile.Read(ref IcmpErrorsTranslatedCount), _stackTag), "{datagram}", "ICMP errors about translated flows translated back.");
        meter.CreateObservableCounter<long>("protocols.nat.refused", () => (Measurement<long>[])
        [
            new Measurement<long>(Volatile.Read(ref ExhaustedCount), _stackTag, new("reason", "exhausted")),
            new Measurement<long>(Volatile.Read(ref FilteredCount), _stackTag, new("reason", "filtered")),
            new Measurement<long>(Volatile.Read(ref NoMappingCount), _stackTag, new("reason", "no_mapping")),
        ], "{datagram}", "Datagrams the NAT refused, by reason.");
    }

    /// <summary>Datagrams translated on their way out (source rewritten).</summary>
    public long OutboundTranslated => Volatile.Read(ref OutboundTranslatedCount);

    /// <summary>Datagrams translated on their way in (destination rewritten).</summary>
    public long InboundTranslated => Volatile.Read(ref InboundTranslatedCount);

    /// <summary>Datagrams from an inside host to an outside address of another, turned back inside (RFC 4787 REQ-9).</summary>
    public long Hairpinned => Volatile.Read(ref HairpinnedCount);

    /// <summary>ICMP errors about translated flows translated back (RFC 5508 4.2).</summary>
    public long IcmpErrorsTranslated => Volatile.Read(ref IcmpErrorsTranslatedCount);

    /// <summary>New flows refused because the table, its sessions or the outside ports were exhausted.</summary>
    public long Exhausted => Volatile.Read(ref ExhaustedCount);

    /// <summary>Inbound datagrams refused by the mapping's filtering.</summary>
    public long Filtered => Volatile.Read(ref FilteredCount);

    /// <summary>Inbound datagrams (and ICMP errors) to an outside address that matched no mapping.</summary>
    public long NoMapping => Volatile.Read(ref NoMappingCount);

    /// <summary>Unsolicited inbound SYNs held (RFC 5382 REQ-4).</summary>
    public long UnsolicitedSynsHeld => Volatile.Read(ref UnsolicitedSynsHeldCount);

    /// <summary>Held SYNs answered with port unreachable after the hold.</summary>
    public long UnsolicitedSynsAnswered => Volatile.Read(ref UnsolicitedSynsAnsweredCount);

    /// <summary>Held SYNs dropped silently because the inside host's SYN for the connection went out.</summary>
    public long UnsolicitedSynsCancelled => Volatile.Read(ref UnsolicitedSynsCancelledCount);

    /// <summary>Mappings in the table now.</summary>
    public int MappingCount => Volatile.Read(ref Mappings);

    /// <summary>Sessions in the table now.</summary>
    public int SessionCount => Volatile.Read(ref Sessions);

    /// <summary>Sessions now of <paramref name="protocol"/> (TCP, UDP or ICMP) in <paramref name="state"/> (<see cref="NatTcpState.None"/> for UDP and ICMP).</summary>
    public long SessionsIn(IpProtocol protocol, NatTcpState state) => Volatile.Read(ref _sessionsByState[Index(protocol, state)]);

    internal void SessionState(IpProtocol protocol, NatTcpState state, int delta) => _sessionsByState[Index(protocol, state)] += delta;

    private static int Index(IpProtocol protocol, NatTcpState state) =>
        (protocol switch { IpProtocol.Tcp => 0, IpProtocol.Udp => 1, _ => 2 } * StateCount) + (int)state;

    private IEnumerable<Measurement<long>> SessionMeasurements()
    {
        string[] protocols = ["tcp", "udp", "icmp"];
        for (int i = 0; i < _sessionsByState.Length; i++)
        {
            long v = Volatile.Read(ref _sessionsByState[i]);
            if (v != 0)
            {
                string state = i % StateCount == 0 ? "none" : ((NatTcpState)(i % StateCount)).ToString();
                yield return new Measurement<long>(v, _stackTag, new("protocol", protocols[i / StateCount]), new("state", state));
            }
        }
    }
}
