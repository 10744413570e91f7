using System.Diagnostics.Metrics;
using Protocols.Ip.Devices;

namespace Protocols.Ip;

/// <summary>
/// The stack's counters (the <c>netstat -s</c> of the stack). Incremented on the loop only;
/// <see cref="Snapshot"/> may be called from any thread. Also published as observable instruments
/// on the stack's <see cref="Meter"/> named <c>Protocols.Ip</c>, every measurement tagged
/// <c>protocols.stack</c> with <see cref="NetworkStack.Name"/>.
/// </summary>
public sealed class StackCounters
{
    internal const int DropReasonCount = (int)DropReason.PacketTooBigNotOurs + 1;

    internal readonly long[] Dropped = new long[DropReasonCount];
    internal readonly long[] SendDropped = new long[DropReasonCount];
    internal readonly long[] IcmpIn = new long[256];
    internal readonly long[] IcmpOut = new long[256];
    internal readonly long[] Icmpv6In = new long[256];
    internal readonly long[] Icmpv6Out = new long[256];
    internal long Ipv6Received;
    internal long Ipv6Delivered;
    internal long Ipv6Sent;
    internal long Ipv6FragmentsReceived;
    internal long Ipv6FragmentsSent;
    internal long Ipv6Reassembled;
    internal long Ipv6ReassemblyFailures;
    internal long Ipv6ReassemblyTimeouts;
    internal long Ipv6FragmentsQueued;
    internal long Icmpv6RateLimited;
    internal long Icmpv6ErrorsSuppressed;
    internal long Icmpv6ChecksumErrors;
    internal long NdpReceived;
    internal long NeighborSolicitationsSent;
    internal long NeighborAdvertisementsSent;
    internal long NeighborUnreachable;
    internal long Ipv6DadCompleted;
    internal long Ipv6DadFailures;
    internal long Ipv6AddressConflicts;
    internal long PathMtuUpdates;
    internal long FramesReceived;
    internal long FramesSent;
    internal long DatagramsReceived;
    internal long Delivered;
    internal long ForwardedDatagrams;
    internal long ForwardResegmented;
    internal long DatagramsSent;
    internal long ChecksumErrors;
    internal long FragmentsReceived;
    internal long FragmentsSent;
    internal long Reassembled;
    internal long ReassemblyFailures;
    internal long ReassemblyTimeouts;
    internal long FragmentsQueued;
    internal long IcmpRateLimited;
    internal long IcmpErrorsSuppressed;
    internal long ArpReceived;
    internal long ArpRequestsSent;
    internal long ArpRepliesSent;
    internal long CallbackExceptions;
    internal long BytesReceived;
    internal long BytesSent;
    internal long Polls;
    internal long WakeUps;

    private readonly KeyValuePair<string, object?> _stackTag;
    private readonly List<NetworkInterface> _interfaces;

