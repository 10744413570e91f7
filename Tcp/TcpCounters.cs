using System.Globalization;
using System.Text;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>The counters of <see cref="TcpCounters"/>, one per <c>netstat -s</c>-style statistic.</summary>
public enum TcpCounter
{
    /// <summary>Active opens: SYNs sent by connect (RFC 1213 tcpActiveOpens).</summary>
    ActiveOpens,

    /// <summary>Passive opens: connections created from a SYN or a SYN cookie (tcpPassiveOpens).</summary>
    PassiveOpens,

    /// <summary>Opens that failed: SYN-SENT or SYN-RECEIVED to CLOSED (tcpAttemptFails).</summary>
    AttemptFails,

    /// <summary>Resets that ended ESTABLISHED or CLOSE-WAIT connections (tcpEstabResets).</summary>
    EstablishedResets,

    /// <summary>Connections now in ESTABLISHED or CLOSE-WAIT (a gauge, tcpCurrEstab).</summary>
    CurrentEstablished,

    /// <summary>Segments received: by the engine for its connections, by the layer for the rest.</summary>
    SegmentsReceived,

    /// <summary>Segments sent, retransmissions included.</summary>
    SegmentsSent,

    /// <summary>Segments retransmitted (timer, fast retransmit, SYN and SYN-ACK retries).</summary>
    SegmentsRetransmitted,

    /// <summary>Segments dropped as malformed or with a bad checksum (layer).</summary>
    BadSegments,

    /// <summary>RST segments sent.</summary>
    ResetsSent,

    /// <summary>RST segments that were accepted and reset a connection.</summary>
    ResetsReceived,

    /// <summary>SYN-ACKs sent with a SYN cookie (layer).</summary>
    SynCookiesSent,

    /// <summary>ACKs that carried a valid SYN cookie (layer).</summary>
    SynCookiesReceived,

    /// <summary>ACKs to a listener that failed cookie validation (layer).</summary>
    SynCookiesFailed,

    /// <summary>Handshakes dropped because the accept queue was full (layer).</summary>
    ListenOverflows,

    /// <summary>SYNs dropped by a listener for any reason (layer).</summary>
    ListenDrops,

    /// <summary>RFC 5961 challenge ACKs sent.</summary>
    ChallengeAcksSent,

    /// <summary>Challenge ACKs not sent because the stack-wide rate limit was reached (RFC 5961 7).</summary>
    ChallengeAcksSuppressed,

    /// <summary>Segments dropped by PAWS (RFC 7323 5).</summary>
    PawsRejected,

    /// <summary>Fast retransmits (RFC 5681 3.2).</summary>
    FastRetransmits,

    /// <summary>Retransmission timer expirations (RTO, SYN and SYN-ACK).</summary>
    Timeouts,

    /// <summary>ACKs sent by the delayed-ACK timer.</summary>
    DelayedAcks,

    /// <summary>Segments held out of order for reassembly.</summary>
    OutOfOrderQueued,

    /// <summary>Duplicate ACKs received (RFC 5681 2).</summary>
    DuplicateAcksReceived,

    /// <summary>Zero-window probes sent by the persist timer.</summary>
    ZeroWindowProbes,

    /// <summary>Keepalive probes sent.</summary>
    KeepAliveProbes,

    /// <summary>Connections ended because keepalive probes went unanswered.</summary>
    KeepAliveTimeouts,

    /// <summary>Connections ended by retransmission, user or connect timeouts (keepalive excluded).</summary>
    ConnectionTimeouts,

    /// <summary>TIME-WAIT connections replaced by a new SYN (RFC 6191; layer).</summary>
    TimeWaitRecycled,

    /// <summary>Connections that entered TIME-WAIT.</summary>
    TimeWaitEntered,

    /// <summary>ACKs outside [SND.UNA - MAX.SND.WND, SND.MAX] dropped (RFC 5961 5).</summary>
    OutOfWindowAcksDropped,

    /// <summary>Unacceptable segments answered with an ACK (RFC 9293 3.10.7.4 first check).</summary>
    OutOfWindowSegments,

