using System.Buffers;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>What one ACK's SACK option said, once checked (RFC 2018, RFC 2883).</summary>
internal struct SackUpdate
{
    /// <summary>Whether the first block was a D-SACK (RFC 2883 4): data the receiver got twice.</summary>
    public bool HasDsack;

    /// <summary>The D-SACK block's range, when <see cref="HasDsack"/>.</summary>
    public SeqNum DsackStart;

    /// <summary>One past the D-SACK block's last sequence number.</summary>
    public SeqNum DsackEnd;

    /// <summary>Bytes of segments newly SACKed by this ACK (RFC 6937's change in SACKd).</summary>
    public long NewlySackedBytes;

    /// <summary>Blocks ignored as invalid.</summary>
    public int Ignored;
}

/// <summary>
/// The sender's SACK scoreboard (RFC 6675 3): which sequence ranges above SND.UNA the receiver
/// reported holding, applied onto the <see cref="SentSegments"/> (a segment counts as SACKed once
/// its whole range is covered).
/// </summary>
/// <remarks>
/// <para>The ranges are kept sorted and merged, so a block the receiver repeats costs a binary
/// search and nothing more: only the part of a block not already covered walks the segments it
/// newly covers. An ACK thus costs O(blocks x log ranges) plus the segments it newly SACKs, never a
/// walk of everything in flight. Memory is bounded by the segment log's bound.</para>
/// <para>Blocks are checked first (RFC 2018 allows a sender to ignore bad ones; Linux's
/// tcp_is_sackblock_valid): an empty or inverted block, one reaching beyond SND.MAX (never sent),
/// one below SND.UNA that is not a D-SACK, or one larger than the largest window the peer
/// offered is ignored and counted.</para>
/// </remarks>
internal sealed class SackScoreboard
{
    private readonly SentSegments _segments;
    private Range[] _ranges = [];
    private int _count;

    /// <summary>A scoreboard over <paramref name="segments"/>.</summary>
    /// <param name="segments">The segments in flight.</param>
    public SackScoreboard(SentSegments segments) => _segments = segments;

    /// <summary>The number of disjoint SACKed ranges.</summary>
    public int RangeCount => _count;

    /// <summary>
    /// Applies the SACK blocks of an ACK (after SND.UNA moved to <paramref name="sndUna"/>), calling
    /// <paramref name="sacked"/> for each segment newly SACKed, in ascending sequence order.
    /// </summary>
    /// <typeparam name="TVisitor">The visitor type.</typeparam>
    /// <param name="blocks">The blocks as received.</param>
    /// <param name="segAck">The ACK's SEG.ACK (below SND.UNA for an ACK that arrived late).</param>
    /// <param name="sndUna">SND.UNA after the ACK's cumulative acknowledgment.</param>
    /// <param name="sndMax">The highest sequence number sent.</param>
    /// <param name="maxWindow">The largest window the peer offered (MAX.SND.WND).</param>
    /// <param name="sacked">Sees each newly SACKed segment.</param>
    /// <returns>What the option said.</returns>
    public SackUpdate Apply<TVisitor>(ReadOnlySpan<TcpSackBlock> blocks, SeqNum segAck, SeqNum sndUna, SeqNum sndMax, long maxWindow, ref TVisitor sacked)
        where TVisitor : struct, IDeliveryVisitor
    {
        var update = default(SackUpdate);
        Span<Range> valid = stackalloc Range[TcpOptions.MaxSackBlocks];
        int validCount = 0;
        int limit = (int)Math.Min(maxWindow, int.MaxValue);
        for (int i = 0; i < blocks.Length; i++)
        {
            var start = new SeqNum(blocks[i].LeftEdge);
            var end = new SeqNum(blocks[i].RightEdge);
            bool wellFormed = end - start > 0 && end - start <= Math.Max(limit, 1) && end <= sndMax;
            if (i == 0 && wellFormed && IsDsack(blocks, start, end, segAck))
            {
                // RFC 2883 4.1: below the ACK's own cumulative acknowledgment, or inside the second block. Only recent ones count.
                if (start >= sndUna - limit)
                {
                    update.HasDsack = true;
                    update.DsackStart = start;
                    update.DsackEnd = end;
                    continue;
                }

                wellFormed = false;
            }

            if (wellFormed && end <= sndUna)
            {
                continue; // old news: an ACK that arrived after a later one (Linux skips these too)
            }

            if (!wellFormed || start < sndUna)
            {
                update.Ignored++;
                continue;
            }

            // Ascending order, so that reordering is judged segment by segment (RFC 8985 6.2 step 3).
            int at = validCount++;
            while (at > 0 && valid[at - 1].Start > start)
            {
                valid[at] = valid[at - 1];
                at--;
            }

            valid[at] = new Range(start, end);
        }

        for (int i = 0; i < validCount; i++)
        {
            update.NewlySackedBytes += Add(valid[i].Start, valid[i].End, ref sacked);
        }

        return update;
    }

    /// <summary>SND.UNA moved: forgets the ranges below it.</summary>
    /// <param name="sndUna">The new SND.UNA.</param>
    public void OnCumulativeAck(SeqNum sndUna)
    {
        int drop = 0;
        while (drop < _count && _ranges[drop].End <= sndUna)
        {
            drop++;
        }

        if (drop > 0)
        {
            Array.Copy(_ranges, drop, _ranges, 0, _count - drop);
            _count -= drop;
        }

        if (_count > 0 && _ranges[0].Start < sndUna)
        {
            _ranges[0] = _ranges[0] with { Start = sndUna };
        }
    }

