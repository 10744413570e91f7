using Protocols.Tcp.Engine.CongestionControl;
using Protocols.Tcp.Engine.Recovery;

namespace Protocols.Tcp.Engine;

/// <summary>What a sender timer asks of the connection.</summary>
internal enum SenderVerdict
{
    /// <summary>Carry on.</summary>
    Continue,

    /// <summary>The peer stopped answering: the connection times out.</summary>
    TimedOut,
}

/// <summary>Where the sender's segments go: the control block adds the ACK, window and timestamps and emits them.</summary>
internal interface ISegmentTransmitter
{
    /// <summary>Sends a segment of the synchronized connection (payload <paramref name="first"/> then <paramref name="second"/>).</summary>
    /// <param name="flags">The control bits.</param>
    /// <param name="seq">SEG.SEQ.</param>
    /// <param name="first">The first part of the payload.</param>
    /// <param name="second">Its continuation.</param>
    /// <param name="now">The current time.</param>
    void SendSegment(TcpFlags flags, SeqNum seq, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Micros now);

    /// <summary>The option bytes beyond timestamps the next segment will carry (SACK blocks), which its payload must leave room for.</summary>
    int AckOptionLength { get; }
}

/// <summary>
/// The send side of one synchronized connection: the send sequence space (RFC 9293 3.3.1), what
/// may go out now (windows, Nagle, sender SWS avoidance), acknowledgments, the retransmission,
/// persist, user, RACK reordering and loss probe timers, RTT sampling, loss recovery and
/// congestion control.
/// </summary>
/// <remarks>
/// <para>SND.MAX is the highest sequence number sent. Without SACK (<see cref="NewRenoRecovery"/>)
/// SND.NXT goes back to SND.UNA after a retransmission timeout (go-back-N) and after the MSS
/// shrank, and the data after it is sent again as the window allows. With SACK
/// (<see cref="SackRecovery"/>) SND.NXT never goes back: the scoreboard names what is lost and
/// only that is resent, first, within the recovery's quota, then new data. Pure ACKs carry
/// SND.MAX (<see cref="PureAckSequence"/>).</para>
/// <para>The control block owns the state: it calls <see cref="Output"/> only in states that send
/// (ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, CLOSING, LAST-ACK), and the sender's timers only once the
/// connection is synchronized; the handshake's SYN and SYN-ACK are the control block's.</para>
/// </remarks>
internal sealed class TcpSender
{
    private readonly TcpConnectionOptions _options;
    private readonly TcpCounters _counters;
    private readonly TcpTimerSet _timers;
    private readonly SegmentSizes _sizes;
    private readonly ISegmentTransmitter _transmitter;
    private readonly RtoEstimator _rto;
    private readonly ICongestionController _cc;
    private readonly TimestampState _timestamps;
    private readonly int _sendBufferCap;
    private readonly Micros? _userTimeout;
    private readonly RttSampler _rtt;
    private ILossRecovery _recovery;
    private SackRecovery? _sack;
    private bool _sackNegotiated;
    private readonly ZeroWindowProber _prober = new();
    private readonly Pacer? _pacer; // only for a controller that may pace
    private SendBuffer? _buffer;
    private SeqNum _iss;
    private SeqNum _una;
    private SeqNum _nxt;
    private SeqNum _max;
    private long _wnd;
    private long _maxWnd;
    private SeqNum _wl1;
    private SeqNum _wl2;
    private int _rtxCount;
    private Micros _lastReceive;
    private Micros _lastProgress; // the user timeout counts from here
    private Micros _lastSend = long.MinValue;

