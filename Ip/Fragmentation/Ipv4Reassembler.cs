using System.Buffers;
using Protocols.Wire;

namespace Protocols.Ip.Fragmentation;

/// <summary>
/// Reassembles IPv4 fragments into datagrams (RFC 791 3.2, "Reassembly"), sans-IO: the caller
/// offers fragments with the current time and calls <see cref="Expire"/> when
/// <see cref="NextExpiry"/> comes. Single-threaded (it belongs to the stack's loop; no locks).
/// </summary>
/// <remarks>
/// <para>Datagrams are keyed by source, destination, protocol and identification (RFC 791 3.2).
/// Each keeps one growing pooled buffer of its payload and a sorted list of the runs of bytes
/// received so far (a hole list in the spirit of RFC 815, kept as intervals).</para>
/// <para>Overlap policy (RFC 5722 adapted to IPv4): a fragment whose bytes overlap bytes already
/// received is compared with them. Identical bytes are accepted (exact or partial duplicates, as
/// a retransmission through a different path MTU produces); any differing byte drops the whole
/// datagram, so no receiver-dependent choice of "which copy wins" is ever made. Two different
/// ends (last fragments) or data past a known end drop it too.</para>
/// <para>Bounds: <see cref="Ipv4ReassemblerOptions.MaxDatagrams"/>, <see cref="Ipv4ReassemblerOptions.MaxBytes"/>
/// (counted as the length of the pooled buffers held), <see cref="Ipv4ReassemblerOptions.MaxRunsPerDatagram"/>,
/// and a timeout per datagram fixed when its first fragment arrives (like Linux, not extended by
/// later fragments). Hostile input never throws.</para>
/// </remarks>
public sealed class Ipv4Reassembler : IDisposable
{
    private const int MaxDatagram = ushort.MaxValue;
    private const int InitialRuns = 8;

    private readonly Ipv4ReassemblerOptions _options;
    private readonly Dictionary<FragmentKey, Entry> _entries;
    private readonly Stack<Entry> _free = new();
    private readonly long[] _failures = new long[Enum.GetValues<ReassemblyDropReason>().Length];
    private Entry? _oldest;
    private Entry? _newest;
    private long _bytes;
    private long _fragmentsReceived;
    private long _reassembled;
    private long _duplicates;

