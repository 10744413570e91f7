namespace Protocols.Tcp.Engine;

/// <summary>
/// The receive side of one connection: the receive sequence space (RCV.NXT lives in the
/// <see cref="ReceiveBuffer"/>), the window we advertise (RFC 7323 2.3 scaling, RFC 9293
/// 3.8.6.2.2 receiver SWS avoidance) and when to acknowledge (RFC 9293 3.8.6.3, RFC 5681 4.2).
/// </summary>
/// <remarks>
/// <para>Out-of-order data, a filled hole, duplicates, trimmed data and the FIN are acknowledged at
/// once (RFC 5681 4.2); in-order data at least every second full-sized segment, else by the
/// delayed-ACK timer (<see cref="TcpTimer.DelayedAck"/>). Every segment we send carries the current
/// acknowledgment (<see cref="FillAck"/>), which also settles any pending ACK.</para>
/// <para>Quick-ACK mode (Linux's): for a number of acknowledgments every data segment is
/// acknowledged at once, so that the peer's slow start is not held back by delayed ACKs. It is
/// entered when the first data arrives and again after a loss (a hole filled, or data we already
/// held arrived again: the peer retransmitted), with min(<see cref="TcpConnectionOptions.QuickAcks"/>,
/// max(2, window / (2 * MSS))) acknowledgments, as Linux's tcp_incr_quickack counts them.</para>
/// <para>With SACK (RFC 2018 4) every segment also reports the out-of-order blocks held, the one
/// holding the most recently received segment first: three beside timestamps, four without. A
/// segment that brought data already received is answered with a D-SACK (RFC 2883 4): its
/// duplicate part as the first block, followed by the held block it lies in, if any.</para>
/// <para>One copy on the receive path: while a read waits (<see cref="Reader"/>) and nothing is
/// unread, in-order data is copied from the segment straight into the read's buffer, the rest
/// into the ring. Such bytes are accounted as if they had passed through the ring and been read at
/// once: RCV.NXT, the window (the ring's free space is unchanged, so nothing shrinks), the
/// autotuner's count of bytes read per round trip, and the window update a read may call for.
/// Out-of-order data, and the run a filled hole makes readable, stay in the ring.</para>
/// </remarks>
internal sealed class TcpReceiver
{
    private static readonly Micros MaxDelayedAck = Micros.FromMilliseconds(200);

    private readonly TcpConnectionOptions _options;
    private readonly TcpCounters _counters;
    private readonly TcpTimerSet _timers;
    private readonly SegmentSizes _sizes;
    private readonly TimestampState _timestamps;
    private readonly Micros _delayedAckTimeout;
    private ReceiveBuffer? _buffer;
    private TcpSackBlock _dsack;
    private bool _dsackPending;
    private ReceiveAutoTuner? _tuner; // made with the first data, when autotuning is on
    private int _quickAcks;
    private bool _dataSeen;

    /// <summary>The receive side of a connection.</summary>
    /// <param name="options">The connection's options (buffer size, delayed-ACK timeout).</param>
    /// <param name="counters">The stack's counters.</param>
    /// <param name="timers">The connection's timers (the receiver runs DelayedAck).</param>
    /// <param name="sizes">The connection's segment sizes.</param>
    /// <param name="timestamps">The connection's timestamp state (the receiver's round-trip estimate for autotuning).</param>
    public TcpReceiver(TcpConnectionOptions options, TcpCounters counters, TcpTimerSet timers, SegmentSizes sizes, TimestampState timestamps)
    {
        _options = options;
        _counters = counters;
        _timers = timers;
        _sizes = sizes;
        _timestamps = timestamps;
        _delayedAckTimeout = Micros.Max(Micros.Zero, Micros.Min(Micros.FromTimeSpan(options.DelayedAckTimeout), MaxDelayedAck));
    }

    /// <summary>A read that waits for data, set by the application's stream when it starts waiting; cleared once asked (it completed, or no longer waits).</summary>
    public IReceiveReader? Reader { get; set; }

    /// <summary>IRS: the peer's initial sequence number.</summary>
    public SeqNum Irs { get; private set; }

    /// <summary>The buffer (null before the peer's SYN was seen).</summary>
    public ReceiveBuffer? Buffer => _buffer;

    /// <summary>RCV.NXT (0 before the peer's SYN).</summary>
    public SeqNum RcvNxt => _buffer?.RcvNxt ?? default;

    /// <summary>The acknowledgment number we last sent (RFC 7323 4.3's Last.ACK.sent).</summary>
    public SeqNum LastAckSent { get; private set; }

    /// <summary>The receive window scale shift (RFC 7323 2.3); 0 when not negotiated.</summary>
    public int Shift { get; set; }

    /// <summary>Whether an ACK is owed now (it goes out with the next segment, or alone).</summary>
    public bool AckDue { get; private set; }