    /// <summary>A sender for one connection.</summary>
    /// <param name="options">The connection's options.</param>
    /// <param name="env">Counters, controllers and the minimum RTO.</param>
    /// <param name="timers">The connection's timers (the sender runs Retransmission, Persist and UserTimeout).</param>
    /// <param name="sizes">The connection's segment sizes.</param>
    /// <param name="timestamps">The connection's timestamp state (RTT samples).</param>
    /// <param name="transmitter">Where segments go.</param>
    public TcpSender(TcpConnectionOptions options, TcpEngineEnvironment env, TcpTimerSet timers, SegmentSizes sizes, TimestampState timestamps, ISegmentTransmitter transmitter)
    {
        _options = options;
        _counters = env.Counters;
        _timers = timers;
        _sizes = sizes;
        _transmitter = transmitter;
        _rto = new RtoEstimator(minimumRtoMicros: env.MinimumRtoMicros, initialRtoMicros: Math.Max(RtoEstimator.DefaultInitialRtoMicros, env.MinimumRtoMicros));
        _cc = env.Controllers.Create(options.CongestionControl);
        _pacer = _cc.UsesDeliveryRate ? new Pacer() : null;
        _recovery = new NewRenoRecovery(_cc, sizes);
        _timestamps = timestamps;
        _sendBufferCap = options.SendBufferCap; // the segment log's bound follows the buffer's largest size
        _userTimeout = options.UserTimeout is TimeSpan ut ? Micros.FromTimeSpan(ut) : null;
        _rtt = new RttSampler(_rto, timestamps);
        NoDelay = options.NoDelay;
    }

    /// <summary>Nagle's algorithm off (RFC 9293 3.7.4).</summary>
    public bool NoDelay { get; set; }

    /// <summary>ISS.</summary>
    public SeqNum Iss => _iss;

    /// <summary>SND.UNA.</summary>
    public SeqNum Una => _una;

    /// <summary>SND.NXT.</summary>
    public SeqNum Nxt => _nxt;

    /// <summary>SND.MAX: one past the highest sequence number sent.</summary>
    public SeqNum Max => _max;

    /// <summary>SND.WND in bytes (scaled).</summary>
    public long Window => _wnd;

    /// <summary>The send window scale shift (RFC 7323 2.3); 0 when not negotiated.</summary>
    public int Shift { get; set; }

    /// <summary>The send buffer (null before the connection opened).</summary>
    public SendBuffer? Buffer => _buffer;

    /// <summary>The congestion controller.</summary>
    public ICongestionController Congestion => _cc;

    /// <summary>The RTO estimator.</summary>
    public RtoEstimator RtoEstimator => _rto;

    /// <summary>The RTT sampler (the handshake's sample is taken by the control block).</summary>
    public RttSampler Rtt => _rtt;

    /// <summary>The current RTO.</summary>
    public Micros Rto => _rto.Rto;

    /// <summary>Segments retransmitted, SYN and SYN-ACK included (<see cref="CountRetransmission"/>).</summary>
    public long Retransmissions { get; private set; }

    /// <summary>Data bytes sent for the first time.</summary>
    public long BytesSent { get; private set; }

    /// <summary>The sequence number of a pure ACK: SND.MAX, kept inside the peer's window like Linux's tcp_acceptable_seq, so the peer finds it acceptable (RFC 9293 3.10.7.4 first check).</summary>
    public SeqNum PureAckSequence
    {
        get
        {
            SeqNum windowEnd = _una + (int)Math.Min(_wnd, int.MaxValue);
            return _max <= windowEnd ? _max : SeqNum.Max(windowEnd, _una);
        }
    }

    /// <summary>Whether data (or a FIN) is sent and not acknowledged.</summary>
    public bool HasOutstanding => _max != _una;

    /// <summary>The loss recovery in use.</summary>
    public ILossRecovery Recovery => _recovery;

    /// <summary>The SACK recovery, when both sides use SACK.</summary>
    public SackRecovery? Sack => _sack;

    // Payload bytes per segment: the send MSS less the SACK blocks the segment will carry.
    private int DataMss => Math.Max(_sizes.Send - _transmitter.AckOptionLength, 1);

    // The most new data one segment may carry: a super-segment of whole MSS pieces when the device
    // cuts them (TSO), unless SACK blocks ride along: the device repeats the header on every piece,
    // which would then outgrow the MSS.
    private int Burst => _transmitter.AckOptionLength == 0 ? _sizes.Burst : DataMss;

    /// <summary>
    /// Both sides use SACK (RFC 2018 2): recovery goes by the scoreboard from the first data sent
    /// (until then nothing is in flight, and an idle connection carries no segment log).
    /// </summary>
    public void EnableSack() => _sackNegotiated = true;

    /// <summary>The connection sends no more: the send buffer and the segment log go back to their pools.</summary>
    public void Release()
    {
        _buffer?.Release();
        _sack?.Release();
    }