    /// <summary>
    /// The first SACKed sequence number at or after <paramref name="seq"/> and before
    /// <paramref name="end"/>, or <paramref name="end"/>: a retransmission of [seq, end) stops there,
    /// so SACKed data is never resent.
    /// </summary>
    /// <param name="seq">Where the retransmission starts.</param>
    /// <param name="end">Where it would end.</param>
    /// <returns>The end of the unSACKed prefix.</returns>
    public SeqNum UnsackedEnd(SeqNum seq, SeqNum end)
    {
        int i = FirstEndingAfter(seq);
        return i < _count && _ranges[i].Start < end ? SeqNum.Max(_ranges[i].Start, seq) : end;
    }

    /// <summary>Where the SACKed range covering <paramref name="seq"/> ends, or <paramref name="seq"/> when it is not SACKed.</summary>
    /// <param name="seq">A sequence number.</param>
    /// <returns>The first sequence number from there that is not SACKed.</returns>
    public SeqNum SkipSacked(SeqNum seq)
    {
        int i = FirstEndingAfter(seq);
        return i < _count && _ranges[i].Start <= seq ? _ranges[i].End : seq;
    }

    /// <summary>Forgets every SACK (RFC 2018 8: the receiver reneged).</summary>
    public void Clear()
    {
        _count = 0;
        _segments.ClearSacks();
    }

    /// <summary>Returns the range array to the pool.</summary>
    public void Release()
    {
        if (_ranges.Length > 0)
        {
            ArrayPool<Range>.Shared.Return(_ranges);
        }

        _ranges = [];
        _count = 0;
    }

    private static bool IsDsack(ReadOnlySpan<TcpSackBlock> blocks, SeqNum start, SeqNum end, SeqNum segAck)
    {
        if (start < segAck)
        {
            return true;
        }

        if (blocks.Length < 2)
        {
            return false;
        }

        var outerStart = new SeqNum(blocks[1].LeftEdge);
        var outerEnd = new SeqNum(blocks[1].RightEdge);
        return start >= outerStart && end <= outerEnd && outerEnd - outerStart > 0;
    }

    // Merges [start, end) into the ranges; marks the segments that it newly covers completely.
    private long Add<TVisitor>(SeqNum start, SeqNum end, ref TVisitor sacked)
        where TVisitor : struct, IDeliveryVisitor
    {
        int lo = FirstEndingAtOrAfter(start); // the first range touching or after the block
        int hi = lo;
        while (hi < _count && _ranges[hi].Start <= end)
        {
            hi++;
        }

        SeqNum mergedStart = lo < hi ? SeqNum.Min(start, _ranges[lo].Start) : start;
        SeqNum mergedEnd = lo < hi ? SeqNum.Max(end, _ranges[hi - 1].End) : end;

        // Walk the gaps of [start, end) that no range covered yet: only they can complete a segment.
        long newly = 0;
        SeqNum cursor = start;
        for (int i = lo; i <= hi && cursor < end; i++)
        {
            SeqNum gapEnd = i < hi ? SeqNum.Min(_ranges[i].Start, end) : end;
            if (gapEnd > cursor)
            {
                newly += MarkCovered(cursor, gapEnd, mergedStart, mergedEnd, ref sacked);
            }

            if (i < hi)
            {
                cursor = SeqNum.Max(cursor, _ranges[i].End);
            }
        }

        Replace(lo, hi, new Range(mergedStart, mergedEnd));
        return newly;
    }

    private long MarkCovered<TVisitor>(SeqNum gapStart, SeqNum gapEnd, SeqNum coveredStart, SeqNum coveredEnd, ref TVisitor sacked)
        where TVisitor : struct, IDeliveryVisitor
    {
        long newly = 0;
        for (int i = _segments.IndexOf(gapStart); i < _segments.Count; i++)
        {
            ref SentSegment s = ref _segments[i];
            if (s.Start >= gapEnd)
            {
                break;
            }

            if (!s.Is(SentSegmentState.Sacked) && s.Start >= coveredStart && s.End <= coveredEnd)
            {
                sacked.OnDelivered(s, _segments.RateAt(i));
                newly += s.Length;
                _segments.MarkSacked(i);
            }
        }

        return newly;
    }

    private void Replace(int lo, int hi, Range merged)
    {
        int removed = hi - lo;
        if (removed == 0)
        {
            EnsureCapacity(_count + 1);
            Array.Copy(_ranges, lo, _ranges, lo + 1, _count - lo);
            _count++;
        }
        else if (removed > 1)
        {
            Array.Copy(_ranges, hi, _ranges, lo + 1, _count - hi);
            _count -= removed - 1;
        }

        _ranges[lo] = merged;
    }

    private void EnsureCapacity(int needed)
    {
        if (_ranges.Length >= needed)
        {
            return;
        }

        Range[] grown = ArrayPool<Range>.Shared.Rent(Math.Max(8, needed * 2));
        Array.Copy(_ranges, grown, _count);
        if (_ranges.Length > 0)
        {
            ArrayPool<Range>.Shared.Return(_ranges);
        }

        _ranges = grown;
    }

    // The first range whose end is at or after seq (so it touches or follows seq).
    private int FirstEndingAtOrAfter(SeqNum seq)
    {
        int lo = 0;
        int hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End < seq)
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

    // The first range whose end is after seq (so it covers or follows seq).
    private int FirstEndingAfter(SeqNum seq)
    {
        int lo = 0;
        int hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End <= seq)
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

    private readonly record struct Range(SeqNum Start, SeqNum End);
}
