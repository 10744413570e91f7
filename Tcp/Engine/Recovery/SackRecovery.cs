using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>
/// Loss recovery for connections where both sides use SACK: RACK-TLP loss detection (RFC 8985),
/// recovery per RFC 6675 (pipe, NextSeg with the rescue retransmission) paced by Proportional Rate
/// Reduction (RFC 6937), and undo of spurious episodes (D-SACK, RFC 2883; Eifel detection with
/// timestamps, RFC 3522).
/// </summary>
/// <remarks>
/// <para>Each ACK: the cumulative acknowledgment and the SACK blocks are applied to the
/// <see cref="SentSegments"/> through the <see cref="SackScoreboard"/>; every segment newly
/// delivered updates <see cref="Rack"/>; a tail loss probe is judged (<see cref="TailLossProbe"/>);
/// then RACK marks what is lost. The first loss starts an episode: the congestion controller sets
/// ssthresh, and until SND.UNA passes the recovery point (SND.MAX at the start) each ACK lets PRR
/// decide how much may go out. The sender sends, in this order: lost segments not yet resent
/// (NextSeg rule 1), new data (rule 2), and once per episode after a partial ACK the highest
/// unSACKed segment (rule 4, the rescue retransmission). SACKed data is never resent.</para>
/// <para>A retransmission timeout marks lost the first segment and those sent longer ago than
/// RACK.rtt (RFC 8985 6.3), not SACKed ones; the controller's loss window then paces the resends.
/// If the segment at SND.UNA was SACKed the receiver reneged (RFC 2018 8): the SACK state is
/// forgotten and everything is resent.</para>
/// <para>Spurious-loss detection is Eifel's (RFC 3522) rather than F-RTO (RFC 5682): timestamps are
/// on by default on both our side and Linux's, Eifel decides on the first ACK after the first
/// retransmission without needing new data to send, and it serves fast retransmits and timeouts
/// alike. When that ACK echoes a timestamp older than the retransmission, the original arrived:
/// the controller undoes its reduction and the episode ends. Without timestamps D-SACK does the
/// same once every retransmission of the episode came back as a duplicate.</para>
/// </remarks>
internal sealed class SackRecovery : ILossRecovery
{
    private readonly ICongestionController _cc;
    private readonly RtoEstimator _rto;
    private readonly TimestampState _timestamps;
    private readonly TcpTimerSet _timers;
    private readonly TcpCounters _counters;
    private readonly SegmentSizes _sizes;
    private readonly SentSegments _segments;
    private readonly SackScoreboard _board;
    private readonly Rack _rack = new();
    private readonly TailLossProbe _tlp = new();
    private readonly ProportionalRateReduction _prr = new();
    private readonly DeliveryRateSampler _rate = new();
    private readonly bool _sampling; // the controller takes rate samples
    private SeqNum _una;
    private SeqNum _max;
    private bool _inRecovery;
    private bool _afterTimeout;
    private SeqNum _recoveryPoint;
    private SeqNum _rescueRxt;
    private bool _rescueDone;
    private int _probesSinceDelivery;

    // Undo of the latest episode: its range, its retransmissions not yet reported as duplicates,
    // and the first retransmission's timestamp for Eifel detection.
    private bool _undoArmed;
    private SeqNum _undoStart;
    private SeqNum _undoEnd;
    private SeqNum _undoExpires;
    private int _undoRetransmissions;
    private bool _eifelArmed;
    private bool _eifelUsed;
    private SeqNum _eifelSeq;
    private uint _eifelTsVal;

    /// <summary>Recovery for one SACK connection.</summary>
    /// <param name="cc">The congestion controller.</param>
    /// <param name="rto">The RTO estimator (SRTT and the minimum RTT for RACK and TLP).</param>
    /// <param name="timestamps">The timestamp state (Eifel detection, RACK's ambiguity test).</param>
    /// <param name="timers">The connection's timers (RACK reordering, loss probe).</param>
    /// <param name="counters">The stack's counters.</param>
    /// <param name="sizes">The segment sizes.</param>
    /// <param name="sendBufferSize">The send buffer's capacity (bounds the segment log).</param>
    public SackRecovery(ICongestionController cc, RtoEstimator rto, TimestampState timestamps, TcpTimerSet timers, TcpCounters counters, SegmentSizes sizes, int sendBufferSize)
    {
        _cc = cc;
        _rto = rto;
        _timestamps = timestamps;
        _timers = timers;
        _counters = counters;
        _sizes = sizes;
        _sampling = cc.UsesDeliveryRate;
        _segments = new SentSegments(sendBufferSize, withRates: _sampling);
        _board = new SackScoreboard(_segments);
    }

