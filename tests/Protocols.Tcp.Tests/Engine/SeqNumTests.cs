using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class SeqNumTests
{
    private static SeqNum S(uint value) => new(value);

    [Theory]
    [InlineData(0u, 1u)]
    [InlineData(0xffff_ffffu, 0u)] // across the wrap
    [InlineData(0xffff_fff0u, 0x10u)]
    [InlineData(0x7fff_ffffu, 0x8000_0000u)]
    [InlineData(0u, 0x7fff_ffffu)] // the farthest distance that still orders
    [InlineData(0x8000_0001u, 0u)] // 2^31 - 1 apart, the other way round the circle
    public void Orders_modulo_2_32(uint before, uint after)
    {
        Assert.True(S(before) < S(after));
        Assert.True(S(before) <= S(after));
        Assert.False(S(before) > S(after));
        Assert.False(S(before) >= S(after));
        Assert.True(S(after) > S(before));
        Assert.True(S(after) >= S(before));
        Assert.False(S(after) < S(before));
        Assert.False(S(after) <= S(before));
        Assert.True(S(after) - S(before) > 0);
        Assert.Equal(S(after), SeqNum.Max(S(before), S(after)));
        Assert.Equal(S(before), SeqNum.Min(S(after), S(before)));
    }

    [Fact]
    public void Equal_numbers_are_neither_before_nor_after()
    {
        foreach (uint v in new[] { 0u, 1u, 0x8000_0000u, 0xffff_ffffu })
        {
            Assert.False(S(v) < S(v));
            Assert.False(S(v) > S(v));
            Assert.True(S(v) <= S(v));
            Assert.True(S(v) >= S(v));
            Assert.Equal(0, S(v) - S(v));
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x1234_5678u)]
    [InlineData(0xffff_ffffu)]
    public void Half_the_space_apart_is_the_documented_ambiguous_case(uint a)
    {
        // RFC 9293 3.4 leaves numbers 2^31 apart unordered. The signed difference is
        // int.MinValue both ways, so each counts as "before" the other and neither as "after".
        SeqNum b = S(a) + int.MinValue;
        Assert.Equal(SeqNum.HalfSpace, SeqNum.Distance(S(a), b));
        Assert.Equal(int.MinValue, b - S(a));
        Assert.Equal(int.MinValue, S(a) - b);
        Assert.True(S(a) < b);
        Assert.True(b < S(a));
        Assert.False(S(a) > b);
        Assert.False(b > S(a));
    }

    [Fact]
    public void Addition_and_subtraction_wrap()
    {
        Assert.Equal(S(4), S(0xffff_fffcu) + 8);
        Assert.Equal(S(0xffff_fffcu), S(4) - 8);
        Assert.Equal(S(0xffff_fffcu), S(4) + -8);
        Assert.Equal(S(4), S(0xffff_fffcu) - -8);
        Assert.Equal(8, S(4) - S(0xffff_fffcu));
        Assert.Equal(-8, S(0xffff_fffcu) - S(4));
        Assert.Equal(8u, SeqNum.Distance(S(0xffff_fffcu), S(4)));
        Assert.Equal(0xffff_fff8u, SeqNum.Distance(S(4), S(0xffff_fffcu)));
    }

    [Fact]
    public void Random_pairs_less_than_half_the_space_apart_order_by_their_distance()
    {
        var random = new Random(6528);
        for (int i = 0; i < 100_000; i++)
        {
            var a = S((uint)random.NextInt64(0, 1L << 32));
            int d = random.Next(1, int.MaxValue); // 1 .. 2^31 - 1
            SeqNum b = a + d;
            Assert.True(a < b);
            Assert.True(b > a);
            Assert.False(b <= a);
            Assert.Equal(d, b - a);
            Assert.Equal(-d, a - b);
            Assert.Equal((uint)d, SeqNum.Distance(a, b));
            Assert.Equal(a, b - d);
        }
    }

    [Fact]
    public void InWindow_is_half_open_and_wraps()
    {
        SeqNum start = S(0xffff_fff0u);
        Assert.True(S(0xffff_fff0u).InWindow(start, 0x20));
        Assert.True(S(0xffff_ffffu).InWindow(start, 0x20));
        Assert.True(S(0).InWindow(start, 0x20));
        Assert.True(S(0x0f).InWindow(start, 0x20));
        Assert.False(S(0x10).InWindow(start, 0x20)); // start + length is outside
        Assert.False(S(0xffff_ffefu).InWindow(start, 0x20)); // just before start
        Assert.False(start.InWindow(start, 0)); // an empty window holds nothing
        Assert.True(S(0x7fff_ffffu).InWindow(S(0), uint.MaxValue));
    }

    [Fact]
    public void Between_is_inclusive_and_wraps()
    {
        Assert.True(SeqNum.Between(S(0xffff_fffeu), S(0xffff_fffeu), S(2)));
        Assert.True(SeqNum.Between(S(0xffff_fffeu), S(0), S(2)));
        Assert.True(SeqNum.Between(S(0xffff_fffeu), S(2), S(2)));
        Assert.False(SeqNum.Between(S(0xffff_fffeu), S(3), S(2)));
        Assert.False(SeqNum.Between(S(0xffff_fffeu), S(0xffff_fffdu), S(2)));
        Assert.True(SeqNum.Between(S(7), S(7), S(7)));
        Assert.False(SeqNum.Between(S(7), S(8), S(7)));

        // RFC 9293 3.4: SND.UNA < SEG.ACK =< SND.NXT is Between(SND.UNA + 1, SEG.ACK, SND.NXT).
        SeqNum sndUna = S(0xffff_ff00u), sndNxt = S(0x100);
        Assert.False(SeqNum.Between(sndUna + 1, sndUna, sndNxt)); // an old ACK
        Assert.True(SeqNum.Between(sndUna + 1, sndUna + 1, sndNxt));
        Assert.True(SeqNum.Between(sndUna + 1, sndNxt, sndNxt));
        Assert.False(SeqNum.Between(sndUna + 1, sndNxt + 1, sndNxt)); // acks what was never sent
    }

    // RFC 9293 3.10.7.4, the table of four cases, each on both sides of its boundary and with
    // RCV.NXT both in the middle of the space and 3 octets before the wrap.
    [Theory]
    [InlineData(0u, 0u, 0u, true)] // length 0, window 0: SEG.SEQ = RCV.NXT
    [InlineData(1u, 0u, 0u, false)]
    [InlineData(0xffff_ffffu, 0u, 0u, false)]
    [InlineData(0u, 0u, 100u, true)] // length 0, window > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
    [InlineData(99u, 0u, 100u, true)]
    [InlineData(100u, 0u, 100u, false)]
    [InlineData(0xffff_ffffu, 0u, 100u, false)]
    [InlineData(0u, 1u, 0u, false)] // length > 0, window 0: never
    [InlineData(0u, 1000u, 0u, false)]
    [InlineData(0u, 10u, 100u, true)] // length > 0, window > 0: first octet in the window
    [InlineData(99u, 10u, 100u, true)]
    [InlineData(100u, 10u, 100u, false)]
    [InlineData(0xffff_fff7u, 10u, 100u, true)] // ... or the last octet (SEG.SEQ+SEG.LEN-1 = RCV.NXT)
    [InlineData(0xffff_fff6u, 10u, 100u, false)] // ... a segment ending just before RCV.NXT
    [InlineData(0xffff_ff00u, 1000u, 100u, true)] // ... or, deliberately, spanning the whole window
    [InlineData(0xffff_ff00u, 256u, 100u, false)] // ends exactly at RCV.NXT: all old
    [InlineData(0xffff_ff00u, 257u, 100u, true)] // one new octet
    [InlineData(0u, 0xffff_ffffu, 100u, true)]
    public void IsSegmentAcceptable_follows_the_four_cases(uint seqOffset, uint segLen, uint rcvWnd, bool expected)
    {
        foreach (uint rcvNxt in new[] { 0x4000_0000u, 0xffff_fffdu })
        {
            var segSeq = S(unchecked(rcvNxt + seqOffset));
            Assert.Equal(expected, SeqNum.IsSegmentAcceptable(segSeq, segLen, S(rcvNxt), rcvWnd));
        }
    }

    [Fact]
    public void IsSegmentAcceptable_agrees_with_unwrapped_arithmetic_across_the_wrap()
    {
        // A reference in 64-bit integers, with no modular arithmetic: place RCV.NXT at 2^40 and
        // the segment at a signed offset from it, and test the four cases (any overlap for the
        // fourth) directly. The implementation sees the same numbers reduced modulo 2^32 from a
        // random RCV.NXT, often within a window of the wrap.
        var random = new Random(9293);
        int accepted = 0;
        for (int i = 0; i < 200_000; i++)
        {
            uint rcvNxt = random.Next(4) == 0 ? unchecked(0u - (uint)random.Next(0, 3000)) : (uint)random.NextInt64(0, 1L << 32);
            uint rcvWnd = random.Next(5) == 0 ? 0u : (uint)random.Next(1, 2000);
            uint segLen = random.Next(5) == 0 ? 0u : (uint)random.Next(1, 1500);
            long offset = random.Next(-3000, 3000);

            long nxt = 1L << 40, seq = nxt + offset, wndEnd = nxt + rcvWnd;
            bool expected = (segLen, rcvWnd) switch
            {
                (0, 0) => seq == nxt,
                (0, _) => nxt <= seq && seq < wndEnd,
                (_, 0) => false,
                _ => seq < wndEnd && nxt < seq + segLen,
            };

            var segSeq = S(unchecked(rcvNxt + (uint)(int)offset));
            Assert.Equal(expected, SeqNum.IsSegmentAcceptable(segSeq, segLen, S(rcvNxt), rcvWnd));
            accepted += expected ? 1 : 0;
        }

        // Both outcomes are well represented, so the comparison means something.
        Assert.InRange(accepted, 20_000, 180_000);
    }
}