    /// <summary>ICMP errors delivered to connections.</summary>
    IcmpErrors,

    /// <summary>Connections aborted by the application (RST).</summary>
    Aborts,

    /// <summary>ICMP errors ignored: quoted sequence number outside [SND.UNA, SND.NXT) or next-hop MTU below the floor (RFC 5927 4.1, 7.2; Linux's OutOfWindowIcmps).</summary>
    IcmpErrorsIgnored,

    /// <summary>SACK blocks ignored as invalid: empty, beyond what was sent, below SND.UNA (and not a D-SACK), or larger than the window (Linux's TCPSACKDiscard).</summary>
    SackBlocksIgnored,

    /// <summary>D-SACK blocks received (RFC 2883).</summary>
    DsacksReceived,

    /// <summary>D-SACK blocks sent for duplicate data (RFC 2883).</summary>
    DsacksSent,

    /// <summary>Loss recovery episodes entered from SACK information (RFC 6675 with RACK, RFC 8985).</summary>
    SackRecoveries,

    /// <summary>Segments RACK marked lost (RFC 8985 6.2).</summary>
    RackLostSegments,

    /// <summary>Tail loss probes sent (RFC 8985 7.3).</summary>
    TailLossProbes,

    /// <summary>Tail loss probes that repaired a loss (RFC 8985 7.4).</summary>
    TailLossProbeRecoveries,

    /// <summary>Probes sent during a fast recovery whose ACKs stopped for a probe timeout (the ACK clock lost with data in flight).</summary>
    RecoveryProbes,

    /// <summary>Retransmission timeouts found spurious by the timestamp echo (Eifel, RFC 3522) and undone.</summary>
    SpuriousTimeouts,

    /// <summary>Window reductions undone because every retransmission of the episode was reported as a duplicate (D-SACK, RFC 2883) or the timeout was spurious.</summary>
    RecoveriesUndone,

    /// <summary>Receivers found to have discarded data they had SACKed (RFC 2018 8): the SACK state was cleared.</summary>
    SackRenegings,

    /// <summary>Segments carrying data dropped because our advertised window was zero (RFC 9293 3.10.7.4; Linux's TCPZeroWindowDrop).</summary>
    ZeroWindowDrops,

    /// <summary>Times the sender stopped with data it could send until the pacing timer (the congestion controller paces: BBR).</summary>
    PacingWaits,

    /// <summary>Of <see cref="BadSegments"/>: shorter than the 20-byte fixed header (layer).</summary>
    BadSegmentsTruncated,

    /// <summary>Of <see cref="BadSegments"/>: a data offset below 5 words or past the end of the segment (RFC 9293 3.1; layer).</summary>
    BadSegmentsDataOffset,

    /// <summary>Of <see cref="BadSegments"/>: malformed options, e.g. a length byte below 2 or past the header (RFC 9293 3.1; layer).</summary>
    BadSegmentsOptions,

    /// <summary>Of <see cref="BadSegments"/>: the checksum over the pseudo-header and the segment does not verify (RFC 9293 3.1; layer).</summary>
    BadSegmentsChecksum,

    /// <summary>Data bytes copied from a segment straight into a read that was waiting: one copy between the device's buffer and the application's.</summary>
    BytesReadDirect,

    /// <summary>Data bytes read out of the receive ring: they were copied into it on arrival and again into the application's buffer.</summary>
    BytesReadFromRing,

    /// <summary>Received segments merged into runs by receive coalescing before input (each run counts all its segments; layer).</summary>
    CoalescedSegments,

    /// <summary>Runs of two or more segments merged by receive coalescing and handed to a connection as one segment (layer).</summary>
    CoalescedRuns,

    /// <summary>Of <see cref="BytesReadDirect"/>: bytes of runs that receive coalescing merged, which were copied once before, from the device's buffer into the run's (layer).</summary>
    BytesReadDirectFromRuns,