    /// <inheritdoc/>
    public bool InRecovery => _inRecovery;

    /// <inheritdoc/>
    public long LimitedTransmitAllowance => 0;

    /// <summary>RFC 6675 pipe: the bytes the network holds, by the scoreboard (outstanding, less SACKed and lost, plus retransmissions in flight).</summary>
    public long Pipe => (_max - _una) - _segments.SackedBytes - _segments.LostBytes + _segments.RetransmittedBytes;

    /// <summary>Whether the segment log is full: no new segment may be sent until ACKs free some.</summary>
    public bool IsLogFull => _segments.IsFull;

    /// <summary>The segment log (tests and benchmarks look at it).</summary>
    internal SentSegments Segments => _segments;

    /// <summary>The scoreboard.</summary>
    internal SackScoreboard Scoreboard => _board;

    /// <summary>RACK's state.</summary>
    internal Rack Rack => _rack;

    /// <summary>The delivery-rate estimator.</summary>
    internal DeliveryRateSampler Rate => _rate;

    /// <summary>
    /// Bytes that may be sent now: PRR's quota during a fast recovery (RFC 6937), else the
    /// congestion window less pipe (RFC 6675 5, also after a timeout, where the window is the
    /// controller's loss window growing in slow start).
    /// </summary>
    public long SendQuota => _inRecovery && !_afterTimeout ? _prr.Quota : Math.Max(_cc.CongestionWindow - Pipe, 0);

    /// <inheritdoc/>
    public void Reset(SeqNum iss)
    {
        _una = iss;
        _max = iss;
        _inRecovery = false;
        _afterTimeout = false;
        _undoArmed = false;
        _eifelArmed = false;
        _rack.Reset(iss);
        _tlp.Clear();
        _probesSinceDelivery = 0;
        _rate.Reset();
    }

    /// <summary>A segment [<paramref name="seq"/>, <paramref name="end"/>) went out (sent new, or resent).</summary>
    /// <param name="seq">Its first sequence number.</param>
    /// <param name="end">One past its last.</param>
    /// <param name="retransmission">Whether it was sent before.</param>
    /// <param name="now">The current time.</param>
    public void OnTransmit(SeqNum seq, SeqNum end, bool retransmission, Micros now)
    {
        if (_inRecovery && !_afterTimeout)
        {
            _prr.OnSent(end - seq); // RFC 6937: prr_out
        }

        DeliveryStamp stamp = _sampling ? _rate.OnTransmit(Pipe, now) : default; // draft-cheng-iccrg-delivery-rate-estimation 3.1
        if (!retransmission)
        {
            // One entry per MSS: a super-segment (TSO) leaves the device as MSS-sized segments, and
            // the receiver SACKs them one by one.
            int mss = _sizes.Send;
            for (SeqNum from = seq; from == _max && from < end; from = _max)
            {
                SeqNum to = end - from > mss ? from + mss : end;
                _segments.Append(from, to, now, stamp);
                _max = to;
            }

            return;
        }

        int index = _segments.IndexOf(seq);
        if (index < _segments.Count)
        {
            _segments.OnRetransmitted(index, now, stamp);
        }

        if (_inRecovery && _undoArmed)
        {
            _undoRetransmissions++;
            if (!_eifelArmed && !_eifelUsed && _timestamps.Enabled)
            {
                // RFC 3522 2: remember the timestamp of the episode's first retransmission.
                _eifelArmed = true;
                _eifelUsed = true;
                _eifelSeq = seq;
                _eifelTsVal = _timestamps.Now(now);
            }
        }
    }

    /// <summary>
    /// Whether nothing but the cumulative ACK needs judging: no recovery or undo under way, no
    /// SACK state, nothing marked lost, no loss probe outstanding, no reordering timer. An ACK
    /// without SACK blocks then only delivers what it acknowledges (see <see cref="OnPlainAck"/>).
    /// </summary>
    private bool IsQuiet => !_inRecovery && !_undoArmed && !_eifelArmed && _segments.SackedCount == 0
        && _segments.LostBytes == 0 && _board.RangeCount == 0 && !_tlp.Outstanding && !_timers.IsArmed(TcpTimer.RackReorder);

