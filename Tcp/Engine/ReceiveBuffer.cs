namespace Protocols.Tcp.Engine;

/// <summary>
/// What <see cref="ReceiveBuffer.Receive"/> did with one segment's text and FIN.
/// </summary>
/// <param name="Delivered">Data bytes that became readable in order (RCV.NXT moved by this much, plus one for a FIN).</param>
/// <param name="Stored">Data bytes new to the buffer (in order or held out of order); overlaps and duplicates are not counted.</param>
/// <param name="Trimmed">Data bytes dropped because they lay beyond the receive window, beyond a known FIN, or found no free interval slot.</param>
/// <param name="OutOfOrder">
/// The segment started beyond RCV.NXT (a gap precedes it): RFC 5681 4.2 asks for an immediate
/// duplicate ACK.
/// </param>
/// <param name="FilledGap">
/// The segment advanced RCV.NXT while out-of-order data was held: RFC 5681 4.2 asks for an
/// immediate ACK.
/// </param>
/// <param name="Duplicate">The segment carried sequence space but nothing new: every byte was already held and any FIN was already known.</param>
/// <param name="FinReached">RCV.NXT reached the FIN with this segment: the peer's stream ended (RFC 9293 3.10.7.4, eighth step).</param>
/// <param name="Direct">
/// Of <paramref name="Delivered"/>: bytes copied straight into the waiting read's buffer instead
/// of the ring (one copy); they count as stored and at once read.
/// </param>
internal readonly record struct ReceiveResult(
    int Delivered,
    int Stored,
    int Trimmed,
    bool OutOfOrder,
    bool FilledGap,
    bool Duplicate,
    bool FinReached,
    int Direct = 0);

/// <summary>
/// The receive side's byte queue: in-order bytes waiting for the application, plus out-of-order
/// segments held for reassembly (RFC 9293 3.10.7.4, "process the segment text"), the FIN, the
/// receive window it defines and the SACK blocks it reports (RFC 2018 4).
/// </summary>
/// <remarks>
/// <para>
/// One ring holds everything; it is rented from <see cref="PooledRing.Pool"/> when data first arrives (and returned when it grows or on <see cref="Release"/>), starts at <see cref="InitialRingSize"/> bytes and doubles up to the capacity (the window is always computed from the capacity). The unread in-order bytes (<see cref="Readable"/>)
/// precede RCV.NXT; the window is the rest of the ring (<see cref="Window"/> = capacity - readable,
/// RFC 9293 3.8.6: the window is what the buffer can still take). Out-of-order bytes are written
/// straight to their place in that rest, and a sorted list of at most <c>maxIntervals</c>
/// sequence intervals records which parts are present, so reassembly never copies twice and never
/// allocates. When a segment closes the gap at RCV.NXT, the first interval becomes readable.
/// </para>
/// <para>
/// The engine runs the acceptability test of RFC 9293 3.10.7.4 (first check) before calling
/// <see cref="Receive"/>; this type then trims to what it can store: bytes before RCV.NXT or
/// already held (first arrival wins), bytes beyond the window, bytes beyond a FIN. A FIN needs no
/// storage: it is recorded when all of its segment's data fitted, and consumed when RCV.NXT
/// reaches it. Sans-IO: no clock, no locks; sequence numbers are <see cref="SeqNum"/>s, modulo 2^32
/// (RFC 9293 3.4).
/// </para>
/// </remarks>
internal sealed class ReceiveBuffer
{
    /// <summary>The default capacity: 256 KiB.</summary>
    public const int DefaultCapacity = 256 * 1024;

    /// <summary>The default bound on out-of-order intervals (holes) held at once.</summary>
    public const int DefaultMaxIntervals = 64;

    /// <summary>The largest capacity: sequence comparisons modulo 2^32 need spans below 2^30 to stay unambiguous.</summary>
    public const int MaxCapacity = 1 << 30;

    /// <summary>RFC 2018 3: a SACK option carries at most four blocks.</summary>
    public const int MaxSackBlocks = 4;

