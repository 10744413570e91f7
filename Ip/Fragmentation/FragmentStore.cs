using System.Buffers;

namespace Protocols.Ip.Fragmentation;

/// <summary>How overlapping fragments of one datagram are judged.</summary>
internal enum OverlapPolicy
{
    /// <summary>Overlapping bytes are compared: identical ones are accepted, any difference drops the datagram (IPv4 here).</summary>
    IdenticalBytes = 0,

    /// <summary>
    /// RFC 5722 / RFC 8200 4.5: any overlap drops the datagram; only an exact duplicate (same
    /// offset, same length, same bytes) is ignored (IPv6).
    /// </summary>
    ExactDuplicatesOnly,
}

/// <summary>What <see cref="FragmentStore{TKey}.Offer"/> did.</summary>
internal enum FragmentOutcome
{
    /// <summary>Stored (or ignored as a duplicate); the datagram is not complete.</summary>
    Stored,

    /// <summary>Ignored as a duplicate.</summary>
    Duplicate,

    /// <summary>The datagram is complete: the entry is unlinked, the caller builds the datagram and calls <see cref="FragmentStore{TKey}.Release"/>.</summary>
    Completed,

    /// <summary>Dropped, for the reason given.</summary>
    Dropped,
}

/// <summary>
/// The family-independent part of reassembly, shared by <see cref="Ipv4Reassembler"/> and
/// <see cref="Ipv6Reassembler"/>: datagrams in progress keyed by <typeparamref name="TKey"/>, each a
/// pooled buffer window of its payload and a sorted list of the runs of bytes received (RFC 815
/// style intervals), the first fragment's header bytes, a FIFO of deadlines (fixed when the first
/// fragment arrives), and the limits (datagrams, bytes, runs). Single-threaded; never throws on data.
/// </summary>
/// <typeparam name="TKey">What identifies a datagram's fragments (RFC 791 3.2, RFC 8200 4.5).</typeparam>
internal sealed class FragmentStore<TKey>
    where TKey : struct, IEquatable<TKey>
{
    private const int InitialRuns = 8;

    private readonly Dictionary<TKey, Entry> _entries;
    private readonly Stack<Entry> _free = new();
    private readonly long[] _failures = new long[Enum.GetValues<ReassemblyDropReason>().Length];
    private readonly int _maxDatagramMaxPayload;
    private readonly OverlapPolicy _overlap;
    private Entry? _oldest;
    private Entry? _newest;
    private long _bytes;
    private long _fragmentsReceived;
    private long _reassembled;
    private long _duplicates;

    /// <param name="maxDatagrams">Datagrams in progress at once.</param>
    /// <param name="maxBytes">Bytes of buffer held at once.</param>
    /// <param name="timeout">Time from the first fragment to the drop.</param>
    /// <param name="maxRuns">Separate runs one datagram may have.</param>
    /// <param name="policy">What a limit does.</param>
    /// <param name="overlap">How overlaps are judged.</param>
    /// <param name="maxPayload">The largest payload a datagram may reach (past the first fragment's header).</param>
    public FragmentStore(int maxDatagrams, long maxBytes, TimeSpan timeout, int maxRuns, ReassemblyLimitPolicy policy, OverlapPolicy overlap, int maxPayload)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagrams, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRuns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        MaxDatagrams = maxDatagrams;
        MaxBytes = maxBytes;
        Timeout = timeout;
        MaxRuns = maxRuns;
        Policy = policy;
        _overlap = overlap;
        _maxDatagramMaxPayload = maxPayload;
        _entries = new Dictionary<TKey, Entry>(Math.Min(maxDatagrams, 1024));
    }

    public int MaxDatagrams { get; }

    public long MaxBytes { get; }

    public TimeSpan Timeout { get; }

    public int MaxRuns { get; }

    public ReassemblyLimitPolicy Policy { get; }

    public int Count => _entries.Count;

    public long BufferedBytes => _bytes;

    public DateTimeOffset? NextExpiry => _oldest?.Deadline;

    public ReassemblyCounters Counters => new(
        _fragmentsReceived,
        _reassembled,
        _duplicates,
        _failures[(int)ReassemblyDropReason.Timeout],
        _failures[(int)ReassemblyDropReason.Overlap],
        _failures[(int)ReassemblyDropReason.TooLarge],
        _failures[(int)ReassemblyDropReason.LimitDatagrams],
        _failures[(int)ReassemblyDropReason.LimitBytes],
        _failures[(int)ReassemblyDropReason.Malformed],
        _failures[(int)ReassemblyDropReason.TooManyFragments],
        _entries.Count,
        _bytes);

    /// <summary>Counts a packet offered that was not a fragment (handed back whole).</summary>
    public void CountWhole() => _fragmentsReceived++;

    /// <summary>Counts a fragment offered and refused before it reached the store.</summary>
    public void CountRefused(ReassemblyDropReason reason)
    {
        _fragmentsReceived++;
        _failures[(int)reason]++;
    }

    /// <summary>
    /// Offers one fragment: <paramref name="data"/> at byte <paramref name="offset"/> of the
    /// payload, <paramref name="more"/> its M/MF flag, <paramref name="firstHeader"/> the header
    /// bytes to keep when it is the first fragment (offset 0), <paramref name="headerGuess"/> the
    /// header length to assume for the size limit until the first fragment arrives. The caller has
    /// checked that a fragment with more to come carries a non-empty multiple of 8 bytes.
    /// </summary>
    public FragmentOutcome Offer(TKey key, int offset, ReadOnlySpan<byte> data, bool more, ReadOnlySpan<byte> firstHeader, int headerGuess, DateTimeOffset now, out ReassemblyDropReason reason, out Entry? completed)
    {
        _fragmentsReceived++;
        completed = null;
        reason = ReassemblyDropReason.None;
        int end = offset + data.Length;
        _entries.TryGetValue(key, out Entry? entry);

        // The header is the first fragment's (a guess until it arrives) and the whole must fit.
        int knownHeader = offset == 0 ? firstHeader.Length : entry is { HeaderLength: > 0 } ? entry.HeaderLength : headerGuess;
        int furthest = Math.Max(end, entry?.MaxEnd ?? 0);
        if (knownHeader + furthest > _maxDatagramMaxPayload)
        {
            return Fail(entry, ReassemblyDropReason.TooLarge, out reason);
        }

        if (entry is null)
        {
            entry = Create(key, now);
            if (entry is null)
            {
                return Fail(null, ReassemblyDropReason.LimitDatagrams, out reason);
            }
        }

        // The datagram's end: fixed by the last fragment; nothing may lie past it, and a second,
        // different end is a conflict.
        if (!more)
        {
            if ((entry.TotalEnd >= 0 && entry.TotalEnd != end) || entry.MaxEnd > end)
            {
                return Fail(entry, ReassemblyDropReason.Overlap, out reason);
            }
        }
        else if (entry.TotalEnd >= 0 && end > entry.TotalEnd)
        {
            return Fail(entry, ReassemblyDropReason.Overlap, out reason);
        }

        // Overlap with bytes already held: differing bytes always drop the datagram; with
        // ExactDuplicatesOnly, so does any overlap that is not a repeat of one fragment.
        int overlapped = CompareOverlap(entry, offset, data, out bool conflict);
        if (conflict || (_overlap == OverlapPolicy.ExactDuplicatesOnly && overlapped > 0 && !IsExactFragment(entry, offset, end)))
        {
            return Fail(entry, ReassemblyDropReason.Overlap, out reason);
        }

        bool newEnd = !more && entry.TotalEnd < 0;
        bool newHeader = offset == 0 && entry.HeaderLength == 0;
        if (overlapped == data.Length && !newEnd && !newHeader)
        {
            _duplicates++;
            return FragmentOutcome.Duplicate;
        }

        if (data.Length > 0)
        {
            if (!EnsureCapacity(entry, offset, end))
            {
                return Fail(entry, ReassemblyDropReason.LimitBytes, out reason);
            }

            if (!AddRun(entry, offset, end))
            {
                return Fail(entry, ReassemblyDropReason.TooManyFragments, out reason);
            }

            data.CopyTo(entry.Buffer.AsSpan(offset - entry.BufferBase));
            if (_overlap == OverlapPolicy.ExactDuplicatesOnly)
            {
                entry.RecordFragment(offset, end);
            }
        }

        if (newHeader)
        {
            if (entry.Header.Length < firstHeader.Length)
            {
                entry.Header = new byte[Math.Max(firstHeader.Length, entry.Header.Length * 2)];
            }

            firstHeader.CopyTo(entry.Header);
            entry.HeaderLength = firstHeader.Length;
            entry.FirstDataLength = data.Length;
        }

        if (newEnd)
        {
            entry.TotalEnd = end;
        }

        entry.MaxEnd = Math.Max(entry.MaxEnd, end);
        if (entry.TotalEnd > 0 && entry.RunCount == 1 && entry.RunStart[0] == 0 && entry.RunEnd[0] == entry.TotalEnd && entry.HeaderLength > 0)
        {
            Unlink(entry);
            _reassembled++;
            completed = entry;
            return FragmentOutcome.Completed;
        }

        return FragmentOutcome.Stored;
    }

    /// <summary>Takes the payload buffer of a completed entry (the caller now owns it) and recycles the entry.</summary>
    public byte[] TakeBufferAndRelease(Entry entry)
    {
        byte[] payload = entry.Buffer!;
        entry.Buffer = null;
        _bytes -= payload.Length;
        Recycle(entry);
        return payload;
    }

    /// <summary>Recycles a completed entry whose buffer the caller does not take.</summary>
    public void Release(Entry entry) => Recycle(entry);

    /// <summary>Drops every datagram whose deadline is past, calling <paramref name="onExpired"/> for each before its buffer goes back.</summary>
    public int Expire(DateTimeOffset now, Action<Entry>? onExpired)
    {
        int expired = 0;
        while (_oldest is { } entry && entry.Deadline <= now)
        {
            Unlink(entry);
            _failures[(int)ReassemblyDropReason.Timeout]++;
            expired++;
            try
            {
                onExpired?.Invoke(entry);
            }
            finally
            {
                Recycle(entry);
            }
        }

        return expired;
    }

    public void Clear()
    {
        while (_oldest is { } entry)
        {
            Unlink(entry);
            Recycle(entry);
        }
    }

    private FragmentOutcome Fail(Entry? drop, ReassemblyDropReason why, out ReassemblyDropReason reason)
    {
        if (drop is not null)
        {
            Unlink(drop);
            Recycle(drop);
        }

        _failures[(int)why]++;
        reason = why;
        return FragmentOutcome.Dropped;
    }

    private Entry? Create(TKey key, DateTimeOffset now)
    {
        if (_entries.Count >= MaxDatagrams)
        {
            if (Policy == ReassemblyLimitPolicy.RefuseNew || _oldest is null)
            {
                return null;
            }

            Evict(_oldest, ReassemblyDropReason.LimitDatagrams);
        }

        Entry entry = _free.Count > 0 ? _free.Pop() : new Entry();
        entry.Key = key;

        // The timer starts with the first fragment (Linux ipfrag_time). Deadlines never go
        // backwards along the list, so the oldest entry is always the next to expire even if
        // the caller's clock steps back.
        DateTimeOffset deadline = now > DateTimeOffset.MaxValue - Timeout ? DateTimeOffset.MaxValue : now + Timeout;
        if (_newest is not null && _newest.Deadline > deadline)
        {
            deadline = _newest.Deadline;
        }

        entry.Deadline = deadline;
        entry.Previous = _newest;
        entry.Next = null;
        if (_newest is null)
        {
            _oldest = entry;
        }
        else
        {
            _newest.Next = entry;
        }

        _newest = entry;
        _entries.Add(key, entry);
        return entry;
    }

    private void Evict(Entry entry, ReassemblyDropReason reason)
    {
        Unlink(entry);
        Recycle(entry);
        _failures[(int)reason]++;
    }

    // Makes entry.Buffer cover [offset, end) as well as the bytes already held, within the byte
    // budget. The buffer is a window of the payload starting at entry.BufferBase: a lone fragment
    // far into the datagram costs its own size, not the whole offset.
    private bool EnsureCapacity(Entry entry, int offset, int end)
    {
        byte[]? old = entry.Buffer;
        int current = old?.Length ?? 0;
        int heldLow = entry.RunCount > 0 ? entry.RunStart[0] : offset;
        int heldHigh = entry.RunCount > 0 ? entry.RunEnd[entry.RunCount - 1] : offset;
        int low = Math.Min(heldLow, offset);
        int high = Math.Max(heldHigh, end);
        if (old is not null && low >= entry.BufferBase && high <= entry.BufferBase + current)
        {
            return true;
        }

        // Grow by doubling (amortized copies whichever way the fragments arrive), never past the
        // known end or the largest datagram.
        int ceiling = entry.TotalEnd >= 0 ? entry.TotalEnd : _maxDatagramMaxPayload;
        int span = Math.Max(high - low, Math.Min(current * 2, ceiling));
        int newLow = low;
        if (old is not null && offset < heldLow)
        {
            newLow = Math.Max(0, high - span); // growing downwards (fragments arriving in reverse)
        }

        int size = Math.Max(high - newLow, Math.Min(span, ceiling - newLow));
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        long delta = buffer.Length - current;
        while (_bytes + delta > MaxBytes)
        {
            Entry? victim = _oldest == entry ? entry.Next : _oldest;
            if (victim is null || Policy == ReassemblyLimitPolicy.RefuseNew)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return false;
            }

            Evict(victim, ReassemblyDropReason.LimitBytes);
        }

        if (old is not null)
        {
            // Only bytes inside runs matter: copy from the lowest to the highest byte held.
            if (entry.RunCount > 0)
            {
                old.AsSpan(heldLow - entry.BufferBase, heldHigh - heldLow).CopyTo(buffer.AsSpan(heldLow - newLow));
            }

            ArrayPool<byte>.Shared.Return(old);
        }

        _bytes += delta;
        entry.Buffer = buffer;
        entry.BufferBase = newLow;
        return true;
    }

    // Compares the fragment with the bytes already held where they overlap. Returns how many of
    // the fragment's bytes were already held; conflict when any of them differs.
    private static int CompareOverlap(Entry entry, int offset, ReadOnlySpan<byte> data, out bool conflict)
    {
        conflict = false;
        int end = offset + data.Length;
        int overlapped = 0;
        for (int i = FirstRunEndingAfter(entry, offset); i < entry.RunCount && entry.RunStart[i] < end; i++)
        {
            int from = Math.Max(entry.RunStart[i], offset);
            int to = Math.Min(entry.RunEnd[i], end);
            if (to <= from)
            {
                continue;
            }

            if (!entry.Buffer.AsSpan(from - entry.BufferBase, to - from).SequenceEqual(data.Slice(from - offset, to - from)))
            {
                conflict = true;
                return overlapped;
            }

            overlapped += to - from;
        }

        return overlapped;
    }

    // True when a fragment with exactly [offset, end) was received before (RFC 8200 4.5: an exact duplicate).
    private static bool IsExactFragment(Entry entry, int offset, int end)
    {
        for (int i = 0; i < entry.FragmentCount; i++)
        {
            if (entry.FragmentStart[i] == offset && entry.FragmentEnd[i] == end)
            {
                return true;
            }
        }

        return false;
    }

    // Binary search: the first run whose end is after `offset`.
    private static int FirstRunEndingAfter(Entry entry, int offset)
    {
        int lo = 0;
        int hi = entry.RunCount;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (entry.RunEnd[mid] <= offset)
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

    // Inserts [start, end) into the sorted, disjoint, non-adjacent run list, merging what it
    // touches. False when the run limit would be exceeded.
    private bool AddRun(Entry entry, int start, int end)
    {
        // Runs that touch or overlap [start, end): those with RunEnd >= start and RunStart <= end.
        int first = FirstRunEndingAfter(entry, start - 1);
        int last = first;
        while (last < entry.RunCount && entry.RunStart[last] <= end)
        {
            last++;
        }

        int merged = last - first;
        if (merged == 0)
        {
            if (entry.RunCount >= MaxRuns)
            {
                return false;
            }

            if (entry.RunCount == entry.RunStart.Length)
            {
                int grown = Math.Min(entry.RunStart.Length * 2, Math.Max(MaxRuns, InitialRuns));
                Array.Resize(ref entry.RunStart, grown);
                Array.Resize(ref entry.RunEnd, grown);
            }

            Array.Copy(entry.RunStart, first, entry.RunStart, first + 1, entry.RunCount - first);
            Array.Copy(entry.RunEnd, first, entry.RunEnd, first + 1, entry.RunCount - first);
            entry.RunStart[first] = start;
            entry.RunEnd[first] = end;
            entry.RunCount++;
            return true;
        }

        int newStart = Math.Min(start, entry.RunStart[first]);
        int newEnd = Math.Max(end, entry.RunEnd[last - 1]);
        entry.RunStart[first] = newStart;
        entry.RunEnd[first] = newEnd;
        int removed = merged - 1;
        if (removed > 0)
        {
            Array.Copy(entry.RunStart, last, entry.RunStart, first + 1, entry.RunCount - last);
            Array.Copy(entry.RunEnd, last, entry.RunEnd, first + 1, entry.RunCount - last);
            entry.RunCount -= removed;
        }

        return true;
    }

    private void Unlink(Entry entry)
    {
        _entries.Remove(entry.Key);
        if (entry.Previous is null)
        {
            _oldest = entry.Next;
        }
        else
        {
            entry.Previous.Next = entry.Next;
        }

        if (entry.Next is null)
        {
            _newest = entry.Previous;
        }
        else
        {
            entry.Next.Previous = entry.Previous;
        }

        entry.Previous = null;
        entry.Next = null;
    }

    // Returns the entry's buffer and keeps the entry object (and its arrays) for reuse.
    private void Recycle(Entry entry)
    {
        if (entry.Buffer is not null)
        {
            _bytes -= entry.Buffer.Length;
            ArrayPool<byte>.Shared.Return(entry.Buffer);
            entry.Buffer = null;
        }

        entry.BufferBase = 0;
        entry.HeaderLength = 0;
        entry.FirstDataLength = 0;
        entry.TotalEnd = -1;
        entry.MaxEnd = 0;
        entry.RunCount = 0;
        entry.FragmentCount = 0;
        if (_free.Count < MaxDatagrams)
        {
            _free.Push(entry);
        }
    }

    /// <summary>One datagram in reassembly.</summary>
    internal sealed class Entry
    {
        public TKey Key;
        public DateTimeOffset Deadline;
        public Entry? Previous;
        public Entry? Next;
        public byte[]? Buffer;
        public int BufferBase;
        public byte[] Header = new byte[64];
        public int HeaderLength;
        public int FirstDataLength;
        public int TotalEnd = -1;
        public int MaxEnd;
        public int[] RunStart = new int[InitialRuns];
        public int[] RunEnd = new int[InitialRuns];
        public int RunCount;

        // With OverlapPolicy.ExactDuplicatesOnly: the fragments received, to tell an exact duplicate from an overlap.
        public int[] FragmentStart = [];
        public int[] FragmentEnd = [];
        public int FragmentCount;

        /// <summary>The first fragment's header bytes (empty until it arrives).</summary>
        public ReadOnlySpan<byte> FirstHeader => Header.AsSpan(0, HeaderLength);

        /// <summary>The first fragment's data when it arrived (as much as is still held from offset 0).</summary>
        public ReadOnlySpan<byte> FirstData =>
            HeaderLength > 0 && FirstDataLength > 0 && RunCount > 0 && RunStart[0] == 0 && Buffer is not null && BufferBase == 0
                ? Buffer.AsSpan(0, Math.Min(RunEnd[0], FirstDataLength))
                : default;

        /// <summary>The reassembled payload of a completed entry.</summary>
        public ReadOnlySpan<byte> Payload => Buffer is null ? default : Buffer.AsSpan(0, TotalEnd);

        public void RecordFragment(int start, int end)
        {
            if (FragmentCount == FragmentStart.Length)
            {
                int grown = Math.Max(InitialRuns, FragmentStart.Length * 2);
                Array.Resize(ref FragmentStart, grown);
                Array.Resize(ref FragmentEnd, grown);
            }

            FragmentStart[FragmentCount] = start;
            FragmentEnd[FragmentCount] = end;
            FragmentCount++;
        }
    }
}