    /// <summary>Whether no segment is marked lost, so that NextSeg rule 1 has nothing to offer.</summary>
    public bool NothingLost => _segments.LostBytes == 0;

    /// <inheritdoc/>
    public RecoveryAction OnAck(in AckEvent ack)
    {
        if (ack.SackBlocks.IsEmpty && IsQuiet)
        {
            OnPlainAck(ack);
            return RecoveryAction.None;
        }

        Micros now = ack.Now;
        long sackedBefore = _segments.SackedBytes;
        long pipeBefore = Pipe;
        long lostBefore = _segments.LostBytes;
        var delivery = new Delivery(this, now);
        if (ack.BytesAcked > 0)
        {
            bool spurious = CheckEifel(ack);
            _segments.RemoveAcknowledged(ack.SndUna, ref delivery);
            _board.OnCumulativeAck(ack.SndUna);
            _una = ack.SndUna;
            if (spurious)
            {
                Undo(now, timeout: _afterTimeout);
            }
        }

        SackUpdate update = default;
        if (!ack.SackBlocks.IsEmpty)
        {
            update = _board.Apply(ack.SackBlocks, ack.SegmentAck, ack.SndUna, ack.SndMax, ack.MaxWindow, ref delivery);
            if (update.Ignored > 0)
            {
                _counters.Add(TcpCounter.SackBlocksIgnored, update.Ignored);
            }

            if (update.HasDsack)
            {
                OnDsack(update, now);
            }
        }

        if (_undoArmed && _una >= _undoExpires && !_inRecovery)
        {
            _undoArmed = false; // its duplicates had a round trip to come back
        }

        long delivered = ack.BytesAcked + (_segments.SackedBytes - sackedBefore); // RFC 6937 DeliveredData
        if (delivered > 0)
        {
            _probesSinceDelivery = 0; // the ACK clock runs again: a later silence may be probed
        }

        ProbeOutcome probe = _tlp.OnAck(ack.SndUna, update.HasDsack ? update.DsackEnd : null, !ack.SackBlocks.IsEmpty, ack.IsDuplicate);

        bool ended = false;
        if (_inRecovery && ack.SndUna >= _recoveryPoint)
        {
            EndEpisode(ack);
            ended = true;
        }

        if (ack.BytesAcked > 0 && !ended && (!_inRecovery || _afterTimeout))
        {
            _cc.OnAck(ack.ForCongestionControl); // RFC 5681 3.1 growth; none during a fast recovery (RFC 6937)
        }

        if (probe == ProbeOutcome.LossRepaired)
        {
            // RFC 8985 7.4.2: the probe repaired a loss; reduce the window as for one.
            _counters.Add(TcpCounter.TailLossProbeRecoveries);
            if (!_inRecovery)
            {
                _cc.OnEnterFastRecovery(ReductionBase(ack.FlightSize), now.Value);
                _cc.OnExitFastRecovery(ack.ForCongestionControl);
            }
        }

        if (_inRecovery || _segments.SackedCount > 0 || _segments.LostBytes > 0 || _timers.IsArmed(TcpTimer.RackReorder))
        {
            DetectLosses(delivered, now);
        }

        // Else only cumulative ACKs came, outside recovery: whatever is still in flight was sent after
        // everything delivered (a loss probe resends only the last segment), so RACK has nothing to judge.
        if (_sampling)
        {
            ReportRateSample(pipeBefore, lostBefore, now);
        }

        return RecoveryAction.None;
    }

    // OnAck when IsQuiet and the ACK has no SACK blocks: what the general path does then, and no
    // more. Nothing is SACKed, lost or armed, so there is no Eifel check, no D-SACK, no episode to
    // end, no probe to judge and nothing for RACK to mark (RFC 8985 6.2: what is still in flight
    // was sent after everything delivered); the delivered segments still update RACK and the
    // delivery-rate sampler, and the controller grows (RFC 5681 3.1).
    private void OnPlainAck(in AckEvent ack)
    {
        Micros now = ack.Now;
        long pipeBefore = Pipe;
        if (ack.BytesAcked > 0)
        {
            var delivery = new Delivery(this, now);
            _segments.RemoveAcknowledged(ack.SndUna, ref delivery);
            _una = ack.SndUna;
            _probesSinceDelivery = 0;
            _cc.OnAck(ack.ForCongestionControl);
        }

        if (_sampling)
        {
            ReportRateSample(pipeBefore, 0, now);
        }
    }