    /// <summary>Connections closed on entering TIME-WAIT because the TIME-WAIT table was full (<see cref="TcpStackOptions.MaxTimeWait"/>; Linux's TCPTimeWaitOverflow; layer).</summary>
    TimeWaitOverflows,
}

/// <summary>
/// TCP statistics like <c>netstat -s</c>, shared by a stack's layer and all its connections.
/// Written only on the stack's loop; <see cref="Snapshot"/> and the getters may be read from any thread.
/// </summary>
/// <remarks>The engine counts what happens on connections; the layer counts what never reaches one (checksum failures, listeners, cookies, segments to closed ports).</remarks>
public sealed class TcpCounters
{
    private static readonly TcpCounter[] AllCounters = Enum.GetValues<TcpCounter>();
    private readonly long[] _values = new long[AllCounters.Length];

    /// <summary>Every counter, in declaration order.</summary>
    public static IReadOnlyList<TcpCounter> All => AllCounters;

    /// <summary>The value of one counter.</summary>
    public long this[TcpCounter counter] => Volatile.Read(ref _values[(int)counter]);

    /// <summary><see cref="TcpCounter.ActiveOpens"/>.</summary>
    public long ActiveOpens => this[TcpCounter.ActiveOpens];

    /// <summary><see cref="TcpCounter.PassiveOpens"/>.</summary>
    public long PassiveOpens => this[TcpCounter.PassiveOpens];

    /// <summary><see cref="TcpCounter.AttemptFails"/>.</summary>
    public long AttemptFails => this[TcpCounter.AttemptFails];

    /// <summary><see cref="TcpCounter.EstablishedResets"/>.</summary>
    public long EstablishedResets => this[TcpCounter.EstablishedResets];

    /// <summary><see cref="TcpCounter.CurrentEstablished"/>.</summary>
    public long CurrentEstablished => this[TcpCounter.CurrentEstablished];

    /// <summary><see cref="TcpCounter.SegmentsReceived"/>.</summary>
    public long SegmentsReceived => this[TcpCounter.SegmentsReceived];

    /// <summary><see cref="TcpCounter.CoalescedSegments"/>.</summary>
    public long CoalescedSegments => this[TcpCounter.CoalescedSegments];

    /// <summary><see cref="TcpCounter.CoalescedRuns"/>.</summary>
    public long CoalescedRuns => this[TcpCounter.CoalescedRuns];

    /// <summary><see cref="TcpCounter.SegmentsSent"/>.</summary>
    public long SegmentsSent => this[TcpCounter.SegmentsSent];

    /// <summary><see cref="TcpCounter.SegmentsRetransmitted"/>.</summary>
    public long SegmentsRetransmitted => this[TcpCounter.SegmentsRetransmitted];

    /// <summary><see cref="TcpCounter.BadSegments"/>: the sum of the four <c>BadSegments*</c> details.</summary>
    public long BadSegments => this[TcpCounter.BadSegments];

    /// <summary><see cref="TcpCounter.ResetsSent"/>.</summary>
    public long ResetsSent => this[TcpCounter.ResetsSent];

    /// <summary><see cref="TcpCounter.ResetsReceived"/>.</summary>
    public long ResetsReceived => this[TcpCounter.ResetsReceived];

    /// <summary><see cref="TcpCounter.SynCookiesSent"/>.</summary>
    public long SynCookiesSent => this[TcpCounter.SynCookiesSent];

    /// <summary><see cref="TcpCounter.SynCookiesReceived"/>.</summary>
    public long SynCookiesReceived => this[TcpCounter.SynCookiesReceived];

    /// <summary><see cref="TcpCounter.SynCookiesFailed"/>.</summary>
    public long SynCookiesFailed => this[TcpCounter.SynCookiesFailed];

    /// <summary><see cref="TcpCounter.ListenOverflows"/>.</summary>
    public long ListenOverflows => this[TcpCounter.ListenOverflows];

    /// <summary><see cref="TcpCounter.ListenDrops"/>.</summary>
    public long ListenDrops => this[TcpCounter.ListenDrops];

