namespace Protocols.Tcp.Engine.Recovery;

/// <summary>
/// RACK, the time-based half of RACK-TLP (RFC 8985 6): a segment is lost when a segment sent
/// after it was delivered and more than the latest RTT plus a reordering window has passed since
/// it was sent. Lost retransmissions are detected the same way.
/// </summary>
/// <remarks>
/// <para>The reordering window (RFC 8985 6.2 step 4) is 0 while no reordering was seen and either
/// a recovery is under way or at least three segments are SACKed, so a loss in a long flight is
/// caught as fast as by three duplicate ACKs; otherwise it is a quarter of the minimum RTT, times
/// a multiplier that grows by one for each round trip whose ACKs brought D-SACKs (the peer got
/// data twice: our window was too small) and returns to 1 after 16 recoveries without one, never
/// more than SRTT.</para>
/// <para>Segments not yet old enough to judge set the reordering timer (<see cref="TcpTimer.RackReorder"/>);
/// when it fires the detection runs again.</para>
/// </remarks>
internal sealed class Rack
{
    /// <summary>RFC 8985 6.2: DupThresh, the SACKed segments that make the window 0 when no reordering was seen.</summary>
    public const int DupThresh = 3;

    private const int ReorderWindowPersistence = 16;

    private Micros _xmitTime = long.MinValue;
    private long _order;
    private SeqNum _fack;
    private int _multiplier = 1;
    private int _persist;
    private SeqNum _dsackRound;
    private bool _dsackRoundSet;

    /// <summary>RACK.rtt: the RTT of the most recently sent segment delivered; 0 before the first.</summary>
    public Micros Rtt { get; private set; }

    /// <summary>RACK.reordering_seen: a segment never resent was delivered after a later one.</summary>
    public bool ReorderingSeen { get; private set; }

    /// <summary>The multiplier of the reordering window (RACK.reo_wnd_mult).</summary>
    public int Multiplier => _multiplier;

    /// <summary>Whether a delivery has given RACK its reference point.</summary>
    public bool HasReference => _xmitTime.Value != long.MinValue;

    /// <summary>Starts over at <paramref name="iss"/>.</summary>
    /// <param name="iss">The initial send sequence number.</param>
    public void Reset(SeqNum iss)
    {
        _xmitTime = long.MinValue;
        _order = 0;
        _fack = iss;
        Rtt = Micros.Zero;
        ReorderingSeen = false;
        _multiplier = 1;
        _persist = 0;
        _dsackRoundSet = false;
    }

    /// <summary>
    /// RFC 8985 6.2 steps 2 and 3 for one segment newly delivered (cumulatively or selectively):
    /// advances the reference to the most recently sent one and notes reordering. A retransmitted
    /// segment whose delivery may answer its earlier copy gives no reference (the caller decides).
    /// </summary>
    /// <param name="segment">The delivered segment.</param>
    /// <param name="ambiguous">Whether it was retransmitted and the ACK may answer an earlier copy (RTT below the minimum, or a timestamp echo older than its last transmission).</param>
    /// <param name="now">The current time.</param>
    public void OnDelivered(in SentSegment segment, bool ambiguous, Micros now)
    {
        if (!ambiguous)
        {
            Rtt = now - segment.SentAt;
            if (SentAfter(segment.SentAt, segment.Order, _xmitTime, _order))
            {
                _xmitTime = segment.SentAt;
                _order = segment.Order;
            }
        }

        // Step 3: reordering.
        if (segment.End > _fack)
        {
            _fack = segment.End;
        }
        else if (segment.End < _fack && !segment.Is(SentSegmentState.Retransmitted))
        {
            ReorderingSeen = true;
        }
    }

    /// <summary>RFC 8985 6.2 step 4, first half: the ACK carried a D-SACK.</summary>
    /// <param name="sndUna">SND.UNA.</param>
    /// <param name="sndNxt">The highest sequence number sent.</param>
    public void OnDsack(SeqNum sndUna, SeqNum sndNxt)
    {
        if (_dsackRoundSet && sndUna >= _dsackRound)
        {
            _dsackRoundSet = false;
        }

        if (!_dsackRoundSet)
        {
            // One step per round trip that sees D-SACKs.
            _dsackRound = sndNxt;
            _dsackRoundSet = true;
            _multiplier++;
            _persist = ReorderWindowPersistence;
        }
    }

