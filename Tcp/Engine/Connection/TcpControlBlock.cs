using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine;

/// <summary>
/// One TCP connection (the TCB of RFC 9293 3.3.1): a sans-IO state machine. Segments, timer ticks
/// and application calls go in with the current time; segments come out through
/// <see cref="TcpEngineEnvironment.Output"/> and what changed through <see cref="TakeEvents"/>.
/// Only the stack's loop calls it; it never reads a clock, takes a lock or allocates per segment.
/// </summary>
/// <remarks>
/// <para>Sequence variables (RFC 9293 3.3.1): SND.UNA, SND.NXT and SND.MAX (the highest sequence
/// number sent; SND.NXT goes back to SND.UNA after a retransmission timeout, go-back-N style),
/// SND.WND (scaled), SND.WL1/WL2, ISS; RCV.NXT lives in the <see cref="ReceiveBuffer"/>, RCV.WND is
/// the window last advertised. The send and receive rings are allocated on first use, grow by
/// doubling and are released in TIME-WAIT and CLOSED.</para>
/// <para>Timers: retransmission (also SYN and SYN-ACK), persist, delayed ACK, keepalive,
/// TIME-WAIT, FIN-WAIT-2, connect and user timeout; each is a deadline, and
/// <see cref="NextDeadlineMicros"/> is the earliest.</para>
/// </remarks>
internal sealed class TcpControlBlock
{
    /// <summary>RFC 9293 3.7.1: the MSS assumed when the peer sends no MSS option.</summary>
    public const int DefaultPeerMss = 536;

    /// <summary>The smallest send MSS accepted from a peer or from ICMP (Linux's tcp_min_snd_mss, 48).</summary>
    public const int MinimumMss = 48;

    private const long Never = long.MaxValue;
    private const int TimestampOptionLength = 12; // NOP NOP TS (RFC 7323 3.2, Linux's layout)
    private const long MicrosPerTimestampTick = 1000; // a 1 ms timestamp clock (RFC 7323 5.4: 1 ms to 1 s)
    private const long PawsIdleLimitMicros = 24L * 24 * 3600 * 1_000_000; // RFC 7323 5.5: TS.Recent expires after 24 days idle
    private const long MaxDelayedAckMicros = 200_000;
    private const long MaxPersistMicros = 60_000_000;

    private readonly TcpConnectionOptions _options;
    private readonly TcpEngineEnvironment _env;
    private readonly TcpCounters _counters;
    private readonly RtoEstimator _rto;
    private readonly ICongestionController _cc;
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

    // Negotiated options.
    private int _sndShift;
    private int _rcvShift;
    private bool _tsEnabled;
    private uint _tsOffset;
    private uint _tsRecent;
    private long _tsRecentMicros;
    private int _announcedMss;
    private int _peerMss = DefaultPeerMss;
    private int _mss = DefaultPeerMss;
    private int _rcvMss = DefaultPeerMss;
    private int _largestSegmentReceived; // Linux's rcv_mss estimate: the peer may send less than we announced
    private int _pathMss = int.MaxValue; // lowered by ICMP fragmentation needed (RFC 1191)
    private long _lastReceiveMicros;

    // Timers (absolute deadlines, Never when disarmed).
    private long _rtxDeadline = Never;
    private long _persistDeadline = Never;
    private long _delAckDeadline = Never;
    private long _keepAliveDeadline = Never;
    private long _timeWaitDeadline = Never;
    private long _finWait2Deadline = Never;
    private long _connectDeadline = Never;
    private int _rtxCount;
    private int _persistProbes; // the persist backoff: reset when the window opens
    private int _persistUnanswered; // probes since the peer last sent anything
    private TcpTraceEvent _tracedIn; // a received segment whose trace waits for its first reply
    private bool _tracedInPending;
    private bool _wsNegotiated;
    private long _emitted;
    private int _keepAliveProbes;
    private long _lastProgressMicros;
    private long _lastSendMicros = long.MinValue;
    private long _synSentMicros;
    private bool _synRetransmitted;

    // RTT timing without timestamps (RFC 6298 3: one segment at a time, Karn's rule).
    private bool _rttTiming;
    private SeqNum _rttSeq;
    private long _rttStartMicros;