    internal StackCounters(Meter meter, string stackName, List<NetworkInterface> interfaces)
    {
        _interfaces = interfaces;
        _stackTag = new KeyValuePair<string, object?>("protocols.stack", stackName);
        meter.CreateObservableCounter("protocols.ip.frames.received", () => Tagged(Volatile.Read(ref FramesReceived)), "{frame}", "Frames taken from devices.");
        meter.CreateObservableCounter("protocols.ip.frames.sent", () => Tagged(Volatile.Read(ref FramesSent)), "{frame}", "Frames handed to devices.");
        meter.CreateObservableCounter("protocols.ip.datagrams.received", () => Tagged(Volatile.Read(ref DatagramsReceived)), "{datagram}", "IPv4 datagrams received (before validation).");
        meter.CreateObservableCounter("protocols.ip.datagrams.delivered", () => Tagged(Volatile.Read(ref Delivered)), "{datagram}", "Datagrams delivered to a transport or consumed by ICMP.");
        meter.CreateObservableCounter("protocols.ip.datagrams.forwarded", () => Tagged(Volatile.Read(ref ForwardedDatagrams)), "{datagram}", "Datagrams forwarded (RFC 1812), counted once each before any fragmentation.");
        meter.CreateObservableCounter("protocols.ip.datagrams.sent", () => Tagged(Volatile.Read(ref DatagramsSent)), "{datagram}", "Datagrams originated (before fragmentation).");
        meter.CreateObservableCounter("protocols.ip.dropped", () => ByReason(Dropped), "{frame}", "Received frames dropped, by reason.");
        meter.CreateObservableCounter("protocols.ip.send.dropped", () => ByReason(SendDropped), "{datagram}", "Datagrams or frames not sent, by reason.");
        meter.CreateObservableCounter("protocols.ip.checksum_errors", () => Tagged(Volatile.Read(ref ChecksumErrors)), "{datagram}", "IPv4 and ICMP checksum failures.");
        meter.CreateObservableCounter("protocols.ip.fragments.received", () => Tagged(Volatile.Read(ref FragmentsReceived)), "{fragment}", "Fragments received.");
        meter.CreateObservableCounter("protocols.ip.fragments.sent", () => Tagged(Volatile.Read(ref FragmentsSent)), "{fragment}", "Fragments sent.");
        meter.CreateObservableCounter("protocols.ip.reassembled", () => Tagged(Volatile.Read(ref Reassembled)), "{datagram}", "Datagrams reassembled.");
        meter.CreateObservableCounter("protocols.ip.reassembly_failures", () => Tagged(Volatile.Read(ref ReassemblyFailures)), "{datagram}", "Datagrams whose reassembly failed.");
        meter.CreateObservableCounter("protocols.ip.icmp.in", () => ByType(IcmpIn), "{message}", "ICMP messages received, by type.");
        meter.CreateObservableCounter("protocols.ip.icmp.out", () => ByType(IcmpOut), "{message}", "ICMP messages sent, by type.");
        meter.CreateObservableCounter("protocols.ip.icmp.rate_limited", () => Tagged(Volatile.Read(ref IcmpRateLimited)), "{message}", "ICMP errors not sent because of the rate limit.");
        meter.CreateObservableCounter("protocols.ip.arp.received", () => Tagged(Volatile.Read(ref ArpReceived)), "{packet}", "ARP packets processed.");
        meter.CreateObservableCounter("protocols.ip.arp.requests_sent", () => Tagged(Volatile.Read(ref ArpRequestsSent)), "{packet}", "ARP requests sent.");
        meter.CreateObservableCounter("protocols.ip.arp.replies_sent", () => Tagged(Volatile.Read(ref ArpRepliesSent)), "{packet}", "ARP replies sent.");
        meter.CreateObservableCounter("protocols.ipv6.packets.received", () => Tagged(Volatile.Read(ref Ipv6Received)), "{packet}", "IPv6 packets received (before validation).");
        meter.CreateObservableCounter("protocols.ipv6.packets.delivered", () => Tagged(Volatile.Read(ref Ipv6Delivered)), "{packet}", "IPv6 packets delivered to a transport or consumed by ICMPv6.");
        meter.CreateObservableCounter("protocols.ipv6.packets.sent", () => Tagged(Volatile.Read(ref Ipv6Sent)), "{packet}", "IPv6 packets originated (before fragmentation).");
        meter.CreateObservableCounter("protocols.ipv6.fragments.received", () => Tagged(Volatile.Read(ref Ipv6FragmentsReceived)), "{fragment}", "IPv6 fragments received.");
        meter.CreateObservableCounter("protocols.ipv6.fragments.sent", () => Tagged(Volatile.Read(ref Ipv6FragmentsSent)), "{fragment}", "IPv6 fragments sent.");
        meter.CreateObservableCounter("protocols.ipv6.reassembled", () => Tagged(Volatile.Read(ref Ipv6Reassembled)), "{packet}", "IPv6 packets reassembled.");
        meter.CreateObservableCounter("protocols.ipv6.icmp.in", () => ByIcmpv6Type(Icmpv6In), "{message}", "ICMPv6 messages received, by type.");
        meter.CreateObservableCounter("protocols.ipv6.icmp.out", () => ByIcmpv6Type(Icmpv6Out), "{message}", "ICMPv6 messages sent, by type.");
        meter.CreateObservableCounter("protocols.ipv6.icmp.rate_limited", () => Tagged(Volatile.Read(ref Icmpv6RateLimited)), "{message}", "ICMPv6 errors not sent because of the rate limit.");
        meter.CreateObservableCounter("protocols.ipv6.ndp.received", () => Tagged(Volatile.Read(ref NdpReceived)), "{message}", "Valid neighbour discovery messages processed.");
        meter.CreateObservableCounter("protocols.ipv6.dad.failures", () => Tagged(Volatile.Read(ref Ipv6DadFailures)), "{address}", "Addresses found duplicate.");
        meter.CreateObservableCounter("protocols.ip.bytes.received", () => Tagged(Volatile.Read(ref BytesReceived)), "By", "Bytes of the frames taken from devices.");
        meter.CreateObservableCounter("protocols.ip.bytes.sent", () => Tagged(Volatile.Read(ref BytesSent)), "By", "Bytes of the frames handed to devices.");
        meter.CreateObservableCounter("protocols.ip.loop.polls", () => Tagged(Volatile.Read(ref Polls)), "{poll}", "Runs of the loop (each drains up to a batch of frames per device, then flushes once).");
        meter.CreateObservableCounter("protocols.ip.loop.wakeups", () => Tagged(Volatile.Read(ref WakeUps)), "{wakeup}", "Times the loop woke from waiting (frames, a request or a timer).");
        meter.CreateObservableCounter("protocols.ip.device.syscalls", () => DeviceCalls(), "{call}", "System calls the devices made, by direction.");
        meter.CreateObservableCounter("protocols.ip.device.malformed", () => Tagged(DeviceTotals().Malformed), "{frame}", "Frames the devices dropped for a malformed or refused device header (virtio-net).");
    }

