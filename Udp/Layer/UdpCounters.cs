using System.Diagnostics.Metrics;

namespace Protocols.Udp;

/// <summary>
/// A copy of one stack's UDP counters at one moment: the UDP part of <c>netstat -su</c>
/// (Linux's /proc/net/snmp Udp: line; RFC 4113's UDP-MIB), plus the stack's own extras.
/// </summary>
/// <param name="DatagramsReceived">Datagrams queued to a socket (InDatagrams).</param>
/// <param name="NoPorts">Unicast datagrams for a port no socket accepts (NoPorts); each may be answered with ICMP port unreachable.</param>
/// <param name="InErrors">Datagrams dropped for errors: malformed, bad checksum, or no room in the receive queue (InErrors).</param>
/// <param name="ReceiveBufferErrors">Datagrams dropped because the socket's receive queue was full (RcvbufErrors).</param>
/// <param name="ChecksumErrors">Datagrams dropped for a wrong checksum (InCsumErrors).</param>
/// <param name="MalformedDatagrams">Datagrams shorter than their header or length field says (part of InErrors).</param>
/// <param name="IgnoredBroadcasts">Broadcast datagrams for a port no socket accepts, dropped without an ICMP answer (IgnoredMulti).</param>
/// <param name="DatagramsSent">Datagrams handed to IP (OutDatagrams).</param>
/// <param name="SendErrors">Sends IP refused: no route, too big, queue full (SndbufErrors and friends).</param>
/// <param name="IcmpErrorsReceived">ICMP errors received about datagrams we sent.</param>
public readonly record struct UdpCountersSnapshot(
    long DatagramsReceived,
    long NoPorts,
    long InErrors,
    long ReceiveBufferErrors,
    long ChecksumErrors,
    long MalformedDatagrams,
    long IgnoredBroadcasts,
    long DatagramsSent,
    long SendErrors,
    long IcmpErrorsReceived);

/// <summary>
/// One stack's UDP counters. Written only by the stack's loop (no locks, no interlocked
/// operations: a single writer); read from any thread through <see cref="Snapshot"/> and the
/// <c>System.Diagnostics.Metrics</c> instruments of the <c>Protocols.Udp</c> meter.
/// </summary>
public sealed class UdpCounters
{
    internal long DatagramsReceived;
    internal long NoPorts;
    internal long InErrors;
    internal long ReceiveBufferErrors;
    internal long ChecksumErrors;
    internal long MalformedDatagrams;
    internal long IgnoredBroadcasts;
    internal long DatagramsSent;
    internal long SendErrors;
    internal long IcmpErrorsReceived;

    internal UdpCounters(string stackName)
    {
        StackName = stackName;
        UdpMetrics.Register(this);
    }

    /// <summary>The name the instruments tag these counters with (<c>protocols.stack</c>).</summary>
    public string StackName { get; }

    /// <summary>The counters now.</summary>
    /// <returns>A copy.</returns>
    public UdpCountersSnapshot Snapshot() => new(
        Volatile.Read(ref DatagramsReceived),
        Volatile.Read(ref NoPorts),
        Volatile.Read(ref InErrors),
        Volatile.Read(ref ReceiveBufferErrors),
        Volatile.Read(ref ChecksumErrors),
        Volatile.Read(ref MalformedDatagrams),
        Volatile.Read(ref IgnoredBroadcasts),
        Volatile.Read(ref DatagramsSent),
        Volatile.Read(ref SendErrors),
        Volatile.Read(ref IcmpErrorsReceived));
}

/// <summary>
/// The <c>Protocols.Udp</c> meter: one observable counter per UDP counter, one measurement per
/// live stack, tagged <c>protocols.stack</c>. Stacks are held weakly, so a stack that is dropped
/// stops reporting without being unregistered.
/// </summary>
public static class UdpMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Protocols.Udp";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly List<WeakReference<UdpCounters>> Live = new();
    private static readonly Lock LiveLock = new();

#pragma warning disable CA1823 // the instruments live as long as the meter; kept in fields for readers of this file
    private static readonly ObservableCounter<long> InDatagrams = Create("protocols.udp.datagrams.received", "Datagrams queued to a socket", static c => ref c.DatagramsReceived);
    private static readonly ObservableCounter<long> NoPortsCounter = Create("protocols.udp.no_ports", "Unicast datagrams for a port no socket accepts", static c => ref c.NoPorts);
    private static readonly ObservableCounter<long> InErrorsCounter = Create("protocols.udp.in_errors", "Datagrams dropped for errors", static c => ref c.InErrors);
    private static readonly ObservableCounter<long> RcvbufErrors = Create("protocols.udp.receive_buffer_errors", "Datagrams dropped: receive queue full", static c => ref c.ReceiveBufferErrors);
    private static readonly ObservableCounter<long> CsumErrors = Create("protocols.udp.checksum_errors", "Datagrams dropped: bad checksum", static c => ref c.ChecksumErrors);
    private static readonly ObservableCounter<long> Malformed = Create("protocols.udp.malformed", "Datagrams dropped: malformed", static c => ref c.MalformedDatagrams);
    private static readonly ObservableCounter<long> IgnoredMulti = Create("protocols.udp.ignored_broadcasts", "Broadcasts for unbound ports", static c => ref c.IgnoredBroadcasts);
    private static readonly ObservableCounter<long> OutDatagrams = Create("protocols.udp.datagrams.sent", "Datagrams handed to IP", static c => ref c.DatagramsSent);
    private static readonly ObservableCounter<long> SendErrorsCounter = Create("protocols.udp.send_errors", "Sends IP refused", static c => ref c.SendErrors);
    private static readonly ObservableCounter<long> IcmpErrors = Create("protocols.udp.icmp_errors", "ICMP errors about datagrams we sent", static c => ref c.IcmpErrorsReceived);
#pragma warning restore CA1823

    private delegate ref long Field(UdpCounters counters);

    internal static void Register(UdpCounters counters)
    {
        lock (LiveLock)
        {
            // Drop entries of stacks that were collected, so the list stays bounded by live stacks.
            Live.RemoveAll(static w => !w.TryGetTarget(out _));
            Live.Add(new WeakReference<UdpCounters>(counters));
        }
    }

    private static ObservableCounter<long> Create(string name, string description, Field field) =>
        Meter.CreateObservableCounter(name, () => Observe(field), "{datagram}", description);

    private static List<Measurement<long>> Observe(Field field)
    {
        var measurements = new List<Measurement<long>>();
        lock (LiveLock)
        {
            foreach (WeakReference<UdpCounters> weak in Live)
            {
                if (weak.TryGetTarget(out UdpCounters? counters))
                {
                    measurements.Add(new Measurement<long>(
                        Volatile.Read(ref field(counters)),
                        new KeyValuePair<string, object?>("protocols.stack", counters.StackName)));
                }
            }
        }

        return measurements;
    }
}
