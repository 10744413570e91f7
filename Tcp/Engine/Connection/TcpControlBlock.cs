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
/// <para>The control block is the orchestrator: it owns the state and the order of processing.
/// <see cref="OnSegment"/> walks RFC 9293 3.10.7 step by step, each step returning a
/// <see cref="StepOutcome"/>; <see cref="OnTimer"/> runs the due timers of the
/// <see cref="TcpTimerSet"/>; the user calls follow RFC 9293 3.10.1-3.10.5. The mechanisms are
/// their own types: the <see cref="TcpSender"/> (send sequence space, output, retransmission and
/// persist, RTT sampling, loss recovery, congestion control), the <see cref="TcpReceiver"/>
/// (reassembly, advertised window, when to ACK), <see cref="TimestampState"/> (RFC 7323),
/// <see cref="SegmentSizes"/> (MSS), <see cref="Engine.KeepAlive"/> and the <see cref="SegmentEmitter"/>.</para>
/// <para>The handshake is the control block's own: it sends SYN and SYN-ACK (and their
/// retransmissions) with the options <see cref="OptionNegotiation"/> settles. The send and receive
/// rings are allocated on first use, grow by doubling and are released in TIME-WAIT and CLOSED.</para>
/// <para>The class is written in two files along RFC 9293 3.10's own division of event processing:
/// this one holds segment arrival (3.10.7), timeouts (3.10.8) and the state changes; the user calls
/// OPEN to STATUS (3.10.1-3.10.6) are in TcpControlBlock.UserCalls.cs.</para>
/// </remarks>
internal sealed partial class TcpControlBlock : ISegmentTransmitter
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

    private readonly TcpConnectionOptions _options;
    private readonly TcpEngineEnvironment _env;
    private readonly TcpCounters _counters;
    private readonly TcpTimerSet _timers = new();
    private readonly TimestampState _ts = new();
    private readonly SegmentSizes _sizes;
    private readonly OptionNegotiation _negotiation;
    private readonly TcpSender _sender;
    private readonly TcpReceiver _receiver;
    private readonly KeepAlive _keepAlive;
    private readonly SegmentEmitter _emitter;
    private int _synRetries;
    private bool _passive;
    private bool _appClosed;
    private bool _finPending;
    private bool _countedEstablished;
    private SocketError _softError;
    private TcpEvents _events;
    private Micros _handedOverUntil = Micros.Never;

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
        ArgumentOutOfRangeException.ThrowIfNegative(options.QuickAcks, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SendBufferCap, SendBuffer.MaxCapacity, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ReceiveBufferCap, ReceiveBuffer.MaxCapacity, nameof(options));
        Tuple = tuple;
        _options = options;
        _env = env;
        _counters = env.Counters;
        _sizes = new SegmentSizes(options.Mss ?? env.DefaultMss, tuple.RemoteAddress.IsIpv6) { SegmentationLimit = options.SegmentationLimit };
        _negotiation = new OptionNegotiation(options, _sizes, _ts);
        _sender = new TcpSender(options, env, _timers, _sizes, _ts, this);
        _receiver = new TcpReceiver(options, _counters, _timers, _sizes, _ts);
        _keepAlive = new KeepAlive(options.KeepAlive);
        _emitter = new SegmentEmitter(tuple, env);
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
    public int ReadableBytes => _receiver.Buffer?.Readable ?? 0;

    /// <summary>
    /// A read waiting for data (the application's stream sets it when its read starts to wait): the
    /// next in-order data goes straight into it while nothing is unread (one copy). Cleared when
    /// asked, and when the connection closes.
    /// </summary>
    internal IReceiveReader? Reader
    {
        get => _receiver.Reader;
        set => _receiver.Reader = value;
    }

    /// <summary>FIN received and every byte before it read.</summary>
    public bool IsReceiveCompleted => _receiver.Buffer?.IsCompleted ?? false;

    /// <summary>Free bytes in the send buffer (0 after <see cref="CompleteWrites"/> or once closed).</summary>
    public int SendSpace => _sender.Buffer is SendBuffer send && !_finPending && State is TcpState.SynSent or TcpState.SynReceived or TcpState.Established or TcpState.CloseWait
        ? send.Free
        : 0;

    /// <summary>Nagle's algorithm off (RFC 9293 3.7.4).</summary>
    public bool NoDelay
    {
        get => _sender.NoDelay;
        set => _sender.NoDelay = value;
    }

    /// <summary>The effective send MSS (payload bytes per segment, options excluded).</summary>
    public int Mss => _sizes.Send;

    /// <summary>The window scale shifts in use (send, receive); 0 when not negotiated.</summary>
    internal (int Send, int Receive) WindowShifts => (_sender.Shift, _receiver.Shift);

    /// <summary>Whether timestamps were negotiated.</summary>
    internal bool TimestampsEnabled => _ts.Enabled;

    /// <summary>ISS.</summary>
    internal SeqNum Iss => _sender.Iss;

    /// <summary>SND.UNA.</summary>
    internal SeqNum SndUna => _sender.Una;

    /// <summary>SND.NXT.</summary>
    internal SeqNum SndNxt => _sender.Nxt;

    /// <summary>SND.MAX: one past the highest sequence number sent (RFC 6582's "highest sequence number transmitted").</summary>
    internal SeqNum SndMax => _sender.Max;

    /// <summary>The earlier of the retransmission and persist deadlines, in microseconds (<see cref="long.MaxValue"/> when neither runs).</summary>
    internal long SendTimerDeadlineMicros => Micros.Min(_timers.Deadline(TcpTimer.Retransmission), _timers.Deadline(TcpTimer.Persist)).Value;

    /// <summary>SND.WND in bytes (scaled).</summary>
    internal long SndWnd => _sender.Window;

    /// <summary>RCV.NXT (0 before the peer's SYN).</summary>
    internal SeqNum RcvNxt => _receiver.RcvNxt;

    /// <summary>
    /// True when a run of in-order segments starting at <paramref name="seq"/> may be merged
    /// before input (receive coalescing): ESTABLISHED, <paramref name="seq"/> is RCV.NXT, and no
    /// data is held out of order, so the run neither arrives out of order nor fills a hole.
    /// </summary>
    internal bool AcceptsInOrderRunAt(SeqNum seq) =>
        State == TcpState.Established && seq == _receiver.RcvNxt && _receiver.Buffer is { IntervalCount: 0 };

    /// <summary>The congestion controller.</summary>
    internal ICongestionController Congestion => _sender.Congestion;

    /// <summary>The RTO estimator.</summary>
    internal RtoEstimator RtoEstimator => _sender.RtoEstimator;

    /// <summary>Ring bytes allocated by the send and receive buffers.</summary>
    internal int AllocatedBufferBytes => (_sender.Buffer?.AllocatedBytes ?? 0) + (_receiver.Buffer?.AllocatedBytes ?? 0);

    private bool IsSendingState => State is TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck;

    private Micros TimeWaitDuration => Micros.FromTimeSpan(_options.Msl) * 2;

    /// <summary>
    /// The window scale shift this side announces for a receive buffer (RFC 7323 2.3): the smallest
    /// that fits the buffer in the 16-bit field, at most 14. The layer uses it for cookie SYN-ACKs.
    /// </summary>
    /// <param name="receiveBufferSize">The receive buffer size in bytes.</param>
    /// <returns>The shift count.</returns>
    public static int ChooseWindowScale(int receiveBufferSize) => OptionNegotiation.ChooseWindowScale(receiveBufferSize);

    /// <summary>The timestamp clock before the per-connection offset (1 ms ticks); SYN-cookie SYN-ACKs use it too, so a connection rebuilt from a cookie continues their clock.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The clock value.</returns>
    internal static uint TimestampClock(Micros now) => TimestampState.Clock(now);

    // ------------------------------------------------------------------ SEGMENT ARRIVES (RFC 9293 3.10.7)

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

    // RFC 9293 3.10.7.3.
    private StepOutcome ProcessSynSent(in TcpSegment seg, Micros now)
    {
        bool ack = seg.Has(TcpFlags.Ack);
        bool rst = seg.Has(TcpFlags.Rst);

        // First check: an ACK must acknowledge our SYN and nothing more.
        if (ack && (seg.Ack <= _sender.Iss || seg.Ack > _sender.Max))
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

        _receiver.Start(seg.Seq, ourSynSent: true);
        Negotiate(seg.Options, now);
        _sender.SetWindow(seg.Window, seg.Seq, ack ? seg.Ack : _sender.Iss); // RFC 7323 2.2: never scaled on a SYN
        if (!ack)
        {
            // Simultaneous open (RFC 9293 3.5, figure 7): SYN-RECEIVED, send SYN-ACK with our ISS.
            State = TcpState.SynReceived;
            _synRetries = 0;
            SendSynAck(now);
            _timers.Arm(TcpTimer.Retransmission, now + _sender.Rto);
            return StepOutcome.Done;
        }

        _sender.OnSynAcknowledged(seg.Ack);
        _sender.Rtt.OnSynAcknowledged(seg, now);
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

    // RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states, one check after the other.
    private void ProcessSynchronized(in TcpSegment seg, Micros now)
    {
        // Simultaneous open: the peer's SYN-ACK acknowledges our SYN (Linux's tcp_validate_incoming exception).
        bool simultaneousSynAck = State == TcpState.SynReceived && seg.Has(TcpFlags.Syn | TcpFlags.Ack) && !seg.Has(TcpFlags.Rst)
            && seg.Seq + 1 == _receiver.RcvNxt && seg.Ack == _sender.Max && seg.Payload.IsEmpty;

        if (State == TcpState.TimeWait && seg.Has(TcpFlags.Rst))
        {
            return; // RFC 1337 3 (TW1): TIME-WAIT ignores every RST, as TimeWaitRecord.OnSegment does (see its remarks)
        }

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
            if (_receiver.AckDue)
            {
                SendAck(now);
            }
        }
    }

    // First check: sequence number, with PAWS (RFC 7323 5.3) before it.
    private StepOutcome CheckSequenceNumber(in TcpSegment seg, bool simultaneousSynAck, Micros now)
    {
        SeqNum rcvNxt = _receiver.RcvNxt;
        bool rst = seg.Has(TcpFlags.Rst);
        bool syn = seg.Has(TcpFlags.Syn);

        // SYN-RECEIVED: a retransmitted SYN gets the SYN-ACK again (the first one was lost).
        if (State == TcpState.SynReceived && syn && !rst && !seg.Has(TcpFlags.Ack) && seg.Seq == _receiver.Irs)
        {
            CountRetransmission();
            SendSynAck(now);
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
        bool acceptable = simultaneousSynAck || seg.Seq == rcvNxt
            || SeqNum.IsSegmentAcceptable(seg.Seq, (uint)segLen, rcvNxt, (uint)_receiver.Buffer!.AdvertisedWindow);
        if (!acceptable)
        {
            if (rst)
            {
                return StepOutcome.Done;
            }

            if (State == TcpState.TimeWait && seg.Has(TcpFlags.Fin) && seg.Seq + segLen == rcvNxt)
            {
                _timers.Arm(TcpTimer.TimeWait, now + TimeWaitDuration); // a retransmitted FIN: ACK it, restart the 2 MSL timeout
            }

            _counters.Add(TcpCounter.OutOfWindowSegments);
            _receiver.OnOldDuplicate(seg.Seq, seg.Payload.Length); // D-SACK and quick-ACK mode for data that came twice
            SendAck(now);
            return StepOutcome.Done;
        }

        if (seg.Options.Timestamps is TcpTimestamps ts)
        {
            _ts.OnAcceptableSegment(ts.TsVal, seg.Seq, _receiver.LastAckSent, now); // RFC 7323 4.3
        }

        _keepAlive.OnPeerHeard();
        _sender.OnPeerHeard(now);
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

        if (seg.Seq != _receiver.RcvNxt)
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
                return EnterClosed(); // CLOSING, LAST-ACK: just delete the TCB (TIME-WAIT ignores RSTs before the checks)
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
            if (seg.Ack <= _sender.Una || seg.Ack > _sender.Max)
            {
                SendReset(seg.Ack, withAck: false, now); // <SEQ=SEG.ACK><CTL=RST>
                return StepOutcome.Done;
            }

            _sender.OnSynAcknowledged(seg.Ack);
            _sender.Rtt.OnSynAcknowledged(seg, now);
            _sender.SetWindow((long)seg.Window << _sender.Shift, seg.Seq, seg.Ack);
            EnterEstablished(now);
            if (simultaneousSynAck)
            {
                return StepOutcome.Done;
            }
        }

        // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX].
        if (!_sender.IsAcceptableAck(seg.Ack))
        {
            _counters.Add(TcpCounter.OutOfWindowAcksDropped);
            SendChallengeAck(now);
            return StepOutcome.Done;
        }

        SeqNum unaBefore = _sender.Una;
        if (_sender.OnAck(seg, now))
        {
            _events |= TcpEvents.Writable;
        }

        if (_sender.Una != unaBefore)
        {
            _softError = SocketError.Success; // new data acknowledged: the path works again (as Linux's tcp_ack)
        }

        if (!_sender.Buffer!.IsFinAcknowledged)
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

    // Seventh check: the segment text; eighth: FIN.
    private StepOutcome ProcessText(in TcpSegment seg, Micros now)
    {
        bool fin = seg.Has(TcpFlags.Fin);
        ReadOnlySpan<byte> payload = seg.Payload;
        if ((payload.IsEmpty && !fin) || State is not (TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2))
        {
            return StepOutcome.Continue; // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN was already received
        }

        if (_appClosed && !payload.IsEmpty && seg.Seq + payload.Length > _receiver.RcvNxt)
        {
            // New data for an application that closed: nobody will read it (Linux: RST, "data after close").
            SendReset(_sender.Max, withAck: true, now);
            _counters.Add(TcpCounter.Aborts);
            return EnterClosed();
        }

        ReceiveResult r = _receiver.Receive(seg.Seq, payload, fin, seg.Options.Timestamps, now);
        if (r.Delivered > 0)
        {
            _events |= TcpEvents.Readable;
        }

        if (!r.FinReached)
        {
            return StepOutcome.Continue;
        }

        _events |= TcpEvents.Readable | TcpEvents.ReceiveCompleted;
        switch (State)
        {
            case TcpState.Established:
                State = TcpState.CloseWait;
                break;
            case TcpState.FinWait1 when _sender.Buffer!.IsFinAcknowledged:
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

    // ------------------------------------------------------------------ ICMP (RFC 5927, RFC 1122 4.2.3.9)

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
    /// <returns>False when the error was ignored (not believed, or the connection is closed or listening).</returns>
    public bool OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, SeqNum quotedSeq, Micros now)
    {
        if (State is TcpState.Closed or TcpState.Listen or TcpState.TimeWait)
        {
            return false;
        }

        bool fragNeeded = TcpIcmpErrors.Classify(type, code, out _) == IcmpErrorKind.FragmentationNeeded;
        if (!_sender.IsInFlight(quotedSeq) || (fragNeeded && nextHopMtu < MinimumIcmpPathMtu))
        {
            _counters.Add(TcpCounter.IcmpErrorsIgnored);
            return false;
        }

        OnIcmpError(type, code, nextHopMtu, now);
        return true;
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
                if (nextHopMtu >= Ipv4Packet.MinimumMtu && _sizes.OnPathMtu(nextHopMtu, _ts.Enabled) && State is not (TcpState.SynSent or TcpState.SynReceived))
                {
                    _sender.OnMssReduced(now);
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

    // ------------------------------------------------------------------ TIMEOUTS (RFC 9293 3.10.8)

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
                return EnterClosed(); // the 2 MSL timeout deletes the TCB
            case TcpTimer.FinWait2:
                SendReset(_sender.Max, withAck: true, now); // like Linux's tcp_fin_timeout: give up on the peer's FIN
                return EnterClosed();
            case TcpTimer.Connect:
                _counters.Add(TcpCounter.ConnectionTimeouts);
                return Fail(_softError != SocketError.Success ? _softError : SocketError.TimedOut);
            case TcpTimer.UserTimeout:
                return TimeOut(); // RFC 5482 / RFC 9293 3.8.3
            case TcpTimer.Retransmission when State is TcpState.SynSent or TcpState.SynReceived:
                return OnHandshakeTimeout(now);
            case TcpTimer.Retransmission:
                return _sender.OnRetransmissionTimeout(now) == SenderVerdict.TimedOut ? TimeOut() : StepOutcome.Continue;
            case TcpTimer.RackReorder:
                if (IsSendingState)
                {
                    _sender.OnReorderTimeout(now);
                    _sender.Output(now);
                }

                return StepOutcome.Continue;
            case TcpTimer.LossProbe:
                if (IsSendingState)
                {
                    _sender.OnLossProbeTimeout(now);
                }

                return StepOutcome.Continue;
            case TcpTimer.Pacing:
                Output(now);
                return StepOutcome.Continue;
            case TcpTimer.Persist:
                return IsSendingState && _sender.OnPersistTimeout(now) == SenderVerdict.TimedOut ? TimeOut() : StepOutcome.Continue;
            case TcpTimer.DelayedAck:
                _counters.Add(TcpCounter.DelayedAcks);
                SendAck(now);
                return StepOutcome.Continue;
            default:
                return OnKeepAliveTimeout(now);
        }
    }

    // The SYN or SYN-ACK was not answered: resend it with backoff (RFC 6298 5.5), or give up.
    private StepOutcome OnHandshakeTimeout(Micros now)
    {
        _counters.Add(TcpCounter.Timeouts);
        bool synSent = State == TcpState.SynSent;
        if (_synRetries >= (synSent ? _options.SynRetries : _options.SynAckRetries))
        {
            _counters.Add(TcpCounter.ConnectionTimeouts);
            return Fail(synSent && _softError != SocketError.Success ? _softError : SocketError.TimedOut);
        }

        _synRetries++;
        _sender.RtoEstimator.BackOff();
        _sender.Rtt.OnSynRetransmitted();
        CountRetransmission();
        if (synSent)
        {
            SendSyn(now);
        }
        else
        {
            SendSynAck(now);
        }

        _timers.Arm(TcpTimer.Retransmission, now + _sender.Rto);
        return StepOutcome.Continue;
    }

    private StepOutcome OnKeepAliveTimeout(Micros now)
    {
        if (!_keepAlive.Enabled || State is not (TcpState.Established or TcpState.CloseWait))
        {
            return StepOutcome.Continue;
        }

        if (_sender.HasOutstanding || _sender.Buffer!.Unsent > 0)
        {
            _timers.Arm(TcpTimer.KeepAlive, _keepAlive.IdleDeadline(now)); // busy: the retransmission timer watches the peer
            return StepOutcome.Continue;
        }

        switch (_keepAlive.OnIdleTimeout(now, out Micros next))
        {
            case KeepAliveAction.GiveUp:
                // RFC 1122 4.2.3.6: the peer is dead. Linux sends a RST and reports ETIMEDOUT.
                _counters.Add(TcpCounter.KeepAliveTimeouts);
                SendReset(_sender.Max, withAck: true, now);
                return Fail(SocketError.TimedOut);
            case KeepAliveAction.Probe:
                // RFC 9293 3.8.4: a probe with SEG.SEQ = SND.NXT - 1 and no data elicits an ACK.
                _counters.Add(TcpCounter.KeepAliveProbes);
                SendSegment(TcpFlags.Ack, _sender.Una - 1, default, default, now);
                _timers.Arm(TcpTimer.KeepAlive, next);
                return StepOutcome.Continue;
            default:
                return StepOutcome.Continue;
        }
    }

    // ------------------------------------------------------------------ segments out

    private void Output(Micros now)
    {
        if (IsSendingState)
        {
            _sender.Output(now);
        }
    }

    private void SendSyn(Micros now)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _sender.Iss,
            Flags = TcpFlags.Syn,
            Window = _receiver.SynWindow, // RFC 7323 2.2: a SYN's window is not scaled
            Options = _negotiation.SynOptions(now),
        };
        _sender.OnSynSent();
        _emitter.Emit(o, default, default, State, now);
    }

    private void SendSynAck(Micros now)
    {
        var o = new TcpOutgoingSegment
        {
            Seq = _sender.Iss,
            Ack = _receiver.RcvNxt,
            Flags = TcpFlags.Syn | TcpFlags.Ack,
            Window = _receiver.SynAckWindow(),
            Options = _negotiation.SynAckOptions(now),
        };
        _sender.OnSynSent();
        _emitter.Emit(o, default, default, State, now);
    }

    private void CountRetransmission() => _sender.CountRetransmission();

    // A pure ACK (see TcpSender.PureAckSequence for its sequence number).
    private void SendAck(Micros now) => SendSegment(TcpFlags.Ack, _sender.PureAckSequence, default, default, now);

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

    int ISegmentTransmitter.AckOptionLength => _receiver.SackOptionLength;

    void ISegmentTransmitter.SendSegment(TcpFlags flags, SeqNum seq, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Micros now) =>
        SendSegment(flags, seq, first, second, now);

    // A segment of a synchronized connection: the ACK of RCV.NXT, our window, timestamps.
    private void SendSegment(TcpFlags flags, SeqNum seq, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Micros now)
    {
        var o = new TcpOutgoingSegment { Seq = seq, Flags = flags };
        _receiver.FillAck(ref o);
        if (_ts.Enabled)
        {
            o.Options.Timestamps = _ts.Option(now); // RFC 7323 3.2, 4.3
        }

        // More than one MSS only comes from a sender given a segmentation limit (TSO): the device
        // cuts it into MSS-sized segments, the path's MSS on the wire.
        int mss = Mss;
        if (first.Length + second.Length > mss && mss > 0)
        {
            o.SegmentSize = (ushort)mss;
        }

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
        if (withAck && _receiver.Buffer is not null)
        {
            o.Flags |= TcpFlags.Ack;
            o.Ack = _receiver.RcvNxt;
        }

        _counters.Add(TcpCounter.ResetsSent);
        _emitter.Emit(o, default, default, State, now);
    }

    // ------------------------------------------------------------------ state changes

    private void EnsureNew()
    {
        if (State != TcpState.Closed || _sender.Buffer is not null || _receiver.Buffer is not null)
        {
            throw new InvalidOperationException("The TCB was already opened.");
        }
    }

    private void Negotiate(in TcpOptions peer, Micros now)
    {
        _negotiation.OnPeerSyn(peer, now);
        ApplyNegotiated();
    }

    private void ApplyNegotiated()
    {
        _sender.Shift = _negotiation.SendShift;
        _receiver.Shift = _negotiation.ReceiveShift;
        if (_negotiation.Sack)
        {
            _sender.EnableSack();
            _receiver.MaxSackBlocks = _ts.Enabled ? 3 : TcpOptions.MaxSackBlocks; // RFC 2018 3: 40 bytes of options
        }
    }

    private void EnterEstablished(Micros now)
    {
        State = TcpState.Established;
        _events |= TcpEvents.Established | TcpEvents.Writable;
        _counters.Add(TcpCounter.CurrentEstablished);
        _countedEstablished = true;
        _timers.Cancel(TcpTimer.Connect);
        _sender.OnEstablished(now);
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
        _sender.Release();
        _receiver.Buffer?.Release();
    }

    /// <summary>
    /// Hands TIME-WAIT over to a compact record: when this connection is in TIME-WAIT with
    /// everything sent acknowledged, nothing left to read and no acknowledgment or D-SACK pending, fills
    /// <paramref name="record"/> with what TIME-WAIT still answers with, stops the timers and
    /// returns true. The control block then stays in TIME-WAIT without a deadline: the layer
    /// drops it from its table and the record takes the 4-tuple's segments and the 2 MSL timeout.
    /// </summary>
    /// <param name="record">The record, when true is returned.</param>
    /// <returns>Whether the record was made.</returns>
    public bool TryHandOverTimeWait(out TimeWaitRecord record)
    {
        record = default;
        if (State != TcpState.TimeWait || _receiver.Buffer is not ReceiveBuffer buffer || buffer.Readable > 0 || buffer.HeldBlockCount > 0
            || _receiver.DsackPending || _receiver.AckDue || _sender.Una != _sender.Max || !_timers.IsArmed(TcpTimer.TimeWait))
        {
            return false;
        }

        int advertised = buffer.AdvertisedWindow;
        int toAdvertise = buffer.WindowToAdvertise(_sizes.Receive); // what the next ACK would offer (FillAck)
        record = new TimeWaitRecord
        {
            SndNxt = _sender.PureAckSequence,
            OldestAcceptableAck = _sender.OldestAcceptableAck,
            RcvNxt = buffer.RcvNxt,
            LastAckSent = _receiver.LastAckSent,
            AcceptWindow = advertised,
            WindowAfterAck = toAdvertise,
            AckWindow = (ushort)Math.Min(toAdvertise >> _receiver.Shift, ushort.MaxValue),
            Sack = _receiver.MaxSackBlocks > 0,
            Timestamps = _ts.Enabled,
            TsRecent = _ts.Recent,
            TsRecentTime = _ts.RecentTime,
            TsOffset = _ts.Offset,
            Deadline = _timers.Deadline(TcpTimer.TimeWait),
            Duration = TimeWaitDuration,
            Mss = _sizes.Send,
        };
        _handedOverUntil = record.Deadline;
        _timers.StopAll();
        return true;
    }

    /// <summary>
    /// The state as the application sees it at <paramref name="now"/>: <see cref="State"/>, except
    /// that a control block that handed TIME-WAIT over to a record (<see cref="TryHandOverTimeWait"/>)
    /// reads CLOSED once the 2 MSL it had left have passed.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <returns>The state.</returns>
    public TcpState StateAt(Micros now) => now >= _handedOverUntil && State == TcpState.TimeWait ? TcpState.Closed : State;

    /// <summary>
    /// The record this control block handed TIME-WAIT to was not kept (the layer's table was full):
    /// the connection reads CLOSED from now on.
    /// </summary>
    public void DropHandedOverTimeWait() => _handedOverUntil = Micros.Zero;

    /// <summary>
    /// The record this control block handed TIME-WAIT to restarted its 2 MSL timeout (a
    /// retransmitted FIN): the connection reads TIME-WAIT until <paramref name="deadline"/>.
    /// </summary>
    /// <param name="deadline">The record's new deadline.</param>
    public void MoveHandedOverTimeWait(Micros deadline) => _handedOverUntil = deadline;

    private StepOutcome EnterClosed()
    {
        if (State == TcpState.Closed && _events.HasFlag(TcpEvents.Closed))
        {
            return StepOutcome.Deleted;
        }

        LeaveEstablishedCount();
        State = TcpState.Closed;
        _events |= TcpEvents.Closed;
        _receiver.ForgetAck();
        _receiver.Reader = null;
        _timers.StopAll();
        _sender.Release();
        _receiver.Buffer?.Release();
        return StepOutcome.Deleted;
    }

    // RFC 1122 4.2.3.9: a soft ICMP error is made known to the application; like Linux
    // (tcp_write_err), a connection that times out reports the last one instead of TimedOut.
    private StepOutcome TimeOut()
    {
        _counters.Add(TcpCounter.ConnectionTimeouts);
        return Fail(_softError != SocketError.Success ? _softError : SocketError.TimedOut);
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
}