    /// <summary>Starts the send sequence space at <paramref name="iss"/> (the SYN's number).</summary>
    /// <param name="iss">The initial send sequence number.</param>
    public void Start(SeqNum iss)
    {
        _iss = iss;
        _buffer = new SendBuffer(iss + 1, _options.SendBufferSize);
        _una = iss;
        _nxt = iss;
        _max = iss;
        _recovery.Reset(iss);
    }

    /// <summary>The SYN (or SYN-ACK) went out: it occupies ISS.</summary>
    public void OnSynSent()
    {
        _nxt = _iss + 1;
        _max = _nxt;
    }

    /// <summary>Counts one retransmitted segment.</summary>
    public void CountRetransmission()
    {
        Retransmissions++;
        _counters.Add(TcpCounter.SegmentsRetransmitted);
    }

    /// <summary>The peer acknowledged our SYN: SND.UNA = <paramref name="ack"/>.</summary>
    /// <param name="ack">SEG.ACK.</param>
    public void OnSynAcknowledged(SeqNum ack) => _una = ack;

    /// <summary>Takes the peer's window from a segment (SND.WND, SND.WL1, SND.WL2; MAX.SND.WND of RFC 5961 5.2).</summary>
    /// <param name="window">SEG.WND, already scaled (a SYN's is never scaled).</param>
    /// <param name="wl1">SEG.SEQ.</param>
    /// <param name="wl2">SEG.ACK (ISS before the peer acknowledged anything).</param>
    public void SetWindow(long window, SeqNum wl1, SeqNum wl2)
    {
        _wnd = window;
        _wl1 = wl1;
        _wl2 = wl2;
        _maxWnd = Math.Max(_maxWnd, _wnd);
    }

    /// <summary>The connection reached ESTABLISHED: sending starts at SND.UNA with the initial window.</summary>
    /// <param name="now">The current time.</param>
    public void OnEstablished(Micros now)
    {
        _timers.Cancel(TcpTimer.Retransmission);
        _rtxCount = 0;
        _nxt = _una;
        _max = _una;
        _recovery.Reset(_una);
        _lastProgress = now;
        _lastReceive = now;
        RefreshUserTimeout();
        if (_rtt.SynRetransmitted)
        {
            _rto.OnHandshakeCompletedAfterSynLoss(); // RFC 6298 5.7
        }

        _cc.OnConnectionEstablished(_sizes.Send, now.Value);
    }

    /// <summary>The peer sent an acceptable segment: it is alive.</summary>
    /// <param name="now">The current time.</param>
    public void OnPeerHeard(Micros now)
    {
        _prober.OnPeerHeard();
        _lastReceive = now;
    }

    /// <summary>RFC 5927 4.1: whether <paramref name="seq"/> lies in [SND.UNA, SND.MAX), i.e. names a segment in flight.</summary>
    /// <param name="seq">The quoted sequence number.</param>
    /// <returns>True when in flight.</returns>
    public bool IsInFlight(SeqNum seq) => seq >= _una && seq < _max;

    /// <summary>RFC 5961 5.2: SND.UNA - MAX.SND.WND, the oldest acceptable acknowledgment number.</summary>
    public SeqNum OldestAcceptableAck => _una - (int)Math.Min(_maxWnd, int.MaxValue);

    /// <summary>RFC 5961 5.2: whether an acknowledgment number lies in [SND.UNA - MAX.SND.WND, SND.MAX].</summary>
    /// <param name="ack">SEG.ACK.</param>
    /// <returns>True when acceptable.</returns>
    public bool IsAcceptableAck(SeqNum ack) => ack <= _max && ack >= OldestAcceptableAck;

