using System.Diagnostics.CodeAnalysis;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Testing;

/// <summary>A TCB broke one of the invariants <see cref="TcpInvariants"/> checks.</summary>
internal sealed class TcpInvariantException(string message) : Exception(message);

/// <summary>
/// What must hold of one TCB after every event, whatever the peer sends: the checks shared by the
/// engine's randomized test (TcpControlBlockFuzzTests) and the tcp-engine fuzz target
/// (fuzz/Protocols.Fuzz). The driver reports every segment the TCB sends (<see cref="OnSend"/>),
/// brackets each event with <see cref="BeginStep"/> and <see cref="EndStep"/>, fires timers with
/// <see cref="AdvanceTimers"/>, and ends with <see cref="CheckQuiet"/>. A broken invariant throws
/// <see cref="TcpInvariantException"/> naming it, the step and the TCB.
/// </summary>
internal sealed class TcpInvariants(TcpControlBlock tcb)
{
    private readonly List<string> _violations = [];
    private readonly List<(SeqNum Seq, int Length, TcpFlags Flags)> _sent = [];
    private SeqNum? _lastRcvNxt;
    private bool _closedBefore;
    private int _step;

    /// <summary>
    /// How long <see cref="CheckQuiet"/> waits: more than the retransmission limit can take. An
    /// unanswered FIN is retransmitted up to 15 times (TcpConnectionOptions.MaxRetransmissions) with
    /// the RTO doubling up to 120 s (RFC 6298 2.5), about 30 minutes; zero-window probes stop after as
    /// many unanswered probes at most 60 s apart.
    /// </summary>
    public const long QuietMicros = 4L * 3600 * 1_000_000;

    /// <summary>Segments sent since the TCB was created.</summary>
    public int SentCount { get; private set; }

    /// <summary>Call for every segment the TCB sends, as it is sent.</summary>
    public void OnSend(in TcpOutgoingSegment segment, int payloadLength)
    {
        // RFC 9293 3.10.7: every ACK we send acknowledges RCV.NXT as it is at that moment.
        if ((segment.Flags & TcpFlags.Rst) == 0 && (segment.Flags & TcpFlags.Ack) != 0 && segment.Ack != tcb.RcvNxt)
        {
            _violations.Add($"ACK {segment.Ack} sent while RCV.NXT = {tcb.RcvNxt}: {segment}");
        }

        int length = payloadLength + ((segment.Flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((segment.Flags & TcpFlags.Fin) != 0 ? 1 : 0);
        _sent.Add((segment.Seq, length, segment.Flags));
        SentCount++;
    }

    /// <summary>Call before each event (a segment in, an application call, timers).</summary>
    public void BeginStep()
    {
        _closedBefore = tcb.State == TcpState.Closed;
        _sent.Clear();
    }

    /// <summary>Call after each event: checks everything the event could have broken.</summary>
    public void EndStep(string context)
    {
        _step++;
        if (!(_violations.Count == 0))
        {
            Fail(context, string.Join("; ", _violations));
        }

        // The send sequence space stays ordered (RFC 9293 3.3.1): SND.UNA <= SND.NXT <= SND.MAX.
        if (!(tcb.SndUna <= tcb.SndNxt && tcb.SndNxt <= tcb.SndMax))
        {
            Fail(context, $"SND.UNA {tcb.SndUna} SND.NXT {tcb.SndNxt} SND.MAX {tcb.SndMax} out of order");
        }

        foreach ((SeqNum seq, int length, TcpFlags flags) in _sent)
        {
            // Nothing but a RST goes beyond what was sent: SEG.SEQ + SEG.LEN <= SND.MAX.
            if (!((flags & TcpFlags.Rst) != 0 || seq + length <= tcb.SndMax))
            {
                Fail(context, $"segment {seq} + {length} beyond SND.MAX {tcb.SndMax}");
            }

            // A closed TCB only answers segments with RSTs (RFC 9293 3.10.7.1).
            if (!(!_closedBefore || (flags & TcpFlags.Rst) != 0))
            {
                Fail(context, $"a closed TCB sent {TcpOutgoingSegment.FlagString(flags)}");
            }
        }

        // ... and its timers are gone.
        if (!(!_closedBefore || tcb.NextDeadlineMicros == long.MaxValue))
        {
            Fail(context, $"a closed TCB has a deadline at {tcb.NextDeadlineMicros}");
        }

        // RCV.NXT never moves backwards once the peer's ISN is known.
        if (tcb.State is not (TcpState.Closed or TcpState.SynSent))
        {
            SeqNum rcvNxt = tcb.RcvNxt;
            if (!(_lastRcvNxt is not SeqNum last || rcvNxt >= last))
            {
                Fail(context, $"RCV.NXT {_lastRcvNxt} -> {rcvNxt}");
            }
            _lastRcvNxt = rcvNxt;
        }

        // Unacknowledged data always has a retransmission or persist timer (RFC 6298 5.1).
        if (!(tcb.State == TcpState.Closed || tcb.SndMax == tcb.SndUna || tcb.SendTimerDeadlineMicros != long.MaxValue))
        {
            Fail(context, "data in flight and no timer");
        }
    }

    /// <summary>
    /// Fires the timers due up to <paramref name="time"/> from <paramref name="now"/> and returns
    /// <paramref name="time"/>; after each OnTimer(t) no deadline may still be at or before t, and a
    /// TCB that was closed sends nothing from its timers.
    /// </summary>
    public long AdvanceTimers(long now, long time, string context)
    {
        while (tcb.NextDeadlineMicros <= time)
        {
            now = Math.Max(now, tcb.NextDeadlineMicros);
            bool closed = tcb.State == TcpState.Closed;
            int before = SentCount;
            tcb.OnTimer(now);
            if (!(tcb.NextDeadlineMicros > now))
            {
                Fail(context, $"timer overdue after OnTimer({now}): {tcb.NextDeadlineMicros}");
            }
            if (!(!closed || SentCount == before))
            {
                Fail(context, "a closed TCB sent from a timer");
            }
        }

        return time;
    }

    /// <summary>
    /// Lets <see cref="QuietMicros"/> pass with nothing from the peer (firing every timer on the way)
    /// and checks that the timers have by then ended the connection or gone quiet; returns the new time.
    /// </summary>
    public long CheckQuiet(long now, string context)
    {
        now = AdvanceTimers(now, now + QuietMicros, context);
        if (tcb.State is not (TcpState.Closed or TcpState.Established or TcpState.CloseWait or TcpState.FinWait2))
        {
            Fail(context, $"still {tcb.State} after every timer ran");
        }

        return now;
    }

    [DoesNotReturn]
    private void Fail(string context, string message) =>
        throw new TcpInvariantException($"{context} step {_step}: {message}; {tcb}");
}
