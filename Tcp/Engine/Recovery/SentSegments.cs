namespace Protocols.Tcp.Engine.Recovery;

/// <summary>The state of one sent segment in <see cref="SentSegments"/>.</summary>
[Flags]
internal enum SentSegmentState : byte
{
    /// <summary>In flight, never resent.</summary>
    None = 0,

    /// <summary>The receiver reported holding all of it (RFC 2018).</summary>
    Sacked = 1,

    /// <summary>Marked lost (RACK, RFC 8985 6.2, or a timeout) and not delivered since.</summary>
    Lost = 2,

    /// <summary>Resent at least once (RFC 8985's Segment.retransmitted).</summary>
    Retransmitted = 4,

    /// <summary>A retransmission of it is in flight (counted in <see cref="SentSegments.RetransmittedBytes"/>).</summary>
    RetransmissionInFlight = 8,

    /// <summary>Resent during the current recovery episode (for D-SACK undo, RFC 2883 / Linux's undo_retrans).</summary>
    RetransmittedInEpisode = 16,
}

/// <summary>One sent segment: its sequence range, last transmission time and state.</summary>
internal struct SentSegment
{
    /// <summary>The first sequence number.</summary>
    public SeqNum Start;

    /// <summary>One past the last sequence number (a FIN counts one).</summary>
    public SeqNum End;

    /// <summary>When it was last (re)transmitted (RFC 8985's Segment.xmit_ts).</summary>
    public Micros SentAt;

    /// <summary>
    /// The position of that transmission in the connection's sending order: it breaks ties between
    /// segments sent at the same instant (RFC 8985 6.2 uses the end sequence number, which puts a
    /// retransmission before new data sent just ahead of it).
    /// </summary>
    public long Order;

    /// <summary>Its state.</summary>
    public SentSegmentState State;

    // The transmission-time list: slots of the previous and next segment, -1 at the ends.
    internal int Older;
    internal int Newer;

    /// <summary>Its length in sequence numbers.</summary>
    public readonly int Length => End - Start;

    /// <summary>Whether <paramref name="flag"/> is set.</summary>
    /// <param name="flag">The flag.</param>
    /// <returns>True when set.</returns>
    public readonly bool Is(SentSegmentState flag) => (State & flag) != 0;
}

/// <summary>
/// The segments in flight, [SND.UNA, SND.MAX), one entry per transmission unit, in sequence order,
/// with the byte counts RFC 6675's pipe needs and a second order by transmission time for RACK
/// (RFC 8985 6.2: the oldest transmission first).
/// </summary>
/// <remarks>
/// <para>The entries live in a ring rented from a <see cref="RingPool{T}"/>, grown by doubling
/// up to a bound set by the send buffer (a full buffer of minimum-sized segments), so memory per
/// connection is bounded; when it is full the sender sends no new segment until ACKs free some.
/// Sequence lookups are binary searches; every other operation is O(1).</para>
/// <para>A log made for a controller that takes delivery-rate samples also keeps, in a second ring
/// with the same slots, each segment's <see cref="DeliveryStamp"/>; other logs have none, so their
/// entries stay as small as the loss detection needs.</para>
/// <para>The time order is a doubly linked list through the ring slots holding the segments that are
/// in flight and neither SACKed nor awaiting retransmission: a (re)transmission moves a segment to
/// the newest end, so RACK walks from the oldest end and stops at the first segment too young to
/// be judged.</para>
/// </remarks>
internal sealed class SentSegments
{
    private const int InitialCapacity = 16;

    // First rings kept across connections (at most 1024 * 16 entries, about 640 KiB; the rate
    // rings as many again, about 512 KiB).
    private static readonly RingPool<SentSegment> Pool = new(InitialCapacity, 1024);
    private static readonly RingPool<DeliveryStamp> RatePool = new(InitialCapacity, 1024);

    // What a log without rates reports for every segment.
    private static readonly DeliveryStamp NoRate;

    private readonly int _maxCount;
    private readonly bool _withRates;
    private SentSegment[]? _ring;
    private DeliveryStamp[]? _rates; // slot for slot with _ring, when _withRates
    private int _head;
    private int _count;
    private int _oldest = -1;
    private int _newest = -1;
    private int _resendFrom; // no segment before this index is lost and waiting to be resent
    private long _order;