    /// <summary>
    /// The sender ran out of data with room left in the window: the delivery-rate samples until what
    /// is in flight is delivered are application-limited (draft-cheng-iccrg-delivery-rate-estimation 3.4).
    /// </summary>
    public void OnApplicationLimited()
    {
        if (_sampling)
        {
            _rate.OnApplicationLimited(Pipe);
        }
    }

    /// <inheritdoc/>
    public void OnRetransmissionTimeout(long flight, bool alreadyRetransmittedByTimer, SeqNum sndMax, Micros now)
    {
        if (_segments.Count > 0 && _segments[0].Is(SentSegmentState.Sacked))
        {
            // RFC 2018 8: the receiver dropped data it had SACKed. Forget the SACKs; resend it all.
            _board.Clear();
            _counters.Add(TcpCounter.SackRenegings);
        }

        _cc.OnRetransmissionTimeout(flight, alreadyRetransmittedByTimer, now.Value); // RFC 5681 3.1: the loss window follows whatever ssthresh says
        if (!alreadyRetransmittedByTimer)
        {
            BeginUndo();
        }

        _inRecovery = true;
        _afterTimeout = true;
        _recoveryPoint = sndMax;
        _tlp.Clear();
        _probesSinceDelivery = 0;
        _timers.Cancel(TcpTimer.LossProbe);
        _timers.Cancel(TcpTimer.RackReorder);
        Micros window = _rack.ReorderWindow(true, _segments.SackedCount, MinRtt, Srtt);
        int lost = _rack.MarkLostOnTimeout(_segments, window, now);
        _counters.Add(TcpCounter.RackLostSegments, lost);
    }

    /// <inheritdoc/>
    public void OnFlightResent(SeqNum sndMax)
    {
        // RFC 1191: every segment not SACKed is resent in the new size (Linux's tcp_simple_retransmit).
        for (int i = 0; i < _segments.Count; i++)
        {
            _segments.MarkLost(i);
        }
    }

    /// <summary>The RACK reordering timer fired (RFC 8985 6.2): detect losses again.</summary>
    /// <param name="now">The current time.</param>
    public void OnReorderTimeout(Micros now)
    {
        DetectLosses(0, now);
        ScheduleProbe(now); // nothing marked: the silence may still need a probe
    }

    /// <summary>
    /// NextSeg rule 1 (RFC 6675 4): the first segment marked lost and not resent since, without
    /// its SACKed parts, at most <paramref name="maxLength"/> long (a longer one is split).
    /// </summary>
    /// <param name="maxLength">The most sequence numbers to resend (the send MSS).</param>
    /// <param name="start">The first sequence number to resend.</param>
    /// <param name="end">One past the last.</param>
    /// <returns>Whether there is one.</returns>
    public bool TryGetRetransmission(int maxLength, out SeqNum start, out SeqNum end)
    {
        int index;
        SentSegment s;
        while (true)
        {
            index = _segments.NextLostToResend();
            if (index < 0)
            {
                start = default;
                end = default;
                return false;
            }

            s = _segments[index];
            start = _board.SkipSacked(s.Start);
            end = _board.UnsackedEnd(start, s.End);
            if (end - start > 0)
            {
                break;
            }

            _segments.MarkSacked(index); // covered by ranges that grew around it: nothing left to resend
        }

        if (end - start > maxLength)
        {
            if (start == s.Start)
            {
                _segments.Split(index, start + maxLength);
            }

            end = start + maxLength;
        }

        return true;
    }

    /// <summary>
    /// NextSeg rule 4 (RFC 6675 4): once per episode, after a partial ACK, when nothing else may be
    /// sent, the highest unSACKed segment (its last <paramref name="maxLength"/> sequence numbers),
    /// so that a lost tail does not stall the ACK clock.
    /// </summary>
    /// <param name="maxLength">The most sequence numbers to resend.</param>
    /// <param name="start">The first sequence number to resend.</param>
    /// <param name="end">One past the last.</param>
    /// <returns>Whether a rescue retransmission is due.</returns>
    public bool TryGetRescue(int maxLength, out SeqNum start, out SeqNum end)
    {
        start = default;
        end = default;
        if (!_inRecovery || _afterTimeout || _rescueDone || _una <= _rescueRxt)
        {
            return false;
        }

        for (int i = _segments.Count - 1; i >= 0; i--)
        {
            SentSegment s = _segments[i];
            if (s.Is(SentSegmentState.Sacked))
            {
                continue;
            }

            if (s.Is(SentSegmentState.RetransmissionInFlight))
            {
                return false;
            }

            end = s.End;
            start = s.End - Math.Min(s.Length, maxLength);
            _rescueDone = true;
            _rescueRxt = _recoveryPoint;
            return true;
        }

        return false;
    }