    /// <summary>The devices' own counts, summed over the stack's interfaces (devices that keep none count zero).</summary>
    internal DeviceStatistics DeviceTotals()
    {
        DeviceStatistics total = default;
        for (int i = 0; i < _interfaces.Count; i++)
        {
            NetworkInterface? nic;
            try
            {
                nic = _interfaces[i];
            }
            catch (ArgumentOutOfRangeException)
            {
                break; // set-up racing a reader on another thread
            }

            if (nic?.Device.Statistics is { } one)
            {
                total += one;
            }
        }

        return total;
    }

    /// <summary>A consistent-enough copy of every counter (each value is read atomically).</summary>
    public StackCountersSnapshot Snapshot() => new(this);

    internal void Drop(DropReason reason) => Dropped[(int)reason]++;

    internal void SendDrop(DropReason reason) => SendDropped[(int)reason]++;

    private Measurement<long> Tagged(long value) => new(value, _stackTag);

    private Measurement<long>[] DeviceCalls()
    {
        DeviceStatistics d = DeviceTotals();
        return
        [
            new(d.ReceiveCalls, _stackTag, new KeyValuePair<string, object?>("direction", "receive")),
            new(d.SendCalls, _stackTag, new KeyValuePair<string, object?>("direction", "send")),
        ];
    }

    private IEnumerable<Measurement<long>> ByReason(long[] counts)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            long v = Volatile.Read(ref counts[i]);
            if (v != 0)
            {
                yield return new Measurement<long>(v, _stackTag, new KeyValuePair<string, object?>("reason", ((DropReason)i).ToString()));
            }
        }
    }

    private IEnumerable<Measurement<long>> ByIcmpv6Type(long[] counts)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            long v = Volatile.Read(ref counts[i]);
            if (v != 0)
            {
                yield return new Measurement<long>(v, _stackTag, new KeyValuePair<string, object?>("type", ((Icmpv6Type)i).ToString()));
            }
        }
    }

    private IEnumerable<Measurement<long>> ByType(long[] counts)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            long v = Volatile.Read(ref counts[i]);
            if (v != 0)
            {
                yield return new Measurement<long>(v, _stackTag, new KeyValuePair<string, object?>("type", ((IcmpType)i).ToString()));
            }
        }
    }
}

/// <summary>A copy of a stack's counters at one moment.</summary>
public sealed class StackCountersSnapshot
{
    private readonly long[] _dropped;
    private readonly long[] _sendDropped;
    private readonly long[] _icmpIn;
    private readonly long[] _icmpOut;
    private readonly long[] _icmpv6In;
    private readonly long[] _icmpv6Out;

