using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine.CongestionControl;
using Protocols.Tcp.Engine.Recovery;

namespace Protocols.Tcp.Engine;

/// <summary>The result of one step of segment processing (RFC 9293 3.10.7) or of one timer.</summary>
internal enum StepOutcome
{
    /// <summary>Go on to the next step.</summary>
    Continue,

    /// <summary>The segment was dealt with (dropped, or answered); the connection lives on.</summary>
    Done,

    /// <summary>The connection was deleted (CLOSED): nothing more may be done for it.</summary>
    Deleted,
}

/// <summary>
/// One TCP connection (the TCB of RFC 9293 3.3.1): a sans-IO state machine. Segments, timer ticks
/// and application calls go in with the current time; segments come out through
/// <see cref="TcpEngineEnvironment.Output"/> and what changed through <see cref="TakeEvents"/>.
/// Only the stack's loop calls it; it never reads a clock, takes a lock or allocates per segment.
/// </summary>
/// <remarks>
/// <para>The control block owns the state, the sequence variables and the order of processing:
/// <see cref="OnSegment"/> walks RFC 9293 3.10.7 step by step, each step returning a
/// <see cref="StepOutcome"/>. The mechanisms are their own types: <see cref="TcpTimerSet"/>,
/// <see cref="RttSampler"/> (feeding the <see cref="Engine.RtoEstimator"/>), <see cref="TimestampState"/>
/// (RFC 7323), <see cref="SegmentSizes"/> (MSS), <see cref="ILossRecovery"/> (duplicate ACKs and
/// recovery episodes, reporting to the <see cref="ICongestionController"/>),
/// <see cref="ZeroWindowProber"/>, <see cref="Engine.KeepAlive"/>, the send and receive buffers
/// and the <see cref="SegmentEmitter"/>.</para>
/// <para>Sequence variables (RFC 9293 3.3.1): SND.UNA, SND.NXT and SND.MAX (the highest sequence
/// number sent; SND.NXT goes back to SND.UNA after a retransmission timeout, go-back-N style),
/// SND.WND (scaled), SND.WL1/WL2, ISS; RCV.NXT lives in the <see cref="ReceiveBuffer"/>, RCV.WND is
/// the window last advertised. The send and receive rings are allocated on first use, grow by
/// doubling and are released in TIME-WAIT and CLOSED.</para>
/// </remarks>
internal sealed class TcpControlBlock
{
    /// <summary>RFC 9293 3.7.1: the MSS assumed when the peer sends no MSS option.</summary>
    public const int DefaultPeerMss = SegmentSizes.DefaultPeerMss;

    /// <summary>The smallest send MSS accepted from a peer or from ICMP (Linux's tcp_min_snd_mss, 48).</summary>
    public const int MinimumMss = SegmentSizes.MinimumMss;

    /// <summary>
    /// The lowest next-hop MTU a fragmentation-needed message from the network may set: 552, Linux's
    /// <c>net.ipv4.route.min_pmtu</c> (512 + 20 + 20). RFC 1191 3 allows down to 68 (RFC 791's
    /// minimum), but RFC 5927 7.2 warns that forged tiny MTUs degrade a connection, so smaller
    /// values are ignored (Linux clamps them; with DF always set that makes no difference to us).
    /// </summary>
    public const int MinimumIcmpPathMtu = 552;

    private static readonly Micros MaxDelayedAck = Micros.FromMilliseconds(200);

    private readonly TcpConnectionOptions _options;
    private readonly TcpEngineEnvironment _env;
    private readonly TcpCounters _counters;
    private readonly RtoEstimator _rto;
    private readonly ICongestionController _cc;
    private readonly ILossRecovery _recovery;
    private readonly RttSampler _rtt;
    private readonly TimestampState _ts = new();
    private readonly SegmentSizes _sizes;
    private readonly ZeroWindowProber _prober = new();
    private readonly KeepAlive _keepAlive;
    private readonly SegmentEmitter _emitter;
    private TcpTimerSet _timers = new();
    private SendBuffer? _send;
    private ReceiveBuffer? _recv;

    // Send sequence space (RFC 9293 3.3.1).
    private SeqNum _iss;
    private SeqNum _sndUna;
    private SeqNum _sndNxt;
    private SeqNum _sndMax;
    private long _sndWnd;
    private long _maxSndWnd;
    private SeqNum _sndWl1;
    private SeqNum _sndWl2;
    private SeqNum _irs;
    private SeqNum _lastAckSent;

    // Window scaling (RFC 7323 2).
    private bool _wsNegotiated;
    private int _sndShift;
    private int _rcvShift;

    private int _rtxCount;
    private Micros _lastReceive;
    private Micros _lastProgress; // the user timeout counts from here
    private Micros _lastSend = long.MinValue;
    private bool _ackNow;
    private bool _passive;
    private bool _appClosed;
    private bool _finPending;
    private bool _countedEstablished;
    private SocketError _softError;
    private TcpEvents _events;
    private long _retransmissions;
    private long _bytesSent;
    private long _bytesReceived;