    /// <summary>
    /// A retransmission proved needless (a D-SACK for it, or the original's delivery shown by its
    /// timestamp echo): the original was only late, which is reordering. RFC 8985 6.2 step 3 only
    /// sees reordering among segments never resent; like Linux (a D-SACK of a retransmitted segment
    /// lowers its reordering point), this one counts too, or RACK would keep a zero window.
    /// </summary>
    public void OnSpuriousRetransmission() => ReorderingSeen = true;

    /// <summary>RFC 8985 6.2 step 4: a fast or timeout recovery ended without new D-SACKs for 16 of them.</summary>
    public void OnRecoveryEnd()
    {
        if (_persist > 0 && --_persist == 0)
        {
            _multiplier = 1;
        }
    }

    /// <summary>RFC 8985 6.2 step 4: the reordering window now.</summary>
    /// <param name="inRecovery">Whether a fast or timeout recovery is under way.</param>
    /// <param name="sackedSegments">Segments SACKed now.</param>
    /// <param name="minRtt">The minimum RTT measured.</param>
    /// <param name="srtt">SRTT.</param>
    /// <returns>RACK.reo_wnd.</returns>
    public Micros ReorderWindow(bool inRecovery, int sackedSegments, Micros minRtt, Micros srtt)
    {
        if (!ReorderingSeen && (inRecovery || sackedSegments >= DupThresh))
        {
            return Micros.Zero;
        }

        return Micros.Min(minRtt / 4 * _multiplier, srtt);
    }

    /// <summary>
    /// RFC 8985 6.2 step 5: marks lost every segment in flight sent before the reference that has
    /// waited RACK.rtt + <paramref name="reorderWindow"/>; returns how long until the next one could
    /// be (0 when none waits).
    /// </summary>
    /// <param name="segments">The segments in flight.</param>
    /// <param name="reorderWindow">RACK.reo_wnd.</param>
    /// <param name="now">The current time.</param>
    /// <param name="lost">Incremented for each segment newly marked lost.</param>
    /// <returns>The time to wait before detecting again, or 0.</returns>
    public Micros DetectLoss(SentSegments segments, Micros reorderWindow, Micros now, ref int lost)
    {
        if (!HasReference)
        {
            return Micros.Zero;
        }

        Micros wait = Micros.Zero;
        int slot = segments.OldestSent;
        while (slot >= 0)
        {
            ref SentSegment s = ref segments.AtSlot(slot);
            int next = segments.NewerThan(slot);
            if (!SentAfter(_xmitTime, _order, s.SentAt, s.Order))
            {
                break; // the time order: everything after it was sent later still
            }

            Micros remaining = s.SentAt + Rtt + reorderWindow - now;
            if (remaining <= Micros.Zero)
            {
                if (segments.MarkLost(segments.IndexOfSlot(slot)))
                {
                    lost++;
                }
            }
            else
            {
                wait = Micros.Max(wait, remaining);
                break;
            }

            slot = next;
        }

        return wait;
    }

    /// <summary>
    /// RFC 8985 6.3: on a retransmission timeout the first segment is lost, and every other one
    /// sent at least RACK.rtt + <paramref name="reorderWindow"/> ago.
    /// </summary>
    /// <param name="segments">The segments in flight.</param>
    /// <param name="reorderWindow">RACK.reo_wnd.</param>
    /// <param name="now">The current time.</param>
    /// <returns>How many were newly marked.</returns>
    public int MarkLostOnTimeout(SentSegments segments, Micros reorderWindow, Micros now)
    {
        int lost = 0;
        for (int i = 0; i < segments.Count; i++)
        {
            ref SentSegment s = ref segments[i];
            if (s.Is(SentSegmentState.Sacked))
            {
                continue;
            }

            if ((i == 0 || s.SentAt + Rtt + reorderWindow <= now) && segments.MarkLost(i))
            {
                lost++;
            }
        }

        return lost;
    }

    // RFC 8985 6.2: RACK_sent_after: sent later, or at the same instant but later in the sending order.
    private static bool SentAfter(Micros t1, long order1, Micros t2, long order2) =>
        t1 > t2 || (t1 == t2 && order1 > order2);
}