    /// <summary>
    /// RFC 9293 3.10.7.4 fifth check, ESTABLISHED and later: advances SND.UNA (or counts a
    /// duplicate ACK, RFC 5681 2) and takes the send window from the newest segment.
    /// </summary>
    /// <param name="seg">An acceptable ACK.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Whether send-buffer space was freed (or the buffer grew).</returns>
    public bool OnAck(in TcpSegment seg, Micros now)
    {
        SeqNum ack = seg.Ack;
        long segWnd = (long)seg.Window << Shift;
        SeqNum previousUna = _una;
        bool advanced = ack > _una;
        bool freed = false;
        bool duplicate = false;
        Micros? rtt = null;
        if (advanced)
        {
            freed = AcknowledgeNewData(seg, now, out rtt);
        }
        else if (ack == _una && seg.Payload.IsEmpty && (seg.Flags & (TcpFlags.Syn | TcpFlags.Fin)) == 0
            && _max != _una && segWnd == _wnd)
        {
            duplicate = true; // RFC 5681 2
            _counters.Add(TcpCounter.DuplicateAcksReceived);
        }

        TcpOptions options = seg.Options;
        var ackEvent = new AckEvent(ack, previousUna, _una, _max, _maxWnd, duplicate, rtt, options.SackBlocks, options.Timestamps, now);
        switch (_recovery.OnAck(ackEvent))
        {
            case RecoveryAction.FastRetransmit:
                _counters.Add(TcpCounter.FastRetransmits);
                _rtt.CancelTiming();
                RetransmitHead(now);
                break;
            case RecoveryAction.RetransmitFirstUnacknowledged:
                RetransmitHead(now); // the timer restarts below, as for every ACK of new data
                break;
            default:
                break;
        }

        if (advanced)
        {
            // RFC 6298 5.2/5.3: stop the timer when everything is acknowledged, else restart it.
            if (_una == _max)
            {
                _timers.Cancel(TcpTimer.Retransmission);
            }
            else
            {
                _timers.Arm(TcpTimer.Retransmission, now + Rto);
            }

            RefreshUserTimeout();
            _sack?.ScheduleProbe(now); // RFC 8985 7.2
        }
        else if (_sack is { InRecovery: true } sack)
        {
            sack.ScheduleProbe(now); // the recovery probe waits a PTO from the latest ACK
        }

        // RFC 9293 3.10.7.4: update the send window from the newest segment (SND.WL1, SND.WL2). An
        // ACK that moved SND.UNA updates it too, whatever its SEG.SEQ (Linux's tcp_may_update_window):
        // a peer's retransmission carries an older SEG.SEQ than its last data but the newest ACK and
        // window, and keeping the old SND.WND from the new SND.UNA would put the right edge beyond
        // what the peer offered (seen against Linux: a 28,960-byte burst 15,648 bytes past its edge).
        if (advanced || (ack >= _una && (_wl1 < seg.Seq || (_wl1 == seg.Seq && _wl2 <= ack))))
        {
            SetWindow(segWnd, seg.Seq, ack);
            if (_wnd > 0 && _timers.IsArmed(TcpTimer.Persist))
            {
                _timers.Cancel(TcpTimer.Persist);
                _prober.OnProgress();
            }
        }

        return (advanced && GrowBuffer()) | freed;
    }

    /// <summary>
    /// Sends what the windows, Nagle and sender SWS avoidance allow (RFC 9293 3.7.4, 3.8.6.2.1): with
    /// SACK first the segments the scoreboard names lost, within the recovery's quota (RFC 6675 5,
    /// RFC 6937); arms the persist timer when data is held back with nothing in flight (RFC 9293 3.8.6.1).
    /// </summary>
    /// <param name="now">The current time.</param>
    public void Output(Micros now)
    {
        if (_sackNegotiated && _sack is null && _una == _max)
        {
            _sack = new SackRecovery(_cc, _rto, _timestamps, _timers, _counters, _sizes, _sendBufferCap);
            _sack.Reset(_una);
            _recovery = _sack;
        }

        if (_sack is null)
        {
            OutputInOrder(now);
        }
        else
        {
            OutputFromScoreboard(_sack, now);
        }

        SendBuffer send = _buffer!;
        bool pending = (send.SndUna + send.Buffered) - _nxt > 0 || (send.IsWriteCompleted && !send.IsFinSent);
        if (pending && _una == _max && !_timers.IsArmed(TcpTimer.Retransmission) && !_timers.IsArmed(TcpTimer.Persist))
        {
            _timers.Arm(TcpTimer.Persist, now + _prober.Interval(Rto));
        }
    }