    internal StackCountersSnapshot(StackCounters c)
    {
        _dropped = ReadAll(c.Dropped);
        _sendDropped = ReadAll(c.SendDropped);
        _icmpIn = ReadAll(c.IcmpIn);
        _icmpOut = ReadAll(c.IcmpOut);
        _icmpv6In = ReadAll(c.Icmpv6In);
        _icmpv6Out = ReadAll(c.Icmpv6Out);
        Ipv6 = new Ipv6CountersSnapshot(c);
        FramesReceived = Volatile.Read(ref c.FramesReceived);
        FramesSent = Volatile.Read(ref c.FramesSent);
        Received = Volatile.Read(ref c.DatagramsReceived);
        Delivered = Volatile.Read(ref c.Delivered);
        Forwarded = Volatile.Read(ref c.ForwardedDatagrams);
        ForwardResegmented = Volatile.Read(ref c.ForwardResegmented);
        Sent = Volatile.Read(ref c.DatagramsSent);
        ChecksumErrors = Volatile.Read(ref c.ChecksumErrors);
        FragmentsReceived = Volatile.Read(ref c.FragmentsReceived);
        FragmentsSent = Volatile.Read(ref c.FragmentsSent);
        Reassembled = Volatile.Read(ref c.Reassembled);
        ReassemblyFailures = Volatile.Read(ref c.ReassemblyFailures);
        ReassemblyTimeouts = Volatile.Read(ref c.ReassemblyTimeouts);
        FragmentsQueued = Volatile.Read(ref c.FragmentsQueued);
        IcmpRateLimited = Volatile.Read(ref c.IcmpRateLimited);
        IcmpErrorsSuppressed = Volatile.Read(ref c.IcmpErrorsSuppressed);
        ArpReceived = Volatile.Read(ref c.ArpReceived);
        ArpRequestsSent = Volatile.Read(ref c.ArpRequestsSent);
        ArpRepliesSent = Volatile.Read(ref c.ArpRepliesSent);
        CallbackExceptions = Volatile.Read(ref c.CallbackExceptions);
        BytesReceived = Volatile.Read(ref c.BytesReceived);
        BytesSent = Volatile.Read(ref c.BytesSent);
        Polls = Volatile.Read(ref c.Polls);
        WakeUps = Volatile.Read(ref c.WakeUps);
        Devices = c.DeviceTotals();
    }

    /// <summary>Bytes of the frames taken from devices.</summary>
    public long BytesReceived { get; }

    /// <summary>Bytes of the frames handed to devices.</summary>
    public long BytesSent { get; }

    /// <summary>Runs of the loop: each drains up to a batch of frames from every device, runs requests and timers, then flushes every device once.</summary>
    public long Polls { get; }

    /// <summary>Times <see cref="NetworkStack.RunAsync"/> woke from waiting (frames, a request or a timer).</summary>
    public long WakeUps { get; }

    /// <summary>The devices' own counts summed over the interfaces: system calls each way, malformed device headers.</summary>
    public DeviceStatistics Devices { get; }

    /// <summary>System calls the devices made (both directions) per megabyte (10^6 bytes) that crossed them; 0 before any byte.</summary>
    public double SystemCallsPerMegabyte => PerMegabyte(Devices.ReceiveCalls + Devices.SendCalls);

    /// <summary>Wake-ups of the loop per megabyte (10^6 bytes) that crossed the devices; 0 before any byte.</summary>
    public double WakeUpsPerMegabyte => PerMegabyte(WakeUps);

    private double PerMegabyte(long count)
    {
        long bytes = BytesReceived + BytesSent;
        return bytes == 0 ? 0 : count * 1e6 / bytes;
    }

    /// <summary>The IPv6 counters (the IPv4 ones are this object's other properties).</summary>
    public Ipv6CountersSnapshot Ipv6 { get; }

    /// <summary>Frames taken from devices (IP packets or Ethernet frames, ARP included).</summary>
    public long FramesReceived { get; }

    /// <summary>Frames handed to devices (fragments and ARP included).</summary>
    public long FramesSent { get; }

    /// <summary>IPv4 datagrams received, before validation (fragments count one each).</summary>
    public long Received { get; }

    /// <summary>Datagrams delivered to a transport, or consumed by the stack's ICMP.</summary>
    public long Delivered { get; }

    /// <summary>Datagrams forwarded (RFC 1812 5.2; 0 unless forwarding or a NAT is on), each counted once before any fragmentation.</summary>
    public long Forwarded { get; }

    /// <summary>Forwarded TCP super-segments (larger than the link they came in on: an offload's) cut into segments that fit the next hop.</summary>
    public long ForwardResegmented { get; }

    /// <summary>Datagrams originated (before fragmentation), including ICMP we sent.</summary>
    public long Sent { get; }

    /// <summary>IPv4 header and ICMP checksum failures.</summary>
    public long ChecksumErrors { get; }

    /// <summary>Fragments received.</summary>
    public long FragmentsReceived { get; }

    /// <summary>Fragments sent.</summary>
    public long FragmentsSent { get; }