    /// <summary><see cref="TcpCounter.ChallengeAcksSent"/>.</summary>
    public long ChallengeAcksSent => this[TcpCounter.ChallengeAcksSent];

    /// <summary><see cref="TcpCounter.PawsRejected"/>.</summary>
    public long PawsRejected => this[TcpCounter.PawsRejected];

    /// <summary><see cref="TcpCounter.FastRetransmits"/>.</summary>
    public long FastRetransmits => this[TcpCounter.FastRetransmits];

    /// <summary><see cref="TcpCounter.Timeouts"/>.</summary>
    public long Timeouts => this[TcpCounter.Timeouts];

    /// <summary><see cref="TcpCounter.DelayedAcks"/>.</summary>
    public long DelayedAcks => this[TcpCounter.DelayedAcks];

    /// <summary><see cref="TcpCounter.OutOfOrderQueued"/>.</summary>
    public long OutOfOrderQueued => this[TcpCounter.OutOfOrderQueued];

    /// <summary><see cref="TcpCounter.TimeWaitRecycled"/>.</summary>
    public long TimeWaitRecycled => this[TcpCounter.TimeWaitRecycled];

    /// <summary><see cref="TcpCounter.TimeWaitOverflows"/>.</summary>
    public long TimeWaitOverflows => this[TcpCounter.TimeWaitOverflows];

    /// <summary><see cref="TcpCounter.KeepAliveTimeouts"/>.</summary>
    public long KeepAliveTimeouts => this[TcpCounter.KeepAliveTimeouts];

    /// <summary><see cref="TcpCounter.BytesReadDirect"/>.</summary>
    public long BytesReadDirect => this[TcpCounter.BytesReadDirect];

    /// <summary><see cref="TcpCounter.BytesReadFromRing"/>.</summary>
    public long BytesReadFromRing => this[TcpCounter.BytesReadFromRing];

    /// <summary><see cref="TcpCounter.BytesReadDirectFromRuns"/>.</summary>
    public long BytesReadDirectFromRuns => this[TcpCounter.BytesReadDirectFromRuns];

    /// <summary>
    /// The detail counter of a segment the layer could not read, from its <see cref="WireError"/>:
    /// a fixed header that is not all there (the generated reader's first check: too short, 20 bytes
    /// required) is <see cref="TcpCounter.BadSegmentsTruncated"/>, an option's error (its length is
    /// the limit) <see cref="TcpCounter.BadSegmentsOptions"/>, and the data offset field's
    /// <see cref="TcpCounter.BadSegmentsDataOffset"/>.
    /// </summary>
    /// <param name="error">What TcpSegment.TryParse reported.</param>
    /// <returns>The counter to add to besides <see cref="TcpCounter.BadSegments"/>.</returns>
    internal static TcpCounter BadSegmentDetail(in WireError error) =>
        error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer && error.Required <= TcpHeader.FixedLength ? TcpCounter.BadSegmentsTruncated
        : error.Source == LengthSource.OptionLength ? TcpCounter.BadSegmentsOptions
        : TcpCounter.BadSegmentsDataOffset;

    /// <summary>Adds <paramref name="amount"/> (may be negative for the gauge). Loop only.</summary>
    /// <param name="counter">The counter.</param>
    /// <param name="amount">How much to add.</param>
    public void Add(TcpCounter counter, long amount = 1)
    {
        ref long slot = ref _values[(int)counter];
        Volatile.Write(ref slot, slot + amount);
    }

    /// <summary>A copy of every counter at this moment.</summary>
    /// <returns>A new, independent instance.</returns>
    public TcpCounters Snapshot()
    {
        var copy = new TcpCounters();
        for (int i = 0; i < _values.Length; i++)
        {
            copy._values[i] = Volatile.Read(ref _values[i]);
        }

        return copy;
    }

    /// <summary>One <c>Name: value</c> line per counter, like <c>netstat -s</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (TcpCounter c in AllCounters)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{c}: {this[c]}").Append('\n');
        }

        return sb.ToString();
    }
}