    /// <summary>A log for a connection whose send buffer holds <paramref name="sendBufferSize"/> bytes.</summary>
    /// <param name="sendBufferSize">The send buffer's capacity.</param>
    /// <param name="withRates">Whether to keep each segment's delivery stamp (the controller takes rate samples).</param>
    public SentSegments(int sendBufferSize, bool withRates = false)
    {
        _maxCount = (int)Math.Clamp((sendBufferSize / (long)SegmentSizes.MinimumMss) + 2, InitialCapacity, 1 << 20);
        _withRates = withRates;
    }

    /// <summary>Segments held.</summary>
    public int Count => _count;

    /// <summary>Whether no more segments can be recorded until some are acknowledged.</summary>
    public bool IsFull => _count >= _maxCount;

    /// <summary>Bytes of fully SACKed segments.</summary>
    public long SackedBytes { get; private set; }

    /// <summary>Bytes of segments marked lost and not delivered since.</summary>
    public long LostBytes { get; private set; }

    /// <summary>Bytes of retransmissions in flight (resent, not delivered, not marked lost again).</summary>
    public long RetransmittedBytes { get; private set; }

    /// <summary>Segments fully SACKed.</summary>
    public int SackedCount { get; private set; }

    /// <summary>The oldest transmission in flight (RACK's starting point); -1 when none.</summary>
    public int OldestSent => _oldest;

    /// <summary>The entry at logical position <paramref name="index"/> (0 = the segment at SND.UNA).</summary>
    /// <param name="index">0 .. <see cref="Count"/> - 1.</param>
    /// <returns>A reference to it.</returns>
    public ref SentSegment this[int index] => ref _ring![Slot(index)];

    /// <summary>
    /// The delivery stamp of the segment at logical position <paramref name="index"/>: the one it was
    /// last (re)transmitted with, or all zero in a log without rates.
    /// </summary>
    /// <param name="index">0 .. <see cref="Count"/> - 1.</param>
    /// <returns>A reference to it.</returns>
    public ref readonly DeliveryStamp RateAt(int index) => ref RateOfSlot(Slot(index));

    /// <summary>The entry in ring slot <paramref name="slot"/> (as linked in the time order).</summary>
    /// <param name="slot">A slot from <see cref="OldestSent"/> or <see cref="NewerThan"/>.</param>
    /// <returns>A reference to it.</returns>
    public ref SentSegment AtSlot(int slot) => ref _ring![slot];

    /// <summary>The slot transmitted after <paramref name="slot"/>, or -1.</summary>
    /// <param name="slot">A slot in the time order.</param>
    /// <returns>The next slot.</returns>
    public int NewerThan(int slot) => _ring![slot].Newer;

    /// <summary>The logical index of ring slot <paramref name="slot"/>.</summary>
    /// <param name="slot">A slot holding a segment.</param>
    /// <returns>Its index from SND.UNA.</returns>
    public int IndexOfSlot(int slot) => slot >= _head ? slot - _head : slot + _ring!.Length - _head;

    /// <summary>
    /// The index of the first segment marked lost, not SACKed and not resent since (RFC 6675's
    /// NextSeg rule 1), or -1. Amortized O(1): a cursor only moves back when a segment before it
    /// is marked lost.
    /// </summary>
    /// <returns>The index, or -1.</returns>
    public int NextLostToResend()
    {
        while (_resendFrom < _count)
        {
            ref SentSegment s = ref this[_resendFrom];
            if ((s.State & (SentSegmentState.Lost | SentSegmentState.Sacked | SentSegmentState.RetransmissionInFlight)) == SentSegmentState.Lost)
            {
                return _resendFrom;
            }

            _resendFrom++;
        }

        return -1;
    }

    /// <summary>Records a new segment [<paramref name="start"/>, <paramref name="end"/>) sent at <paramref name="now"/>.</summary>
    /// <param name="start">Its first sequence number (the previous segment's end).</param>
    /// <param name="end">One past its last.</param>
    /// <param name="now">The current time.</param>
    /// <param name="rate">The connection's delivery state at this transmission (kept only in a log with rates).</param>
    public void Append(SeqNum start, SeqNum end, Micros now, in DeliveryStamp rate)
    {
        EnsureRoom();
        int slot = Slot(_count);
        _count++;
        _ring![slot] = new SentSegment { Start = start, End = end, SentAt = now, Order = ++_order, Older = -1, Newer = -1 };
        if (_rates is not null)
        {
            _rates[slot] = rate;
        }

        LinkNewest(slot);
    }