    /// <summary>A closed TCB for <paramref name="tuple"/>.</summary>
    /// <param name="tuple">The connection's 4-tuple (local = this stack).</param>
    /// <param name="options">Per-connection options.</param>
    /// <param name="env">Stack-wide services.</param>
    /// <exception cref="ArgumentException">The congestion controller named in the options is not registered, or a size or count in the options is out of range.</exception>
    public TcpControlBlock(in TcpFourTuple tuple, TcpConnectionOptions options, TcpEngineEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(env);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SendBufferSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SendBufferSize, SendBuffer.MaxCapacity, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReceiveBufferSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ReceiveBufferSize, ReceiveBuffer.MaxCapacity, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.SynRetries, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.SynAckRetries, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetransmissions, nameof(options));
        Tuple = tuple;
        _options = options;
        _env = env;
        _counters = env.Counters;
        _rto = new RtoEstimator(minimumRtoMicros: env.MinimumRtoMicros, initialRtoMicros: Math.Max(RtoEstimator.DefaultInitialRtoMicros, env.MinimumRtoMicros));
        _cc = env.Controllers.Create(options.CongestionControl);
        _recovery = new NewRenoRecovery(_cc);
        _rtt = new RttSampler(_rto, _ts);
        _sizes = new SegmentSizes(options.Mss ?? env.DefaultMss);
        _keepAlive = new KeepAlive(options.KeepAlive);
        _emitter = new SegmentEmitter(tuple, env);
        NoDelay = options.NoDelay;
    }

    /// <summary>The connection's 4-tuple.</summary>
    public TcpFourTuple Tuple { get; }

    /// <summary>The current state.</summary>
    public TcpState State { get; private set; }

    /// <summary>Success until the connection failed (refused, reset, timed out, aborted, unreachable).</summary>
    public SocketError Error { get; private set; }

    /// <summary>The last ICMP soft error (RFC 5927), Success when none.</summary>
    public SocketError SoftError => _softError;

    /// <summary>The earliest time <see cref="OnTimer"/> has something to do, in microseconds; <see cref="long.MaxValue"/> when no timer is armed.</summary>
    public long NextDeadlineMicros => _timers.Next.Value;

    /// <summary>Bytes the application can read now.</summary>
    public int ReadableBytes => _recv?.Readable ?? 0;

    /// <summary>FIN received and every byte before it read.</summary>
    public bool IsReceiveCompleted => _recv?.IsCompleted ?? false;

    /// <summary>Free bytes in the send buffer (0 after <see cref="CompleteWrites"/> or once closed).</summary>
    public int SendSpace => _send is not null && !_finPending && State is TcpState.SynSent or TcpState.SynReceived or TcpState.Established or TcpState.CloseWait
        ? _send.Free
        : 0;

    /// <summary>Nagle's algorithm off (RFC 9293 3.7.4).</summary>
    public bool NoDelay { get; set; }

    /// <summary>The effective send MSS (payload bytes per segment, options excluded).</summary>
    public int Mss => _sizes.Send;

    /// <summary>The window scale shifts in use (send, receive); 0 when not negotiated.</summary>
    internal (int Send, int Receive) WindowShifts => (_sndShift, _rcvShift);

    /// <summary>Whether timestamps were negotiated.</summary>
    internal bool TimestampsEnabled => _ts.Enabled;

    /// <summary>ISS.</summary>
    internal SeqNum Iss => _iss;

    /// <summary>SND.UNA.</summary>
    internal SeqNum SndUna => _sndUna;

    /// <summary>SND.NXT.</summary>
    internal SeqNum SndNxt => _sndNxt;

    /// <summary>SND.MAX: one past the highest sequence number sent (RFC 6582's "highest sequence number transmitted").</summary>
    internal SeqNum SndMax => _sndMax;

    /// <summary>The earlier of the retransmission and persist deadlines, in microseconds (<see cref="long.MaxValue"/> when neither runs).</summary>
    internal long SendTimerDeadlineMicros => Micros.Min(_timers.Deadline(TcpTimer.Retransmission), _timers.Deadline(TcpTimer.Persist)).Value;

    /// <summary>SND.WND in bytes (scaled).</summary>
    internal long SndWnd => _sndWnd;

    /// <summary>RCV.NXT (0 before the peer's SYN).</summary>
    internal SeqNum RcvNxt => _recv?.RcvNxt ?? default;

    /// <summary>The congestion controller.</summary>
    internal ICongestionController Congestion => _cc;

    /// <summary>The RTO estimator.</summary>
    internal RtoEstimator RtoEstimator => _rto;

    /// <summary>Ring bytes allocated by the send and receive buffers.</summary>
    internal int AllocatedBufferBytes => (_send?.AllocatedBytes ?? 0) + (_recv?.AllocatedBytes ?? 0);

    private Micros Rto => _rto.Rto;

    private bool IsSendingState => State is TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck;

    /// <summary>
    /// The window scale shift this side announces for a receive buffer (RFC 7323 2.3): the smallest
    /// that fits the buffer in the 16-bit field, at most 14. The layer uses it for cookie SYN-ACKs.
    /// </summary>
    /// <param name="receiveBufferSize">The receive buffer size in bytes.</param>
    /// <returns>The shift count.</returns>
    public static int ChooseWindowScale(int receiveBufferSize)
    {
        int shift = 0;
        while (shift < TcpOption.MaxWindowScaleShift && (receiveBufferSize >> shift) > ushort.MaxValue)
        {
            shift++;
        }

        return shift;
    }

    /// <summary>The timestamp clock before the per-connection offset (1 ms ticks); SYN-cookie SYN-ACKs use it too, so a connection rebuilt from a cookie continues their clock.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The clock value.</returns>
    internal static uint TimestampClock(Micros now) => TimestampState.Clock(now);

    // ------------------------------------------------------------------ opening

    /// <summary>Active open (RFC 9293 3.10.1): CLOSED -> SYN-SENT, sends SYN.</summary>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenActive(Micros now)
    {
        EnsureNew();
        _iss = _env.Isn.Next(Tuple, now.Value);
        InitSend();
        _ts.ChooseOffset(_env.Random);
        State = TcpState.SynSent;
        _counters.Add(TcpCounter.ActiveOpens);
        if (_options.ConnectTimeout is TimeSpan ct)
        {
            _timers.Arm(TcpTimer.Connect, now + Micros.FromTimeSpan(ct));
        }

        _rtt.OnSynSent(now);
        SendSyn(now, retransmission: false);
        _timers.Arm(TcpTimer.Retransmission, now + Rto);
    }

    /// <summary>Passive open from a listener (RFC 9293 3.10.7.2): CLOSED -> SYN-RECEIVED, sends SYN-ACK.</summary>
    /// <param name="syn">The SYN.</param>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    /// <exception cref="ArgumentException">The segment is not a SYN (without ACK and RST).</exception>
    public void OpenPassive(in TcpSegment syn, Micros now)
    {
        EnsureNew();
        if ((syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn)
        {
            throw new ArgumentException("A passive open needs a SYN without ACK or RST.", nameof(syn));
        }

        _counters.Add(TcpCounter.SegmentsReceived);
        _emitter.BeginReceived(syn, State);
        _passive = true;
        _irs = syn.Seq;
        _recv = new ReceiveBuffer(_irs + 1, _options.ReceiveBufferSize);
        Negotiate(syn.Options, now);
        _ts.ChooseOffset(_env.Random);
        _iss = _env.Isn.Next(Tuple, now.Value);
        InitSend();
        _sndWnd = syn.Window; // RFC 7323 2.2: the window of a SYN is never scaled
        _maxSndWnd = _sndWnd;
        _sndWl1 = syn.Seq;
        _sndWl2 = _iss;
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        _rtt.OnSynSent(now);
        SendSynAck(now, retransmission: false);
        _emitter.FlushReceived(State, now);
        _timers.Arm(TcpTimer.Retransmission, now + Rto);
    }

    /// <summary>
    /// CLOSED -> ESTABLISHED from the ACK that returned a valid SYN cookie (RFC 4987 3.6). The
    /// cookie SYN-ACK must have announced <see cref="ChooseWindowScale"/> of the receive buffer when
    /// the peer offered window scaling, and carried timestamps when the peer offered them.
    /// </summary>
    /// <param name="ack">The ACK (SEG.ACK = cookie + 1).</param>
    /// <param name="cookieIss">The ISS the cookie SYN-ACK carried.</param>
    /// <param name="mss">The peer's MSS decoded from the cookie.</param>
    /// <param name="peerWindowScale">The peer's window scale, when its SYN had one (decoded from the timestamp).</param>
    /// <param name="peerSackPermitted">Whether the peer's SYN allowed SACK (not used: no SACK scoreboard yet).</param>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenFromCookie(in TcpSegment ack, uint cookieIss, ushort mss, byte? peerWindowScale, bool peerSackPermitted, Micros now)
    {
        EnsureNew();
        _ = peerSackPermitted;
        _counters.Add(TcpCounter.SegmentsReceived);
        _passive = true;
        _iss = new SeqNum(cookieIss);
        _irs = ack.Seq - 1;
        _recv = new ReceiveBuffer(ack.Seq, _options.ReceiveBufferSize);
        _sizes.OnPeerMss(mss);
        if (peerWindowScale is byte ws && _options.WindowScaling)
        {
            _wsNegotiated = true;
            _sndShift = Math.Min(ws, TcpOption.MaxWindowScaleShift);
            _rcvShift = ChooseWindowScale(_options.ReceiveBufferSize);
        }

        if (ack.Options.Timestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _ts.Enable(ts.TsVal, now);
            _ts.ContinueCookieClock(ts.TsEcr, now);
        }
        else
        {
            _ts.ChooseOffset(_env.Random);
        }

        _sizes.Compute(_ts.Enabled);
        InitSend();
        _sndUna = _iss + 1;
        _sndNxt = _sndUna;
        _sndMax = _sndUna;
        _sndWnd = (long)ack.Window << _sndShift;
        _maxSndWnd = _sndWnd;
        _sndWl1 = ack.Seq;
        _sndWl2 = ack.Ack;
        _recv.WindowToAdvertise(_sizes.Receive); // what the cookie SYN-ACK advertised
        _lastAckSent = _recv.RcvNxt;
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        _emitter.BeginReceived(ack, State);
        EnterEstablished(now);
        ProcessSynchronized(ack, now); // the rest of the ACK (data, FIN) is processed as in ESTABLISHED
        _emitter.FlushReceived(State, now);
    }

    // ------------------------------------------------------------------ input

    /// <summary>Processes one received segment (RFC 9293 3.10.7).</summary>
    /// <param name="segment">The segment (checksum already verified).</param>
    /// <param name="now">The current time.</param>
    public void OnSegment(in TcpSegment segment, Micros now)
    {
        _counters.Add(TcpCounter.SegmentsReceived);
        _emitter.BeginReceived(segment, State);
        switch (State)
        {
            case TcpState.Closed:
                SendResetFor(segment, now); // RFC 9293 3.10.7.1: everything but a RST is answered with a RST
                break;
            case TcpState.Listen:
                break; // listeners are the layer's
            case TcpState.SynSent:
                ProcessSynSent(segment, now);
                break;
            default:
                ProcessSynchronized(segment, now);
                break;
        }

        _emitter.FlushReceived(State, now);
    }

    /// <summary>
    /// An ICMP error from the network quoting one of our segments. RFC 5927 4.1: it is acted on
    /// only when the quoted SEG.SEQ is in [SND.UNA, SND.NXT) (SND.NXT being the highest sequence
    /// number sent), so that an attacker who knows only the 4-tuple cannot refuse a connection
    /// attempt or lower the MSS; a fragmentation-needed message must also carry an MTU of at least
    /// <see cref="MinimumIcmpPathMtu"/>. Ignored errors count <see cref="TcpCounter.IcmpErrorsIgnored"/>.
    /// </summary>
    /// <param name="type">ICMP type.</param>
    /// <param name="code">ICMP code.</param>
    /// <param name="nextHopMtu">The next-hop MTU of a fragmentation-needed message, else 0.</param>
    /// <param name="quotedSeq">The sequence number of the quoted TCP header.</param>
    /// <param name="now">The current time.</param>
    public void OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, SeqNum quotedSeq, Micros now)
    {
        if (State is TcpState.Closed or TcpState.Listen or TcpState.TimeWait)
        {
            return;
        }

        bool fragNeeded = type == IcmpType.DestinationUnreachable && code == 4;
        if (!(quotedSeq >= _sndUna && quotedSeq < _sndMax) || (fragNeeded && nextHopMtu < MinimumIcmpPathMtu))
        {
            _counters.Add(TcpCounter.IcmpErrorsIgnored);
            return;
        }

        OnIcmpError(type, code, nextHopMtu, now);
    }

    /// <summary>
    /// An ICMP error the stack itself vouches for (e.g. the IP layer refused a DF send as too big),
    /// without the sequence-number check (RFC 5927, RFC 1122 4.2.3.9, RFC 1191).
    /// Fragmentation needed lowers the MSS; hard errors (protocol or port unreachable) end the
    /// connection only in SYN-SENT; everything else is remembered as a soft error, reported if the
    /// connection attempt later times out.
    /// </summary>
    /// <param name="type">ICMP type.</param>
    /// <param name="code">ICMP code.</param>
    /// <param name="nextHopMtu">The next-hop MTU of a fragmentation-needed message, else 0.</param>
    /// <param name="now">The current time.</param>
    public void OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, Micros now)
    {
        if (State is TcpState.Closed or TcpState.Listen or TcpState.TimeWait)
        {
            return;
        }

        _counters.Add(TcpCounter.IcmpErrors);
        switch (TcpIcmpErrors.Classify(type, code, out SocketError error))
        {
            case IcmpErrorKind.FragmentationNeeded:
                if (nextHopMtu >= 68 && _sizes.OnPathMtu(nextHopMtu, _ts.Enabled) && IsSynchronized(State) && State != TcpState.SynReceived)
                {
                    // Rescale, not restart, congestion control; resend what is outstanding in the
                    // smaller size (Linux's tcp_simple_retransmit) without that starting fast retransmit.
                    _cc.OnMssChanged(_sizes.Send, now.Value);
                    _recovery.OnFlightResent(_sndMax);
                    _sndNxt = _sndUna;
                    Output(now);
                }

                return;
            case IcmpErrorKind.Hard when State == TcpState.SynSent:
                Fail(error); // RFC 5927 4.1: hard errors abort only connection attempts
                return;
            case IcmpErrorKind.Hard:
            case IcmpErrorKind.Soft:
                _softError = error;
                return;
            default:
                return;
        }
    }

    // ------------------------------------------------------------------ timers

    /// <summary>Runs whatever timers are due, in <see cref="TcpTimer"/> order (may be called early or late).</summary>
    /// <param name="now">The current time.</param>
    public void OnTimer(Micros now)
    {
        for (var timer = TcpTimer.TimeWait; timer <= TcpTimer.KeepAlive; timer++)
        {
            if (_timers.IsDue(timer, now))
            {
                _timers.Cancel(timer);
                if (OnTimerDue(timer, now) == StepOutcome.Deleted)
                {
                    return;
                }
            }
        }
    }

    private StepOutcome OnTimerDue(TcpTimer timer, Micros now)
    {
        switch (timer)
        {
            case TcpTimer.TimeWait:
                return EnterClosed(); // RFC 9293 3.10.8: the 2 MSL timeout deletes the TCB
            case TcpTimer.FinWait2:
                SendReset(_sndMax, withAck: true, now); // like Linux's tcp_fin_timeout: give up on the peer's FIN
                return EnterClosed();
            case TcpTimer.Connect:
                _counters.Add(TcpCounter.ConnectionTimeouts);
                return Fail(_softError != SocketError.Success ? _softError : SocketError.TimedOut);
            case TcpTimer.UserTimeout:
                _counters.Add(TcpCounter.ConnectionTimeouts); // RFC 5482 / RFC 9293 3.8.3
                return Fail(SocketError.TimedOut);
            case TcpTimer.Retransmission:
                return OnRetransmissionTimeout(now);
            case TcpTimer.Persist:
                return OnPersistTimeout(now);
            case TcpTimer.DelayedAck:
                _counters.Add(TcpCounter.DelayedAcks);
                SendAck(now);
                return StepOutcome.Continue;
            default:
                return OnKeepAliveTimeout(now);
        }
    }

    // ------------------------------------------------------------------ application

    /// <summary>Copies what fits into the send buffer and may transmit (Nagle permitting).</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Bytes accepted (0 when the buffer is full or writing is over).</returns>
    public int Send(ReadOnlySpan<byte> data, Micros now)
    {
        if (SendSpace == 0 || data.IsEmpty)
        {
            return 0;
        }

        int n = _send!.Write(data);
        if (State is TcpState.Established or TcpState.CloseWait)
        {
            Output(now);
        }

        return n;
    }

    /// <summary>Copies readable bytes out; may send a window update.</summary>
    /// <param name="destination">Where to copy.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Bytes copied; 0 when nothing is readable now.</returns>
    public int Receive(Span<byte> destination, Micros now)
    {
        if (_recv is null)
        {
            return 0;
        }

        int n = _recv.Read(destination);
        if (n == 0)
        {
            return 0;
        }

        if (State is TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2)
        {
            // RFC 9293 3.8.6.2.2 (receiver SWS avoidance) with Linux's rule for when a read is
            // worth an ACK: the window at least doubles and the edge moves by min(buffer / 2, MSS).
            int advertised = _recv.AdvertisedWindow;
            if (2L * advertised <= _recv.Capacity && _recv.Window >= 2L * advertised && _recv.IsWindowUpdateDue(_sizes.Receive))
            {
                SendAck(now);
            }
        }
        else if (State is TcpState.TimeWait or TcpState.Closed && _recv.Readable == 0)
        {
            _recv.Release();
        }

        return n;
    }

    /// <summary>Half-close (RFC 9293 3.10.4): FIN after the queued data; the receive side stays open.</summary>
    /// <param name="now">The current time.</param>
    public void CompleteWrites(Micros now)
    {
        switch (State)
        {
            case TcpState.SynSent:
            case TcpState.SynReceived:
                _finPending = true; // RFC 9293 3.10.4: queued until ESTABLISHED
                break;
            case TcpState.Established:
                _send!.CompleteWrites();
                State = TcpState.FinWait1;
                LeaveEstablishedCount(); // tcpCurrEstab counts ESTABLISHED and CLOSE-WAIT (RFC 1213)
                Output(now);
                break;
            case TcpState.CloseWait:
                _send!.CompleteWrites();
                State = TcpState.LastAck;
                LeaveEstablishedCount();
                Output(now);
                break;
            default:
                break; // already closing: idempotent
        }
    }

    /// <summary>
    /// The application is done both ways (RFC 9293 3.10.4): FIN after the queued data; but when
    /// received data is left unread it is discarded and the peer gets a RST instead (RFC 9293
    /// 3.10.4's ABORT semantics for lost data, as Linux does).
    /// </summary>
    /// <param name="now">The current time.</param>
    public void Close(Micros now)
    {
        _appClosed = true;
        switch (State)
        {
            case TcpState.Closed:
            case TcpState.Listen:
                return;
            case TcpState.SynSent:
                EnterClosed(); // RFC 9293 3.10.4: delete the TCB
                return;
            default:
                break;
        }

        if (_recv is not null && _recv.Readable > 0 && State is not TcpState.TimeWait)
        {
            SendReset(_sndMax, withAck: true, now);
            _counters.Add(TcpCounter.Aborts);
            EnterClosed();
            return;
        }

        CompleteWrites(now);
        if (State == TcpState.FinWait2)
        {
            _timers.Arm(TcpTimer.FinWait2, now + Micros.FromTimeSpan(_options.FinWait2Timeout));
        }
    }

    /// <summary>Abortive close (RFC 9293 3.10.5): RST in synchronized states, CLOSED, <see cref="Error"/> = ConnectionAborted.</summary>
    /// <param name="now">The current time.</param>
    public void Abort(Micros now)
    {
        if (State == TcpState.Closed)
        {
            return;
        }

        if (State is TcpState.SynReceived or TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2 or TcpState.CloseWait)
        {
            SendReset(_sndMax, withAck: true, now);
        }

        _appClosed = true;
        _counters.Add(TcpCounter.Aborts);
        Fail(SocketError.ConnectionAborted);
    }

    /// <summary>What happened since the last call.</summary>
    /// <returns>The events, now cleared.</returns>
    public TcpEvents TakeEvents()
    {
        TcpEvents e = _events;
        _events = TcpEvents.None;
        return e;
    }

    // ------------------------------------------------------------------ observability

    /// <summary>The connection-table row.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The row.</returns>
    public TcpConnectionInfo GetInfo(Micros now)
    {
        (TcpTimer? timer, Micros deadline) = _timers.Earliest();
        return new TcpConnectionInfo
        {
            Local = new Ipv4Endpoint(Tuple.LocalAddress, Tuple.LocalPort),
            Remote = new Ipv4Endpoint(Tuple.RemoteAddress, Tuple.RemotePort),
            State = State,
            SendQueue = _send?.Buffered ?? 0,
            ReceiveQueue = _recv?.Readable ?? 0,
            SmoothedRtt = new Micros(_rto.SmoothedRtt).ToTimeSpan(),
            RttVariation = new Micros(_rto.RttVariation).ToTimeSpan(),
            Rto = Rto.ToTimeSpan(),
            CongestionWindow = _cc.CongestionWindow,
            SlowStartThreshold = _cc.SlowStartThreshold,
            Mss = _sizes.Send,
            Retransmissions = _retransmissions,
            ActiveTimer = timer is TcpTimer t ? TcpTimerSet.Name(t) : null,
            ActiveTimerRemaining = timer is null ? TimeSpan.Zero : Micros.Max(deadline - now, Micros.Zero).ToTimeSpan(),
            BytesSent = _bytesSent,
            BytesReceived = _bytesReceived,
        };
    }

    /// <summary>
    /// Whether a SYN for this 4-tuple may replace this TCB (RFC 6191 / RFC 9293 3.10.7.4 TIME-WAIT):
    /// only in TIME-WAIT, and only when the SYN's timestamp is newer than TS.Recent (both sides use
    /// timestamps) or else its sequence number is beyond RCV.NXT.
    /// </summary>
    /// <param name="syn">The SYN.</param>
    /// <returns>Whether the layer may drop this TCB and open a new one from the SYN.</returns>
    public bool CanBeReplacedBySyn(in TcpSegment syn)
    {
        if (State != TcpState.TimeWait || (syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn || _recv is null)
        {
            return false;
        }

        if (_ts.Enabled && syn.Options.Timestamps is TcpTimestamps ts)
        {
            return _ts.IsNewer(ts.TsVal); // RFC 6191 2: timestamp newer than the last seen
        }

        return syn.Seq > _recv.RcvNxt; // RFC 6191 2 / RFC 1122 4.2.2.13: sequence number beyond the old connection's
    }

    /// <summary>A short description for debugging.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{Tuple} {State} una={_sndUna} nxt={_sndNxt} max={_sndMax} wnd={_sndWnd} rcv.nxt={RcvNxt} {_cc}");

    // ------------------------------------------------------------------ SYN-SENT (RFC 9293 3.10.7.3)

    private StepOutcome ProcessSynSent(in TcpSegment seg, Micros now)
    {
        bool ack = seg.Has(TcpFlags.Ack);
        bool rst = seg.Has(TcpFlags.Rst);

        // First check: an ACK must acknowledge our SYN and nothing more.
        if (ack && (seg.Ack <= _iss || seg.Ack > _sndMax))
        {
            if (!rst)
            {
                SendReset(seg.Ack, withAck: false, now);
            }

            return StepOutcome.Done;
        }

        // Second check: RST (RFC 5961 3.2 for SYN-SENT: acceptable only with an acceptable ACK).
        if (rst)
        {
            if (!ack)
            {
                return StepOutcome.Done;
            }

            _counters.Add(TcpCounter.ResetsReceived);
            return Fail(SocketError.ConnectionRefused);
        }

        // Fourth check: SYN.
        if (!seg.Has(TcpFlags.Syn))
        {
            return StepOutcome.Done;
        }

        _irs = seg.Seq;
        _recv = new ReceiveBuffer(_irs + 1, _options.ReceiveBufferSize);
        Negotiate(seg.Options, now);
        _sndWnd = seg.Window; // RFC 7323 2.2: never scaled on a SYN
        _maxSndWnd = _sndWnd;
        _sndWl1 = seg.Seq;
        if (!ack)
        {
            // Simultaneous open (RFC 9293 3.5, figure 7): SYN-RECEIVED, send SYN-ACK with our ISS.
            State = TcpState.SynReceived;
            _sndWl2 = _iss;
            _rtxCount = 0;
            SendSynAck(now, retransmission: false);
            _timers.Arm(TcpTimer.Retransmission, now + Rto);
            return StepOutcome.Done;
        }

        _sndUna = seg.Ack;
        _sndWl2 = seg.Ack;
        _rtt.OnSynAcknowledged(seg, now);
        long emitted = _emitter.Emitted;
        EnterEstablished(now);
        if (!seg.Payload.IsEmpty || seg.Has(TcpFlags.Fin))
        {
            // "If there are other controls or text in the segment, then continue processing at the
            // sixth step" of ESTABLISHED; the text starts after the SYN.
            var rest = new TcpSegment(seg.Seq + 1, seg.Ack, seg.Flags & ~TcpFlags.Syn, seg.Window, seg.Options, seg.Payload);
            if (ProcessText(rest, now) == StepOutcome.Deleted)
            {
                return StepOutcome.Deleted;
            }
        }

        Output(now);
        if (_emitter.Emitted == emitted)
        {
            SendAck(now); // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        }

        return StepOutcome.Done;
    }

    // ------------------------------------------------------------------ synchronized states (RFC 9293 3.10.7.4)

    private void ProcessSynchronized(in TcpSegment seg, Micros now)
    {
        // SYN-RECEIVED and simultaneous open: the peer's SYN-ACK acknowledges our SYN (Linux's tcp_validate_incoming exception).
        bool simultaneousSynAck = State == TcpState.SynReceived && seg.Has(TcpFlags.Syn | TcpFlags.Ack) && !seg.Has(TcpFlags.Rst)
            && seg.Seq + 1 == _recv!.RcvNxt && seg.Ack == _sndMax && seg.Payload.IsEmpty;

        StepOutcome outcome = CheckSequenceNumber(seg, simultaneousSynAck, now);
        if (outcome == StepOutcome.Continue)
        {
            outcome = CheckReset(seg, now);
        }

        if (outcome == StepOutcome.Continue)
        {
            outcome = CheckSyn(seg, simultaneousSynAck, now);
        }

        if (outcome == StepOutcome.Continue)
        {
            outcome = CheckAck(seg, simultaneousSynAck, now);
        }

        if (outcome == StepOutcome.Continue)
        {
            outcome = ProcessText(seg, now);
        }

        if (outcome == StepOutcome.Continue)
        {
            Output(now);
            if (_ackNow)
            {
                SendAck(now);
            }
        }
    }

    // First check: sequence number, with PAWS (RFC 7323 5.3) before it.
    private StepOutcome CheckSequenceNumber(in TcpSegment seg, bool simultaneousSynAck, Micros now)
    {
        ReceiveBuffer recv = _recv!;
        SeqNum rcvNxt = recv.RcvNxt;
        bool rst = seg.Has(TcpFlags.Rst);
        bool syn = seg.Has(TcpFlags.Syn);

        // SYN-RECEIVED: a retransmitted SYN gets the SYN-ACK again (the first one was lost).
        if (State == TcpState.SynReceived && syn && !rst && !seg.Has(TcpFlags.Ack) && seg.Seq == _irs)
        {
            SendSynAck(now, retransmission: true);
            return StepOutcome.Done;
        }

        // RFC 7323 5.3 R1 (PAWS): a segment with an older timestamp is a duplicate from the past.
        if (!rst && seg.Options.Timestamps is TcpTimestamps paws && _ts.IsOldDuplicate(paws.TsVal, now))
        {
            _counters.Add(TcpCounter.PawsRejected);
            if (seg.SegmentLength > 0 || syn)
            {
                SendAck(now);
            }

            return StepOutcome.Done;
        }

        // A segment exactly at RCV.NXT is always looked at, so that ACKs, RSTs and FINs still get through a zero window.
        int segLen = seg.SegmentLength;
        bool acceptable = simultaneousSynAck || seg.Seq == rcvNxt || SeqNum.IsSegmentAcceptable(seg.Seq, (uint)segLen, rcvNxt, (uint)recv.AdvertisedWindow);
        if (!acceptable)
        {
            if (rst)
            {
                return StepOutcome.Done;
            }

            if (State == TcpState.TimeWait && seg.Has(TcpFlags.Fin) && seg.Seq + segLen == rcvNxt)
            {
                // TIME-WAIT: a retransmitted FIN: ACK it and restart the 2 MSL timeout.
                _timers.Arm(TcpTimer.TimeWait, now + TimeWaitDuration);
            }

            _counters.Add(TcpCounter.OutOfWindowSegments);
            SendAck(now);
            return StepOutcome.Done;
        }

        if (seg.Options.Timestamps is TcpTimestamps ts)
        {
            _ts.OnAcceptableSegment(ts.TsVal, seg.Seq, _lastAckSent, now); // RFC 7323 4.3
        }

        _keepAlive.OnPeerHeard();
        _prober.OnPeerHeard();
        _lastReceive = now;
        if (State is TcpState.Established or TcpState.CloseWait && _keepAlive.Enabled)
        {
            _timers.Arm(TcpTimer.KeepAlive, _keepAlive.IdleDeadline(now));
        }

        return StepOutcome.Continue;
    }

    // Second check: RST (RFC 5961 3.2: only exactly at RCV.NXT, else a challenge ACK).
    private StepOutcome CheckReset(in TcpSegment seg, Micros now)
    {
        if (!seg.Has(TcpFlags.Rst))
        {
            return StepOutcome.Continue;
        }

        if (seg.Seq != _recv!.RcvNxt)
        {
            SendChallengeAck(now);
            return StepOutcome.Done;
        }

        _counters.Add(TcpCounter.ResetsReceived);
        switch (State)
        {
            case TcpState.SynReceived:
                return Fail(SocketError.ConnectionRefused); // passive: the half-open entry goes; active: refused
            case TcpState.Established:
            case TcpState.CloseWait:
                _counters.Add(TcpCounter.EstablishedResets);
                return Fail(SocketError.ConnectionReset);
            case TcpState.FinWait1:
            case TcpState.FinWait2:
                return Fail(SocketError.ConnectionReset);
            default:
                return EnterClosed(); // CLOSING, LAST-ACK, TIME-WAIT: just delete the TCB
        }
    }

    // Fourth check: SYN (RFC 5961 4.2: in a synchronized state any SYN gets a challenge ACK).
    private StepOutcome CheckSyn(in TcpSegment seg, bool simultaneousSynAck, Micros now)
    {
        if (!seg.Has(TcpFlags.Syn) || simultaneousSynAck)
        {
            return StepOutcome.Continue;
        }

        if (State == TcpState.SynReceived && _passive)
        {
            // A passive SYN-RECEIVED connection returns to LISTEN (the half-open entry goes).
            _counters.Add(TcpCounter.AttemptFails);
            return EnterClosed();
        }

        SendChallengeAck(now);
        return StepOutcome.Done;
    }

    // Fifth check: ACK.
    private StepOutcome CheckAck(in TcpSegment seg, bool simultaneousSynAck, Micros now)
    {
        if (!seg.Has(TcpFlags.Ack))
        {
            return StepOutcome.Done;
        }

        if (State == TcpState.SynReceived)
        {
            if (seg.Ack <= _sndUna || seg.Ack > _sndMax)
            {
                SendReset(seg.Ack, withAck: false, now); // <SEQ=SEG.ACK><CTL=RST>
                return StepOutcome.Done;
            }

            _sndUna = _iss + 1;
            _rtt.OnSynAcknowledged(seg, now);
            _sndWnd = (long)seg.Window << _sndShift;
            _maxSndWnd = Math.Max(_maxSndWnd, _sndWnd);
            _sndWl1 = seg.Seq;
            _sndWl2 = seg.Ack;
            EnterEstablished(now);
            if (simultaneousSynAck)
            {
                return StepOutcome.Done;
            }
        }

        // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX].
        if (seg.Ack > _sndMax || seg.Ack < _sndUna - (int)Math.Min(_maxSndWnd, int.MaxValue))
        {
            _counters.Add(TcpCounter.OutOfWindowAcksDropped);
            SendChallengeAck(now);
            return StepOutcome.Done;
        }

        return ProcessAck(seg, now);
    }

    // The fifth check for ESTABLISHED and later: SND.UNA, loss recovery, the send window, FIN acknowledged.
    private StepOutcome ProcessAck(in TcpSegment seg, Micros now)
    {
        SeqNum ack = seg.Ack;
        long segWnd = (long)seg.Window << _sndShift;
        if (ack > _sndUna)
        {
            OnAckAdvanced(seg, now);
        }
        else if (ack == _sndUna && seg.Payload.IsEmpty && (seg.Flags & (TcpFlags.Syn | TcpFlags.Fin)) == 0
            && _sndMax != _sndUna && segWnd == _sndWnd)
        {
            // RFC 5681 2: a duplicate ACK.
            _counters.Add(TcpCounter.DuplicateAcksReceived);
            if (_recovery.OnDuplicateAck(ack, _sndUna, _sndMax, _sizes.Send, now) == RecoveryAction.FastRetransmit)
            {
                _counters.Add(TcpCounter.FastRetransmits);
                _rtt.CancelTiming();
                RetransmitHead(now);
            }
        }

        // Update the send window from the newest segment (SND.WL1, SND.WL2).
        if (ack >= _sndUna && (_sndWl1 < seg.Seq || (_sndWl1 == seg.Seq && _sndWl2 <= ack)))
        {
            _sndWnd = segWnd;
            _sndWl1 = seg.Seq;
            _sndWl2 = ack;
            _maxSndWnd = Math.Max(_maxSndWnd, _sndWnd);
            if (_sndWnd > 0 && _timers.IsArmed(TcpTimer.Persist))
            {
                _timers.Cancel(TcpTimer.Persist);
                _prober.OnProgress();
            }
        }

        if (!_send!.IsFinAcknowledged)
        {
            return StepOutcome.Continue;
        }

        switch (State)
        {
            case TcpState.FinWait1:
                State = TcpState.FinWait2;
                if (_appClosed)
                {
                    _timers.Arm(TcpTimer.FinWait2, now + Micros.FromTimeSpan(_options.FinWait2Timeout));
                }

                return StepOutcome.Continue;
            case TcpState.Closing:
                EnterTimeWait(now);
                return StepOutcome.Continue;
            case TcpState.LastAck:
                return EnterClosed();
            default:
                return StepOutcome.Continue;
        }
    }

    // SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged.
    private void OnAckAdvanced(in TcpSegment seg, Micros now)
    {
        SeqNum ack = seg.Ack;
        int acked = ack - _sndUna;
        _send!.Acknowledge(ack, out int freed);
        _sndUna = ack;
        if (_sndNxt < _sndUna)
        {
            _sndNxt = _sndUna;
        }

        long flight = _sndMax - _sndUna;
        Micros? rtt = _rtt.OnNewDataAcknowledged(seg, flight, _sizes.Send, now);
        _rtxCount = 0;
        _prober.OnProgress();
        _lastProgress = now;

        var info = new CongestionAck(acked, flight, rtt?.Value, now.Value);
        if (_recovery.OnAckAdvanced(info, ack) == RecoveryAction.RetransmitFirstUnacknowledged)
        {
            RetransmitHead(now);
        }

        if (freed > 0)
        {
            _events |= TcpEvents.Writable;
        }

        // RFC 6298 5.2/5.3: stop the timer when everything is acknowledged, else restart it.
        if (_sndUna == _sndMax)
        {
            _timers.Cancel(TcpTimer.Retransmission);
        }
        else
        {
            _timers.Arm(TcpTimer.Retransmission, now + Rto);
        }

        RefreshUserTimeout();
    }

    // Seventh check: the segment text; eighth: FIN.
    private StepOutcome ProcessText(in TcpSegment seg, Micros now)
    {
        bool fin = seg.Has(TcpFlags.Fin);
        ReadOnlySpan<byte> payload = seg.Payload;
        if ((payload.IsEmpty && !fin) || State is not (TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2))
        {
            return StepOutcome.Continue; // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN was already received
        }

        ReceiveBuffer recv = _recv!;
        if (_appClosed && !payload.IsEmpty && seg.Seq + payload.Length > recv.RcvNxt)
        {
            // New data for an application that closed: nobody will read it (Linux: RST, "data after close").
            SendReset(_sndMax, withAck: true, now);
            _counters.Add(TcpCounter.Aborts);
            return EnterClosed();
        }

        ReceiveResult r = recv.Receive(seg.Seq, payload, fin);
        if (r.OutOfOrder && r.Stored > 0)
        {
            _counters.Add(TcpCounter.OutOfOrderQueued);
        }

        if (r.Delivered > 0)
        {
            _bytesReceived += r.Delivered;
            _events |= TcpEvents.Readable;
        }

        // RFC 9293 3.8.6.3, RFC 5681 4.2: immediate ACK for out-of-order data, a filled hole,
        // duplicates and trimmed data; else at least every second full-sized segment; else delayed.
        if (r.OutOfOrder || r.FilledGap || r.Duplicate || r.Trimmed > 0 || r.FinReached)
        {
            _ackNow = true;
        }
        else if (r.Delivered > 0)
        {
            Micros delay = DelayedAckTimeout;
            int fullSized = _sizes.FullSizedReceived(payload.Length);
            if (delay == Micros.Zero || recv.RcvNxt - _lastAckSent >= 2 * fullSized)
            {
                _ackNow = true;
            }
            else if (!_timers.IsArmed(TcpTimer.DelayedAck))
            {
                _timers.Arm(TcpTimer.DelayedAck, now + delay);
            }
        }

        if (!r.FinReached)
        {
            return StepOutcome.Continue;
        }

        // Eighth check: FIN.
        _events |= TcpEvents.Readable | TcpEvents.ReceiveCompleted;
        switch (State)
        {
            case TcpState.Established:
                State = TcpState.CloseWait;
                break;
            case TcpState.FinWait1 when _send!.IsFinAcknowledged:
            case TcpState.FinWait2:
                EnterTimeWait(now);
                break;
            case TcpState.FinWait1:
                State = TcpState.Closing;
                break;
            default:
                break;
        }

        return StepOutcome.Continue;
    }

    // ------------------------------------------------------------------ output

    // Sends what the windows, Nagle and sender SWS avoidance allow (RFC 9293 3.7.4, 3.8.6.2.1).
    private void Output(Micros now)
    {
        if (!IsSendingState)
        {
            return;
        }

        SendBuffer send = _send!;
        int mss = _sizes.Send;
        while (true)
        {
            SeqNum dataEnd = send.SndUna + send.Buffered;
            int dataRemaining = Math.Max(dataEnd - _sndNxt, 0);
            bool finPending = send.IsWriteCompleted && !send.IsFinAcknowledged && _sndNxt <= send.FinSequence;
            if (dataRemaining == 0 && !finPending)
            {
                break;
            }

            bool retransmission = _sndNxt < _sndMax;
            if (!retransmission && dataRemaining > 0 && _sndUna == _sndMax && _lastSend.Value != long.MinValue
                && CongestionRules.IsRestartAfterIdle(_lastSend.Value, now.Value, Rto.Value))
            {
                _cc.OnRestartAfterIdle(now.Value); // RFC 5681 4.1
            }

            long window = Math.Min(_sndWnd, _cc.CongestionWindow + (retransmission ? 0 : _recovery.LimitedTransmitAllowance));
            long usable = window - (_sndNxt - _sndUna);
            int len = (int)Math.Clamp(Math.Min(Math.Min(mss, dataRemaining), usable), 0, int.MaxValue);
            bool fin = finPending && len == dataRemaining;
            if (len == 0 && !fin)
            {
                break;
            }

            if (len < mss && len > 0 && !retransmission)
            {
                bool allQueued = len == dataRemaining;
                bool nagleAllows = NoDelay || _sndUna == _sndMax || fin; // RFC 9293 3.7.4 (Linux: never for the FIN)
                bool halfWindow = _maxSndWnd > 0 && len >= _maxSndWnd / 2; // RFC 9293 3.8.6.2.1 (3)
                // Like Linux's tcp_write_xmit (Nagle is its only sender-side SWS rule): with nothing in
                // flight, fill a window smaller than a segment at once instead of waiting an RTO for the
                // override timeout (RFC 9293 3.8.6.2.1 (4)). A reopened window is often a little under
                // one MSS (window-scale granularity); the receiver's own SWS avoidance keeps it from being silly.
                bool idleWindowLimited = len == usable && _sndUna == _sndMax;
                if (!((allQueued && nagleAllows) || halfWindow || idleWindowLimited))
                {
                    break;
                }
            }

            Transmit(_sndNxt, len, fin, now);
        }

        // RFC 9293 3.8.6.1: the persist timer runs while data waits, nothing is in flight and the window keeps it back.
        bool pending = (send.SndUna + send.Buffered) - _sndNxt > 0 || (send.IsWriteCompleted && !send.IsFinSent);
        if (pending && _sndUna == _sndMax && !_timers.IsArmed(TcpTimer.Retransmission) && !_timers.IsArmed(TcpTimer.Persist))
        {
            _timers.Arm(TcpTimer.Persist, now + _prober.Interval(Rto));
        }
    }

    // Sends [seq, seq + len) (+ FIN) from the send buffer with ACK, PSH at the end of the data.
    private void Transmit(SeqNum seq, int len, bool fin, Micros now)
    {
        SendBuffer send = _send!;
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

        bool retransmission = seq < _sndMax;
        if (_sndUna == _sndMax)
        {
            _lastProgress = now; // the user timeout counts from when data went out unacknowledged
        }

        SendSegment(flags, seq, first, second, now);
        SeqNum end = seq + len + (fin ? 1 : 0);
        _rtt.OnTransmit(seq, end, len, retransmission, now);
        if (retransmission)
        {
            _retransmissions++;
            _counters.Add(TcpCounter.SegmentsRetransmitted);
        }
        else
        {
            _bytesSent += len;
        }

        if (end > _sndNxt)
        {
            _sndNxt = end;
        }

        if (_sndNxt > _sndMax)
        {
            _sndMax = _sndNxt;
            send.MarkSent(_sndMax);
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
        SendBuffer send = _send!;
        int dataRemaining = Math.Max(send.Buffered - Math.Max(_sndUna - send.SndUna, 0), 0);
        int len = Math.Min(_sizes.Send, Math.Min(dataRemaining, Math.Max(_sndMax - _sndUna, 0)));
        bool fin = send.IsFinSent && !send.IsFinAcknowledged && _sndUna + len == send.FinSequence;
        if (len > 0 || fin)
        {
            Transmit(_sndUna, len, fin, now);
        }
    }

    // RFC 5482: the user timeout runs while data is unacknowledged on a synchronized connection, from the
    // moment it went out or last made progress.
    private void RefreshUserTimeout()
    {
        if (_options.UserTimeout is TimeSpan ut && _sndMax != _sndUna && IsSynchronized(State) && State != TcpState.SynReceived)
        {
            _timers.Arm(TcpTimer.UserTimeout, _lastProgress + Micros.FromTimeSpan(ut));
        }
        else
        {
            _timers.Cancel(TcpTimer.UserTimeout);
        }
    }

    private StepOutcome OnRetransmissionTimeout(Micros now)
    {
        if (_sndMax == _sndUna && State is not (TcpState.SynSent or TcpState.SynReceived))
        {
            return StepOutcome.Continue; // nothing outstanding (a stale deadline)
        }

        _counters.Add(TcpCounter.Timeouts);
        if (State is TcpState.SynSent or TcpState.SynReceived)
        {
            bool synSent = State == TcpState.SynSent;
            if (_rtxCount >= (synSent ? _options.SynRetries : _options.SynAckRetries))
            {
                _counters.Add(TcpCounter.ConnectionTimeouts);
                return Fail(synSent && _softError != SocketError.Success ? _softError : SocketError.TimedOut);
            }

            _rtxCount++;
            _rto.BackOff(); // RFC 6298 5.5
            _rtt.OnSynRetransmitted();
            if (synSent)
            {
                SendSyn(now, retransmission: true);
            }
            else
            {
                SendSynAck(now, retransmission: true);
            }

            _timers.Arm(TcpTimer.Retransmission, now + Rto);
            return StepOutcome.Continue;
        }

        bool zeroWindow = _sndWnd == 0;
        if (zeroWindow ? (now - _lastReceive).Value > _rto.MaximumRtoMicros : _rtxCount >= _options.MaxRetransmissions)
        {
            // Like Linux's tcp_retransmit_timer: a peer that shrank its window to zero gets our
            // retransmissions as window probes and is only given up when it fell silent for TCP_RTO_MAX.
            _counters.Add(TcpCounter.ConnectionTimeouts);
            return Fail(SocketError.TimedOut);
        }

        // RFC 5681 3.1 / RFC 6298 5.4-5.6: loss window, back off, resend the earliest segment.
        _recovery.OnRetransmissionTimeout(_sndMax - _sndUna, _rtxCount > 0, _sndMax, now);
        _rtxCount++;
        _rto.BackOff();
        _rtt.CancelTiming();
        _sndNxt = _sndUna; // go back: what follows is resent as the window reopens
        RetransmitHead(now);
        _timers.Arm(TcpTimer.Retransmission, now + Rto);
        return StepOutcome.Continue;
    }

    private StepOutcome OnPersistTimeout(Micros now)
    {
        if (!IsSendingState || _sndUna != _sndMax)
        {
            return StepOutcome.Continue;
        }

        SendBuffer send = _send!;
        int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _sndNxt, 0);
        bool finPending = send.IsWriteCompleted && !send.IsFinSent;
        if (dataRemaining == 0 && !finPending)
        {
            return StepOutcome.Continue;
        }

        long usable = Math.Min(_sndWnd, _cc.CongestionWindow);
        if (usable > 0)
        {
            // RFC 9293 3.8.6.2.1: the override timeout: send what the (small) window takes.
            int len = (int)Math.Min(Math.Min(_sizes.Send, dataRemaining), usable);
            Transmit(_sndNxt, len, finPending && len == dataRemaining, now);
            return StepOutcome.Continue;
        }

        if (_prober.ShouldGiveUp(_options.MaxRetransmissions))
        {
            // Like Linux's tcp_probe_timer: probes the peer never answered (tcp_retries2 of them).
            _counters.Add(TcpCounter.ConnectionTimeouts);
            return Fail(SocketError.TimedOut);
        }

        // RFC 9293 3.8.6.1: probe the zero window. Like Linux, with an already acknowledged sequence
        // number (SND.UNA - 1) and no data: the peer must answer with an ACK carrying its window.
        _counters.Add(TcpCounter.ZeroWindowProbes);
        SendSegment(TcpFlags.Ack, _sndUna - 1, default, default, now);
        _prober.OnProbeSent();
        _timers.Arm(TcpTimer.Persist, now + _prober.Interval(Rto));
        return StepOutcome.Continue;
    }

    private StepOutcome OnKeepAliveTimeout(Micros now)
    {
        if (!_keepAlive.Enabled || State is not (TcpState.Established or TcpState.CloseWait))
        {
            return StepOutcome.Continue;
        }

        if (_sndMax != _sndUna || _send!.Unsent > 0)
        {
            _timers.Arm(TcpTimer.KeepAlive, _keepAlive.IdleDeadline(now)); // busy: the retransmission timer watches the peer
            return StepOutcome.Continue;
        }

        switch (_keepAlive.OnIdleTimeout(now, out Micros next))
        {
            case KeepAliveAction.GiveUp:
                // RFC 1122 4.2.3.6: the peer is dead. Linux sends a RST and reports ETIMEDOUT.
                _counters.Add(TcpCounter.KeepAliveTimeouts);
                SendReset(_sndMax, withAck: true, now);
                return Fail(SocketError.TimedOut);
            case KeepAliveAction.Probe:
                // RFC 9293 3.8.4: a probe with SEG.SEQ = SND.NXT - 1 and no data elicits an ACK.
                _counters.Add(TcpCounter.KeepAliveProbes);
                SendSegment(TcpFlags.Ack, _sndUna - 1, default, default, now);
                _timers.Arm(TcpTimer.KeepAlive, next);
                return StepOutcome.Continue;
            default:
                return StepOutcome.Continue;
        }
    }

    // ------------------------------------------------------------------ segments out

    private void SendSyn(Micros now, bool retransmission)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _iss,
            Flags = TcpFlags.Syn,
            Window = (ushort)Math.Min(_options.ReceiveBufferSize, ushort.MaxValue), // RFC 7323 2.2: a SYN's window is not scaled
        };
        o.Options.Mss = (ushort)_sizes.Announced;
        if (_options.WindowScaling)
        {
            o.Options.WindowScale = (byte)ChooseWindowScale(_options.ReceiveBufferSize);
        }

        o.Options.SackPermitted = _options.SackPermitted;
        if (_options.Timestamps)
        {
            o.Options.Timestamps = new TcpTimestamps(_ts.Now(now), 0);
        }

        CountSynRetransmission(retransmission);
        _sndNxt = _iss + 1;
        _sndMax = _sndNxt;
        _emitter.Emit(o, default, default, State, now);
    }

    private void SendSynAck(Micros now, bool retransmission)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _iss,
            Ack = _recv!.RcvNxt,
            Flags = TcpFlags.Syn | TcpFlags.Ack,
            Window = (ushort)Math.Min(_recv.WindowToAdvertise(_sizes.Receive), ushort.MaxValue),
        };
        o.Options.Mss = (ushort)_sizes.Announced;
        if (_wsNegotiated)
        {
            o.Options.WindowScale = (byte)_rcvShift;
        }

        if (_ts.Enabled)
        {
            o.Options.Timestamps = _ts.Option(now);
        }

        CountSynRetransmission(retransmission);
        _lastAckSent = o.Ack;
        _sndNxt = _iss + 1;
        _sndMax = _sndNxt;
        _emitter.Emit(o, default, default, State, now);
    }

    private void CountSynRetransmission(bool retransmission)
    {
        if (retransmission)
        {
            _retransmissions++;
            _counters.Add(TcpCounter.SegmentsRetransmitted);
        }
    }

    // A pure ACK carries the highest sequence number sent (SND.NXT in RFC 9293 terms; ours may have been
    // rewound by a timeout), kept inside the peer's window like Linux's tcp_acceptable_seq, so the peer
    // finds it acceptable (RFC 9293 3.10.7.4 first check) and processes its ACK field.
    private void SendAck(Micros now)
    {
        SeqNum windowEnd = _sndUna + (int)Math.Min(_sndWnd, int.MaxValue);
        SeqNum seq = _sndMax <= windowEnd ? _sndMax : SeqNum.Max(windowEnd, _sndUna);
        SendSegment(TcpFlags.Ack, seq, default, default, now);
    }

    private void SendChallengeAck(Micros now)
    {
        // RFC 5961 7: challenge ACKs are rate-limited stack-wide.
        if (_env.ChallengeAckLimiter.TryAcquire(now.Value))
        {
            _counters.Add(TcpCounter.ChallengeAcksSent);
            SendAck(now);
        }
        else
        {
            _counters.Add(TcpCounter.ChallengeAcksSuppressed);
        }
    }

    // A segment of a synchronized connection: ACK of RCV.NXT, our window, timestamps.
    private void SendSegment(TcpFlags flags, SeqNum seq, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Micros now)
    {
        ReceiveBuffer recv = _recv!;
        var o = new TcpOutgoingSegment { Seq = seq, Flags = flags, Ack = recv.RcvNxt };
        long window = recv.WindowToAdvertise(_sizes.Receive) >> _rcvShift; // RFC 7323 2.3
        o.Window = (ushort)Math.Min(window, ushort.MaxValue);
        if (_ts.Enabled)
        {
            o.Options.Timestamps = _ts.Option(now); // RFC 7323 3.2, 4.3
        }

        _lastAckSent = o.Ack;
        _ackNow = false;
        _timers.Cancel(TcpTimer.DelayedAck);
        _emitter.Emit(o, first, second, State, now);
    }

    // RST answering a segment (RFC 9293 3.10.7.1 / 3.10.7.3 / 3.10.7.4): never for a RST.
    private void SendResetFor(in TcpSegment seg, Micros now)
    {
        if (TcpOutgoingSegment.TryCreateResetFor(in seg, out TcpOutgoingSegment reset))
        {
            _counters.Add(TcpCounter.ResetsSent);
            _emitter.Emit(reset, default, default, State, now);
        }
    }

    private void SendReset(SeqNum seq, bool withAck, Micros now)
    {
        var o = new TcpOutgoingSegment { Seq = seq, Flags = TcpFlags.Rst };
        if (withAck && _recv is not null)
        {
            o.Flags |= TcpFlags.Ack;
            o.Ack = _recv.RcvNxt;
        }

        _counters.Add(TcpCounter.ResetsSent);
        _emitter.Emit(o, default, default, State, now);
    }

    // ------------------------------------------------------------------ state changes

    private void EnsureNew()
    {
        if (State != TcpState.Closed || _send is not null || _recv is not null)
        {
            throw new InvalidOperationException("The TCB was already opened.");
        }
    }

    private void InitSend()
    {
        _send = new SendBuffer(_iss + 1, _options.SendBufferSize);
        _sndUna = _iss;
        _sndNxt = _iss;
        _sndMax = _iss;
        _recovery.Reset(_iss);
    }

    // RFC 9293 3.7.1 (MSS), RFC 7323 2.2 (window scale, both or neither), RFC 7323 3.2 (timestamps, both or neither).
    private void Negotiate(TcpOptions peer, Micros now)
    {
        _sizes.OnPeerMss(peer.Mss);
        if (peer.WindowScale.HasValue && _options.WindowScaling)
        {
            _wsNegotiated = true;
            _sndShift = peer.WindowScaleShift; // clamped to 14 (RFC 7323 2.3)
            _rcvShift = ChooseWindowScale(_options.ReceiveBufferSize);
        }

        if (peer.Timestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _ts.Enable(ts.TsVal, now);
        }

        _sizes.Compute(_ts.Enabled);
    }

    private void EnterEstablished(Micros now)
    {
        State = TcpState.Established;
        _events |= TcpEvents.Established | TcpEvents.Writable;
        _counters.Add(TcpCounter.CurrentEstablished);
        _countedEstablished = true;
        _timers.Cancel(TcpTimer.Connect);
        _timers.Cancel(TcpTimer.Retransmission);
        _rtxCount = 0;
        _sndNxt = _sndUna;
        _sndMax = _sndUna;
        _lastProgress = now;
        _lastReceive = now;
        RefreshUserTimeout();
        if (_rtt.SynRetransmitted)
        {
            _rto.OnHandshakeCompletedAfterSynLoss(); // RFC 6298 5.7
        }

        _cc.OnConnectionEstablished(_sizes.Send, now.Value);
        if (_keepAlive.Enabled)
        {
            _timers.Arm(TcpTimer.KeepAlive, _keepAlive.IdleDeadline(now));
        }

        if (_finPending)
        {
            _finPending = false;
            CompleteWrites(now);
        }
    }

    private void EnterTimeWait(Micros now)
    {
        LeaveEstablishedCount();
        State = TcpState.TimeWait;
        _events |= TcpEvents.TimeWaitEntered;
        _counters.Add(TcpCounter.TimeWaitEntered);
        _timers.StopAll();
        _timers.Arm(TcpTimer.TimeWait, now + TimeWaitDuration);
        _send?.Release();
        _recv?.Release();
    }

    private StepOutcome EnterClosed()
    {
        if (State == TcpState.Closed && _events.HasFlag(TcpEvents.Closed))
        {
            return StepOutcome.Deleted;
        }

        LeaveEstablishedCount();
        State = TcpState.Closed;
        _events |= TcpEvents.Closed;
        _ackNow = false;
        _timers.StopAll();
        _send?.Release();
        _recv?.Release();
        return StepOutcome.Deleted;
    }

    private StepOutcome Fail(SocketError error)
    {
        if (State is TcpState.SynSent or TcpState.SynReceived)
        {
            _counters.Add(TcpCounter.AttemptFails);
        }

        Error = error;
        _events |= TcpEvents.Error;
        return EnterClosed();
    }

    private void LeaveEstablishedCount()
    {
        if (_countedEstablished)
        {
            _countedEstablished = false;
            _counters.Add(TcpCounter.CurrentEstablished, -1);
        }
    }

    private Micros TimeWaitDuration => Micros.FromTimeSpan(_options.Msl) * 2;

    private Micros DelayedAckTimeout => Micros.Max(Micros.Zero, Micros.Min(Micros.FromTimeSpan(_options.DelayedAckTimeout), MaxDelayedAck));

    private static bool IsSynchronized(TcpState state) =>
        state is not (TcpState.Closed or TcpState.Listen or TcpState.SynSent);
}