    /// <summary>Data bytes delivered in order to the buffer.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Acknowledgments left in quick-ACK mode (0: not in it).</summary>
    public int QuickAcksLeft => _quickAcks;

    /// <summary>The receive-buffer autotuner (null until data arrives, or with autotuning off).</summary>
    public ReceiveAutoTuner? AutoTuner => _tuner;

    /// <summary>The most SACK blocks one segment carries: 0 without SACK, 3 beside timestamps, 4 without (RFC 2018 3).</summary>
    public int MaxSackBlocks { get; set; }

    /// <summary>The bytes of SACK option the next segment will carry (NOP, NOP, kind, length and 8 per block), which its payload must leave room for.</summary>
    public int SackOptionLength
    {
        get
        {
            if (MaxSackBlocks == 0 || _buffer is null)
            {
                return 0;
            }

            int blocks = Math.Min(MaxSackBlocks, _buffer.HeldBlockCount + (_dsackPending ? 1 : 0));
            return blocks == 0 ? 0 : 4 + (8 * blocks);
        }
    }

    /// <summary>The window field of our SYN (never scaled, RFC 7323 2.2).</summary>
    public ushort SynWindow => (ushort)Math.Min(_options.ReceiveBufferSize, ushort.MaxValue);

    /// <summary>The peer's SYN carried <paramref name="irs"/>: RCV.NXT = IRS + 1.</summary>
    /// <param name="irs">The peer's initial sequence number.</param>
    /// <param name="ourSynSent">Whether our SYN went first (active open): its window (<see cref="SynWindow"/>) is the one the peer was offered.</param>
    public void Start(SeqNum irs, bool ourSynSent = false)
    {
        Irs = irs;
        _buffer = new ReceiveBuffer(irs + 1, _options.ReceiveBufferSize, MaxHoles(_options.ReceiveBufferCap, _sizes.Receive));
        if (ourSynSent)
        {
            _buffer.RecordAdvertised(SynWindow);
        }
    }

    /// <summary>The window field of our SYN-ACK (never scaled, RFC 7323 2.2); records the SYN-ACK's acknowledgment as sent.</summary>
    /// <returns>The window.</returns>
    public ushort SynAckWindow()
    {
        LastAckSent = _buffer!.RcvNxt;
        return (ushort)Math.Min(_buffer.WindowToAdvertise(_sizes.Receive), ushort.MaxValue);
    }

    /// <summary>Puts RCV.NXT and the scaled window into <paramref name="segment"/>; an owed ACK is settled by it.</summary>
    /// <param name="segment">The segment about to be sent.</param>
    public void FillAck(ref TcpOutgoingSegment segment)
    {
        ReceiveBuffer buffer = _buffer!;
        segment.Ack = buffer.RcvNxt;
        long window = buffer.WindowToAdvertise(_sizes.Receive) >> Shift; // RFC 7323 2.3
        segment.Window = (ushort)Math.Min(window, ushort.MaxValue);
        if (MaxSackBlocks > 0)
        {
            AddSackBlocks(ref segment.Options, buffer);
        }

        if (_quickAcks > 0 && segment.Ack != LastAckSent)
        {
            _quickAcks--; // one acknowledgment of new data sent in quick-ACK mode
        }

        LastAckSent = segment.Ack;
        AckDue = false;
        _timers.Cancel(TcpTimer.DelayedAck);
    }

    /// <summary>Whether the next acknowledgment carries a D-SACK block (RFC 2883 4).</summary>
    public bool DsackPending => _dsackPending;

    /// <summary>Nothing more will be acknowledged (the connection closed).</summary>
    public void ForgetAck() => AckDue = false;