    /// <summary>The logical index of the segment holding <paramref name="seq"/>, or of the first one after it; <see cref="Count"/> when none.</summary>
    /// <param name="seq">A sequence number.</param>
    /// <returns>The index.</returns>
    public int IndexOf(SeqNum seq)
    {
        int lo = 0;
        int hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid].End - seq <= 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The segment at <paramref name="index"/> was sent again at <paramref name="now"/>.</summary>
    /// <param name="index">Its logical index.</param>
    /// <param name="now">The current time.</param>
    /// <param name="rate">The connection's delivery state at this transmission (kept only in a log with rates).</param>
    public void OnRetransmitted(int index, Micros now, in DeliveryStamp rate)
    {
        int slot = Slot(index);
        ref SentSegment s = ref _ring![slot];
        if (s.Is(SentSegmentState.Sacked))
        {
            return;
        }

        Unlink(slot);
        if (!s.Is(SentSegmentState.RetransmissionInFlight))
        {
            RetransmittedBytes += s.Length;
        }

        s.State |= SentSegmentState.Retransmitted | SentSegmentState.RetransmissionInFlight | SentSegmentState.RetransmittedInEpisode;
        s.SentAt = now;
        s.Order = ++_order;
        if (_rates is not null)
        {
            _rates[slot] = rate;
        }

        LinkNewest(slot);
    }

    /// <summary>Marks the segment at <paramref name="index"/> lost: it leaves the time order until resent.</summary>
    /// <param name="index">Its logical index.</param>
    /// <returns>Whether it was not already marked (or SACKed).</returns>
    public bool MarkLost(int index)
    {
        int slot = Slot(index);
        ref SentSegment s = ref _ring![slot];
        if (s.Is(SentSegmentState.Sacked) || (s.Is(SentSegmentState.Lost) && !s.Is(SentSegmentState.RetransmissionInFlight)))
        {
            return false;
        }

        Unlink(slot);
        if (s.Is(SentSegmentState.RetransmissionInFlight))
        {
            RetransmittedBytes -= s.Length; // the retransmission is lost too
            s.State &= ~SentSegmentState.RetransmissionInFlight;
        }

        if (!s.Is(SentSegmentState.Lost))
        {
            LostBytes += s.Length;
            s.State |= SentSegmentState.Lost;
        }

        _resendFrom = Math.Min(_resendFrom, index);
        return true;
    }

    /// <summary>Takes the lost mark back (a spurious loss, undone): the segment is in flight again.</summary>
    /// <param name="index">Its logical index.</param>
    public void Unmark(int index)
    {
        int slot = Slot(index);
        ref SentSegment s = ref _ring![slot];
        if (s.Is(SentSegmentState.Lost) && !s.Is(SentSegmentState.Sacked))
        {
            LostBytes -= s.Length;
            s.State &= ~SentSegmentState.Lost;
            if (!s.Is(SentSegmentState.RetransmissionInFlight))
            {
                LinkNewest(slot);
            }
        }
    }

    /// <summary>The segment at <paramref name="index"/> is SACKed: it leaves the counts of lost and retransmitted bytes and the time order.</summary>
    /// <param name="index">Its logical index.</param>
    public void MarkSacked(int index)
    {
        int slot = Slot(index);
        ref SentSegment s = ref _ring![slot];
        if (s.Is(SentSegmentState.Sacked))
        {
            return;
        }

        Unlink(slot);
        ClearInFlightCounts(ref s);
        s.State |= SentSegmentState.Sacked;
        SackedBytes += s.Length;
        SackedCount++;
    }

    /// <summary>Forgets every SACK (the receiver reneged, RFC 2018 8): SACKed segments are in flight again.</summary>
    public void ClearSacks()
    {
        for (int i = 0; i < _count; i++)
        {
            int slot = Slot(i);
            ref SentSegment s = ref _ring![slot];
            if (s.Is(SentSegmentState.Sacked))
            {
                s.State &= ~SentSegmentState.Sacked;
                LinkNewest(slot);
            }
        }

        SackedBytes = 0;
        SackedCount = 0;
    }

