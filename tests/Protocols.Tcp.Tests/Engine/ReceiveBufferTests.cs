using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class ReceiveBufferTests
{
    private static SeqNum S(uint value) => new(value);

    private static byte[] Stream(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 13 + 5)).ToArray();

    private static byte[] ReadAll(ReceiveBuffer buffer)
    {
        var destination = new byte[buffer.Readable];
        Assert.Equal(destination.Length, buffer.Read(destination));
        return destination;
    }

    private static TcpSackBlock[] Sack(ReceiveBuffer buffer, int room = 4)
    {
        var blocks = new TcpSackBlock[room];
        return blocks[..buffer.GetSackBlocks(blocks)];
    }

    [Fact]
    public void In_order_data_becomes_readable_and_read_frees_the_window()
    {
        byte[] s = Stream(30);
        var buffer = new ReceiveBuffer(S(1000), capacity: 20);
        ReceiveResult r = buffer.Receive(S(1000), s.AsSpan(0, 12), fin: false);
        Assert.Equal(new ReceiveResult(12, 12, 0, false, false, false, false), r);
        Assert.Equal(1012u, buffer.RcvNxt.Value);
        Assert.Equal(8, buffer.Window);

        var part = new byte[5];
        Assert.Equal(5, buffer.Read(part));
        Assert.Equal(s[..5], part);
        Assert.Equal(13, buffer.Window);
        Assert.Equal(s[5..12], ReadAll(buffer));
        Assert.Equal(0, buffer.Read(part));
        Assert.False(buffer.IsCompleted);
    }

    [Fact]
    public void Out_of_order_segment_is_held_until_the_gap_fills()
    {
        byte[] s = Stream(30);
        var buffer = new ReceiveBuffer(S(0), capacity: 100);
        ReceiveResult r = buffer.Receive(S(10), s.AsSpan(10, 10), fin: false);
        Assert.Equal(new ReceiveResult(0, 10, 0, true, false, false, false), r);
        Assert.Equal(0u, buffer.RcvNxt.Value);
        Assert.Equal(0, buffer.Readable);
        Assert.Equal(100, buffer.Window); // held bytes do not shrink the window
        Assert.Equal(10, buffer.OutOfOrderBytes);
        Assert.Equal([new TcpSackBlock(10, 20)], Sack(buffer));

        r = buffer.Receive(S(0), s.AsSpan(0, 10), fin: false);
        Assert.Equal(new ReceiveResult(20, 10, 0, false, true, false, false), r);
        Assert.Equal(20u, buffer.RcvNxt.Value);
        Assert.Equal(0, buffer.IntervalCount);
        Assert.Empty(Sack(buffer));
        Assert.Equal(s[..20], ReadAll(buffer));
    }

    [Fact]
    public void Duplicates_and_overlaps_store_only_new_bytes()
    {
        byte[] s = Stream(40);
        var buffer = new ReceiveBuffer(S(0), capacity: 100);
        buffer.Receive(S(0), s.AsSpan(0, 10), false);

        // Entirely old: a pure duplicate.
        Assert.Equal(new ReceiveResult(0, 0, 0, false, false, true, false), buffer.Receive(S(2), s.AsSpan(2, 5), false));

        // Overlapping the old data: only the tail is new.
        Assert.Equal(new ReceiveResult(5, 5, 0, false, false, false, false), buffer.Receive(S(5), s.AsSpan(5, 10), false));

        // Out-of-order overlap of a held interval.
        buffer.Receive(S(20), s.AsSpan(20, 5), false);
        Assert.Equal(new ReceiveResult(0, 9, 0, true, false, false, false), buffer.Receive(S(18), s.AsSpan(18, 14), false));
        Assert.Equal(new ReceiveResult(0, 0, 0, true, false, true, false), buffer.Receive(S(21), s.AsSpan(21, 3), false));
        Assert.Equal([new TcpSackBlock(18, 32)], Sack(buffer));

        // Filling the gap exactly delivers everything held.
        Assert.Equal(new ReceiveResult(17, 3, 0, false, true, false, false), buffer.Receive(S(15), s.AsSpan(15, 3), false));
        Assert.Equal(s[..32], ReadAll(buffer));
    }

    [Fact]
    public void First_arrival_wins_when_overlapping_bytes_differ()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 16);
        buffer.Receive(S(4), [1, 1, 1, 1], false);
        buffer.Receive(S(0), [2, 2, 2, 2, 2, 2, 2, 2], false);
        Assert.Equal([2, 2, 2, 2, 1, 1, 1, 1], ReadAll(buffer));
    }

    [Fact]
    public void Data_beyond_the_window_is_trimmed()
    {
        byte[] s = Stream(40);
        var buffer = new ReceiveBuffer(S(500), capacity: 10);
        ReceiveResult r = buffer.Receive(S(500), s.AsSpan(0, 15), fin: true);
        Assert.Equal(new ReceiveResult(10, 10, 5, false, false, false, false), r);
        Assert.False(buffer.IsFinReached); // the FIN was past what could be stored
        Assert.Equal(0, buffer.Window);

        // Zero window: nothing fits, even at RCV.NXT.
        r = buffer.Receive(S(510), s.AsSpan(10, 3), fin: false);
        Assert.Equal(new ReceiveResult(0, 0, 3, false, false, false, false), r);

        Assert.Equal(s[..10], ReadAll(buffer));
        // Out of order, straddling the right edge.
        r = buffer.Receive(S(515), s.AsSpan(15, 10), fin: false);
        Assert.Equal(new ReceiveResult(0, 5, 5, true, false, false, false), r);
        Assert.Equal([new TcpSackBlock(515, 520)], Sack(buffer));
        // Completely beyond the edge.
        r = buffer.Receive(S(520), s.AsSpan(20, 4), fin: false);
        Assert.Equal(new ReceiveResult(0, 0, 4, true, false, false, false), r);
    }

    [Fact]
    public void Fin_ahead_of_data_is_recorded_and_reached_when_the_gap_fills()
    {
        byte[] s = Stream(20);
        var buffer = new ReceiveBuffer(S(0), capacity: 64);
        ReceiveResult r = buffer.Receive(S(10), s.AsSpan(10, 10), fin: true);
        Assert.Equal(new ReceiveResult(0, 10, 0, true, false, false, false), r);
        Assert.False(buffer.IsFinReached);

        // Bytes past the FIN can't belong to the stream.
        r = buffer.Receive(S(18), Stream(6), fin: false);
        Assert.Equal(4, r.Trimmed);
        Assert.Equal(0, r.Stored);

        r = buffer.Receive(S(0), s.AsSpan(0, 10), fin: false);
        Assert.Equal(new ReceiveResult(20, 10, 0, false, true, false, true), r);
        Assert.Equal(21u, buffer.RcvNxt.Value); // the FIN takes one sequence number
        Assert.True(buffer.IsFinReached);
        Assert.False(buffer.IsCompleted);
        Assert.Equal(s, ReadAll(buffer));
        Assert.True(buffer.IsCompleted);

        // A retransmitted FIN is a duplicate; later data is refused.
        Assert.Equal(new ReceiveResult(0, 0, 0, false, false, true, false), buffer.Receive(S(20), [], fin: true));
        Assert.Equal(3, buffer.Receive(S(21), [1, 2, 3], false).Trimmed);
    }

    [Fact]
    public void Bare_fin_at_rcv_nxt_is_reached_at_once()
    {
        var buffer = new ReceiveBuffer(S(uint.MaxValue), capacity: 8);
        ReceiveResult r = buffer.Receive(S(uint.MaxValue), [], fin: true);
        Assert.Equal(new ReceiveResult(0, 0, 0, false, false, false, true), r);
        Assert.Equal(0u, buffer.RcvNxt.Value);
        Assert.True(buffer.IsCompleted);
    }

    [Fact]
    public void Fin_is_taken_with_data_that_exactly_fills_the_window()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 4);
        ReceiveResult r = buffer.Receive(S(0), [1, 2, 3, 4], fin: true);
        Assert.True(r.FinReached);
        Assert.Equal(5u, buffer.RcvNxt.Value);
    }

    [Fact]
    public void Fin_held_out_of_order_trims_held_data_beyond_it()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 64);
        buffer.Receive(S(10), Stream(10), false); // [10, 20)
        buffer.Receive(S(30), Stream(5), false);  // [30, 35)
        ReceiveResult r = buffer.Receive(S(12), Stream(3), fin: true); // FIN at 15
        Assert.False(r.FinReached);
        Assert.Equal([new TcpSackBlock(10, 15)], Sack(buffer));
        Assert.Equal(5, buffer.OutOfOrderBytes);
    }

    [Fact]
    public void A_second_different_fin_is_ignored()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 64);
        buffer.Receive(S(10), [], fin: true);
        ReceiveResult r = buffer.Receive(S(5), [], fin: true);
        Assert.True(r.Duplicate);
        buffer.Receive(S(0), Stream(10), false);
        Assert.True(buffer.IsFinReached);
        Assert.Equal(11u, buffer.RcvNxt.Value);
    }

    [Fact]
    public void Interval_bound_drops_new_holes_but_not_in_order_or_merging_data()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 100, maxIntervals: 2);
        buffer.Receive(S(10), Stream(5), false);
        buffer.Receive(S(20), Stream(5), false);
        ReceiveResult r = buffer.Receive(S(30), Stream(5), false);
        Assert.Equal(new ReceiveResult(0, 0, 5, true, false, false, false), r);
        Assert.Equal(2, buffer.IntervalCount);

        // In-order data that touches no interval passes even with every slot taken.
        r = buffer.Receive(S(0), Stream(4), false);
        Assert.Equal(new ReceiveResult(4, 4, 0, false, true, false, false), r);
        Assert.Equal(2, buffer.IntervalCount);

        // Extending an interval needs no slot.
        r = buffer.Receive(S(15), Stream(3), false);
        Assert.Equal(3, r.Stored);
        Assert.Equal(2, buffer.IntervalCount);

        // Bridging two intervals frees one.
        r = buffer.Receive(S(18), Stream(2), false);
        Assert.Equal(2, r.Stored);
        Assert.Equal(1, buffer.IntervalCount);
        Assert.Equal(5, buffer.Receive(S(30), Stream(5), false).Stored);

        // In-order data never needs a slot.
        r = buffer.Receive(S(4), Stream(6), false);
        Assert.Equal(21, r.Delivered);
        Assert.Equal(25u, buffer.RcvNxt.Value);
        Assert.Equal(1, buffer.IntervalCount);
    }

    [Fact]
    public void Sack_blocks_report_the_most_recent_first_and_at_most_four()
    {
        var buffer = new ReceiveBuffer(S(1000), capacity: 1000);
        foreach (uint seq in new uint[] { 1100, 1300, 1200, 1500, 1400 })
        {
            buffer.Receive(S(seq), Stream(10), false);
        }

        Assert.Equal(
            [new(1400, 1410), new(1500, 1510), new(1200, 1210), new(1300, 1310)],
            Sack(buffer));
        Assert.Equal([new TcpSackBlock(1400, 1410), new(1500, 1510), new(1200, 1210)], Sack(buffer, room: 3));
        Assert.Equal(5, buffer.IntervalCount);

        // A segment extending an old block moves it to the front, merged.
        buffer.Receive(S(1110), Stream(10), false);
        Assert.Equal([new TcpSackBlock(1100, 1120), new(1400, 1410), new(1500, 1510), new(1200, 1210)], Sack(buffer));

        // A duplicate of a held block also reports that block first (RFC 2018 4: the block with the triggering segment).
        buffer.Receive(S(1300), Stream(10), false);
        Assert.Equal(new TcpSackBlock(1300, 1310), Sack(buffer)[0]);

        // Merging two blocks reports the union once.
        buffer.Receive(S(1210), Stream(90), false);
        Assert.Equal([new TcpSackBlock(1200, 1310), new(1100, 1120), new(1400, 1410), new(1500, 1510)], Sack(buffer));
    }

    [Fact]
    public void Sequence_numbers_wrap_past_two_to_the_32()
    {
        byte[] s = Stream(30);
        uint irs = uint.MaxValue - 9;
        var buffer = new ReceiveBuffer(S(irs), capacity: 16);
        buffer.Receive(S(irs + 15), s.AsSpan(15, 5), false); // 5 .. 9 after the wrap, partly beyond the window
        Assert.Equal([new TcpSackBlock(5, 6)], Sack(buffer));
        buffer.Receive(S(irs + 5), s.AsSpan(5, 8), false); // crosses 0
        Assert.Equal([new TcpSackBlock(uint.MaxValue - 4, 3), new(5, 6)], Sack(buffer));
        ReceiveResult r = buffer.Receive(S(irs), s.AsSpan(0, 5), false);
        Assert.Equal(13, r.Delivered);
        Assert.Equal(3u, buffer.RcvNxt.Value);
        Assert.Equal(s[..13], ReadAll(buffer));
        r = buffer.Receive(S(irs + 13), s.AsSpan(13, 7), true);
        Assert.Equal(7, r.Delivered);
        Assert.True(r.FinReached);
        Assert.Equal(11u, buffer.RcvNxt.Value);
        Assert.Equal(s[13..20], ReadAll(buffer));
    }

    [Fact]
    public void Ring_wraps_while_reading()
    {
        var buffer = new ReceiveBuffer(S(0), capacity: 10);
        byte[] s = Stream(100);
        int written = 0, read = 0;
        var chunk = new byte[7];
        var output = new List<byte>();
        while (read < 100)
        {
            int n = Math.Min(buffer.Window, Math.Min(6, 100 - written));
            buffer.Receive(S((uint)written), s.AsSpan(written, n), false);
            written += n;
            buffer.GetReadable(out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
            Assert.Equal(buffer.Readable, first.Length + second.Length);
            int got = buffer.Read(chunk.AsSpan(0, 3 + (read % 5)));
            output.AddRange(chunk[..got]);
            read += got;
        }

        Assert.Equal(s, output.ToArray());
    }

    [Fact]
    public void Window_to_advertise_avoids_silly_window_increases()
    {
        // RFC 9293 3.8.6.2.2: the right edge moves only by min(capacity / 2, MSS) or more.
        var buffer = new ReceiveBuffer(S(0), capacity: 1000);
        Assert.True(buffer.IsWindowUpdateDue(100));
        Assert.Equal(1000, buffer.WindowToAdvertise(100));
        buffer.Receive(S(0), new byte[950], false);
        Assert.Equal(50, buffer.WindowToAdvertise(100));

        buffer.Read(new byte[60]); // the edge could move by 60 < 100
        Assert.False(buffer.IsWindowUpdateDue(100));
        Assert.Equal(50, buffer.WindowToAdvertise(100));
        Assert.Equal(110, buffer.Window);

        buffer.Read(new byte[40]); // now by 100
        Assert.True(buffer.IsWindowUpdateDue(100));
        Assert.Equal(150, buffer.WindowToAdvertise(100));

        // The kept edge is never pulled back: arrivals shrink the window by what they use.
        buffer.Receive(S(950), new byte[30], false);
        Assert.Equal(120, buffer.WindowToAdvertise(100));

        // A small buffer uses half its size as the threshold.
        var small = new ReceiveBuffer(S(0), capacity: 100);
        small.WindowToAdvertise(1460);
        small.Receive(S(0), new byte[100], false);
        Assert.Equal(0, small.WindowToAdvertise(1460));
        small.Read(new byte[49]);
        Assert.Equal(0, small.WindowToAdvertise(1460));
        small.Read(new byte[1]);
        Assert.Equal(50, small.WindowToAdvertise(1460));
    }

    public static IEnumerable<object[]> Splits() =>
    [
        [new[] { 0, 3, 6, 9, 12, 15, 18 }, false],
        [new[] { 0, 1, 5, 6, 11, 19, 20 }, true],
        [new[] { 0, 4, 8, 12 }, true],
        [new[] { 0, 10, 20 }, false],
    ];

    [Theory]
    [MemberData(nameof(Splits))]
    public void Every_arrival_order_reassembles_the_stream(int[] cuts, bool overlapping)
    {
        int total = cuts[^1];
        byte[] s = Stream(total);
        var segments = new List<(int Start, int End)>();
        for (int i = 0; i + 1 < cuts.Length; i++)
        {
            // Overlapping variant: every segment but the first also repeats two bytes of its predecessor.
            int start = overlapping && i > 0 ? Math.Max(0, cuts[i] - 2) : cuts[i];
            segments.Add((start, cuts[i + 1]));
        }

        int permutations = 0;
        foreach (int[] order in Permutations(segments.Count))
        {
            permutations++;
            var buffer = new ReceiveBuffer(S(uint.MaxValue - 7), capacity: 32, maxIntervals: 8);
            int delivered = 0, stored = 0;
            bool finReached = false;
            var covered = new bool[total];
            for (int k = 0; k < order.Length; k++)
            {
                (int start, int end) = segments[order[k]];
                bool last = end == total;
                int before = (int)(buffer.RcvNxt.Value - (uint.MaxValue - 7));
                ReceiveResult r = buffer.Receive(S(uint.MaxValue - 7 + (uint)start), s.AsSpan(start, end - start), fin: last);
                delivered += r.Delivered;
                stored += r.Stored;
                Assert.Equal(start > before, r.OutOfOrder);
                int fresh = 0;
                for (int i = start; i < end; i++)
                {
                    fresh += covered[i] ? 0 : 1;
                    covered[i] = true;
                }

                Assert.Equal(fresh, r.Stored);
                Assert.Equal(fresh == 0 && !last, r.Duplicate);
                Assert.Equal(0, r.Trimmed);
                finReached |= r.FinReached;
                Assert.Equal(covered.All(c => c) && order[..(k + 1)].Any(i => segments[i].End == total), finReached);
                AssertSackMatchesHeld(buffer);
            }

            Assert.Equal(total, delivered);
            Assert.Equal(total, stored);
            Assert.Equal(uint.MaxValue - 7 + (uint)total + 1, buffer.RcvNxt.Value);
            Assert.Equal(s, ReadAll(buffer));
            Assert.True(buffer.IsCompleted);

            // Replaying everything afterwards is all duplicates.
            foreach ((int start, int end) in segments)
            {
                Assert.True(buffer.Receive(S(uint.MaxValue - 7 + (uint)start), s.AsSpan(start, end - start), end == total).Duplicate);
            }
        }

        Assert.Equal(Enumerable.Range(1, segments.Count).Aggregate(1, (a, b) => a * b), permutations);
    }

    private static void AssertSackMatchesHeld(ReceiveBuffer buffer)
    {
        var blocks = new TcpSackBlock[4];
        int n = buffer.GetSackBlocks(blocks);
        Assert.Equal(Math.Min(4, buffer.IntervalCount), n);
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            int left = (int)(blocks[i].LeftEdge - buffer.RcvNxt.Value);
            int right = (int)(blocks[i].RightEdge - buffer.RcvNxt.Value);
            Assert.True(left > 0 && right > left);
            total += right - left;
            for (int j = 0; j < i; j++)
            {
                Assert.NotEqual(blocks[j], blocks[i]);
            }
        }

        if (buffer.IntervalCount <= 4)
        {
            Assert.Equal(buffer.OutOfOrderBytes, total);
        }
    }

    private static IEnumerable<int[]> Permutations(int n)
    {
        int[] items = Enumerable.Range(0, n).ToArray();
        return Permute(items, 0);

        static IEnumerable<int[]> Permute(int[] items, int k)
        {
            if (k == items.Length)
            {
                yield return (int[])items.Clone();
                yield break;
            }

            for (int i = k; i < items.Length; i++)
            {
                (items[k], items[i]) = (items[i], items[k]);
                foreach (int[] p in Permute(items, k + 1))
                {
                    yield return p;
                }

                (items[k], items[i]) = (items[i], items[k]);
            }
        }
    }

    [Theory]
    [InlineData(11, 0u)]
    [InlineData(12, uint.MaxValue - 3000)]
    [InlineData(13, 0x8000_0000u)]
    public void Random_segment_streams_match_a_reference_model(int seed, uint irs)
    {
        var random = new Random(seed);
        const int capacity = 2000;
        const int total = 60_000;
        byte[] s = new byte[total];
        random.NextBytes(s);
        int finAt = total - random.Next(0, 500);

        // The model: which stream offsets are held, RCV.NXT and the unread count, in stream offsets.
        var held = new bool[total + 1];
        int rcvNxt = 0, readable = 0, readPos = 0;
        bool finKnown = false, finReached = false;
        var buffer = new ReceiveBuffer(S(irs), capacity, maxIntervals: 10_000);
        var output = new List<byte>();

        for (int op = 0; op < 20_000 && !(finReached && readable == 0); op++)
        {
            if (random.Next(3) == 0)
            {
                var destination = new byte[random.Next(0, 800)];
                int n = buffer.Read(destination);
                Assert.Equal(Math.Min(destination.Length, readable), n);
                output.AddRange(destination[..n]);
                readable -= n;
                readPos += n;
                continue;
            }

            int start = Math.Max(0, rcvNxt + random.Next(-300, capacity + 300));
            start = Math.Min(start, finAt);
            int end = Math.Min(finAt, start + random.Next(0, 600));
            bool fin = end == finAt && random.Next(2) == 0;
            ReceiveResult r = buffer.Receive(S(irs + (uint)start), s.AsSpan(start, end - start), fin);

            // Expected: keep offsets in [rcvNxt, rcvNxt + window) not held yet.
            int window = capacity - readable;
            int stored = 0, trimmed = 0;
            for (int i = Math.Max(start, rcvNxt); i < end; i++)
            {
                if (i >= rcvNxt + window)
                {
                    trimmed++;
                }
                else if (!held[i])
                {
                    held[i] = true;
                    stored++;
                }
            }

            bool finHeld = finKnown || finReached;
            bool finNew = fin && trimmed == 0 && !finHeld && finAt - rcvNxt <= window;
            finKnown |= finNew;
            int delivered = 0;
            while (rcvNxt < finAt && held[rcvNxt])
            {
                rcvNxt++;
                delivered++;
            }

            readable += delivered;
            bool reached = finKnown && !finReached && rcvNxt == finAt;
            finReached |= reached;

            Assert.Equal(stored, r.Stored);
            Assert.Equal(trimmed, r.Trimmed);
            Assert.Equal(delivered, r.Delivered);
            Assert.Equal(reached, r.FinReached);
            Assert.Equal(start > rcvNxt - delivered && (end > start || fin), r.OutOfOrder);
            Assert.Equal((end > start || fin) && stored == 0 && trimmed == 0 && (!fin || finHeld), r.Duplicate);
            Assert.Equal(irs + (uint)rcvNxt + (finReached ? 1u : 0u), buffer.RcvNxt.Value);
            Assert.Equal(readable, buffer.Readable);
            Assert.Equal(capacity - readable, buffer.Window);

            int held0 = 0;
            for (int i = rcvNxt; i < Math.Min(finAt, rcvNxt + capacity); i++)
            {
                held0 += held[i] ? 1 : 0;
            }

            Assert.Equal(held0, buffer.OutOfOrderBytes);
            AssertSackMatchesHeld(buffer);

            // Every block is a maximal run of held bytes; the first holds this segment when it was stored out of order (RFC 2018 4).
            var blocks = new TcpSackBlock[4];
            int count = buffer.GetSackBlocks(blocks);
            for (int b = 0; b < count; b++)
            {
                int left = (int)(blocks[b].LeftEdge - irs);
                int right = (int)(blocks[b].RightEdge - irs);
                Assert.False(held[left - 1]);
                Assert.False(held[right]);
                Assert.All(Enumerable.Range(left, right - left), i => Assert.True(held[i]));
            }

            if (r.OutOfOrder && r.Stored > 0)
            {
                Assert.True(count > 0);
                Assert.True((int)(blocks[0].LeftEdge - irs) <= start && start < (int)(blocks[0].RightEdge - irs));
            }
        }

        Assert.True(finReached, "the stream should complete within the operation budget");
        Assert.True(buffer.IsCompleted);
        Assert.Equal(s[..finAt], output.ToArray());
        Assert.Equal(readPos, finAt);
    }

    [Theory]
    [InlineData(21, 3)]
    [InlineData(22, 1)]
    [InlineData(23, 8)]
    public void Random_streams_with_a_tight_interval_bound_still_deliver_the_exact_stream(int seed, int maxIntervals)
    {
        var random = new Random(seed);
        const int capacity = 3000;
        byte[] s = new byte[40_000];
        random.NextBytes(s);
        uint irs = (uint)random.Next() * 3;
        var buffer = new ReceiveBuffer(S(irs), capacity, maxIntervals);
        var output = new List<byte>();
        var chunk = new byte[700];
        int ops = 0;
        while (!buffer.IsCompleted)
        {
            Assert.True(++ops < 200_000, "no progress");
            int next = (int)(buffer.RcvNxt.Value - irs);
            if (random.Next(4) == 0)
            {
                output.AddRange(chunk[..buffer.Read(chunk.AsSpan(0, random.Next(1, chunk.Length)))]);
                continue;
            }

            // A sender that retransmits from RCV.NXT now and then, and otherwise sprays segments ahead.
            int start = random.Next(3) == 0 ? next : Math.Min(s.Length, next + random.Next(-200, capacity));
            start = Math.Clamp(start, 0, s.Length);
            int end = Math.Min(s.Length, start + random.Next(1, 500));
            ReceiveResult r = buffer.Receive(S(irs + (uint)start), s.AsSpan(start, end - start), fin: end == s.Length);
            Assert.InRange(buffer.IntervalCount, 0, maxIntervals);
            Assert.InRange(buffer.Readable + buffer.OutOfOrderBytes, 0, capacity);
            Assert.True(r.Stored + r.Trimmed <= end - start);
            Assert.False(r.OutOfOrder && r.Delivered > 0);
        }

        Assert.Equal(s, output.ToArray());
        Assert.Equal(irs + (uint)s.Length + 1, buffer.RcvNxt.Value);
    }

    [Fact]
    public void Steady_state_does_not_allocate()
    {
        var buffer = new ReceiveBuffer(S(uint.MaxValue - 100_000), capacity: 8192, maxIntervals: 16);
        byte[] segment = new byte[1000];
        byte[] destination = new byte[1500];
        var blocks = new TcpSackBlock[4];
        uint seq = uint.MaxValue - 100_000;

        void Round()
        {
            // Two segments swapped: one held out of order, then the gap filled.
            buffer.Receive(new SeqNum(seq + 1000), segment, false);
            buffer.GetSackBlocks(blocks);
            buffer.Receive(new SeqNum(seq), segment, false);
            seq += 2000;
            buffer.WindowToAdvertise(1460);
            while (buffer.Read(destination) > 0)
            {
            }
        }

        Round(); // allocates the ring once
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(seq, buffer.RcvNxt.Value);
    }

    [Fact]
    public void In_order_data_goes_straight_into_a_reader_and_leaves_the_window_and_ring_as_they_were()
    {
        byte[] s = Stream(30);
        var buffer = new ReceiveBuffer(S(1000), capacity: 20);
        Assert.True(buffer.AcceptsDirect(S(1000), 12));
        var reader = new byte[16];
        ReceiveResult r = buffer.Receive(S(1000), s.AsSpan(0, 12), fin: false, reader);
        Assert.Equal(new ReceiveResult(12, 12, 0, false, false, false, false, Direct: 12), r);
        Assert.Equal(s[..12], reader[..12]);
        Assert.Equal(1012u, buffer.RcvNxt.Value);
        Assert.Equal(0, buffer.Readable);
        Assert.Equal(20, buffer.Window); // stored and read at once: the whole capacity is free
        Assert.Equal(0, buffer.AllocatedBytes); // the ring was never needed
    }

    [Fact]
    public void What_does_not_fit_the_reader_goes_to_the_ring_behind_it()
    {
        byte[] s = Stream(30);
        var buffer = new ReceiveBuffer(S(1000), capacity: 20);
        var reader = new byte[5];
        ReceiveResult r = buffer.Receive(S(1000), s.AsSpan(0, 12), fin: true, reader);
        Assert.Equal(new ReceiveResult(12, 12, 0, false, false, false, true, Direct: 5), r);
        Assert.Equal(s[..5], reader);
        Assert.Equal(1013u, buffer.RcvNxt.Value); // twelve bytes and the FIN
        Assert.Equal(s[5..12], ReadAll(buffer));
        Assert.True(buffer.IsCompleted);
    }

    [Fact]
    public void Old_bytes_are_trimmed_before_the_reader_gets_the_new_ones_and_the_window_still_bounds_them()
    {
        byte[] s = Stream(40);
        var buffer = new ReceiveBuffer(S(1000), capacity: 20);
        buffer.Receive(S(1000), s.AsSpan(0, 10), fin: false, new byte[10]);

        // Bytes 5..35: 5..9 came before, 30..34 lie beyond the 20-byte window.
        var reader = new byte[64];
        ReceiveResult r = buffer.Receive(S(1005), s.AsSpan(5, 30), fin: false, reader);
        Assert.Equal(new ReceiveResult(20, 20, 5, false, false, false, false, Direct: 20), r);
        Assert.Equal(s[10..30], reader[..20]);
        Assert.Equal(1030u, buffer.RcvNxt.Value);
    }

    [Fact]
    public void Nothing_goes_to_a_reader_out_of_order_behind_unread_bytes_or_into_a_hole()
    {
        byte[] s = Stream(30);
        var buffer = new ReceiveBuffer(S(0), capacity: 64);
        var reader = new byte[64];
        Assert.False(buffer.AcceptsDirect(S(10), 10)); // beyond RCV.NXT
        Assert.Equal(0, buffer.Receive(S(10), s.AsSpan(10, 10), fin: false, reader).Direct);

        // The segment that fills the hole joins the held run in the ring.
        Assert.False(buffer.AcceptsDirect(S(0), 10));
        ReceiveResult filled = buffer.Receive(S(0), s.AsSpan(0, 10), fin: false, reader);
        Assert.Equal(new ReceiveResult(20, 10, 0, false, true, false, false), filled);

        // Unread bytes come first: later bytes queue behind them.
        Assert.False(buffer.AcceptsDirect(S(20), 10));
        Assert.Equal(0, buffer.Receive(S(20), s.AsSpan(20, 10), fin: false, reader).Direct);
        Assert.All(reader, b => Assert.Equal(0, b));
        Assert.Equal(s, ReadAll(buffer));

        // Everything read: the next in-order bytes may go straight to a reader; old ones may not.
        Assert.True(buffer.AcceptsDirect(S(25), 10));
        Assert.False(buffer.AcceptsDirect(S(20), 10));
    }
}