    /// <summary>
    /// Processes the text and FIN of an acceptable segment (RFC 9293 3.10.7.4 seventh and eighth
    /// steps) and decides how soon to acknowledge it.
    /// </summary>
    /// <param name="seq">SEG.SEQ.</param>
    /// <param name="payload">The text.</param>
    /// <param name="fin">Whether FIN is set.</param>
    /// <param name="timestamps">The segment's timestamps option, if any (for the receiver's round-trip estimate).</param>
    /// <param name="now">The current time.</param>
    /// <returns>What the buffer did with it.</returns>
    public ReceiveResult Receive(SeqNum seq, ReadOnlySpan<byte> payload, bool fin, TcpTimestamps? timestamps, Micros now)
    {
        ReceiveBuffer buffer = _buffer!;
        if (!payload.IsEmpty && buffer.AdvertisedWindow == 0)
        {
            // RFC 9293 3.10.7.4: with RCV.WND = 0 a segment carrying data is not acceptable, even
            // at RCV.NXT (the control block let it through for its ACK, RST and FIN, the RFC's
            // "special allowance"). Its text and FIN are dropped, whatever room a read made since,
            // and it is answered at once with the old RCV.NXT and window 0, as Linux does
            // (tcp_data_queue: TCPZeroWindowDrop).
            _counters.Add(TcpCounter.ZeroWindowDrops);
            AckDue = true;
            return new ReceiveResult(0, 0, payload.Length, OutOfOrder: false, FilledGap: false, Duplicate: false, FinReached: false);
        }

        if (MaxSackBlocks > 0 && !payload.IsEmpty)
        {
            NoteDuplicate(buffer, seq, payload.Length);
        }

        // One copy: a waiting read takes in-order data before the ring does.
        IReceiveReader? reader = null;
        Span<byte> direct = default;
        if (Reader is { } waiting && buffer.AcceptsDirect(seq, payload.Length))
        {
            Reader = null; // asked once per wait: the stream sets it again when a read waits
            direct = waiting.ClaimRead();
            if (!direct.IsEmpty)
            {
                reader = waiting;
            }
        }

        ReceiveResult r = buffer.Receive(seq, payload, fin, direct);
        if (r.OutOfOrder && r.Stored > 0)
        {
            _counters.Add(TcpCounter.OutOfOrderQueued);
        }

        BytesReceived += r.Delivered;
        if (r.Delivered > 0 && _options.AutoTuneBuffers && buffer.Capacity < _options.ReceiveBufferCap)
        {
            int fullSized = _sizes.FullSizedReceived(payload.Length);
            _tuner ??= new ReceiveAutoTuner(_options.ReceiveBufferCap, Math.Min(_options.ReceiveBufferSize, 10 * fullSized));
            uint? tsEcr = null;
            Micros? echoRtt = null;
            if (_timestamps.Enabled && timestamps is TcpTimestamps ts && ts.TsEcr != 0 && _timestamps.TryMeasure(ts.TsEcr, now, out Micros rtt))
            {
                tsEcr = ts.TsEcr;
                echoRtt = rtt;
            }

            _tuner.OnData(payload.Length, fullSized, tsEcr, echoRtt, buffer.RcvNxt, buffer.AdvertisedWindow, now);
        }

        bool windowUpdateDue = false;
        if (reader is not null)
        {
            if (r.Direct > 0)
            {
                _counters.Add(TcpCounter.BytesReadDirect, r.Direct);
                windowUpdateDue = OnConsumed(buffer, r.Direct, now);
            }

            reader.CompleteRead(r.Direct); // the reader completes the read now, or after this receive batch
        }

        // Quick-ACK mode at the start of the data, and after a loss: the hole is filled, or the
        // peer resent data we held (it took our ACK for lost).
        if ((r.Delivered > 0 && !_dataSeen) || r.FilledGap || (r.Duplicate && !payload.IsEmpty))
        {
            _dataSeen = true;
            EnterQuickAckMode(payload.Length);
        }

        // RFC 9293 3.8.6.3, RFC 5681 4.2: immediate ACK for out-of-order data, a filled hole,
        // duplicates and trimmed data; else at least every second full-sized segment; else delayed.
        // A read that makes a window update due (as after a read from the ring) sends it with this ACK.
        if (r.OutOfOrder || r.FilledGap || r.Duplicate || r.Trimmed > 0 || r.FinReached || windowUpdateDue)
        {
            AckDue = true;
        }
        else if (r.Delivered > 0)
        {
            Micros delay = _delayedAckTimeout;
            int fullSized = _sizes.FullSizedReceived(payload.Length);
            if (delay == Micros.Zero || _quickAcks > 0 || buffer.RcvNxt - LastAckSent >= 2 * fullSized)
            {
                AckDue = true;
            }
            else if (!_timers.IsArmed(TcpTimer.DelayedAck))
            {
                _timers.Arm(TcpTimer.DelayedAck, now + delay);
            }
        }

        return r;
    }

    /// <summary>
    /// A segment wholly below RCV.NXT was dropped as unacceptable (RFC 9293 3.10.7.4 first check)
    /// and the control block answers it with an ACK: its data arrived twice, so that ACK reports it
    /// (D-SACK, RFC 2883 4), and the peer took that data for lost, so quick-ACK mode starts again
    /// (both as Linux's tcp_send_dupack does).
    /// </summary>
    /// <param name="seq">SEG.SEQ.</param>
    /// <param name="length">Its data length.</param>
    public void OnOldDuplicate(SeqNum seq, int length)
    {
        if (length > 0 && _buffer is ReceiveBuffer buffer && seq + length <= buffer.RcvNxt)
        {
            if (MaxSackBlocks > 0)
            {
                NoteDuplicate(buffer, seq, length);
            }

            EnterQuickAckMode(length);
        }
    }