    /// <summary>A new recovery episode starts: retransmissions before it no longer count for its undo.</summary>
    public void StartEpisode()
    {
        for (int i = 0; i < _count; i++)
        {
            this[i].State &= ~SentSegmentState.RetransmittedInEpisode;
        }
    }

    /// <summary>
    /// SND.UNA moved to <paramref name="sndUna"/>: drops the segments before it (and trims one it
    /// cuts), reporting each fully acknowledged one to <paramref name="delivered"/> first.
    /// </summary>
    /// <typeparam name="TVisitor">The visitor type (a struct, so the call allocates nothing).</typeparam>
    /// <param name="sndUna">The new SND.UNA.</param>
    /// <param name="delivered">Sees each segment newly acknowledged that was not SACKed before.</param>
    public void RemoveAcknowledged<TVisitor>(SeqNum sndUna, ref TVisitor delivered)
        where TVisitor : struct, IDeliveryVisitor
    {
        while (_count > 0)
        {
            ref SentSegment s = ref _ring![_head];
            if (s.End - sndUna > 0)
            {
                if (s.Start - sndUna < 0)
                {
                    Trim(ref s, sndUna); // a partial acknowledgment of this segment
                }

                return;
            }

            if (!s.Is(SentSegmentState.Sacked))
            {
                delivered.OnDelivered(s, RateOfSlot(_head));
            }

            Unlink(_head);
            ClearInFlightCounts(ref s);
            if (s.Is(SentSegmentState.Sacked))
            {
                SackedBytes -= s.Length;
                SackedCount--;
            }

            _head = _head + 1 == _ring.Length ? 0 : _head + 1;
            _count--;
            _resendFrom = Math.Max(_resendFrom - 1, 0);
        }
    }

    /// <summary>
    /// Splits the segment at <paramref name="index"/> so that it ends at <paramref name="at"/> (the
    /// send MSS shrank and it must be resent in smaller pieces). O(<see cref="Count"/>): rare.
    /// </summary>
    /// <param name="index">Its logical index.</param>
    /// <param name="at">A sequence number inside it.</param>
    /// <returns>False when the log is full (the caller resends the whole segment then).</returns>
    public bool Split(int index, SeqNum at)
    {
        if (IsFull)
        {
            return false;
        }

        EnsureRoom();
        SentSegment original = this[index];
        for (int i = _count; i > index + 1; i--)
        {
            MoveSlot(Slot(i - 1), Slot(i));
        }

        _count++;
        if (_resendFrom > index)
        {
            _resendFrom++;
        }

        int firstSlot = Slot(index);
        int secondSlot = Slot(index + 1);
        ref SentSegment first = ref _ring![firstSlot];
        first.End = at;
        SentSegment second = original with { Start = at, Older = -1, Newer = -1 };
        _ring[secondSlot] = second;
        if (_rates is not null)
        {
            _rates[secondSlot] = _rates[firstSlot];
        }

        bool linked = first.Older != -1 || first.Newer != -1 || _oldest == firstSlot;
        if (linked)
        {
            LinkAfter(firstSlot, secondSlot);
        }

        return true;
    }

    /// <summary>Forgets everything and returns the ring to the pool.</summary>
    public void Release()
    {
        if (_ring is not null)
        {
            Pool.Return(_ring);
            _ring = null;
        }

        if (_rates is not null)
        {
            RatePool.Return(_rates);
            _rates = null;
        }

        _head = 0;
        _count = 0;
        _oldest = -1;
        _newest = -1;
        _resendFrom = 0;
        SackedBytes = 0;
        LostBytes = 0;
        RetransmittedBytes = 0;
        SackedCount = 0;
    }

    private void Trim(ref SentSegment s, SeqNum sndUna)
    {
        int cut = sndUna - s.Start;
        if (s.Is(SentSegmentState.Sacked))
        {
            SackedBytes -= cut;
        }

        if (s.Is(SentSegmentState.Lost))
        {
            LostBytes -= cut;
        }

        if (s.Is(SentSegmentState.RetransmissionInFlight))
        {
            RetransmittedBytes -= cut;
        }

        s.Start = sndUna;
    }