    /// <summary>Creates a reassembler with the given limits (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public Ipv4Reassembler(Ipv4ReassemblerOptions? options = null)
    {
        _options = options ?? new Ipv4ReassemblerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDatagrams, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxRunsPerDatagram, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.Timeout, TimeSpan.Zero, nameof(options));
        _entries = new Dictionary<FragmentKey, Entry>(Math.Min(_options.MaxDatagrams, 1024));
    }

    /// <summary>The limits in force.</summary>
    public Ipv4ReassemblerOptions Options => _options;

    /// <summary>Datagrams in reassembly now.</summary>
    public int Count => _entries.Count;

    /// <summary>Bytes of buffer held now.</summary>
    public long BufferedBytes => _bytes;

    /// <summary>When the oldest datagram times out (schedule <see cref="Expire"/> then); null when none is in reassembly.</summary>
    public DateTimeOffset? NextExpiry => _oldest?.Deadline;

    /// <summary>A snapshot of the counters.</summary>
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

    /// <summary>
    /// Offers one received fragment (a packet with MF set or a non-zero offset; its header already
    /// validated, e.g. by <c>Ipv4Header.TryRead</c> and its checksum). A packet that is not a
    /// fragment is returned as Completed at once (copied).
    /// </summary>
    /// <param name="fragment">The fragment.</param>
    /// <param name="now">The current time (from the stack's TimeProvider); starts the timer of a new datagram.</param>
    /// <param name="result">The outcome; for Completed, the datagram the caller must dispose.</param>
    /// <returns><paramref name="result"/>'s status.</returns>
    public ReassemblyStatus Offer(in Ipv4Header.Reader fragment, DateTimeOffset now, out ReassemblyResult result)
    {
        _fragmentsReceived++;
        if (fragment.Bytes.Length < Ipv4Header.FixedLength || fragment.HeaderLength > fragment.Bytes.Length)
        {
            return Fail(null, ReassemblyDropReason.Malformed, out result);
        }

        int offset = fragment.FragmentOffset * 8;
        ReadOnlySpan<byte> data = fragment.Payload;
        int end = offset + data.Length;
        bool more = fragment.MoreFragments;
        int headerLength = fragment.HeaderLength;

        if (!more && offset == 0)
        {
            return Whole(fragment, out result);
        }

        // RFC 791 3.2: every fragment but the last carries a multiple of 8 octets; an empty one
        // with MF set carries nothing and ends nothing.
        if (more && (data.Length == 0 || (data.Length & 7) != 0))
        {
            return Fail(null, ReassemblyDropReason.Malformed, out result);
        }

        var key = new FragmentKey(fragment.Source.ToUInt32(), fragment.Destination.ToUInt32(), (byte)fragment.Protocol, fragment.Identification);
        _entries.TryGetValue(key, out Entry? entry);

        // RFC 791 3.1: the total length is 16 bits. The header is the first fragment's (20 bytes
        // assumed until it arrives).
        int knownHeader = offset == 0 ? headerLength : entry is { HeaderLength: > 0 } ? entry.HeaderLength : Ipv4Header.FixedLength;
        int furthest = Math.Max(end, entry?.MaxEnd ?? 0);
        if (knownHeader + furthest > MaxDatagram)
        {
            return Fail(entry, ReassemblyDropReason.TooLarge, out result);
        }

        if (entry is null)
        {
            entry = Create(key, now);
            if (entry is null)
            {
                return Fail(null, ReassemblyDropReason.LimitDatagrams, out result);
            }
        }

        // The datagram's end: fixed by the last fragment (MF clear); nothing may lie past it, and
        // a second, different end is a conflict.
        if (!more)
        {
            if ((entry.TotalEnd >= 0 && entry.TotalEnd != end) || entry.MaxEnd > end)
            {
                return Fail(entry, ReassemblyDropReason.Overlap, out result);
            }
        }
        else if (entry.TotalEnd >= 0 && end > entry.TotalEnd)
        {
            return Fail(entry, ReassemblyDropReason.Overlap, out result);
        }

        // Overlap with bytes already held: identical bytes are fine, any difference drops all.
        int overlapped = CompareOverlap(entry, offset, data, out bool conflict);
        if (conflict)
        {
            return Fail(entry, ReassemblyDropReason.Overlap, out result);
        }

        bool newEnd = !more && entry.TotalEnd < 0;
        bool newHeader = offset == 0 && entry.HeaderLength == 0;
        if (overlapped == data.Length && !newEnd && !newHeader)
        {
            _duplicates++;
            result = new ReassemblyResult(ReassemblyStatus.Incomplete, ReassemblyDropReason.None, null);
            return ReassemblyStatus.Incomplete;
        }

        if (data.Length > 0)
        {
            if (!EnsureCapacity(entry, offset, end))
            {
                return Fail(entry, ReassemblyDropReason.LimitBytes, out result);
            }

            if (!AddRun(entry, offset, end))
            {
                return Fail(entry, ReassemblyDropReason.TooManyFragments, out result);
            }

            data.CopyTo(entry.Buffer.AsSpan(offset - entry.BufferBase));
        }

        // RFC 791 3.2: the first fragment's header becomes the datagram's header.
        if (newHeader)
        {
            fragment.Header.CopyTo(entry.Header);
            entry.HeaderLength = headerLength;
        }

        if (newEnd)
        {
            entry.TotalEnd = end;
        }

        entry.MaxEnd = Math.Max(entry.MaxEnd, end);

        if (entry.TotalEnd > 0 && entry.RunCount == 1 && entry.RunStart[0] == 0 && entry.RunEnd[0] == entry.TotalEnd && entry.HeaderLength > 0)
        {
            return Complete(entry, out result);
        }

        result = new ReassemblyResult(ReassemblyStatus.Incomplete, ReassemblyDropReason.None, null);
        return ReassemblyStatus.Incomplete;
    }

    /// <summary>
    /// Drops every datagram whose timer ran out by <paramref name="now"/> (RFC 791 3.2) and tells
    /// <paramref name="handler"/> about each, with the first fragment's header and data when it
    /// arrived, so the caller can send ICMP time exceeded code 1 only then (RFC 792, RFC 1122 3.3.2).
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="handler">Called once per expired datagram (may be null). The spans are valid only during the call.</param>
    /// <returns>The number of datagrams expired.</returns>
    public int Expire(DateTimeOffset now, ExpiredDatagramHandler? handler)
    {
        int expired = 0;
        while (_oldest is { } entry && entry.Deadline <= now)
        {
            Unlink(entry);
            _failures[(int)ReassemblyDropReason.Timeout]++;
            expired++;
            try
            {
                if (handler is not null)
                {
                    ReadOnlySpan<byte> header = entry.HeaderLength > 0 ? ((ReadOnlySpan<byte>)entry.Header)[..entry.HeaderLength] : default;
                    // The first fragment's own payload (its header's total length minus its header); the
                    // kept header alone is a truncated datagram, so the lax read.
                    int firstPayload = Ipv4Header.TryReadHeader(header, out Ipv4Header.Reader first, out _) ? (int)first.DeclaredLength - first.HeaderLength : 0;
                    ReadOnlySpan<byte> data = firstPayload > 0 && entry.RunCount > 0 && entry.RunStart[0] == 0 && entry.Buffer is not null
                        ? entry.Buffer.AsSpan(0, Math.Min(entry.RunEnd[0], firstPayload))
                        : default;
                    var key = entry.Key;
                    var expiredDatagram = new ExpiredDatagram(
                        Ipv4Address.FromUInt32(key.Source),
                        Ipv4Address.FromUInt32(key.Destination),
                        (IpProtocol)key.Protocol,
                        key.Identification,
                        header,
                        data);
                    handler(in expiredDatagram);
                }
            }
            finally
            {
                Recycle(entry);
            }
        }

        return expired;
    }

    /// <summary>Drops every datagram in reassembly (not counted as failures) and returns their buffers.</summary>
    public void Clear()
    {
        while (_oldest is { } entry)
        {
            Unlink(entry);
            Recycle(entry);
        }
    }

    /// <summary>Returns every buffer to the pool.</summary>
    public void Dispose() => Clear();

    // A packet that is not a fragment: handed back whole.
    private ReassemblyStatus Whole(in Ipv4Header.Reader packet, out ReassemblyResult result)
    {
        ReadOnlySpan<byte> payload = packet.Payload;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);

        // Same contract as a reassembled datagram: the header's checksum is valid.
        Span<byte> header = stackalloc byte[Ipv4Packet.MaxHeaderLength];
        header = header[..packet.HeaderLength];
        packet.Header.CopyTo(header);
        Ipv4Header.FillChecksum(header);
        Ipv4Header fields = packet.ToValue();
        fields.HeaderChecksum = new Ipv4Header.Writer(header).HeaderChecksum;
        result = new ReassemblyResult(ReassemblyStatus.Completed, ReassemblyDropReason.None, new ReassembledDatagram(fields, header, buffer, payload.Length));
        return ReassemblyStatus.Completed;
    }

    private ReassemblyStatus Complete(Entry entry, out ReassemblyResult result)
    {
        // The reassembled datagram's header: the first fragment's, as an unfragmented datagram.
        Span<byte> header = ((Span<byte>)entry.Header)[..entry.HeaderLength];
        var writer = new Ipv4Header.Writer(header);
        writer.TotalLength = (ushort)(entry.HeaderLength + entry.TotalEnd);
        writer.MoreFragments = false;
        writer.FragmentOffset = 0;
        Ipv4Header.FillChecksum(header);
        Ipv4Header fields = default;
        fields.Version = 4;
        fields.Ihl = (byte)(entry.HeaderLength / 4);
        fields.Dscp = writer.Dscp;
        fields.Ecn = writer.Ecn;
        fields.TotalLength = writer.TotalLength;
        fields.Identification = writer.Identification;
        fields.Reserved = writer.Reserved;
        fields.DontFragment = writer.DontFragment;
        fields.Ttl = writer.Ttl;
        fields.Protocol = writer.Protocol;
        fields.HeaderChecksum = writer.HeaderChecksum;
        fields.Source = writer.Source;
        fields.Destination = writer.Destination;

        byte[] payload = entry.Buffer!;
        entry.Buffer = null;
        _bytes -= payload.Length;
        var datagram = new ReassembledDatagram(fields, header, payload, entry.TotalEnd);
        Unlink(entry);
        Recycle(entry);
        _reassembled++;
        result = new ReassemblyResult(ReassemblyStatus.Completed, ReassemblyDropReason.None, datagram);
        return ReassemblyStatus.Completed;
    }

    private ReassemblyStatus Fail(Entry? drop, ReassemblyDropReason reason, out ReassemblyResult result)
    {
        if (drop is not null)
        {
            Unlink(drop);
            Recycle(drop);
        }

        _failures[(int)reason]++;
        result = new ReassemblyResult(ReassemblyStatus.Dropped, reason, null);
        return ReassemblyStatus.Dropped;
    }

    private Entry? Create(FragmentKey key, DateTimeOffset now)
    {
        if (_entries.Count >= _options.MaxDatagrams)
        {
            if (_options.LimitPolicy == ReassemblyLimitPolicy.RefuseNew || _oldest is null)
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
        DateTimeOffset deadline = now > DateTimeOffset.MaxValue - _options.Timeout ? DateTimeOffset.MaxValue : now + _options.Timeout;
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
        int ceiling = entry.TotalEnd >= 0 ? entry.TotalEnd : MaxDatagram;
        int span = Math.Max(high - low, Math.Min(current * 2, ceiling));
        int newLow = low;
        if (old is not null && offset < heldLow)
        {
            newLow = Math.Max(0, high - span); // growing downwards (fragments arriving in reverse)
        }

        int size = Math.Max(high - newLow, Math.Min(span, ceiling - newLow));
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        long delta = buffer.Length - current;
        while (_bytes + delta > _options.MaxBytes)
        {
            Entry? victim = _oldest == entry ? entry.Next : _oldest;
            if (victim is null || _options.LimitPolicy == ReassemblyLimitPolicy.RefuseNew)
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
            if (entry.RunCount >= _options.MaxRunsPerDatagram)
            {
                return false;
            }

            if (entry.RunCount == entry.RunStart.Length)
            {
                int grown = Math.Min(entry.RunStart.Length * 2, Math.Max(_options.MaxRunsPerDatagram, InitialRuns));
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

    // Returns the entry's buffer and keeps the entry object (and its run arrays) for reuse.
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
        entry.TotalEnd = -1;
        entry.MaxEnd = 0;
        entry.RunCount = 0;
        if (_free.Count < _options.MaxDatagrams)
        {
            _free.Push(entry);
        }
    }

    private readonly record struct FragmentKey(uint Source, uint Destination, byte Protocol, ushort Identification)
    {
        // HashCode is seeded per process, so crafted keys cannot aim at one bucket.
        public override int GetHashCode() => HashCode.Combine(Source, Destination, Protocol, Identification);
    }

    private sealed class Entry
    {
        public FragmentKey Key;
        public DateTimeOffset Deadline;
        public Entry? Previous;
        public Entry? Next;
        public byte[]? Buffer;
        public int BufferBase;
        public ReassembledDatagram.HeaderBytes Header;
        public int HeaderLength;
        public int TotalEnd = -1;
        public int MaxEnd;
        public int[] RunStart = new int[InitialRuns];
        public int[] RunEnd = new int[InitialRuns];
        public int RunCount;
    }
}