    /// <summary>
    /// Arms the probe timeout when a probe may be sent (<see cref="MayProbe"/>): outside recovery the
    /// tail loss probe (RFC 8985 7.2: none outstanding, data in flight); during a fast recovery the
    /// recovery probe (see <see cref="IsRecoveryProbeDue"/>); after a probe that brought no ACK, a
    /// second one at twice the PTO. Either waits for the RACK reordering timer (RFC 8985 8: one of
    /// the two at a time).
    /// </summary>
    /// <param name="now">The current time.</param>
    public void ScheduleProbe(Micros now)
    {
        if (!MayProbe || _timers.IsArmed(TcpTimer.RackReorder))
        {
            _timers.Cancel(TcpTimer.LossProbe);
            return;
        }

        Micros? srtt = _rto.HasSample ? Srtt : null;

        // RFC 5681 4.2: a receiver holding out-of-order data, or whose hole a segment fills, ACKs at
        // once, so during a recovery the PTO needs no allowance for a delayed ACK.
        bool fastRecovery = _inRecovery && !_afterTimeout;
        _timers.Arm(TcpTimer.LossProbe, TailLossProbe.Deadline(srtt, _max - _una, _sizes.Send, now, _timers.Deadline(TcpTimer.Retransmission), delayedAckPossible: !fastRecovery, backoff: _probesSinceDelivery));
    }

    /// <summary>
    /// Whether a probe sent now is a recovery probe: during a fast recovery no ACK came for a probe
    /// timeout though data is in flight. RFC 8985 7.2 sends no tail loss probe in recovery, where
    /// RACK is to find losses from the ACKs, but when a retransmission arrived and its ACK was lost,
    /// and the little sent after it (PRR keeps the flight near ssthresh, a few segments on a path of
    /// a fraction of a millisecond) was lost or lost its ACKs too, no ACK will come and RACK has
    /// nothing to judge: only the retransmission timer, at its 200 ms minimum, would move the
    /// connection. A probe sent then (new data when the peer's window takes it, else the highest
    /// segment not SACKed, as RFC 8985 7.3 chooses) brings an ACK whose cumulative part and SACK
    /// blocks let RACK mark what was lost, a lost retransmission included (RFC 8985 6.2). This is
    /// QUIC's rule (RFC 9002 6.2: the probe timeout runs whenever data is in flight, in recovery
    /// too), limited like every probe here to <see cref="MaxProbesPerSilence"/> per silence.
    /// </summary>
    public bool IsRecoveryProbeDue => _inRecovery && !_afterTimeout && _probesSinceDelivery < MaxProbesPerSilence && _max != _una;

    /// <summary>
    /// Whether the probe timer may send a probe now: a recovery probe, or outside recovery a tail
    /// loss probe (RFC 8985 7.2: none outstanding) or the second probe of a silence. RFC 8985 7.3
    /// leaves a lost probe to the retransmission timer; when the receiver acknowledges a burst with
    /// one ACK (Linux coalesces segments that arrive together), the probe's one ACK is lost as often
    /// as any ACK, and the timer costs its 200 ms minimum. Like QUIC's probe timeout (RFC 9002
    /// 6.2.1, doubled for each probe unanswered), a second probe goes at twice the PTO; the
    /// retransmission timer stays the last resort.
    /// </summary>
    public bool MayProbe => IsRecoveryProbeDue
        || (!_inRecovery && _max != _una && _probesSinceDelivery < MaxProbesPerSilence && (!_tlp.Outstanding || _probesSinceDelivery > 0));

    /// <summary>The most probes sent while no ACK delivers data.</summary>
    public const int MaxProbesPerSilence = 2;