    private void ClearInFlightCounts(ref SentSegment s)
    {
        if (s.Is(SentSegmentState.Lost))
        {
            LostBytes -= s.Length;
            s.State &= ~SentSegmentState.Lost;
        }

        if (s.Is(SentSegmentState.RetransmissionInFlight))
        {
            RetransmittedBytes -= s.Length;
            s.State &= ~SentSegmentState.RetransmissionInFlight;
        }
    }

    private int Slot(int index)
    {
        int slot = _head + index;
        int length = _ring!.Length;
        return slot >= length ? slot - length : slot;
    }

    private void EnsureRoom()
    {
        if (_ring is null)
        {
            _ring = Pool.Rent(InitialCapacity);
            _rates = _withRates ? RatePool.Rent(_ring.Length) : null;
            _head = 0;
            return;
        }

        if (_count < _ring.Length)
        {
            return;
        }

        // Double, copying in logical order; the time links are slot numbers, so they are mapped too.
        SentSegment[] old = _ring;
        SentSegment[] grown = Pool.Rent(old.Length * 2);
        for (int i = 0; i < _count; i++)
        {
            SentSegment s = old[(_head + i) % old.Length];
            s.Older = Remap(s.Older, old.Length);
            s.Newer = Remap(s.Newer, old.Length);
            grown[i] = s;
        }

        if (_rates is not null)
        {
            DeliveryStamp[] oldRates = _rates;
            DeliveryStamp[] grownRates = RatePool.Rent(grown.Length);
            for (int i = 0; i < _count; i++)
            {
                grownRates[i] = oldRates[(_head + i) % old.Length];
            }

            RatePool.Return(oldRates);
            _rates = grownRates;
        }

        _oldest = Remap(_oldest, old.Length);
        _newest = Remap(_newest, old.Length);
        Pool.Return(old);
        _ring = grown;
        _head = 0;
    }

    private ref readonly DeliveryStamp RateOfSlot(int slot) => ref _rates is null ? ref NoRate : ref _rates[slot];

    private int Remap(int slot, int oldLength) => slot < 0 ? -1 : (slot - _head + oldLength) % oldLength;

    // Moves the entry in slot `from` to the empty slot `to`, keeping the time links pointing at it.
    private void MoveSlot(int from, int to)
    {
        SentSegment s = _ring![from];
        _ring[to] = s;
        if (_rates is not null)
        {
            _rates[to] = _rates[from];
        }
        if (s.Older >= 0)
        {
            _ring[s.Older].Newer = to;
        }
        else if (_oldest == from)
        {
            _oldest = to;
        }

        if (s.Newer >= 0)
        {
            _ring[s.Newer].Older = to;
        }
        else if (_newest == from)
        {
            _newest = to;
        }
    }

    private void LinkNewest(int slot)
    {
        ref SentSegment s = ref _ring![slot];
        s.Newer = -1;
        s.Older = _newest;
        if (_newest >= 0)
        {
            _ring[_newest].Newer = slot;
        }
        else
        {
            _oldest = slot;
        }

        _newest = slot;
    }

    private void LinkAfter(int existing, int slot)
    {
        ref SentSegment e = ref _ring![existing];
        ref SentSegment s = ref _ring[slot];
        s.Older = existing;
        s.Newer = e.Newer;
        if (e.Newer >= 0)
        {
            _ring[e.Newer].Older = slot;
        }
        else
        {
            _newest = slot;
        }

        e.Newer = slot;
    }

    private void Unlink(int slot)
    {
        ref SentSegment s = ref _ring![slot];
        bool linked = s.Older >= 0 || s.Newer >= 0 || _oldest == slot;
        if (!linked)
        {
            return;
        }

        if (s.Older >= 0)
        {
            _ring[s.Older].Newer = s.Newer;
        }
        else
        {
            _oldest = s.Newer;
        }

        if (s.Newer >= 0)
        {
            _ring[s.Newer].Older = s.Older;
        }
        else
        {
            _newest = s.Older;
        }

        s.Older = -1;
        s.Newer = -1;
    }
}

/// <summary>Receives each segment a cumulative ACK delivers (a struct, so that visiting allocates nothing).</summary>
internal interface IDeliveryVisitor
{
    /// <summary>A segment was newly delivered.</summary>
    /// <param name="segment">The segment, before it is dropped.</param>
    /// <param name="rate">Its delivery stamp (all zero when the log keeps none).</param>
    void OnDelivered(in SentSegment segment, in DeliveryStamp rate);
}