    // The out-of-order intervals the buffer may hold: one hole per two segments of the largest
    // buffer (a slow start that overshoots a drop-tail queue loses every other segment), within
    // [64, 2048]. A segment that would open one more hole is dropped and must be resent, so too
    // small a bound turns one burst loss into hundreds of retransmissions the link never lost;
    // each interval costs 16 bytes, grown on demand.
    private static int MaxHoles(int bufferCap, int mss) =>
        (int)Math.Clamp(bufferCap / (2L * Math.Max(mss, 1)), ReceiveBuffer.DefaultMaxIntervals, 2048);

    // Linux's tcp_incr_quickack: enough quick ACKs for half the window in segments, at least 2, at most the option.
    private void EnterQuickAckMode(int segmentLength)
    {
        if (_options.QuickAcks <= 0)
        {
            return;
        }

        int mss = Math.Max(_sizes.FullSizedReceived(segmentLength), 1);
        int wanted = Math.Min(Math.Max(_buffer!.AdvertisedWindow / (2 * mss), 2), _options.QuickAcks);
        _quickAcks = Math.Max(_quickAcks, wanted);
    }

    // RFC 2883 4: remember the first duplicate part of the segment (below RCV.NXT, or already held
    // out of order) for the D-SACK block of the next ACK.
    private void NoteDuplicate(ReceiveBuffer buffer, SeqNum seq, int length)
    {
        SeqNum end = seq + length;
        if (seq < buffer.RcvNxt)
        {
            _dsack = new TcpSackBlock(seq.Value, SeqNum.Min(end, buffer.RcvNxt).Value);
            _dsackPending = true;
        }
        else if (buffer.TryFindHeldOverlap(seq, length, out TcpSackBlock duplicate, out _))
        {
            _dsack = duplicate;
            _dsackPending = true;
        }
    }

    // RFC 2018 4, RFC 2883 4: a pending D-SACK first, then the held block it lies in (as it is now),
    // then the other held blocks from the most recently changed; each block once.
    private void AddSackBlocks(ref TcpOptions options, ReceiveBuffer buffer)
    {
        if (!_dsackPending && buffer.HeldBlockCount == 0)
        {
            return; // nothing out of order, nothing twice: no option (the common case)
        }

        options.ClearSackBlocks();
        int max = MaxSackBlocks;
        TcpSackBlock containing = default;
        bool hasContaining = false;
        if (_dsackPending)
        {
            _dsackPending = false;
            options.TryAddSackBlock(_dsack);
            _counters.Add(TcpCounter.DsacksSent);
            var left = new SeqNum(_dsack.LeftEdge);
            hasContaining = left >= buffer.RcvNxt
                && buffer.TryFindHeldOverlap(left, new SeqNum(_dsack.RightEdge) - left, out _, out containing);
            if (hasContaining)
            {
                options.TryAddSackBlock(containing);
            }
        }

        Span<TcpSackBlock> held = stackalloc TcpSackBlock[ReceiveBuffer.MaxSackBlocks];
        int count = buffer.GetSackBlocks(held);
        for (int i = 0; i < count && options.SackBlockCount < max; i++)
        {
            if (!hasContaining || held[i] != containing)
            {
                options.TryAddSackBlock(held[i]);
            }
        }
    }

    /// <summary>
    /// Copies readable bytes out for the application. Whether the read is worth a window update
    /// follows RFC 9293 3.8.6.2.2 with Linux's rule: the window at least doubles and its edge moves
    /// by min(buffer / 2, MSS).
    /// </summary>
    /// <param name="destination">Where to copy.</param>
    /// <param name="now">The current time (autotuning measures what is read per round trip).</param>
    /// <param name="windowUpdateDue">Whether the control block should send a window update now.</param>
    /// <returns>Bytes copied.</returns>
    public int Read(Span<byte> destination, Micros now, out bool windowUpdateDue)
    {
        windowUpdateDue = false;
        if (_buffer is not ReceiveBuffer buffer)
        {
            return 0;
        }

        int n = buffer.Read(destination);
        if (n > 0)
        {
            _counters.Add(TcpCounter.BytesReadFromRing, n);
            windowUpdateDue = OnConsumed(buffer, n, now);
        }

        return n;
    }

    // The application took `bytes` (from the ring, or straight from a segment): autotuning counts
    // them, and the window update rule (RFC 9293 3.8.6.2.2 with Linux's doubling) says whether the
    // freed space is worth an ACK now.
    private bool OnConsumed(ReceiveBuffer buffer, int bytes, Micros now)
    {
        if (_tuner is not null && buffer.Capacity < _options.ReceiveBufferCap)
        {
            buffer.Grow(_tuner.OnRead(bytes, buffer.Readable == 0, _sizes.FullSizedReceived(0), now)); // dynamic right-sizing
        }

        int advertised = buffer.AdvertisedWindow;
        return 2L * advertised <= buffer.Capacity && buffer.Window >= 2L * advertised && buffer.IsWindowUpdateDue(_sizes.Receive);
    }
}