    /// <summary>
    /// The segment a probe resends when it cannot send new data (RFC 8985 7.3): the last one sent,
    /// or during a recovery the last one not SACKed (a SACKed one would bring no news).
    /// </summary>
    /// <param name="start">Its first sequence number.</param>
    /// <param name="end">One past its last.</param>
    /// <returns>Whether there is one.</returns>
    public bool TryGetLastSegment(out SeqNum start, out SeqNum end)
    {
        for (int i = _segments.Count - 1; i >= 0; i--)
        {
            SentSegment s = _segments[i];
            if (_inRecovery && s.Is(SentSegmentState.Sacked))
            {
                continue;
            }

            start = s.Start;
            end = s.End;
            return true;
        }

        start = default;
        end = default;
        return false;
    }

    /// <summary>A probe is about to go out (RFC 8985 7.3, or a recovery probe).</summary>
    /// <param name="endSeq">SND.NXT after it.</param>
    /// <param name="retransmission">Whether it resends data.</param>
    public void OnProbeSent(SeqNum endSeq, bool retransmission)
    {
        bool recovery = IsRecoveryProbeDue;
        _probesSinceDelivery++;
        if (recovery)
        {
            _counters.Add(TcpCounter.RecoveryProbes);
            return;
        }

        if (!_tlp.Outstanding)
        {
            _tlp.OnSent(endSeq, retransmission); // RFC 8985 7.4 judges the episode by its first probe
        }

        _counters.Add(TcpCounter.TailLossProbes);
    }

    /// <summary>Returns the pooled storage (the connection sends no more).</summary>
    public void Release()
    {
        _segments.Release();
        _board.Release();
    }

    private Micros MinRtt => new(_rto.MinimumRtt);

    // draft-cheng-iccrg-delivery-rate-estimation 3.3: one sample per ACK, to the controller.
    private void ReportRateSample(long pipeBefore, long lostBefore, Micros now)
    {
        long lost = Math.Max(_segments.LostBytes - lostBefore, 0);
        RateSample sample = _rate.TakeSample(_rto.HasSample ? MinRtt : Micros.Zero, lost, pipeBefore, Pipe, now);
        _cc.OnRateSample(sample);
    }

    private Micros Srtt => new(_rto.SmoothedRtt);

    // RFC 8985 6.2 steps 4-5, and the start of an episode when something is lost.
    private void DetectLosses(long delivered, Micros now)
    {
        Micros window = _rack.ReorderWindow(_inRecovery, _segments.SackedCount, MinRtt, Srtt);
        int lost = 0;
        Micros wait = _rack.DetectLoss(_segments, window, now, ref lost);
        if (lost > 0)
        {
            _counters.Add(TcpCounter.RackLostSegments, lost);
        }

        if (wait > Micros.Zero)
        {
            _timers.Arm(TcpTimer.RackReorder, now + wait);
            _timers.Cancel(TcpTimer.LossProbe); // RFC 8985 8: one of the two at a time
        }
        else
        {
            _timers.Cancel(TcpTimer.RackReorder);
        }

        bool entered = false;
        if (lost > 0 && !_inRecovery)
        {
            StartEpisode(now);
            entered = true;
        }

        if (_inRecovery && !_afterTimeout)
        {
            _prr.OnAck(delivered, Pipe, _cc.SlowStartThreshold, _sizes.Send);
            if (entered)
            {
                _prr.AllowAtLeast(_sizes.Send); // the fast retransmit goes out at once (Linux's tcp_cwnd_reduction)
            }
        }
    }

    // What a fast-recovery reduction is computed from: RFC 5681's FlightSize, SND.MAX - SND.UNA, but
    // never more than cwnd / 0.7. With SACK the sender goes on sending while a hole holds SND.UNA
    // back, so that distance also counts data the receiver holds; when a retransmission is lost
    // and episodes follow one another it can reach twice cwnd, and each episode would set ssthresh
    // above the last (333, 431, 592, 833 segments on a 334-segment path). With the bound no loss
    // raises the window (CUBIC's beta is 0.7; NewReno's halving stays below cwnd), while the
    // ordinary case, a flight a little above cwnd, keeps the RFC's reduction.
    private long ReductionBase(long flight) => Math.Min(flight, _cc.CongestionWindow * 10 / 7);

