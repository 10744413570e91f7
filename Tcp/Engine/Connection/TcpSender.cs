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
}

/// <summary>
/// The send side of one synchronized connection: the send sequence space (RFC 9293 3.3.1), what
/// may go out now (windows, Nagle, sender SWS avoidance), acknowledgments, the retransmission,
/// persist and user timers, RTT sampling, loss recovery and congestion control.
/// </summary>
/// <remarks>
/// <para>SND.MAX is the highest sequence number sent; SND.NXT goes back to SND.UNA after a
/// retransmission timeout (go-back-N) and after the MSS shrank, and the data after it is sent
/// again as the window allows. Pure ACKs carry SND.MAX (<see cref="PureAckSequence"/>).</para>
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
    private readonly ILossRecovery _recovery;
    private readonly RttSampler _rtt;
    private readonly ZeroWindowProber _prober = new();
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
        _recovery = new NewRenoRecovery(_cc);
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

    /// <summary>RFC 5961 5.2: whether SEG.ACK lies in [SND.UNA - MAX.SND.WND, SND.MAX].</summary>
    /// <param name="ack">SEG.ACK.</param>
    /// <returns>True when acceptable.</returns>
    public bool IsAcceptableAck(SeqNum ack) => ack <= _max && ack >= _una - (int)Math.Min(_maxWnd, int.MaxValue);

    /// <summary>
    /// RFC 9293 3.10.7.4 fifth check, ESTABLISHED and later: advances SND.UNA (or counts a
    /// duplicate ACK, RFC 5681 2) and takes the send window from the newest segment.
    /// </summary>
    /// <param name="seg">An acceptable ACK.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Whether send-buffer space was freed.</returns>
    public bool OnAck(in TcpSegment seg, Micros now)
    {
        SeqNum ack = seg.Ack;
        long segWnd = (long)seg.Window << Shift;
        bool freed = false;
        if (ack > _una)
        {
            freed = OnAckAdvanced(seg, now);
        }
        else if (ack == _una && seg.Payload.IsEmpty && (seg.Flags & (TcpFlags.Syn | TcpFlags.Fin)) == 0
            && _max != _una && segWnd == _wnd)
        {
            // RFC 5681 2: a duplicate ACK.
            _counters.Add(TcpCounter.DuplicateAcksReceived);
            if (_recovery.OnDuplicateAck(ack, _una, _max, _sizes.Send, now) == RecoveryAction.FastRetransmit)
            {
                _counters.Add(TcpCounter.FastRetransmits);
                _rtt.CancelTiming();
                RetransmitHead(now);
            }
        }

        // RFC 9293 3.10.7.4: update the send window from the newest segment (SND.WL1, SND.WL2).
        if (ack >= _una && (_wl1 < seg.Seq || (_wl1 == seg.Seq && _wl2 <= ack)))
        {
            SetWindow(segWnd, seg.Seq, ack);
            if (_wnd > 0 && _timers.IsArmed(TcpTimer.Persist))
            {
                _timers.Cancel(TcpTimer.Persist);
                _prober.OnProgress();
            }
        }

        return freed;
    }

    /// <summary>Sends what the windows, Nagle and sender SWS avoidance allow (RFC 9293 3.7.4, 3.8.6.2.1); arms the persist timer when data is held back with nothing in flight (RFC 9293 3.8.6.1).</summary>
    /// <param name="now">The current time.</param>
    public void Output(Micros now)
    {
        SendBuffer send = _buffer!;
        int mss = _sizes.Send;
        while (true)
        {
            SeqNum dataEnd = send.SndUna + send.Buffered;
            int dataRemaining = Math.Max(dataEnd - _nxt, 0);
            bool finPending = send.IsWriteCompleted && !send.IsFinAcknowledged && _nxt <= send.FinSequence;
            if (dataRemaining == 0 && !finPending)
            {
                break;
            }

            bool retransmission = _nxt < _max;
            if (!retransmission && dataRemaining > 0 && _una == _max && _lastSend.Value != long.MinValue
                && CongestionRules.IsRestartAfterIdle(_lastSend.Value, now.Value, Rto.Value))
            {
                _cc.OnRestartAfterIdle(now.Value); // RFC 5681 4.1
            }

            long window = Math.Min(_wnd, _cc.CongestionWindow + (retransmission ? 0 : _recovery.LimitedTransmitAllowance));
            long usable = window - (_nxt - _una);

            // New data goes out as a super-segment of whole MSS-sized pieces when the device cuts
            // them (TSO); what is resent stays one MSS, so a loss resends only what was lost.
            int burst = retransmission ? mss : _sizes.Burst;
            int len = (int)Math.Clamp(Math.Min(Math.Min(burst, dataRemaining), usable), 0, int.MaxValue);
            if (len > mss && len % mss != 0 && !(len == dataRemaining && (NoDelay || _una == _max || finPending)))
            {
                len -= len % mss; // a short tail waits under Nagle's rule like any short segment (RFC 9293 3.7.4)
            }

            bool fin = finPending && len == dataRemaining;
            if (len == 0 && !fin)
            {
                break;
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
                    break;
                }
            }

            Transmit(_nxt, len, fin, now);
        }

        bool pending = (send.SndUna + send.Buffered) - _nxt > 0 || (send.IsWriteCompleted && !send.IsFinSent);
        if (pending && _una == _max && !_timers.IsArmed(TcpTimer.Retransmission) && !_timers.IsArmed(TcpTimer.Persist))
        {
            _timers.Arm(TcpTimer.Persist, now + _prober.Interval(Rto));
        }
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
        _nxt = _una;
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
        _nxt = _una; // go back: what follows is resent as the window reopens
        RetransmitHead(now);
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
            int len = (int)Math.Min(Math.Min(_sizes.Send, dataRemaining), usable);
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

    // SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged.
    private bool OnAckAdvanced(in TcpSegment seg, Micros now)
    {
        SeqNum ack = seg.Ack;
        int acked = ack - _una;
        _buffer!.Acknowledge(ack, out int freed);
        _una = ack;
        if (_nxt < _una)
        {
            _nxt = _una;
        }

        long flight = _max - _una;
        Micros? rtt = _rtt.OnNewDataAcknowledged(seg, flight, _sizes.Send, now);
        _rtxCount = 0;
        _prober.OnProgress();
        _lastProgress = now;

        var info = new CongestionAck(acked, flight, rtt?.Value, now.Value);
        if (_recovery.OnAckAdvanced(info, ack) == RecoveryAction.RetransmitFirstUnacknowledged)
        {
            RetransmitHead(now);
        }

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
        return freed > 0;
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
        _rtt.OnTransmit(seq, end, len, retransmission, now);
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
        int len = Math.Min(_sizes.Send, Math.Min(dataRemaining, Math.Max(_max - _una, 0)));
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
        if (_options.UserTimeout is TimeSpan ut && _max != _una)
        {
            _timers.Arm(TcpTimer.UserTimeout, _lastProgress + Micros.FromTimeSpan(ut));
        }
        else
        {
            _timers.Cancel(TcpTimer.UserTimeout);
        }
    }
}