    /// <summary>Datagrams reassembled from fragments.</summary>
    public long Reassembled { get; }

    /// <summary>Datagrams whose reassembly failed (timeout, overlap, limits, malformed fragments), from the reassembler's counters.</summary>
    public long ReassemblyFailures { get; }

    /// <summary>Datagrams whose reassembly timed out (their fragments were counted in <see cref="FragmentsQueued"/>, not as drops).</summary>
    public long ReassemblyTimeouts { get; }

    /// <summary>
    /// Fragments the reassembler held when they arrived (not the one completing a datagram, nor
    /// those refused at once, which are drops). Every received frame is accounted for exactly once:
    /// <c>FramesReceived == Delivered + Forwarded + ArpReceived + TotalDropped + FragmentsQueued</c>.
    /// </summary>
    public long FragmentsQueued { get; }

    /// <summary>ICMP errors not sent because the rate limit held them back.</summary>
    public long IcmpRateLimited { get; }

    /// <summary>ICMP errors not sent because RFC 1122 3.2.2 forbids them (about ICMP errors, broadcasts, non-first fragments, invalid sources).</summary>
    public long IcmpErrorsSuppressed { get; }

    /// <summary>ARP packets received and processed.</summary>
    public long ArpReceived { get; }

    /// <summary>ARP requests sent.</summary>
    public long ArpRequestsSent { get; }

    /// <summary>ARP replies sent.</summary>
    public long ArpRepliesSent { get; }

    /// <summary>Exceptions thrown by callbacks (transports, timers, posted work) that the loop caught and logged.</summary>
    public long CallbackExceptions { get; }

    /// <summary>Received frames dropped, all reasons together.</summary>
    public long TotalDropped => _dropped.Sum();

    /// <summary>Datagrams or frames not sent, all reasons together.</summary>
    public long TotalSendDropped => _sendDropped.Sum();

    /// <summary>Received frames dropped for <paramref name="reason"/>.</summary>
    public long DroppedFor(DropReason reason) => (uint)reason < (uint)_dropped.Length ? _dropped[(int)reason] : 0;

    /// <summary>Datagrams or frames not sent for <paramref name="reason"/>.</summary>
    public long SendDroppedFor(DropReason reason) => (uint)reason < (uint)_sendDropped.Length ? _sendDropped[(int)reason] : 0;

    /// <summary>ICMP messages received of <paramref name="type"/> (checksum verified).</summary>
    public long IcmpInOf(IcmpType type) => _icmpIn[(byte)type];

    /// <summary>ICMP messages sent of <paramref name="type"/>.</summary>
    public long IcmpOutOf(IcmpType type) => _icmpOut[(byte)type];

    /// <summary>ICMPv6 messages received of <paramref name="type"/> (checksum verified).</summary>
    public long Icmpv6InOf(Icmpv6Type type) => _icmpv6In[(byte)type];

    /// <summary>ICMPv6 messages sent of <paramref name="type"/>.</summary>
    public long Icmpv6OutOf(Icmpv6Type type) => _icmpv6Out[(byte)type];

    /// <summary>The non-zero receive drop counters by reason.</summary>
    public IReadOnlyDictionary<DropReason, long> Drops => ToDictionary(_dropped);

    /// <summary>The non-zero send drop counters by reason.</summary>
    public IReadOnlyDictionary<DropReason, long> SendDrops => ToDictionary(_sendDropped);

    /// <inheritdoc/>
    public override string ToString() =>
        $"frames in {FramesReceived} out {FramesSent}; datagrams in {Received} delivered {Delivered} sent {Sent}; " +
        $"dropped {TotalDropped} [{string.Join(", ", Drops.Select(kv => $"{kv.Key}={kv.Value}"))}]; " +
        $"send dropped {TotalSendDropped} [{string.Join(", ", SendDrops.Select(kv => $"{kv.Key}={kv.Value}"))}]; arp in {ArpReceived}";

    private static long[] ReadAll(long[] source)
    {
        var copy = new long[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            copy[i] = Volatile.Read(ref source[i]);
        }

        return copy;
    }

    private static Dictionary<DropReason, long> ToDictionary(long[] counts)
    {
        var d = new Dictionary<DropReason, long>();
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0)
            {
                d[(DropReason)i] = counts[i];
            }
        }

        return d;
    }
}