    // Without SACK: from SND.NXT on, within min(SND.WND, cwnd) (plus RFC 3042's allowance for new data).
    private void OutputInOrder(Micros now)
    {
        SendBuffer send = _buffer!;
        int mss = DataMss;
        while (true)
        {
            int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _nxt, 0);
            bool finPending = send.IsWriteCompleted && !send.IsFinAcknowledged && _nxt <= send.FinSequence;
            if (dataRemaining == 0 && !finPending)
            {
                break;
            }

            if (PacingHolds(now))
            {
                break;
            }

            bool retransmission = _nxt < _max;
            RestartAfterIdleIfDue(retransmission, dataRemaining, now);
            long window = Math.Min(_wnd, _cc.CongestionWindow + (retransmission ? 0 : _recovery.LimitedTransmitAllowance));
            long usable = window - (_nxt - _una);
            if (!TryChooseLength(mss, retransmission ? mss : Burst, dataRemaining, finPending, usable, retransmission, out int len, out bool fin))
            {
                break;
            }

            Transmit(_nxt, len, fin, now);
        }
    }

    // With SACK, RFC 6675 5 (C): while the quota allows, NextSeg: lost segments (rule 1), new data
    // (rule 2), then the rescue retransmission (rule 4). New data also needs room in SND.WND.
    private void OutputFromScoreboard(SackRecovery sack, Micros now)
    {
        SendBuffer send = _buffer!;
        int mss = DataMss;
        bool sentNew = false;
        bool resent = false;
        while (true)
        {
            long quota = sack.SendQuota;
            if (quota <= 0 || PacingHolds(now))
            {
                break;
            }

            if (!sack.NothingLost && sack.TryGetRetransmission(mss, out SeqNum start, out SeqNum end))
            {
                if (end - start > quota && sack.Pipe > 0)
                {
                    break; // the quota grows with the next ACKs
                }

                TransmitRange(start, end, now);
                resent = true;
                continue;
            }

            int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _nxt, 0);
            bool finPending = send.IsWriteCompleted && !send.IsFinAcknowledged && _nxt <= send.FinSequence;
            if ((dataRemaining == 0 && !finPending) || sack.IsLogFull)
            {
                if (dataRemaining == 0 && !finPending)
                {
                    sack.OnApplicationLimited(); // room in the window, nothing to send (delivery-rate estimation)
                }

                break;
            }

            RestartAfterIdleIfDue(false, dataRemaining, now);
            long usable = Math.Min(_wnd - (_nxt - _una), quota);
            if (!TryChooseLength(mss, Burst, dataRemaining, finPending, usable, false, out int len, out bool fin))
            {
                break;
            }

            Transmit(_nxt, len, fin, now);
            sentNew = true;
        }

        if (sack.SendQuota >= mss && !PacingHolds(now) && sack.TryGetRescue(mss, out SeqNum rescueStart, out SeqNum rescueEnd))
        {
            TransmitRange(rescueStart, rescueEnd, now);
            resent = true;
        }

        if (sentNew || (resent && sack.InRecovery))
        {
            sack.ScheduleProbe(now); // RFC 8985 7.2; in recovery, SackRecovery.IsRecoveryProbeDue
        }
    }

    // ---- pacing gate ----
    // When the controller paces (PacingRate > 0), a segment is not released before its time: the
    // pacer's credit must be positive, else the pacing timer is armed for when it will be and the
    // output loop stops. Controllers that do not pace never reach the pacer.
    private bool PacingHolds(Micros now)
    {
        if (_pacer is null)
        {
            return false;
        }

        long rate = _cc.PacingRate;
        if (rate <= 0 || _pacer.MaySend(rate, Pacer.Quantum(rate, _sizes.Send, Burst), now))
        {
            return false;
        }

        _timers.Arm(TcpTimer.Pacing, _pacer.ReleaseTime(rate, now));
        _counters.Add(TcpCounter.PacingWaits);
        return true;
    }

    // RFC 5681 4.1: cwnd no longer reflects the path after an idle period longer than the RTO.
    private void RestartAfterIdleIfDue(bool retransmission, int dataRemaining, Micros now)
    {
        if (!retransmission && dataRemaining > 0 && _una == _max && _lastSend.Value != long.MinValue
            && CongestionRules.IsRestartAfterIdle(_lastSend.Value, now.Value, Rto.Value))
        {
            _cc.OnRestartAfterIdle(now.Value);
        }
    }

    // The length of the next segment from SND.NXT, or false when nothing may go now: the window,
    // Nagle (RFC 9293 3.7.4) and sender SWS avoidance (RFC 9293 3.8.6.2.1). New data may go out as
    // a super-segment of whole MSS-sized pieces (burst) when the device cuts them (TSO).
    private bool TryChooseLength(int mss, int burst, int dataRemaining, bool finPending, long usable, bool retransmission, out int len, out bool fin)
    {
        len = (int)Math.Clamp(Math.Min(Math.Min(burst, dataRemaining), usable), 0, int.MaxValue);
        if (len > mss && len % mss != 0 && !(len == dataRemaining && (NoDelay || _una == _max || finPending)))
        {
            len -= len % mss; // a short tail waits under Nagle's rule like any short segment (RFC 9293 3.7.4)
        }

        fin = finPending && len == dataRemaining;
        if (len == 0 && !fin)
        {
            return false;
        }

        if (len < mss && len > 0 && !retransmission)
        {
            bool allQueued = len == dataRemaining;
            bool nagleAllows = NoDelay || _una == _max || fin; // RFC 9293 3.7.4 (Linux: never for the FIN)
            bool halfWindow = _maxWnd > 0 && len >= _maxWnd / 2; // RFC 9293 3.8.6.2.1 (3)
            // Like Linux's tcp_write_xmit (Nagle is its only sender-side SWS rule): with nothing in
            // flight, fill a window smaller than a segment at once instead of waiting an RTO for the
            // override timeout (RFC 9293 3.8.6.2.1 (4)). A reopened window is often a little under
            // one MSS (window-scale granularity); the receiver's own SWS avoidance keeps it from being silly.
            bool idleWindowLimited = len == usable && _una == _max;
            if (!((allQueued && nagleAllows) || halfWindow || idleWindowLimited))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The send MSS shrank (RFC 1191): congestion control is rescaled, not restarted, and what is
    /// outstanding is resent in the smaller size (Linux's tcp_simple_retransmit) without that
    /// starting fast retransmit. The control block then calls <see cref="Output"/>.
    /// </summary>
    /// <param name="now">The current time.</param>
    public void OnMssReduced(Micros now)
    {
        _cc.OnMssChanged(_sizes.Send, now.Value);
        _recovery.OnFlightResent(_max);
        if (_sack is null)
        {
            _nxt = _una; // go-back-N; with SACK the scoreboard now has everything marked lost
        }
    }

    /// <summary>The retransmission timer expired on a synchronized connection (RFC 6298 5, RFC 5681 3.1).</summary>
    /// <param name="now">The current time.</param>
    /// <returns>Whether the connection should time out.</returns>
    public SenderVerdict OnRetransmissionTimeout(Micros now)
    {
        if (_max == _una)
        {
            return SenderVerdict.Continue; // nothing outstanding (a stale deadline)
        }

        _counters.Add(TcpCounter.Timeouts);
        bool zeroWindow = _wnd == 0;
        if (zeroWindow ? (now - _lastReceive).Value > _rto.MaximumRtoMicros : _rtxCount >= _options.MaxRetransmissions)
        {
            // Like Linux's tcp_retransmit_timer: a peer that shrank its window to zero gets our
            // retransmissions as window probes and is only given up when it fell silent for TCP_RTO_MAX.
            return SenderVerdict.TimedOut;
        }

        // RFC 5681 3.1 / RFC 6298 5.4-5.6: loss window, back off, resend the earliest segment.
        _recovery.OnRetransmissionTimeout(_max - _una, _rtxCount > 0, _max, now);
        _rtxCount++;
        _rto.BackOff();
        _rtt.CancelTiming();
        if (_sack is null)
        {
            _nxt = _una; // go back: what follows is resent as the window reopens
            RetransmitHead(now);
        }
        else if (_sack.TryGetRetransmission(DataMss, out SeqNum start, out SeqNum end))
        {
            TransmitRange(start, end, now); // RFC 8985 6.3: the first segment is lost; the others follow as the loss window allows
        }

        _timers.Arm(TcpTimer.Retransmission, now + Rto);
        return SenderVerdict.Continue;
    }

    /// <summary>The persist timer expired (RFC 9293 3.8.6.1, 3.8.6.2.1): the override timeout, or a zero-window probe.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>Whether the connection should time out.</returns>
    public SenderVerdict OnPersistTimeout(Micros now)
    {
        SendBuffer send = _buffer!;
        int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _nxt, 0);
        bool finPending = send.IsWriteCompleted && !send.IsFinSent;
        if (_una != _max || (dataRemaining == 0 && !finPending))
        {
            return SenderVerdict.Continue;
        }

        long usable = Math.Min(_wnd, _cc.CongestionWindow);
        if (usable > 0)
        {
            // RFC 9293 3.8.6.2.1: the override timeout: send what the (small) window takes.
            int len = (int)Math.Min(Math.Min(DataMss, dataRemaining), usable);
            Transmit(_nxt, len, finPending && len == dataRemaining, now);
            return SenderVerdict.Continue;
        }

        if (_prober.ShouldGiveUp(_options.MaxRetransmissions))
        {
            return SenderVerdict.TimedOut; // like Linux's tcp_probe_timer: tcp_retries2 probes never answered
        }

        // Probe the zero window like Linux: an already acknowledged sequence number (SND.UNA - 1) and
        // no data, which the peer must answer with an ACK carrying its window.
        _counters.Add(TcpCounter.ZeroWindowProbes);
        _transmitter.SendSegment(TcpFlags.Ack, _una - 1, default, default, now);
        _prober.OnProbeSent();
        _timers.Arm(TcpTimer.Persist, now + _prober.Interval(Rto));
        return SenderVerdict.Continue;
    }

    // SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged; returns whether buffer space was freed.
    private bool AcknowledgeNewData(in TcpSegment seg, Micros now, out Micros? rtt)
    {
        SeqNum ack = seg.Ack;
        _buffer!.Acknowledge(ack, out int freed);
        _una = ack;
        if (_nxt < _una)
        {
            _nxt = _una;
        }

        rtt = _rtt.OnNewDataAcknowledged(seg, _max - _una, _sizes.Send, now);
        _rtxCount = 0;
        _prober.OnProgress();
        _lastProgress = now;
        return freed > 0;
    }

    // Send-buffer autotuning (Linux's tcp_sndbuf_expand): room for twice the congestion window, a
    // full window in flight and as much again queued behind it, within the cap.
    private bool GrowBuffer()
    {
        if (!_options.AutoTuneBuffers)
        {
            return false;
        }

        long wanted = Math.Min(2 * _cc.CongestionWindow, _options.SendBufferCap);
        return wanted > _buffer!.Capacity && _buffer.Grow((int)wanted);
    }

    /// <summary>The RACK reordering timer fired (RFC 8985 6.2); the control block sends what it marked lost.</summary>
    /// <param name="now">The current time.</param>
    public void OnReorderTimeout(Micros now) => _sack?.OnReorderTimeout(now);

    /// <summary>
    /// The probe timeout expired (RFC 8985 7.3, or a recovery probe): whatever cwnd says, new data
    /// when there is some and the peer's window takes it (two full-sized segments when there are
    /// two), else the last segment again; the retransmission timer restarts.
    /// </summary>
    /// <param name="now">The current time.</param>
    public void OnLossProbeTimeout(Micros now)
    {
        if (_sack is not SackRecovery sack || !sack.MayProbe)
        {
            return;
        }

        SendBuffer send = _buffer!;
        int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _nxt, 0);
        bool finPending = send.IsWriteCompleted && !send.IsFinAcknowledged && _nxt <= send.FinSequence;
        int mss = DataMss;
        long room = _wnd - (_nxt - _una);
        int len = (int)Math.Clamp(Math.Min(Math.Min(mss, dataRemaining), room), 0, int.MaxValue);
        bool fin = finPending && len == dataRemaining;
        if ((len > 0 || fin) && !sack.IsLogFull)
        {
            // New data goes as two full-sized segments when there are two and the window takes
            // them: the probe follows a silence, often the loss of the ACK of everything before it,
            // and a receiver may then hold the ACK of one lone segment for its delayed-ACK time
            // (Linux 40 ms, RFC 5681 4.2 up to 500 ms) where the PTO assumed a prompt one (RFC 8985
            // 7.2 adds WCDelAckT only for a flight of one segment); a second full-sized segment is
            // acknowledged at once (RFC 5681 4.2), and either one alone, the other lost, is out of
            // order and acknowledged at once too. Two segments, not one super-segment: a device or
            // middlebox that drops a super-segment drops it whole.
            int second = fin || len < mss ? 0 : (int)Math.Clamp(Math.Min(Math.Min(mss, dataRemaining - len), room - len), 0, int.MaxValue);
            if (second < mss)
            {
                second = 0;
            }

            bool secondFin = second > 0 && finPending && len + second == dataRemaining;
            sack.OnProbeSent(_nxt + len + second + (fin || secondFin ? 1 : 0), retransmission: false);
            Transmit(_nxt, len, fin, now);
            if (second > 0 && !sack.IsLogFull)
            {
                Transmit(_nxt, second, secondFin, now);
            }
        }
        else if (sack.TryGetLastSegment(out SeqNum start, out SeqNum end))
        {
            sack.OnProbeSent(_max, retransmission: true);
            TransmitRange(start, end, now);
        }
        else
        {
            return; // nothing to probe with (all SACKed): the retransmission timer stays as it is
        }

        _timers.Arm(TcpTimer.Retransmission, now + Rto);
        sack.ScheduleProbe(now); // a second probe if this one brings no ACK (SackRecovery.MayProbe)
    }

    // Resends [start, end) of what was sent (the FIN with it when the range covers it).
    private void TransmitRange(SeqNum start, SeqNum end, Micros now)
    {
        SendBuffer send = _buffer!;
        bool fin = send.IsFinSent && !send.IsFinAcknowledged && end - 1 == send.FinSequence;
        Transmit(start, (end - start) - (fin ? 1 : 0), fin, now);
    }

    // Sends [seq, seq + len) (+ FIN) from the send buffer with ACK, PSH at the end of the data.
    private void Transmit(SeqNum seq, int len, bool fin, Micros now)
    {
        SendBuffer send = _buffer!;
        send.GetSegment(seq, len, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
        TcpFlags flags = TcpFlags.Ack;
        if (len > 0 && seq + len == send.SndUna + send.Buffered)
        {
            flags |= TcpFlags.Psh; // the last segment of what the application wrote
        }

        if (fin)
        {
            flags |= TcpFlags.Fin;
        }

        bool retransmission = seq < _max;
        if (_una == _max)
        {
            _lastProgress = now; // the user timeout counts from when data went out unacknowledged
        }

        _transmitter.SendSegment(flags, seq, first, second, now);
        SeqNum end = seq + len + (fin ? 1 : 0);
        if (_pacer is not null && _cc.PacingRate > 0)
        {
            _pacer.OnSent(end - seq);
        }

        _rtt.OnTransmit(seq, end, len, retransmission, now);
        _sack?.OnTransmit(seq, end, retransmission, now);
        if (retransmission)
        {
            CountRetransmission();
        }
        else
        {
            BytesSent += len;
        }

        if (end > _nxt)
        {
            _nxt = end;
        }

        if (_nxt > _max)
        {
            _max = _nxt;
            send.MarkSent(_max);
        }

        if (len > 0)
        {
            _lastSend = now;
        }

        if (!_timers.IsArmed(TcpTimer.Retransmission))
        {
            _timers.Arm(TcpTimer.Retransmission, now + Rto);
        }

        _timers.Cancel(TcpTimer.Persist);
        RefreshUserTimeout();
    }

    // Resends the first unacknowledged segment (fast retransmit, partial ACK, RTO).
    private void RetransmitHead(Micros now)
    {
        SendBuffer send = _buffer!;
        int dataRemaining = Math.Max(send.Buffered - Math.Max(_una - send.SndUna, 0), 0);
        int len = Math.Min(DataMss, Math.Min(dataRemaining, Math.Max(_max - _una, 0)));
        bool fin = send.IsFinSent && !send.IsFinAcknowledged && _una + len == send.FinSequence;
        if (len > 0 || fin)
        {
            Transmit(_una, len, fin, now);
        }
    }

    // RFC 5482: the user timeout runs while data is unacknowledged, from the moment it went out or
    // last made progress. The sender only sends and sees ACKs once the connection is synchronized.
    private void RefreshUserTimeout()
    {
        if (_userTimeout is Micros timeout && _max != _una)
        {
            _timers.Arm(TcpTimer.UserTimeout, _lastProgress + timeout);
        }
        else
        {
            _timers.Cancel(TcpTimer.UserTimeout);
        }
    }
}