    // RFC 6675 5 (with RACK marking the loss), RFC 6937 3.
    private void StartEpisode(Micros now)
    {
        long flight = _max - _una;
        _inRecovery = true;
        _afterTimeout = false;
        _recoveryPoint = _max;
        _rescueRxt = _una;
        _rescueDone = false;
        _probesSinceDelivery = 0;
        _cc.OnEnterFastRecovery(ReductionBase(flight), now.Value);
        _prr.Start(flight);
        _tlp.Clear();
        _timers.Cancel(TcpTimer.LossProbe);
        BeginUndo();
        _counters.Add(TcpCounter.FastRetransmits);
        _counters.Add(TcpCounter.SackRecoveries);
    }

    private void EndEpisode(in AckEvent ack)
    {
        if (!_afterTimeout)
        {
            _cc.OnExitFastRecovery(ack.ForCongestionControl); // RFC 6937: cwnd = ssthresh (the controller's exit rule)
        }

        _inRecovery = false;
        _afterTimeout = false;
        _undoExpires = _max;
        _rack.OnRecoveryEnd();
    }

    private void BeginUndo()
    {
        _segments.StartEpisode();
        _undoArmed = true;
        _undoStart = _una;
        _undoEnd = _max;
        _undoExpires = _max;
        _undoRetransmissions = 0;
        _eifelArmed = false;
        _eifelUsed = false;
    }

    // RFC 3522 2: the first ACK beyond the episode's first retransmission echoes an older
    // timestamp than that retransmission carried: the original arrived, the episode was spurious.
    private bool CheckEifel(in AckEvent ack)
    {
        if (!_eifelArmed || ack.SndUna <= _eifelSeq)
        {
            return false;
        }

        _eifelArmed = false;
        return _undoArmed && ack.Timestamps is TcpTimestamps ts && TimestampState.Before(ts.TsEcr, _eifelTsVal);
    }

    // RFC 2883 with RFC 8985 6.2 step 4: a D-SACK widens RACK's window; one for each retransmission
    // of the episode means none was needed (Linux's undo_retrans).
    private void OnDsack(in SackUpdate update, Micros now)
    {
        _counters.Add(TcpCounter.DsacksReceived);
        _rack.OnDsack(_una, _max);
        if (_undoArmed && _undoRetransmissions > 0 && update.DsackStart >= _undoStart && update.DsackEnd <= _undoEnd)
        {
            _rack.OnSpuriousRetransmission();
            if (--_undoRetransmissions == 0)
            {
                Undo(now, timeout: false);
            }
        }
    }

    private void Undo(Micros now, bool timeout)
    {
        _undoArmed = false;
        _eifelArmed = false;
        _cc.OnReductionUndone(now.Value);
        _counters.Add(TcpCounter.RecoveriesUndone);
        if (timeout)
        {
            _counters.Add(TcpCounter.SpuriousTimeouts);
        }

        _rack.OnSpuriousRetransmission();
        if (!_inRecovery)
        {
            return;
        }

        // The data was not lost: what is marked and not resent yet is in flight after all.
        for (int i = 0; i < _segments.Count; i++)
        {
            if (!_segments[i].Is(SentSegmentState.RetransmissionInFlight))
            {
                _segments.Unmark(i);
            }
        }

        _inRecovery = false;
        _afterTimeout = false;
        _rack.OnRecoveryEnd();
    }

    // Sees each segment newly delivered by an ACK (RFC 8985 6.2 steps 2-3).
    private struct Delivery : IDeliveryVisitor
    {
        private readonly SackRecovery _owner;
        private readonly Micros _now;

        public Delivery(SackRecovery owner, Micros now)
        {
            _owner = owner;
            _now = now;
        }

        public readonly void OnDelivered(in SentSegment segment, in DeliveryStamp rate)
        {
            // RFC 8985 6.2 step 2: a retransmitted segment delivered sooner than the minimum RTT after
            // its retransmission was the earlier copy. The RFC's second test, an echo older than the
            // retransmission, is left out as Linux does: a receiver echoes TS.Recent, which segments
            // held out of order never update (RFC 7323 4.3), so every SACKed retransmission (a tail
            // loss probe included) would fail it and RACK could never learn from one.
            bool ambiguous = segment.Is(SentSegmentState.Retransmitted) && _now - segment.SentAt < _owner.MinRtt;
            _owner._rack.OnDelivered(segment, ambiguous, _now);
            if (_owner._sampling)
            {
                _owner._rate.OnDelivered(segment, rate, _now);
            }
        }
    }
}