    private int _capacity;
    private Interval[] _intervals; // sorted by offset from RCV.NXT, disjoint, not adjacent; grown on demand
    private readonly int _maxIntervals;
    private byte[]? _ring; // rented from PooledRing.Pool; may be longer than _size
    private int _size; // the ring's logical length: all index arithmetic uses it, never _ring.Length
    private int _intervalCount;
    private int _readPos;  // ring index of the first unread byte
    private int _readable; // unread in-order bytes; RCV.NXT's ring index is _readPos + _readable
    private SeqNum _rcvNxt;
    private SeqNum _advertisedEdge; // RCV.NXT + RCV.WND as last advertised
    private SeqNum _finSeq;
    private bool _finKnown;
    private bool _finReached;
    private long _arrival;

    /// <summary>Creates an empty buffer expecting <paramref name="rcvNxt"/> next.</summary>
    /// <param name="rcvNxt">The first sequence number expected: IRS + 1 (the SYN takes IRS).</param>
    /// <param name="capacity">The most bytes held (readable plus out of order), 1 .. <see cref="MaxCapacity"/>; it bounds the window.</param>
    /// <param name="maxIntervals">The most out-of-order intervals held at once (at least 1).</param>
    public ReceiveBuffer(SeqNum rcvNxt, int capacity = DefaultCapacity, int maxIntervals = DefaultMaxIntervals)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIntervals, 1);
        _capacity = capacity;
        _maxIntervals = maxIntervals;
        _intervals = []; // grown on demand to maxIntervals + 1: in-order data passes through a slot on its way to readable
        Reset(rcvNxt);
    }

    /// <summary>The size of the ring when it is first allocated (or the capacity, when smaller).</summary>
    public const int InitialRingSize = PooledRing.InitialSize;

    /// <summary>The most bytes held; it bounds <see cref="Window"/>. Autotuning may raise it (<see cref="Grow"/>).</summary>
    public int Capacity => _capacity;

    /// <summary>Raises <see cref="Capacity"/> to <paramref name="capacity"/> (never lowers it: the window is not shrunk, RFC 9293 3.8.6). The ring itself grows only as data is held.</summary>
    /// <param name="capacity">The new capacity, at most <see cref="MaxCapacity"/>.</param>
    /// <returns>Whether the capacity grew.</returns>
    public bool Grow(int capacity)
    {
        if (capacity <= _capacity)
        {
            return false;
        }

        _capacity = Math.Min(capacity, MaxCapacity);
        return true;
    }

    /// <summary>Bytes of ring allocated now: 0 until data arrives and after <see cref="Release"/>; doubles up to the capacity as needed.</summary>
    public int AllocatedBytes => _size;

    /// <summary>The window last advertised (<see cref="WindowToAdvertise"/>): the right edge minus RCV.NXT, never negative.</summary>
    public int AdvertisedWindow => Math.Max(_advertisedEdge - _rcvNxt, 0);

    /// <summary>RCV.NXT: the next sequence number expected (RFC 9293 3.3.1); it includes a reached FIN.</summary>
    public SeqNum RcvNxt => _rcvNxt;

    /// <summary>In-order bytes the application can read now.</summary>
    public int Readable => _readable;

    /// <summary>
    /// The receive window the free space allows: capacity minus unread bytes. Out-of-order bytes
    /// lie inside this window and do not shrink it.
    /// </summary>
    public int Window => _capacity - _readable;

    /// <summary>Out-of-order intervals held (holes behind them), at most the configured bound.</summary>
    public int IntervalCount => _intervalCount;

    /// <summary>Out-of-order bytes held beyond RCV.NXT.</summary>
    public int OutOfOrderBytes
    {
        get
        {
            int sum = 0;
            for (int i = 0; i < _intervalCount; i++)
            {
                sum += _intervals[i].End - _intervals[i].Start;
            }

            return sum;
        }
    }

    /// <summary>Whether RCV.NXT passed the peer's FIN: no more data will arrive.</summary>
    public bool IsFinReached => _finReached;

    /// <summary>Whether the stream is over for the reader: FIN reached and every byte read (a read returns 0).</summary>
    public bool IsCompleted => _finReached && _readable == 0;

    /// <summary>Empties the buffer and restarts it at <paramref name="rcvNxt"/> (IRS + 1). Keeps the ring.</summary>
    /// <param name="rcvNxt">The next sequence number expected.</param>
    public void Reset(SeqNum rcvNxt)
    {
        _intervalCount = 0;
        _readPos = 0;
        _readable = 0;
        _rcvNxt = rcvNxt;
        _advertisedEdge = rcvNxt;
        _finKnown = false;
        _finReached = false;
        _arrival = 0;
    }

    /// <summary>
    /// Whether a segment of <paramref name="length"/> data bytes at <paramref name="seq"/> would
    /// hand new bytes to a waiting read through <see cref="Receive"/>'s <c>reader</c>: nothing is
    /// unread or held out of order, and the segment brings new bytes at RCV.NXT.
    /// </summary>
    /// <param name="seq">SEG.SEQ of the first data byte.</param>
    /// <param name="length">The data length.</param>
    /// <returns>Whether at least one byte would go to the reader.</returns>
    public bool AcceptsDirect(SeqNum seq, int length) =>
        _readable == 0 && _intervalCount == 0 && !_finReached && length > 0 && seq <= _rcvNxt && seq + length > _rcvNxt;

    /// <summary>
    /// Takes one segment's text and FIN (RFC 9293 3.10.7.4, seventh and eighth steps): stores the
    /// new bytes, holds out-of-order ones, advances RCV.NXT over whatever became contiguous, and
    /// consumes the FIN when RCV.NXT reaches it.
    /// </summary>
    /// <remarks>
    /// When <paramref name="reader"/> is given and <see cref="AcceptsDirect"/> holds, the in-order
    /// bytes go straight into it, as much as fits, and only the rest into the ring: one copy from
    /// the segment to the application instead of two. They are accounted as if stored and read at
    /// once: RCV.NXT moves over them, the ring's free space (<see cref="Window"/>) and the
    /// advertised right edge do not change, so the window is neither shrunk nor opened by them
    /// (RFC 9293 3.8.6.2.2 decides when the edge moves, as after any read).
    /// </remarks>
    /// <param name="seq">SEG.SEQ of the first data byte (after the SYN, if the segment carried one).</param>
    /// <param name="data">The segment text.</param>
    /// <param name="fin">Whether the segment carries FIN (at sequence number <c>seq + data.Length</c>).</param>
    /// <param name="reader">The buffer of a read waiting for data, or empty.</param>
    /// <returns>What changed, for the engine's ACK decisions.</returns>
    public ReceiveResult Receive(SeqNum seq, ReadOnlySpan<byte> data, bool fin, Span<byte> reader = default)
    {
        int length = data.Length;
        int start = seq - _rcvNxt;
        int finOffset = start + length; // where this segment's FIN would sit, relative to RCV.NXT
        bool carriesSequence = length > 0 || fin;
        bool outOfOrder = start > 0 && carriesSequence;
        bool finAlreadyHeld = _finKnown || _finReached;

        // RFC 9293 3.10.7.4: bytes before RCV.NXT were already received; keep only the rest.
        if (start < 0)
        {
            int old = (int)Math.Min(-(long)start, length);
            data = data[old..];
            start += old;
        }

        // Store only inside the window, and never past a known FIN (it fixes the end of the stream).
        int limit = _finReached ? 0 : Window;
        if (_finKnown)
        {
            limit = Math.Min(limit, _finSeq - _rcvNxt);
        }

        int trimmed = 0;
        if (start >= limit)
        {
            trimmed = data.Length;
            data = default;
        }
        else if (start + data.Length > limit)
        {
            trimmed = start + data.Length - limit;
            data = data[..(limit - start)];
        }

        bool hadHoles = _intervalCount > 0;
        int stored = 0;
        int direct = 0;
        if (start == 0 && !data.IsEmpty && !reader.IsEmpty && _readable == 0 && !hadHoles)
        {
            // One copy: straight into the waiting read. RCV.NXT moves over the bytes; the ring,
            // empty, stays as it is (its write position is the read position).
            direct = Math.Min(data.Length, reader.Length);
            data[..direct].CopyTo(reader);
            data = data[direct..];
            _rcvNxt += direct;
            finOffset -= direct; // offsets are relative to RCV.NXT
            stored = direct;
        }

        if (!data.IsEmpty)
        {
            int inserted = Insert(start, data);
            if (inserted < 0)
            {
                trimmed += data.Length;
            }
            else
            {
                stored += inserted;
            }
        }

        // The FIN needs no storage: it is taken when all of its segment's data was kept (or was old).
        if (fin && trimmed == 0 && !finAlreadyHeld && finOffset >= 0 && finOffset <= Window)
        {
            _finKnown = true;
            _finSeq = _rcvNxt + finOffset;
            TrimBeyondFin();
        }

        int delivered = direct + Advance();
        bool finReached = false;
        if (_finKnown && _finSeq == _rcvNxt)
        {
            _finKnown = false;
            _finReached = true;
            _rcvNxt += 1; // RFC 9293 3.10.7.4 eighth step: RCV.NXT advances over the FIN
            finReached = true;
        }

        bool filledGap = delivered > 0 && hadHoles;
        bool duplicate = carriesSequence && stored == 0 && trimmed == 0 && (!fin || finAlreadyHeld);
        return new ReceiveResult(delivered, stored, trimmed, outOfOrder, filledGap, duplicate, finReached, direct);
    }

    /// <summary>Copies readable bytes into <paramref name="destination"/> and frees their space (the application's RECEIVE, RFC 9293 3.10.3).</summary>
    /// <param name="destination">Where to copy.</param>
    /// <returns>Bytes copied; 0 when nothing is readable (see <see cref="IsCompleted"/> for end of stream).</returns>
    public int Read(Span<byte> destination)
    {
        GetReadable(out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
        int count = Math.Min(destination.Length, _readable);
        int fromFirst = Math.Min(count, first.Length);
        first[..fromFirst].CopyTo(destination);
        second[..(count - fromFirst)].CopyTo(destination[fromFirst..]);
        Consume(count);
        return count;
    }

    /// <summary>
    /// The readable bytes as one or two spans of the ring, without copying; valid until the next
    /// <see cref="Receive"/>, <see cref="Consume"/> or <see cref="Reset"/>.
    /// </summary>
    /// <param name="first">The first part.</param>
    /// <param name="second">The continuation, empty unless the readable range wraps.</param>
    public void GetReadable(out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second)
    {
        if (_readable == 0)
        {
            first = default;
            second = default;
            return;
        }

        int firstLength = Math.Min(_readable, _size - _readPos);
        first = _ring.AsSpan(_readPos, firstLength);
        second = _ring.AsSpan(0, _readable - firstLength);
    }

    /// <summary>Frees <paramref name="count"/> readable bytes after a zero-copy <see cref="GetReadable"/>.</summary>
    /// <param name="count">0 .. <see cref="Readable"/>.</param>
    public void Consume(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _readable);
        if (count == 0)
        {
            return;
        }

        _readPos = Wrap(_readPos + count);
        _readable -= count;
    }

    /// <summary>
    /// The window to put in the next segment, with receiver-side silly window syndrome avoidance
    /// (RFC 9293 3.8.6.2.2): the right edge (RCV.NXT + RCV.WND) only moves forward once it can move
    /// by at least min(capacity / 2, <paramref name="mss"/>); until then the previous edge is
    /// kept, and it is never pulled back (no window shrinking, RFC 9293 3.8.6). Records what it
    /// returns as advertised.
    /// </summary>
    /// <param name="mss">The effective send MSS of the peer (Eff.snd.MSS).</param>
    /// <returns>The window in bytes, before any window scaling (RFC 7323) by the caller.</returns>
    public int WindowToAdvertise(int mss)
    {
        if (IsWindowUpdateDue(mss))
        {
            _advertisedEdge = _rcvNxt + Window;
        }

        int kept = _advertisedEdge - _rcvNxt;
        return Math.Max(kept, 0);
    }

    /// <summary>
    /// Records that a window of <paramref name="window"/> bytes from RCV.NXT was offered outside
    /// <see cref="WindowToAdvertise"/> (our SYN's, which is sent before the buffer exists). The
    /// right edge only moves forward.
    /// </summary>
    /// <param name="window">The window offered, in bytes.</param>
    public void RecordAdvertised(int window)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(window);
        SeqNum edge = _rcvNxt + Math.Min(window, Window);
        if (edge > _advertisedEdge)
        {
            _advertisedEdge = edge;
        }
    }

    /// <summary>
    /// Whether the window may move its right edge now (RFC 9293 3.8.6.2.2: the increase reaches
    /// min(capacity / 2, <paramref name="mss"/>)); the engine sends a window update after a read
    /// when this turns true, and never for smaller increases.
    /// </summary>
    /// <param name="mss">The effective send MSS of the peer.</param>
    /// <returns>Whether <see cref="WindowToAdvertise"/> would open the window.</returns>
    public bool IsWindowUpdateDue(int mss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mss, 1);
        int threshold = Math.Min(Math.Max(_capacity / 2, 1), mss);
        int increase = _rcvNxt + Window - _advertisedEdge;
        return increase >= threshold;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with SACK blocks for the out-of-order data held
    /// (RFC 2018 4): the block holding the most recently received segment first, then the others
    /// from the most recently updated, each at most once, at most <see cref="MaxSackBlocks"/>.
    /// </summary>
    /// <param name="destination">Room for the blocks (three fit next to timestamps, four without).</param>
    /// <returns>The number of blocks written.</returns>
    public int GetSackBlocks(Span<TcpSackBlock> destination)
    {
        int wanted = Math.Min(Math.Min(destination.Length, MaxSackBlocks), _intervalCount);
        long below = long.MaxValue;
        for (int n = 0; n < wanted; n++)
        {
            // Selection of the next most recent; the interval count is small and this runs once per ACK.
            int best = -1;
            for (int i = 0; i < _intervalCount; i++)
            {
                long stamp = _intervals[i].Arrival;
                if (stamp < below && (best < 0 || stamp > _intervals[best].Arrival))
                {
                    best = i;
                }
            }

            below = _intervals[best].Arrival;
            destination[n] = new TcpSackBlock((_rcvNxt + _intervals[best].Start).Value, (_rcvNxt + _intervals[best].End).Value);
        }

        return wanted;
    }

    /// <summary>
    /// Whether some of [<paramref name="seq"/>, <paramref name="seq"/> + <paramref name="length"/>)
    /// beyond RCV.NXT is already held out of order (a duplicate, RFC 2883 4): the first such part
    /// and the held block it lies in. Call it before <see cref="Receive"/> stores the segment.
    /// </summary>
    /// <param name="seq">The first sequence number of the segment's data.</param>
    /// <param name="length">Its length.</param>
    /// <param name="duplicate">The first part already held.</param>
    /// <param name="containing">The held block (as a SACK block reports it) that part lies in.</param>
    /// <returns>Whether part of it is held.</returns>
    public bool TryFindHeldOverlap(SeqNum seq, int length, out TcpSackBlock duplicate, out TcpSackBlock containing)
    {
        long start = seq - _rcvNxt;
        long end = start + length;
        for (int i = 0; i < _intervalCount; i++)
        {
            Interval held = _intervals[i];
            if (held.End > start && held.Start < end)
            {
                duplicate = new TcpSackBlock((_rcvNxt + (int)Math.Max(start, held.Start)).Value, (_rcvNxt + (int)Math.Min(end, held.End)).Value);
                containing = new TcpSackBlock((_rcvNxt + held.Start).Value, (_rcvNxt + held.End).Value);
                return true;
            }
        }

        duplicate = default;
        containing = default;
        return false;
    }

    /// <summary>The number of out-of-order blocks held (what <see cref="GetSackBlocks"/> can report).</summary>
    public int HeldBlockCount => _intervalCount;

    // Copies the parts of [start, start + data.Length) not held yet and merges the interval in; returns the new bytes, or -1 when no interval slot is free.
    private int Insert(int start, ReadOnlySpan<byte> data)
    {
        int end = start + data.Length;

        // First interval that touches or follows the new one, and the first one past it.
        int lo = 0, top = _intervalCount; // binary search: the list may hold a thousand holes after a burst loss
        while (lo < top)
        {
            int mid = (lo + top) >>> 1;
            if (_intervals[mid].End < start)
            {
                lo = mid + 1;
            }
            else
            {
                top = mid;
            }
        }

        int hi = lo;
        while (hi < _intervalCount && _intervals[hi].Start <= end)
        {
            hi++;
        }

        if (lo == hi && _intervalCount == _maxIntervals && start > 0)
        {
            return -1; // no slot for another hole: drop it (the peer retransmits); in-order data never needs one
        }

        // Copy the gaps between the overlapped intervals.
        EnsureStorage(_readable + Math.Max(end, lo < hi ? _intervals[hi - 1].End : end), _intervalCount + 1);
        int stored = 0;
        int cursor = start;
        for (int i = lo; i < hi && cursor < end; i++)
        {
            if (_intervals[i].Start > cursor)
            {
                stored += CopyIn(cursor, data.Slice(cursor - start, _intervals[i].Start - cursor));
            }

            cursor = Math.Max(cursor, _intervals[i].End);
        }

        if (cursor < end)
        {
            stored += CopyIn(cursor, data[(cursor - start)..]);
        }

        int mergedStart = lo < hi ? Math.Min(start, _intervals[lo].Start) : start;
        int mergedEnd = lo < hi ? Math.Max(end, _intervals[hi - 1].End) : end;
        long arrival = ++_arrival; // RFC 2018 4: the block holding the triggering segment is reported first

        // Replace intervals [lo, hi) with the merged one.
        int removed = hi - lo;
        if (removed == 0)
        {
            Array.Copy(_intervals, lo, _intervals, lo + 1, _intervalCount - lo);
            _intervalCount++;
        }
        else if (removed > 1)
        {
            Array.Copy(_intervals, hi, _intervals, lo + 1, _intervalCount - hi);
            _intervalCount -= removed - 1;
        }

        _intervals[lo] = new Interval(mergedStart, mergedEnd, arrival);
        return stored;
    }

    private int CopyIn(int offset, ReadOnlySpan<byte> bytes)
    {
        int index = Wrap(_readPos + _readable + offset);
        int first = Math.Min(bytes.Length, _size - index);
        bytes[..first].CopyTo(_ring.AsSpan(index));
        bytes[first..].CopyTo(_ring);
        return bytes.Length;
    }

    // When the first interval starts at RCV.NXT, its bytes become readable and the offsets shift.
    private int Advance()
    {
        if (_intervalCount == 0 || _intervals[0].Start != 0)
        {
            return 0;
        }

        int delivered = _intervals[0].End;
        _readable += delivered;
        _rcvNxt += delivered;
        Array.Copy(_intervals, 1, _intervals, 0, _intervalCount - 1);
        _intervalCount--;
        for (int i = 0; i < _intervalCount; i++)
        {
            _intervals[i] = _intervals[i] with { Start = _intervals[i].Start - delivered, End = _intervals[i].End - delivered };
        }

        return delivered;
    }

    // Out-of-order data held beyond a newly learnt FIN cannot be part of the stream: drop it.
    private void TrimBeyondFin()
    {
        int fin = _finSeq - _rcvNxt;
        while (_intervalCount > 0 && _intervals[_intervalCount - 1].Start >= fin)
        {
            _intervalCount--;
        }

        if (_intervalCount > 0 && _intervals[_intervalCount - 1].End > fin)
        {
            _intervals[_intervalCount - 1] = _intervals[_intervalCount - 1] with { End = fin };
        }
    }

    /// <summary>
    /// Frees what the connection no longer needs once it will receive nothing more (TIME-WAIT or
    /// CLOSED): out-of-order data is dropped, and the ring too unless unread bytes remain (then
    /// call again after they are read).
    /// </summary>
    /// <returns>Whether the ring is gone.</returns>
    public bool Release()
    {
        _intervalCount = 0;
        _intervals = [];
        if (_readable == 0)
        {
            ReturnRing();
            _readPos = 0;
        }

        return _ring is null;
    }

    // Makes room for `bytes` bytes from the read position (doubling the ring up to the capacity,
    // keeping the held bytes in order) and for `intervals` interval slots.
    private void EnsureStorage(int bytes, int intervals)
    {
        if (_intervals.Length < Math.Min(intervals + 1, _maxIntervals + 1))
        {
            int slots = Math.Min(Math.Max(4, _intervals.Length * 2), _maxIntervals + 1);
            var grown = new Interval[slots];
            Array.Copy(_intervals, grown, _intervalCount);
            _intervals = grown;
        }

        // Everything held lies in [read position, read position + readable + last interval end).
        int used = _ring is null ? 0 : _readable + (_intervalCount > 0 ? _intervals[_intervalCount - 1].End : 0);
        if (PooledRing.Grow(ref _ring, ref _size, bytes, _capacity, _readPos, used))
        {
            _readPos = 0;
        }
    }

    // Gives the ring back to the pool (a released buffer holds nothing; DESIGN.md: pooled buffers).
    private void ReturnRing() => PooledRing.Return(ref _ring, ref _size);

    private int Wrap(int index) => index >= _size ? index - _size : index;

    // Offsets are relative to RCV.NXT, so they stay small and need no modular comparison.
    private readonly record struct Interval(int Start, int End, long Arrival);
}