/// <summary>The IPv6 half of a <see cref="StackCountersSnapshot"/>: what the IPv4 properties count, for IPv6, and neighbour discovery.</summary>
public sealed class Ipv6CountersSnapshot
{
    internal Ipv6CountersSnapshot(StackCounters c)
    {
        Received = Volatile.Read(ref c.Ipv6Received);
        Delivered = Volatile.Read(ref c.Ipv6Delivered);
        Sent = Volatile.Read(ref c.Ipv6Sent);
        FragmentsReceived = Volatile.Read(ref c.Ipv6FragmentsReceived);
        FragmentsSent = Volatile.Read(ref c.Ipv6FragmentsSent);
        Reassembled = Volatile.Read(ref c.Ipv6Reassembled);
        ReassemblyFailures = Volatile.Read(ref c.Ipv6ReassemblyFailures);
        ReassemblyTimeouts = Volatile.Read(ref c.Ipv6ReassemblyTimeouts);
        FragmentsQueued = Volatile.Read(ref c.Ipv6FragmentsQueued);
        IcmpRateLimited = Volatile.Read(ref c.Icmpv6RateLimited);
        IcmpErrorsSuppressed = Volatile.Read(ref c.Icmpv6ErrorsSuppressed);
        IcmpChecksumErrors = Volatile.Read(ref c.Icmpv6ChecksumErrors);
        NdpReceived = Volatile.Read(ref c.NdpReceived);
        NeighborSolicitationsSent = Volatile.Read(ref c.NeighborSolicitationsSent);
        NeighborAdvertisementsSent = Volatile.Read(ref c.NeighborAdvertisementsSent);
        NeighborUnreachable = Volatile.Read(ref c.NeighborUnreachable);
        DadCompleted = Volatile.Read(ref c.Ipv6DadCompleted);
        DadFailures = Volatile.Read(ref c.Ipv6DadFailures);
        AddressConflicts = Volatile.Read(ref c.Ipv6AddressConflicts);
        PathMtuUpdates = Volatile.Read(ref c.PathMtuUpdates);
    }

    /// <summary>IPv6 packets received, before validation (fragments count one each).</summary>
    public long Received { get; }

    /// <summary>IPv6 packets delivered to a transport, or consumed by the stack's ICMPv6 and neighbour discovery.</summary>
    public long Delivered { get; }

    /// <summary>IPv6 packets originated (before fragmentation), ICMPv6 and neighbour discovery included.</summary>
    public long Sent { get; }

    /// <summary>Fragments received.</summary>
    public long FragmentsReceived { get; }

    /// <summary>Fragments sent.</summary>
    public long FragmentsSent { get; }

    /// <summary>Packets reassembled.</summary>
    public long Reassembled { get; }

    /// <summary>Packets whose reassembly failed (timeout, overlap, limits, malformed).</summary>
    public long ReassemblyFailures { get; }

    /// <summary>Packets whose reassembly timed out.</summary>
    public long ReassemblyTimeouts { get; }

    /// <summary>Fragments held by the reassembler when they arrived (the IPv6 part of the frame accounting identity).</summary>
    public long FragmentsQueued { get; }

    /// <summary>ICMPv6 errors held back by the rate limit (RFC 4443 2.4(f)).</summary>
    public long IcmpRateLimited { get; }

    /// <summary>ICMPv6 errors not sent because RFC 4443 2.4(e) forbids them.</summary>
    public long IcmpErrorsSuppressed { get; }

    /// <summary>ICMPv6 checksum failures.</summary>
    public long IcmpChecksumErrors { get; }

    /// <summary>Valid neighbour discovery messages processed.</summary>
    public long NdpReceived { get; }

    /// <summary>Neighbour solicitations sent (resolution, probes, duplicate address detection).</summary>
    public long NeighborSolicitationsSent { get; }

    /// <summary>Neighbour advertisements sent.</summary>
    public long NeighborAdvertisementsSent { get; }

    /// <summary>Neighbours found unreachable (resolution failed, or probes unanswered).</summary>
    public long NeighborUnreachable { get; }

    /// <summary>Addresses whose duplicate address detection completed without conflict.</summary>
    public long DadCompleted { get; }

    /// <summary>Addresses found duplicate (RFC 4862 5.4.5).</summary>
    public long DadFailures { get; }

    /// <summary>Advertisements of one of our (past-DAD) addresses by another node.</summary>
    public long AddressConflicts { get; }

    /// <summary>Path MTU decreases from valid packet too big messages (RFC 8201).</summary>
    public long PathMtuUpdates { get; }
}