    // Loss recovery (RFC 5681 3.2, RFC 6582).
    private int _dupAcks;
    private long _limitedTransmit;
    private uint _tsAtLastRetransmit; // the TSval our latest retransmission carried
    private bool _hasRetransmitTs; // RFC 3042: extra bytes the first two duplicate ACKs let out
    private SeqNum _recover;
    private bool _recoverValid;

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
        NoDelay = options.NoDelay;
        _announcedMss = Math.Clamp(options.Mss ?? env.DefaultMss, MinimumMss + TimestampOptionLength, 65495);
    }

    /// <summary>The connection's 4-tuple.</summary>
    public TcpFourTuple Tuple { get; }

    /// <summary>The current state.</summary>
    public TcpState State { get; private set; }

    /// <summary>Success until the connection failed (refused, reset, timed out, aborted, unreachable).</summary>
    public SocketError Error { get; private set; }

    /// <summary>The last ICMP soft error (RFC 5927), Success when none.</summary>
    public SocketError SoftError => _softError;

    /// <summary>The earliest time <see cref="OnTimer"/> has something to do; <see cref="long.MaxValue"/> when no timer is armed.</summary>
    public long NextDeadlineMicros
    {
        get
        {
            long d = Math.Min(Math.Min(_rtxDeadline, _persistDeadline), Math.Min(_delAckDeadline, _keepAliveDeadline));
            d = Math.Min(d, Math.Min(Math.Min(_timeWaitDeadline, _finWait2Deadline), _connectDeadline));
            return Math.Min(d, UserTimeoutDeadline);
        }
    }

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
    public int Mss => _mss;

    /// <summary>The window scale shifts in use (send, receive); 0 when not negotiated.</summary>
    internal (int Send, int Receive) WindowShifts => (_sndShift, _rcvShift);

    /// <summary>Whether timestamps were negotiated.</summary>
    internal bool TimestampsEnabled => _tsEnabled;

    /// <summary>ISS.</summary>
    internal SeqNum Iss => _iss;

    /// <summary>SND.UNA.</summary>
    internal SeqNum SndUna => _sndUna;

    /// <summary>SND.NXT.</summary>
    internal SeqNum SndNxt => _sndNxt;

    /// <summary>SND.MAX: one past the highest sequence number sent (RFC 6582's "highest sequence number transmitted").</summary>
    internal SeqNum SndMax => _sndMax;

    /// <summary>The earlier of the retransmission and persist deadlines (<see cref="long.MaxValue"/> when neither runs).</summary>
    internal long SendTimerDeadlineMicros => Math.Min(_rtxDeadline, _persistDeadline);

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

    private long UserTimeoutDeadline =>
        _options.UserTimeout is TimeSpan ut && _sndMax != _sndUna && IsSynchronized(State) && State != TcpState.SynReceived
            ? _lastProgressMicros + (ut.Ticks / 10)
            : Never;

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

    // ------------------------------------------------------------------ opening

    /// <summary>Active open (RFC 9293 3.10.1): CLOSED -> SYN-SENT, sends SYN.</summary>
    /// <param name="nowMicros">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenActive(long nowMicros)
    {
        EnsureNew();
        _iss = _env.Isn.Next(Tuple, nowMicros);
        InitSend();
        _tsOffset = (uint)_env.Random.NextInt64(0, 1L << 32);
        State = TcpState.SynSent;
        _counters.Add(TcpCounter.ActiveOpens);
        _connectDeadline = _options.ConnectTimeout is TimeSpan ct ? nowMicros + (ct.Ticks / 10) : Never;
        _synSentMicros = nowMicros;
        SendSyn(nowMicros, retransmission: false);
        _rtxDeadline = nowMicros + _rto.Rto;
    }

    /// <summary>Passive open from a listener (RFC 9293 3.10.7.2): CLOSED -> SYN-RECEIVED, sends SYN-ACK.</summary>
    /// <param name="syn">The SYN.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    /// <exception cref="ArgumentException">The segment is not a SYN (without ACK and RST).</exception>
    public void OpenPassive(in TcpSegment syn, long nowMicros)
    {
        EnsureNew();
        if ((syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn)
        {
            throw new ArgumentException("A passive open needs a SYN without ACK or RST.", nameof(syn));
        }

        _counters.Add(TcpCounter.SegmentsReceived);
        BeginReceivedTrace(syn);
        _passive = true;
        _irs = syn.Seq;
        _recv = new ReceiveBuffer(_irs + 1, _options.ReceiveBufferSize);
        TcpOptions o = syn.Options;
        Negotiate(o, nowMicros);
        _tsOffset = (uint)_env.Random.NextInt64(0, 1L << 32);
        _iss = _env.Isn.Next(Tuple, nowMicros);
        InitSend();
        _sndWnd = syn.Window; // RFC 7323 2.2: the window of a SYN is never scaled
        _maxSndWnd = _sndWnd;
        _sndWl1 = syn.Seq;
        _sndWl2 = _iss;
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        _synSentMicros = nowMicros;
        SendSynAck(nowMicros, retransmission: false);
        FlushReceivedTrace(nowMicros);
        _rtxDeadline = nowMicros + _rto.Rto;
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
    /// <param name="nowMicros">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenFromCookie(in TcpSegment ack, uint cookieIss, ushort mss, byte? peerWindowScale, bool peerSackPermitted, long nowMicros)
    {
        EnsureNew();
        _ = peerSackPermitted;
        _counters.Add(TcpCounter.SegmentsReceived);
        _passive = true;
        _iss = new SeqNum(cookieIss);
        _irs = ack.Seq - 1;
        _recv = new ReceiveBuffer(ack.Seq, _options.ReceiveBufferSize);
        _peerMss = Math.Max((int)mss, MinimumMss);
        if (peerWindowScale is byte ws && _options.WindowScaling)
        {
            _wsNegotiated = true;
            _sndShift = Math.Min(ws, TcpOption.MaxWindowScaleShift);
            _rcvShift = ChooseWindowScale(_options.ReceiveBufferSize);
        }

        if (ack.Options.Timestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _tsEnabled = true;
            _tsRecent = ts.TsVal;
            _tsRecentMicros = nowMicros;
            // Continue the clock the cookie SYN-ACK used, so our TSvals never go backwards for the peer's PAWS.
            _tsOffset = unchecked(ts.TsEcr - (uint)(nowMicros / MicrosPerTimestampTick));
        }
        else
        {
            _tsOffset = (uint)_env.Random.NextInt64(0, 1L << 32);
        }

        ComputeMss();
        InitSend();
        _sndUna = _iss + 1;
        _sndNxt = _sndUna;
        _sndMax = _sndUna;
        _sndWnd = (long)ack.Window << _sndShift;
        _maxSndWnd = _sndWnd;
        _sndWl1 = ack.Seq;
        _sndWl2 = ack.Ack;
        _recv.WindowToAdvertise(_rcvMss); // what the cookie SYN-ACK advertised
        _lastAckSent = _recv.RcvNxt;
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        BeginReceivedTrace(ack);
        EnterEstablished(nowMicros);
        // The rest of the ACK (data, FIN) is processed as in ESTABLISHED.
        ProcessSynchronized(ack, nowMicros);
        FlushReceivedTrace(nowMicros);
    }

    // ------------------------------------------------------------------ input

    /// <summary>Processes one received segment (RFC 9293 3.10.7).</summary>
    /// <param name="segment">The segment (checksum already verified).</param>
    /// <param name="nowMicros">The current time.</param>
    public void OnSegment(in TcpSegment segment, long nowMicros)
    {
        _counters.Add(TcpCounter.SegmentsReceived);
        BeginReceivedTrace(segment);
        switch (State)
        {
            case TcpState.Closed:
                // RFC 9293 3.10.7.1: everything but a RST is answered with a RST.
                SendResetFor(segment, nowMicros);
                break;
            case TcpState.Listen:
                break; // listeners are the layer's
            case TcpState.SynSent:
                ProcessSynSent(segment, nowMicros);
                break;
            default:
                ProcessSynchronized(segment, nowMicros);
                break;
        }

        FlushReceivedTrace(nowMicros);
    }

    /// <summary>
    /// The lowest next-hop MTU a fragmentation-needed message from the network may set: 552, Linux's
    /// <c>net.ipv4.route.min_pmtu</c> (512 + 20 + 20). RFC 1191 3 allows down to 68 (RFC 791's
    /// minimum), but RFC 5927 7.2 warns that forged tiny MTUs degrade a connection, so smaller
    /// values are ignored (Linux clamps them; with DF always set that makes no difference to us).
    /// </summary>
    public const int MinimumIcmpPathMtu = 552;

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
    /// <param name="nowMicros">The current time.</param>
    public void OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, SeqNum quotedSeq, long nowMicros)
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

        OnIcmpError(type, code, nextHopMtu, nowMicros);
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
    /// <param name="nowMicros">The current time.</param>
    public void OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, long nowMicros)
    {
        if (State is TcpState.Closed or TcpState.Listen or TcpState.TimeWait)
        {
            return;
        }

        _counters.Add(TcpCounter.IcmpErrors);
        switch (type)
        {
            case IcmpType.DestinationUnreachable when code == 4:
                // RFC 1191 / RFC 5927 7: lower the MSS to fit the next hop; never raise it from ICMP.
                if (nextHopMtu >= 68)
                {
                    int mss = Math.Max(nextHopMtu - 40 - (_tsEnabled ? TimestampOptionLength : 0), MinimumMss);
                    _pathMss = Math.Min(_pathMss, nextHopMtu - 40);
                    if (mss < _mss)
                    {
                        _mss = mss;
                        if (IsSynchronized(State) && State != TcpState.SynReceived)
                        {
                            // Rescale, not restart, congestion control; the resent flight's duplicate
                            // ACKs must not start fast retransmit (RFC 6582 3.2 step 2's recover test).
                            _cc.OnMssChanged(_mss, nowMicros);
                            _recover = _sndMax;
                            _recoverValid = true;
                            // Resend what is outstanding in the smaller size (Linux's tcp_simple_retransmit).
                            _sndNxt = _sndUna;
                            Output(nowMicros);
                        }
                    }
                }

                return;
            case IcmpType.DestinationUnreachable:
                {
                    SocketError error = code switch
                    {
                        0 or 6 or 11 => SocketError.NetworkUnreachable,
                        2 or 3 => SocketError.ConnectionRefused,
                        _ => SocketError.HostUnreachable,
                    };
                    bool hard = code is 2 or 3; // RFC 1122 4.2.3.9: protocol and port unreachable (4 is handled above)
                    if (hard && State == TcpState.SynSent)
                    {
                        Fail(error, nowMicros); // RFC 5927 4.1: hard errors abort only connection attempts
                        return;
                    }

                    _softError = error;
                    return;
                }

            case IcmpType.TimeExceeded:
            case IcmpType.ParameterProblem:
                _softError = SocketError.HostUnreachable;
                return;
            default:
                return; // source quench is ignored (RFC 6633); others do not concern TCP
        }
    }

    // ------------------------------------------------------------------ timers

    /// <summary>Runs whatever timers are due (may be called early or late).</summary>
    /// <param name="nowMicros">The current time.</param>
    public void OnTimer(long nowMicros)
    {
        if (_timeWaitDeadline <= nowMicros)
        {
            EnterClosed(); // RFC 9293 3.10.8: the 2 MSL timeout deletes the TCB
            return;
        }

        if (_finWait2Deadline <= nowMicros)
        {
            // Like Linux's tcp_fin_timeout for an orphaned FIN-WAIT-2: give up on the peer's FIN.
            SendReset(_sndMax, withAck: true, nowMicros);
            EnterClosed();
            return;
        }

        if (_connectDeadline <= nowMicros)
        {
            _counters.Add(TcpCounter.ConnectionTimeouts);
            Fail(_softError != SocketError.Success ? _softError : SocketError.TimedOut, nowMicros);
            return;
        }

        if (UserTimeoutDeadline <= nowMicros)
        {
            // RFC 5482 / RFC 9293 3.8.3: data unacknowledged for longer than the user timeout.
            _counters.Add(TcpCounter.ConnectionTimeouts);
            Fail(SocketError.TimedOut, nowMicros);
            return;
        }

        if (_rtxDeadline <= nowMicros)
        {
            OnRetransmissionTimeout(nowMicros);
            if (State == TcpState.Closed)
            {
                return;
            }
        }

        if (_persistDeadline <= nowMicros)
        {
            OnPersistTimeout(nowMicros);
            if (State == TcpState.Closed)
            {
                return;
            }
        }

        if (_delAckDeadline <= nowMicros)
        {
            _counters.Add(TcpCounter.DelayedAcks);
            SendAck(nowMicros);
        }

        if (_keepAliveDeadline <= nowMicros)
        {
            OnKeepAliveTimeout(nowMicros);
        }
    }

    // ------------------------------------------------------------------ application

    /// <summary>Copies what fits into the send buffer and may transmit (Nagle permitting).</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>Bytes accepted (0 when the buffer is full or writing is over).</returns>
    public int Send(ReadOnlySpan<byte> data, long nowMicros)
    {
        int space = SendSpace;
        if (space == 0 || data.IsEmpty)
        {
            return 0;
        }

        int n = _send!.Write(data);
        if (State is TcpState.Established or TcpState.CloseWait)
        {
            Output(nowMicros);
        }

        return n;
    }

    /// <summary>Copies readable bytes out; may send a window update.</summary>
    /// <param name="destination">Where to copy.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>Bytes copied; 0 when nothing is readable now.</returns>
    public int Receive(Span<byte> destination, long nowMicros)
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
            if (2L * advertised <= _recv.Capacity && _recv.Window >= 2L * advertised && _recv.IsWindowUpdateDue(_rcvMss))
            {
                SendAck(nowMicros);
            }
        }
        else if (State is TcpState.TimeWait or TcpState.Closed && _recv.Readable == 0)
        {
            _recv.Release();
        }

        return n;
    }

    /// <summary>Half-close (RFC 9293 3.10.4): FIN after the queued data; the receive side stays open.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void CompleteWrites(long nowMicros)
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
                Output(nowMicros);
                break;
            case TcpState.CloseWait:
                _send!.CompleteWrites();
                State = TcpState.LastAck;
                LeaveEstablishedCount();
                Output(nowMicros);
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
    /// <param name="nowMicros">The current time.</param>
    public void Close(long nowMicros)
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
            SendReset(_sndMax, withAck: true, nowMicros);
            _counters.Add(TcpCounter.Aborts);
            EnterClosed();
            return;
        }

        CompleteWrites(nowMicros);
        if (State == TcpState.FinWait2)
        {
            _finWait2Deadline = nowMicros + (_options.FinWait2Timeout.Ticks / 10);
        }
    }

    /// <summary>Abortive close (RFC 9293 3.10.5): RST in synchronized states, CLOSED, <see cref="Error"/> = ConnectionAborted.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void Abort(long nowMicros)
    {
        if (State == TcpState.Closed)
        {
            return;
        }

        if (State is TcpState.SynReceived or TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2 or TcpState.CloseWait)
        {
            SendReset(_sndMax, withAck: true, nowMicros);
        }

        _appClosed = true;
        _counters.Add(TcpCounter.Aborts);
        Fail(SocketError.ConnectionAborted, nowMicros);
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
    /// <param name="nowMicros">The current time.</param>
    /// <returns>The row.</returns>
    public TcpConnectionInfo GetInfo(long nowMicros)
    {
        (string? timer, long deadline) = ActiveTimer();
        return new TcpConnectionInfo
        {
            Local = new IpEndpoint(Tuple.LocalAddress, Tuple.LocalPort),
            Remote = new IpEndpoint(Tuple.RemoteAddress, Tuple.RemotePort),
            State = State,
            SendQueue = _send?.Buffered ?? 0,
            ReceiveQueue = _recv?.Readable ?? 0,
            SmoothedRtt = TimeSpan.FromTicks(_rto.SmoothedRtt * 10),
            RttVariation = TimeSpan.FromTicks(_rto.RttVariation * 10),
            Rto = TimeSpan.FromTicks(_rto.Rto * 10),
            CongestionWindow = _cc.CongestionWindow,
            SlowStartThreshold = _cc.SlowStartThreshold,
            Mss = _mss,
            Retransmissions = _retransmissions,
            ActiveTimer = timer,
            ActiveTimerRemaining = timer is null ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Max(deadline - nowMicros, 0) * 10),
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

        if (_tsEnabled && syn.Options.Timestamps is TcpTimestamps ts)
        {
            return TsAfter(ts.TsVal, _tsRecent); // RFC 6191 2: timestamp newer than the last seen
        }

        return syn.Seq > _recv.RcvNxt; // RFC 6191 2 / RFC 1122 4.2.2.13: sequence number beyond the old connection's
    }

    /// <summary>A short description for debugging.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{Tuple} {State} una={_sndUna} nxt={_sndNxt} max={_sndMax} wnd={_sndWnd} rcv.nxt={RcvNxt} {_cc}");

    // ------------------------------------------------------------------ SYN-SENT

    private void ProcessSynSent(in TcpSegment seg, long nowMicros)
    {
        bool ack = seg.Has(TcpFlags.Ack);
        bool rst = seg.Has(TcpFlags.Rst);

        // RFC 9293 3.10.7.3 first check: an ACK must acknowledge our SYN and nothing more.
        if (ack && (seg.Ack <= _iss || seg.Ack > _sndMax))
        {
            if (!rst)
            {
                SendReset(seg.Ack, withAck: false, nowMicros);
            }

            return;
        }

        // Second check: RST (RFC 5961 3.2 for SYN-SENT: acceptable only with an acceptable ACK).
        if (rst)
        {
            if (ack)
            {
                _counters.Add(TcpCounter.ResetsReceived);
                Fail(SocketError.ConnectionRefused, nowMicros);
            }

            return;
        }

        // Fourth check: SYN.
        if (!seg.Has(TcpFlags.Syn))
        {
            return;
        }

        _irs = seg.Seq;
        _recv = new ReceiveBuffer(_irs + 1, _options.ReceiveBufferSize);
        Negotiate(seg.Options, nowMicros);
        _sndWnd = seg.Window; // RFC 7323 2.2: never scaled on a SYN
        _maxSndWnd = _sndWnd;
        _sndWl1 = seg.Seq;
        if (ack)
        {
            _sndUna = seg.Ack;
            _sndWl2 = seg.Ack;
            TakeHandshakeRttSample(seg, nowMicros);
            long emitted = _emitted;
            EnterEstablished(nowMicros);
            if (!seg.Payload.IsEmpty || seg.Has(TcpFlags.Fin))
            {
                // RFC 9293 3.10.7.3: "If there are other controls or text in the segment, then
                // continue processing at the sixth step" of ESTABLISHED; the text starts after the SYN.
                ProcessText(new TcpSegment(seg.Seq + 1, seg.Ack, seg.Flags & ~TcpFlags.Syn, seg.Window, seg.Options, seg.Payload), nowMicros);
                if (State == TcpState.Closed)
                {
                    return;
                }
            }

            Output(nowMicros);
            if (State != TcpState.Closed && _emitted == emitted)
            {
                SendAck(nowMicros); // RFC 9293 3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
            }
        }
        else
        {
            // Simultaneous open (RFC 9293 3.5, figure 7): SYN-RECEIVED, send SYN-ACK with our ISS.
            State = TcpState.SynReceived;
            _sndWl2 = _iss;
            _rtxCount = 0;
            SendSynAck(nowMicros, retransmission: false);
            _rtxDeadline = nowMicros + _rto.Rto;
        }
    }

    // ------------------------------------------------------------------ synchronized states

    private void ProcessSynchronized(in TcpSegment seg, long nowMicros)
    {
        ReceiveBuffer recv = _recv!;
        SeqNum rcvNxt = recv.RcvNxt;
        TcpFlags flags = seg.Flags;
        bool rst = (flags & TcpFlags.Rst) != 0;
        bool syn = (flags & TcpFlags.Syn) != 0;
        bool hasTs = seg.Options.Timestamps.HasValue;
        TcpTimestamps ts = seg.Options.Timestamps.GetValueOrDefault();

        // SYN-RECEIVED: a retransmitted SYN gets the SYN-ACK again (the first one was lost).
        if (State == TcpState.SynReceived && syn && !rst && (flags & TcpFlags.Ack) == 0 && seg.Seq == _irs)
        {
            SendSynAck(nowMicros, retransmission: true);
            return;
        }

        // RFC 7323 5.3 R1 (PAWS): a segment with an older timestamp is a duplicate from the past.
        if (_tsEnabled && hasTs && !rst && TsBefore(ts.TsVal, _tsRecent) && nowMicros - _tsRecentMicros < PawsIdleLimitMicros)
        {
            _counters.Add(TcpCounter.PawsRejected);
            if (seg.SegmentLength > 0 || syn)
            {
                SendAck(nowMicros);
            }

            return;
        }

        // Simultaneous open: the peer's SYN-ACK acknowledges our SYN (Linux's tcp_validate_incoming exception).
        bool simultaneousSynAck = State == TcpState.SynReceived && syn && (flags & TcpFlags.Ack) != 0 && !rst
            && seg.Seq + 1 == rcvNxt && seg.Ack == _sndMax && seg.Payload.IsEmpty;

        // First check: sequence number (RFC 9293 3.10.7.4). A segment exactly at RCV.NXT is always
        // looked at, so that ACKs, RSTs and FINs still get through a zero window.
        int segLen = seg.SegmentLength;
        uint rcvWnd = (uint)recv.AdvertisedWindow;
        bool acceptable = simultaneousSynAck || seg.Seq == rcvNxt || SeqNum.IsSegmentAcceptable(seg.Seq, (uint)segLen, rcvNxt, rcvWnd);
        if (!acceptable)
        {
            if (rst)
            {
                return;
            }

            if (State == TcpState.TimeWait && (flags & TcpFlags.Fin) != 0 && seg.Seq + segLen == rcvNxt)
            {
                // RFC 9293 3.10.7.4 TIME-WAIT: a retransmitted FIN: ACK it and restart the 2 MSL timeout.
                _timeWaitDeadline = nowMicros + TimeWaitMicros;
            }

            _counters.Add(TcpCounter.OutOfWindowSegments);
            SendAck(nowMicros);
            return;
        }

        // RFC 7323 4.3: TS.Recent follows the segment that covers Last.ACK.sent.
        if (_tsEnabled && hasTs && !TsBefore(ts.TsVal, _tsRecent) && seg.Seq <= _lastAckSent)
        {
            _tsRecent = ts.TsVal;
            _tsRecentMicros = nowMicros;
        }

        _keepAliveProbes = 0;
        _persistUnanswered = 0;
        _lastReceiveMicros = nowMicros;
        if (_options.KeepAlive is TcpKeepAliveOptions ka && State is TcpState.Established or TcpState.CloseWait)
        {
            _keepAliveDeadline = nowMicros + (ka.Idle.Ticks / 10);
        }

        // Second check: RST (RFC 9293 3.10.7.4; RFC 5961 3.2: only exactly at RCV.NXT, else a challenge ACK).
        if (rst)
        {
            if (seg.Seq != rcvNxt)
            {
                SendChallengeAck(nowMicros);
                return;
            }

            _counters.Add(TcpCounter.ResetsReceived);
            switch (State)
            {
                case TcpState.SynReceived:
                    Fail(SocketError.ConnectionRefused, nowMicros); // passive: the half-open entry goes; active: refused
                    break;
                case TcpState.Established:
                case TcpState.CloseWait:
                    _counters.Add(TcpCounter.EstablishedResets);
                    Fail(SocketError.ConnectionReset, nowMicros);
                    break;
                case TcpState.FinWait1:
                case TcpState.FinWait2:
                    Fail(SocketError.ConnectionReset, nowMicros);
                    break;
                default:
                    EnterClosed(); // CLOSING, LAST-ACK, TIME-WAIT: just delete the TCB
                    break;
            }

            return;
        }

        // Fourth check: SYN (RFC 5961 4.2: in a synchronized state any SYN gets a challenge ACK).
        if (syn && !simultaneousSynAck)
        {
            if (State == TcpState.SynReceived && _passive)
            {
                // RFC 9293 3.10.7.4: a passive SYN-RECEIVED connection returns to LISTEN (the half-open entry goes).
                _counters.Add(TcpCounter.AttemptFails);
                EnterClosed();
                return;
            }

            SendChallengeAck(nowMicros);
            return;
        }

        // Fifth check: ACK.
        if ((flags & TcpFlags.Ack) == 0)
        {
            return;
        }

        if (State == TcpState.SynReceived)
        {
            if (seg.Ack <= _sndUna || seg.Ack > _sndMax)
            {
                SendReset(seg.Ack, withAck: false, nowMicros); // RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>
                return;
            }

            _sndUna = _iss + 1;
            TakeHandshakeRttSample(seg, nowMicros);
            _sndWnd = (long)seg.Window << _sndShift;
            _maxSndWnd = Math.Max(_maxSndWnd, _sndWnd);
            _sndWl1 = seg.Seq;
            _sndWl2 = seg.Ack;
            EnterEstablished(nowMicros);
            if (simultaneousSynAck || State == TcpState.Closed)
            {
                return;
            }
        }

        // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX].
        if (seg.Ack > _sndMax || seg.Ack < _sndUna - (int)Math.Min(_maxSndWnd, int.MaxValue))
        {
            _counters.Add(TcpCounter.OutOfWindowAcksDropped);
            SendChallengeAck(nowMicros);
            return;
        }

        if (!ProcessAck(seg, nowMicros))
        {
            return; // the connection ended (LAST-ACK done)
        }

        // Seventh check: the segment text; eighth: FIN.
        ProcessText(seg, nowMicros);
        if (State == TcpState.Closed)
        {
            return;
        }

        Output(nowMicros);
        if (_ackNow)
        {
            SendAck(nowMicros);
        }
    }

    // RFC 9293 3.10.7.4 fifth check for ESTABLISHED and later; false when the TCB was deleted.
    private bool ProcessAck(in TcpSegment seg, long nowMicros)
    {
        SeqNum ack = seg.Ack;
        long segWnd = (long)seg.Window << _sndShift;
        bool windowChanged = segWnd != _sndWnd;

        if (ack > _sndUna)
        {
            int acked = ack - _sndUna;
            _send!.Acknowledge(ack, out int freed);
            _sndUna = ack;
            if (_sndNxt < _sndUna)
            {
                _sndNxt = _sndUna;
            }

            long flight = _sndMax - _sndUna;
            long? rtt = TakeRttSample(seg, flight, nowMicros);
            _rtxCount = 0;
            _persistProbes = 0;
            _lastProgressMicros = nowMicros;

            var info = new CongestionAck(acked, flight, rtt, nowMicros);
            if (_cc.InFastRecovery)
            {
                if (ack >= _recover)
                {
                    _cc.OnExitFastRecovery(info); // RFC 6582 3.2 step 5, full acknowledgment
                }
                else
                {
                    // RFC 6582 3.2 step 5, partial acknowledgment: resend the next hole, reset the timer.
                    _cc.OnPartialAck(info);
                    RetransmitHead(nowMicros);
                    _rtxDeadline = nowMicros + _rto.Rto;
                }
            }
            else
            {
                _cc.OnAck(info);
            }

            _dupAcks = 0;
            _limitedTransmit = 0;
            if (freed > 0)
            {
                _events |= TcpEvents.Writable;
            }

            // RFC 6298 5.2/5.3: stop the timer when everything is acknowledged, else restart it.
            _rtxDeadline = _sndUna == _sndMax ? Never : nowMicros + _rto.Rto;
        }
        else if (ack == _sndUna && seg.Payload.IsEmpty && (seg.Flags & (TcpFlags.Syn | TcpFlags.Fin)) == 0
            && _sndMax != _sndUna && !windowChanged)
        {
            // RFC 5681 2: a duplicate ACK.
            _dupAcks++;
            _counters.Add(TcpCounter.DuplicateAcksReceived);
            if (_cc.InFastRecovery)
            {
                _cc.OnDuplicateAck(nowMicros); // RFC 5681 3.2 step 4
            }
            else if (_dupAcks < CongestionRules.DuplicateAckThreshold)
            {
                // RFC 3042 limited transmit: each of the first two duplicate ACKs lets one new segment out
                // beyond cwnd (FlightSize <= cwnd + 2 * SMSS), so that a small window still collects three.
                _limitedTransmit = _dupAcks * (long)_mss;
            }
            else if (_dupAcks == CongestionRules.DuplicateAckThreshold && (!_recoverValid || ack >= _recover))
            {
                _limitedTransmit = 0;
                // RFC 5681 3.2 steps 2-3, RFC 6582 3.2 step 2: fast retransmit, enter fast recovery.
                _recover = _sndMax;
                _recoverValid = true;
                _cc.OnEnterFastRecovery(_sndMax - _sndUna, nowMicros);
                _counters.Add(TcpCounter.FastRetransmits);
                _rttTiming = false;
                RetransmitHead(nowMicros);
            }
        }

        // RFC 9293 3.10.7.4: update the send window from the newest segment (SND.WL1, SND.WL2).
        if (ack >= _sndUna && (_sndWl1 < seg.Seq || (_sndWl1 == seg.Seq && _sndWl2 <= ack)))
        {
            _sndWnd = segWnd;
            _sndWl1 = seg.Seq;
            _sndWl2 = ack;
            _maxSndWnd = Math.Max(_maxSndWnd, _sndWnd);
            if (_sndWnd > 0 && _persistDeadline != Never)
            {
                _persistDeadline = Never;
                _persistProbes = 0;
            }
        }

        SendBuffer send = _send!;
        switch (State)
        {
            case TcpState.FinWait1 when send.IsFinAcknowledged:
                State = TcpState.FinWait2;
                if (_appClosed)
                {
                    _finWait2Deadline = nowMicros + (_options.FinWait2Timeout.Ticks / 10);
                }

                break;
            case TcpState.Closing when send.IsFinAcknowledged:
                EnterTimeWait(nowMicros);
                break;
            case TcpState.LastAck when send.IsFinAcknowledged:
                EnterClosed();
                return false;
            default:
                break;
        }

        return true;
    }

    private void ProcessText(in TcpSegment seg, long nowMicros)
    {
        bool fin = seg.Has(TcpFlags.Fin);
        ReadOnlySpan<byte> payload = seg.Payload;
        if (payload.IsEmpty && !fin)
        {
            return;
        }

        if (State is not (TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2))
        {
            return; // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN was already received
        }

        ReceiveBuffer recv = _recv!;
        if (_appClosed && !payload.IsEmpty && seg.Seq + payload.Length > recv.RcvNxt)
        {
            // New data for an application that closed: nobody will read it (Linux: RST, "data after close").
            SendReset(_sndMax, withAck: true, nowMicros);
            _counters.Add(TcpCounter.Aborts);
            EnterClosed();
            return;
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
            long delay = DelayedAckMicros;
            _largestSegmentReceived = Math.Max(_largestSegmentReceived, payload.Length);
            int fullSized = Math.Min(_rcvMss, Math.Max(_largestSegmentReceived, DefaultPeerMss));
            if (delay == 0 || recv.RcvNxt - _lastAckSent >= 2 * fullSized)
            {
                _ackNow = true;
            }
            else if (_delAckDeadline == Never)
            {
                _delAckDeadline = nowMicros + delay;
            }
        }

        if (r.FinReached)
        {
            // Eighth check: FIN (RFC 9293 3.10.7.4).
            _events |= TcpEvents.Readable | TcpEvents.ReceiveCompleted;
            switch (State)
            {
                case TcpState.Established:
                    State = TcpState.CloseWait;
                    break;
                case TcpState.FinWait1:
                    if (_send!.IsFinAcknowledged)
                    {
                        EnterTimeWait(nowMicros);
                    }
                    else
                    {
                        State = TcpState.Closing;
                    }

                    break;
                case TcpState.FinWait2:
                    EnterTimeWait(nowMicros);
                    break;
                default:
                    break;
            }
        }
    }

    // ------------------------------------------------------------------ output

    // Sends what the windows, Nagle and sender SWS avoidance allow (RFC 9293 3.7.4, 3.8.6.2.1).
    private void Output(long nowMicros)
    {
        if (State is not (TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck))
        {
            return;
        }

        SendBuffer send = _send!;
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
            if (!retransmission && dataRemaining > 0 && _sndUna == _sndMax && _lastSendMicros != long.MinValue
                && CongestionRules.IsRestartAfterIdle(_lastSendMicros, nowMicros, _rto.Rto))
            {
                _cc.OnRestartAfterIdle(nowMicros); // RFC 5681 4.1
            }

            long window = Math.Min(_sndWnd, _cc.CongestionWindow + (retransmission || _cc.InFastRecovery ? 0 : _limitedTransmit));
            long usable = window - (_sndNxt - _sndUna);
            int len = (int)Math.Clamp(Math.Min(Math.Min(_mss, dataRemaining), usable), 0, int.MaxValue);
            bool fin = finPending && len == dataRemaining;
            if (len == 0 && !fin)
            {
                break;
            }

            if (len < _mss && len > 0 && !retransmission)
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

            Transmit(_sndNxt, len, fin, nowMicros);
        }

        ArmPersistIfStalled(nowMicros);
    }

    // Arms the persist timer when data waits, nothing is in flight and the window keeps it back (RFC 9293 3.8.6.1).
    private void ArmPersistIfStalled(long nowMicros)
    {
        SendBuffer send = _send!;
        bool pending = (send.SndUna + send.Buffered) - _sndNxt > 0 || (send.IsWriteCompleted && !send.IsFinSent);
        if (pending && _sndUna == _sndMax && _rtxDeadline == Never && _persistDeadline == Never)
        {
            _persistDeadline = nowMicros + PersistInterval();
        }
    }

    private long PersistInterval()
    {
        long interval = _rto.Rto;
        for (int i = 0; i < _persistProbes && interval < MaxPersistMicros; i++)
        {
            interval *= 2;
        }

        return Math.Min(interval, MaxPersistMicros);
    }

    // Sends [seq, seq + len) (+ FIN) from the send buffer with ACK, PSH at the end of the data.
    private void Transmit(SeqNum seq, int len, bool fin, long nowMicros)
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
            _lastProgressMicros = nowMicros; // the user timeout counts from when data went out unacknowledged
        }

        SendSegment(flags, seq, first, second, nowMicros);
        SeqNum end = seq + len + (fin ? 1 : 0);
        if (retransmission)
        {
            _retransmissions++;
            _counters.Add(TcpCounter.SegmentsRetransmitted);
            _tsAtLastRetransmit = TsNow(nowMicros);
            _hasRetransmitTs = true;
            if (_rttTiming && _rttSeq > seq)
            {
                _rttTiming = false; // Karn's rule (RFC 6298 3)
            }
        }
        else
        {
            _bytesSent += len;
            if (!_rttTiming && !_tsEnabled && len > 0)
            {
                _rttTiming = true;
                _rttSeq = end;
                _rttStartMicros = nowMicros;
            }
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
            _lastSendMicros = nowMicros;
        }

        if (_rtxDeadline == Never)
        {
            _rtxDeadline = nowMicros + _rto.Rto;
        }

        _persistDeadline = Never;
    }

    // Resends the first unacknowledged segment (fast retransmit, partial ACK, RTO).
    private void RetransmitHead(long nowMicros)
    {
        SendBuffer send = _send!;
        int dataRemaining = Math.Max(send.Buffered - Math.Max(_sndUna - send.SndUna, 0), 0);
        int len = Math.Min(_mss, Math.Min(dataRemaining, Math.Max(_sndMax - _sndUna, 0)));
        bool fin = send.IsFinSent && !send.IsFinAcknowledged && _sndUna + len == send.FinSequence;
        if (len == 0 && !fin)
        {
            return;
        }

        Transmit(_sndUna, len, fin, nowMicros);
    }

    private void OnRetransmissionTimeout(long nowMicros)
    {
        _rtxDeadline = Never;
        if (_sndMax == _sndUna && State is not (TcpState.SynSent or TcpState.SynReceived))
        {
            return; // nothing outstanding (a stale deadline)
        }

        _counters.Add(TcpCounter.Timeouts);
        switch (State)
        {
            case TcpState.SynSent:
                if (_rtxCount >= _options.SynRetries)
                {
                    _counters.Add(TcpCounter.ConnectionTimeouts);
                    Fail(_softError != SocketError.Success ? _softError : SocketError.TimedOut, nowMicros);
                    return;
                }

                _rtxCount++;
                _rto.BackOff(); // RFC 6298 5.5
                _synRetransmitted = true;
                SendSyn(nowMicros, retransmission: true);
                _rtxDeadline = nowMicros + _rto.Rto;
                return;
            case TcpState.SynReceived:
                if (_rtxCount >= _options.SynAckRetries)
                {
                    _counters.Add(TcpCounter.ConnectionTimeouts);
                    Fail(SocketError.TimedOut, nowMicros);
                    return;
                }

                _rtxCount++;
                _rto.BackOff();
                _synRetransmitted = true;
                SendSynAck(nowMicros, retransmission: true);
                _rtxDeadline = nowMicros + _rto.Rto;
                return;
            default:
                break;
        }

        bool zeroWindow = _sndWnd == 0;
        if (zeroWindow ? nowMicros - _lastReceiveMicros > _rto.MaximumRtoMicros : _rtxCount >= _options.MaxRetransmissions)
        {
            // Like Linux's tcp_retransmit_timer: a peer that shrank its window to zero gets our
            // retransmissions as window probes and is only given up when it fell silent for TCP_RTO_MAX.
            _counters.Add(TcpCounter.ConnectionTimeouts);
            Fail(SocketError.TimedOut, nowMicros);
            return;
        }

        // RFC 5681 3.1 / RFC 6298 5.4-5.6: loss window, back off, resend the earliest segment.
        _cc.OnRetransmissionTimeout(_sndMax - _sndUna, _rtxCount > 0, nowMicros);
        _rtxCount++;
        _rto.BackOff();
        _recover = _sndMax; // RFC 6582 4: after a timeout, recover = the highest sequence number sent
        _recoverValid = true;
        _dupAcks = 0;
        _limitedTransmit = 0;
        _rttTiming = false;
        _sndNxt = _sndUna; // go back: what follows is resent as the window reopens
        RetransmitHead(nowMicros);
        _rtxDeadline = nowMicros + _rto.Rto;
    }

    private void OnPersistTimeout(long nowMicros)
    {
        _persistDeadline = Never;
        if (State is not (TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck)
            || _sndUna != _sndMax)
        {
            return;
        }

        SendBuffer send = _send!;
        int dataRemaining = Math.Max((send.SndUna + send.Buffered) - _sndNxt, 0);
        bool finPending = send.IsWriteCompleted && !send.IsFinSent;
        if (dataRemaining == 0 && !finPending)
        {
            return;
        }

        long usable = Math.Min(_sndWnd, _cc.CongestionWindow);
        if (usable > 0)
        {
            // RFC 9293 3.8.6.2.1: the override timeout: send what the (small) window takes.
            int len = (int)Math.Min(Math.Min(_mss, dataRemaining), usable);
            Transmit(_sndNxt, len, finPending && len == dataRemaining, nowMicros);
            return;
        }

        if (_persistUnanswered >= _options.MaxRetransmissions)
        {
            // Like Linux's tcp_probe_timer: probes the peer never answered (tcp_retries2 of them).
            _counters.Add(TcpCounter.ConnectionTimeouts);
            Fail(SocketError.TimedOut, nowMicros);
            return;
        }

        // RFC 9293 3.8.6.1: probe the zero window. Like Linux, with an already acknowledged sequence
        // number (SND.UNA - 1) and no data: the peer must answer with an ACK carrying its window.
        _counters.Add(TcpCounter.ZeroWindowProbes);
        SendSegment(TcpFlags.Ack, _sndUna - 1, default, default, nowMicros);
        _persistProbes++;
        _persistUnanswered++;
        _persistDeadline = nowMicros + PersistInterval();
    }

    private void OnKeepAliveTimeout(long nowMicros)
    {
        _keepAliveDeadline = Never;
        if (_options.KeepAlive is not TcpKeepAliveOptions ka || State is not (TcpState.Established or TcpState.CloseWait))
        {
            return;
        }

        SendBuffer send = _send!;
        if (_sndMax != _sndUna || send.Unsent > 0)
        {
            _keepAliveDeadline = nowMicros + (ka.Idle.Ticks / 10); // busy: the retransmission timer watches the peer
            return;
        }

        if (_keepAliveProbes >= ka.ProbeCount)
        {
            // RFC 1122 4.2.3.6: the peer is dead. Linux sends a RST and reports ETIMEDOUT.
            _counters.Add(TcpCounter.KeepAliveTimeouts);
            SendReset(_sndMax, withAck: true, nowMicros);
            Fail(SocketError.TimedOut, nowMicros);
            return;
        }

        // RFC 9293 3.8.4: a probe with SEG.SEQ = SND.NXT - 1 and no data elicits an ACK.
        _counters.Add(TcpCounter.KeepAliveProbes);
        SendSegment(TcpFlags.Ack, _sndUna - 1, default, default, nowMicros);
        _keepAliveProbes++;
        _keepAliveDeadline = nowMicros + (ka.Interval.Ticks / 10);
    }

    // ------------------------------------------------------------------ segments out

    private void SendSyn(long nowMicros, bool retransmission)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _iss,
            Flags = TcpFlags.Syn,
            Window = (ushort)Math.Min(_options.ReceiveBufferSize, ushort.MaxValue), // RFC 7323 2.2: a SYN's window is not scaled
        };
        o.Options.Mss = (ushort)_announcedMss;
        if (_options.WindowScaling)
        {
            o.Options.WindowScale = (byte)ChooseWindowScale(_options.ReceiveBufferSize);
        }

        o.Options.SackPermitted = _options.SackPermitted;
        if (_options.Timestamps)
        {
            o.Options.Timestamps = new TcpTimestamps(TsNow(nowMicros), 0);
        }

        if (retransmission)
        {
            _retransmissions++;
            _counters.Add(TcpCounter.SegmentsRetransmitted);
        }

        _sndNxt = _iss + 1;
        _sndMax = _sndNxt;
        Emit(o, default, default, nowMicros);
    }

    private void SendSynAck(long nowMicros, bool retransmission)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _iss,
            Ack = _recv!.RcvNxt,
            Flags = TcpFlags.Syn | TcpFlags.Ack,
            Window = (ushort)Math.Min(_recv.WindowToAdvertise(_rcvMss), ushort.MaxValue),
        };
        o.Options.Mss = (ushort)_announcedMss;
        if (_wsNegotiated)
        {
            o.Options.WindowScale = (byte)_rcvShift;
        }

        if (_tsEnabled)
        {
            o.Options.Timestamps = new TcpTimestamps(TsNow(nowMicros), _tsRecent);
        }

        if (retransmission)
        {
            _retransmissions++;
            _counters.Add(TcpCounter.SegmentsRetransmitted);
        }

        _lastAckSent = o.Ack;
        _sndNxt = _iss + 1;
        _sndMax = _sndNxt;
        Emit(o, default, default, nowMicros);
    }

    // A pure ACK carries the highest sequence number sent (SND.NXT in RFC 9293 terms; ours may have been
    // rewound by a timeout), kept inside the peer's window like Linux's tcp_acceptable_seq, so the peer
    // finds it acceptable (RFC 9293 3.10.7.4 first check) and processes its ACK field.
    private void SendAck(long nowMicros)
    {
        SeqNum windowEnd = _sndUna + (int)Math.Min(_sndWnd, int.MaxValue);
        SeqNum seq = _sndMax <= windowEnd ? _sndMax : SeqNum.Max(windowEnd, _sndUna);
        SendSegment(TcpFlags.Ack, seq, default, default, nowMicros);
    }

    private void SendChallengeAck(long nowMicros)
    {
        // RFC 5961 7: challenge ACKs are rate-limited stack-wide.
        if (_env.ChallengeAckLimiter.TryAcquire(nowMicros))
        {
            _counters.Add(TcpCounter.ChallengeAcksSent);
            SendAck(nowMicros);
        }
        else
        {
            _counters.Add(TcpCounter.ChallengeAcksSuppressed);
        }
    }

    // A segment of a synchronized connection: ACK of RCV.NXT, our window, timestamps.
    private void SendSegment(TcpFlags flags, SeqNum seq, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, long nowMicros)
    {
        ReceiveBuffer recv = _recv!;
        var o = new TcpOutgoingSegment { Seq = seq, Flags = flags, Ack = recv.RcvNxt };
        long window = recv.WindowToAdvertise(_rcvMss) >> _rcvShift; // RFC 7323 2.3
        o.Window = (ushort)Math.Min(window, ushort.MaxValue);
        if (_tsEnabled)
        {
            o.Options.Timestamps = new TcpTimestamps(TsNow(nowMicros), _tsRecent); // RFC 7323 3.2, 4.3
        }

        _lastAckSent = o.Ack;
        _ackNow = false;
        _delAckDeadline = Never;
        Emit(o, first, second, nowMicros);
    }

    // RST answering a segment (RFC 9293 3.10.7.1 / 3.10.7.3 / 3.10.7.4): never for a RST.
    private void SendResetFor(in TcpSegment seg, long nowMicros)
    {
        if (TcpOutgoingSegment.TryCreateResetFor(in seg, out TcpOutgoingSegment reset))
        {
            _counters.Add(TcpCounter.ResetsSent);
            Emit(reset, default, default, nowMicros);
        }
    }

    private void SendReset(SeqNum seq, bool withAck, long nowMicros)
    {
        var o = new TcpOutgoingSegment { Seq = seq, Flags = TcpFlags.Rst };
        if (withAck && _recv is not null)
        {
            o.Flags |= TcpFlags.Ack;
            o.Ack = _recv.RcvNxt;
        }

        _counters.Add(TcpCounter.ResetsSent);
        Emit(o, default, default, nowMicros);
    }

    private void Emit(in TcpOutgoingSegment o, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, long nowMicros)
    {
        _counters.Add(TcpCounter.SegmentsSent);
        _emitted++;
        FlushReceivedTrace(nowMicros); // the segment being processed is reported before its replies
        _env.Output.Send(Tuple, o, first, second);
        Trace(true, o.Seq, o.Ack, o.Flags, o.Window, first.Length + second.Length, nowMicros);
    }

    // The trace of a received segment waits until the first segment sent in answer (or the end of
    // its processing), so that it comes before its replies yet carries the state they are sent in.
    private void BeginReceivedTrace(in TcpSegment segment)
    {
        if (_env.Trace is null)
        {
            return;
        }

        _tracedIn = new TcpTraceEvent(Tuple, false, segment.Seq, segment.Ack, segment.Flags, segment.Window, segment.Payload.Length, State, 0);
        _tracedInPending = true;
    }

    private void FlushReceivedTrace(long nowMicros)
    {
        if (_tracedInPending)
        {
            _tracedInPending = false;
            _env.Trace?.Invoke(_tracedIn with { State = State, NowMicros = nowMicros });
        }
    }

    private void Trace(bool outgoing, SeqNum seq, SeqNum ack, TcpFlags flags, ushort window, int length, long nowMicros) =>
        _env.Trace?.Invoke(new TcpTraceEvent(Tuple, outgoing, seq, ack, flags, window, length, State, nowMicros));

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
        _recover = _iss;
    }

    // RFC 9293 3.7.1 (MSS), RFC 7323 2.2 (window scale, both or neither), RFC 7323 3.2 (timestamps, both or neither).
    private void Negotiate(TcpOptions peer, long nowMicros)
    {
        _peerMss = peer.Mss is ushort m ? Math.Max((int)m, MinimumMss) : DefaultPeerMss;
        if (peer.WindowScale.HasValue && _options.WindowScaling)
        {
            _wsNegotiated = true;
            _sndShift = peer.WindowScaleShift; // clamped to 14 (RFC 7323 2.3)
            _rcvShift = ChooseWindowScale(_options.ReceiveBufferSize);
        }

        if (peer.Timestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _tsEnabled = true;
            _tsRecent = ts.TsVal;
            _tsRecentMicros = nowMicros;
        }

        ComputeMss();
    }

    private void ComputeMss()
    {
        // RFC 9293 3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize - IPoptionsize, with
        // the timestamp option counted in the header (as Linux does).
        int options = _tsEnabled ? TimestampOptionLength : 0;
        _mss = Math.Max(Math.Min(Math.Min(_peerMss, _announcedMss), _pathMss) - options, MinimumMss);
        _rcvMss = Math.Max(_announcedMss - options, MinimumMss);
    }

    private void TakeHandshakeRttSample(in TcpSegment seg, long nowMicros)
    {
        if (_tsEnabled && seg.Options.Timestamps is TcpTimestamps ts && ts.TsEcr != 0
            && RtoEstimator.TryGetTimestampSample(TsNow(nowMicros), ts.TsEcr, MicrosPerTimestampTick, out long rtt))
        {
            _rto.AddSample(rtt);
        }
        else if (!_synRetransmitted)
        {
            _rto.AddSample(nowMicros - _synSentMicros);
        }
    }

    private long? TakeRttSample(in TcpSegment seg, long flight, long nowMicros)
    {
        if (_tsEnabled && seg.Options.Timestamps is TcpTimestamps ts && ts.TsEcr != 0)
        {
            // RFC 7323 4.1: every ACK of new data gives a measurement. But an echo older than our last
            // retransmission may be the receiver's TS.Recent from an earlier copy, kept while it
            // answered a later duplicate (RFC 7323 4.3): the sample would include a whole RTO and
            // inflate the RTO ever further under heavy loss. Such echoes are skipped, Karn-style.
            if (_hasRetransmitTs && TsBefore(ts.TsEcr, _tsAtLastRetransmit))
            {
                return null;
            }

            if (RtoEstimator.TryGetTimestampSample(TsNow(nowMicros), ts.TsEcr, MicrosPerTimestampTick, out long rtt))
            {
                _rto.AddSample(rtt, RtoEstimator.ExpectedSamplesPerWindow(flight + _mss, _mss));
                return rtt;
            }

            return null;
        }

        if (_rttTiming && seg.Ack >= _rttSeq)
        {
            _rttTiming = false;
            long rtt = nowMicros - _rttStartMicros;
            _rto.AddSample(rtt);
            return rtt;
        }

        return null;
    }

    private void EnterEstablished(long nowMicros)
    {
        State = TcpState.Established;
        _events |= TcpEvents.Established | TcpEvents.Writable;
        _counters.Add(TcpCounter.CurrentEstablished);
        _countedEstablished = true;
        _connectDeadline = Never;
        _rtxDeadline = Never;
        _rtxCount = 0;
        _sndNxt = _sndUna;
        _sndMax = _sndUna;
        _lastProgressMicros = nowMicros;
        _lastReceiveMicros = nowMicros;
        if (_synRetransmitted)
        {
            _rto.OnHandshakeCompletedAfterSynLoss(); // RFC 6298 5.7
        }

        _cc.OnConnectionEstablished(_mss, nowMicros);
        if (_options.KeepAlive is TcpKeepAliveOptions ka)
        {
            _keepAliveDeadline = nowMicros + (ka.Idle.Ticks / 10);
        }

        if (_finPending)
        {
            _finPending = false;
            CompleteWrites(nowMicros);
        }
    }

    private void EnterTimeWait(long nowMicros)
    {
        LeaveEstablishedCount();
        State = TcpState.TimeWait;
        _events |= TcpEvents.TimeWaitEntered;
        _counters.Add(TcpCounter.TimeWaitEntered);
        StopTimers();
        _timeWaitDeadline = nowMicros + TimeWaitMicros;
        _send?.Release();
        _recv?.Release();
    }

    private void EnterClosed()
    {
        if (State == TcpState.Closed && _events.HasFlag(TcpEvents.Closed))
        {
            return;
        }

        LeaveEstablishedCount();
        State = TcpState.Closed;
        _events |= TcpEvents.Closed;
        _ackNow = false;
        StopTimers();
        _send?.Release();
        _recv?.Release();
    }

    private void Fail(SocketError error, long nowMicros)
    {
        _ = nowMicros;
        if (State is TcpState.SynSent or TcpState.SynReceived)
        {
            _counters.Add(TcpCounter.AttemptFails);
        }

        Error = error;
        _events |= TcpEvents.Error;
        EnterClosed();
    }

    private void LeaveEstablishedCount()
    {
        if (_countedEstablished)
        {
            _countedEstablished = false;
            _counters.Add(TcpCounter.CurrentEstablished, -1);
        }
    }

    private void StopTimers()
    {
        _rtxDeadline = Never;
        _persistDeadline = Never;
        _delAckDeadline = Never;
        _keepAliveDeadline = Never;
        _timeWaitDeadline = Never;
        _finWait2Deadline = Never;
        _connectDeadline = Never;
    }

    private (string? Name, long Deadline) ActiveTimer()
    {
        (string? name, long deadline) best = (null, Never);
        Consider(ref best, "retrans", _rtxDeadline);
        Consider(ref best, "persist", _persistDeadline);
        Consider(ref best, "delack", _delAckDeadline);
        Consider(ref best, "keepalive", _keepAliveDeadline);
        Consider(ref best, "timewait", _timeWaitDeadline);
        Consider(ref best, "finwait2", _finWait2Deadline);
        Consider(ref best, "connect", _connectDeadline);
        Consider(ref best, "user", UserTimeoutDeadline);
        return best;

        static void Consider(ref (string? Name, long Deadline) best, string name, long deadline)
        {
            if (deadline < best.Deadline)
            {
                best = (name, deadline);
            }
        }
    }

    private long TimeWaitMicros => 2 * (_options.Msl.Ticks / 10);

    private long DelayedAckMicros => Math.Clamp(_options.DelayedAckTimeout.Ticks / 10, 0, MaxDelayedAckMicros);

    private uint TsNow(long nowMicros) => unchecked(TimestampClock(nowMicros) + _tsOffset);

    /// <summary>The timestamp clock before the per-connection offset (1 ms ticks); SYN-cookie SYN-ACKs use it too, so a connection rebuilt from a cookie continues their clock.</summary>
    internal static uint TimestampClock(long nowMicros) => unchecked((uint)(nowMicros / MicrosPerTimestampTick));

    private static bool TsBefore(uint a, uint b) => unchecked((int)(a - b)) < 0;

    private static bool TsAfter(uint a, uint b) => unchecked((int)(a - b)) > 0;

    private static bool IsSynchronized(TcpState state) =>
        state is not (TcpState.Closed or TcpState.Listen or TcpState.SynSent);
}
