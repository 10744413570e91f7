using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockRetransmissionTests
{
    [Fact]
    public void Lost_data_is_retransmitted_by_the_timer_with_exponential_backoff()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.Run(1_000_000);
        int dropped = 0;
        wire.Filter = s => s.FromA && s.Payload.Length > 0 && dropped++ < 3 ? WireAction.Drop : WireAction.Deliver;
        long sent = wire.Now;
        wire.A.Send("hello"u8, wire.Now);
        long rto = wire.A.RtoEstimator.Rto;
        byte[] got = wire.ReceiveAll(wire.B!, 5);
        Assert.Equal("hello"u8.ToArray(), got);
        List<long> times = [.. wire.Log.Where(s => s.FromA && s.Payload.Length > 0).Select(s => s.Time - sent)];
        Assert.Equal([0, rto, 3 * rto, 7 * rto], times);
        Assert.Equal(3, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(3, wire.CountersA.Timeouts);
        Assert.Equal(3, wire.A.GetInfo(wire.Now).Retransmissions);
    }

    [Fact]
    public void After_a_timeout_pure_acks_carry_the_highest_sequence_number_sent()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { DelayedAckTimeout = TimeSpan.Zero });
        p.Establish();
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[3 * 1460], p.Now);
        Assert.Equal(3, p.Output.Take().Count);
        SentSegment resent = Assert.Single(p.AdvanceTo(p.Tcb.NextDeadlineMicros));
        Assert.Equal(start.Value, resent.Seq);

        // The peer holds all three segments; the ACK of its data must not carry the rewound SND.NXT.
        SentSegment ack = Assert.Single(p.Send(TcpFlags.Ack | TcpFlags.Psh, "x"u8, ack: start));
        Assert.Equal((start + (3 * 1460)).Value, ack.Seq);
        Assert.Empty(ack.Payload);

        // Its cumulative ACK of everything sent is accepted after the rewind.
        Assert.Empty(p.Send(TcpFlags.Ack, ack: start + (3 * 1460)));
        Assert.Equal(start + (3 * 1460), p.Tcb.SndUna);
        Assert.Equal(long.MaxValue, p.Tcb.NextDeadlineMicros);
        Assert.Equal(0, p.Tcb.GetInfo(p.Now).SendQueue);
    }

    [Theory]
    [InlineData(6)] // seeds that stalled for minutes when timestamp echoes of earlier copies inflated the RTO
    [InlineData(7)]
    [InlineData(11)]
    public void Bidirectional_transfer_with_20_percent_loss_completes_in_bounded_time(int seed)
    {
        var wire = new EnginePair(seed: seed);
        wire.Connect();
        var random = new Random(seed);
        wire.Filter = _ => random.NextDouble() < 0.2 ? WireAction.Drop : WireAction.Deliver;
        byte[] up = TestData.Seeded(1_000_000, 1);
        byte[] down = TestData.Seeded(1_000_000, 2);
        long start = wire.Now;
        int upSent = 0, downSent = 0, upGot = 0, downGot = 0;
        var buffer = new byte[65536];
        long end = wire.Now + 600_000_000;
        while ((upGot < up.Length || downGot < down.Length) && wire.Now < end)
        {
            upSent += wire.A.Send(up.AsSpan(upSent), wire.Now);
            downSent += wire.B!.Send(down.AsSpan(downSent), wire.Now);
            int n;
            while ((n = wire.B.Receive(buffer, wire.Now)) > 0)
            {
                Assert.Equal(up.AsSpan(upGot, n).ToArray(), buffer.AsSpan(0, n).ToArray());
                upGot += n;
            }

            while ((n = wire.A.Receive(buffer, wire.Now)) > 0)
            {
                Assert.Equal(down.AsSpan(downGot, n).ToArray(), buffer.AsSpan(0, n).ToArray());
                downGot += n;
            }

            wire.RunUntil(Math.Min(wire.NextEventTime(), end));
        }

        Assert.Equal(up.Length, upGot);
        Assert.Equal(down.Length, downGot);
        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.True(wire.Now - start < 400_000_000, $"took {(wire.Now - start) / 1e6} s");
        Assert.True(wire.A.RtoEstimator.SmoothedRtt < 1_000_000, wire.A.RtoEstimator.ToString());
    }

    [Fact]
    public void Syn_retries_back_off_then_the_connect_times_out()
    {
        var wire = new EnginePair(TcpConnectionOptions.Default with { ConnectTimeout = null });
        wire.Filter = _ => WireAction.Drop;
        long start = wire.Now;
        wire.A.OpenActive(wire.Now);
        wire.RunUntil(start + 200_000_000, () => wire.A.State == TcpState.Closed);
        List<long> syns = [.. wire.Log.Where(s => s.Has(TcpFlags.Syn)).Select(s => (s.Time - start) / 1_000_000)];
        Assert.Equal([0, 1, 3, 7, 15, 31, 63], syns); // 6 retries, like Linux's tcp_syn_retries
        Assert.Equal(TcpState.Closed, wire.A.State);
        Assert.Equal(SocketError.TimedOut, wire.A.Error);
        Assert.Equal(127_000_000, wire.Now - start);
        Assert.Equal(1, wire.CountersA.AttemptFails);
    }

    [Fact]
    public void Connect_timeout_ends_the_attempt_early()
    {
        var wire = new EnginePair(TcpConnectionOptions.Default with { ConnectTimeout = TimeSpan.FromSeconds(10) });
        wire.Filter = _ => WireAction.Drop;
        long start = wire.Now;
        wire.A.OpenActive(wire.Now);
        wire.RunUntil(start + 200_000_000, () => wire.A.State == TcpState.Closed);
        Assert.Equal(10_000_000, wire.Now - start);
        Assert.Equal(SocketError.TimedOut, wire.A.Error);
    }

    [Fact]
    public void Syn_ack_retries_then_the_half_open_connection_is_dropped()
    {
        var wire = new EnginePair();
        int syns = 0;
        wire.Filter = s => !s.FromA || syns++ > 0 ? WireAction.Drop : WireAction.Deliver; // only the first SYN arrives
        long start = wire.Now;
        wire.A.OpenActive(wire.Now);
        wire.RunUntil(start + 200_000_000, () => wire.B?.State == TcpState.Closed);
        TcpControlBlock b = wire.B!;
        Assert.Equal(TcpState.Closed, b.State);
        Assert.Equal(SocketError.TimedOut, b.Error);
        List<long> synAcks = [.. wire.Log.Where(s => !s.FromA).Select(s => (s.Time - start - 10_000) / 1_000_000)];
        Assert.Equal([0, 1, 3, 7, 15, 31], synAcks); // one plus SynAckRetries = 5, backing off
        Assert.Equal(63_010_000, wire.Now - start);
        Assert.Equal(1, wire.CountersB.AttemptFails);
    }

    [Fact]
    public void Lost_syn_is_resent_and_the_handshake_completes()
    {
        var wire = new EnginePair();
        int drop = 1;
        wire.Filter = s => s.FromA && s.Has(TcpFlags.Syn) && drop-- > 0 ? WireAction.Drop : WireAction.Deliver;
        long start = wire.Now;
        wire.Connect(5_000_000);
        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.Equal(1_030_000, wire.Now - start); // SYN again at 1 s, then SYN-ACK and ACK
        Assert.Equal(2, wire.Log.Count(s => s.FromA && s.Has(TcpFlags.Syn)));
        Assert.Equal(1, wire.CountersA.SegmentsRetransmitted);
    }

    [Fact]
    public void Too_many_retransmissions_time_the_connection_out()
    {
        var wire = new EnginePair(TcpConnectionOptions.Default with { MaxRetransmissions = 3 });
        wire.Connect();
        wire.Filter = _ => WireAction.Drop;
        wire.A.Send("x"u8, wire.Now);
        wire.Run(100_000_000);
        Assert.Equal(TcpState.Closed, wire.A.State);
        Assert.Equal(SocketError.TimedOut, wire.A.Error);
        Assert.Equal(4, wire.Log.Count(s => s.FromA && s.Payload.Length == 1));
    }
}

public class TcpControlBlockSegmentationTests
{
    [Fact]
    public void With_segmentation_offload_new_data_leaves_in_super_segments_and_a_loss_resends_one_mss()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { SegmentationLimit = 64_000, DelayedAckTimeout = TimeSpan.Zero });
        p.Establish();
        int mss = p.Tcb.Mss;
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[40 * mss], p.Now);

        // What the congestion window allows goes out in as few segments as whole MSS multiples allow.
        List<SentSegment> sent = p.Output.Take();
        Assert.NotEmpty(sent);
        Assert.True(sent[0].Payload.Length > mss, $"first segment carries {sent[0].Payload.Length} bytes, MSS {mss}");
        Assert.All(sent, s => Assert.Equal(0, s.Payload.Length % mss));
        long inFlight = sent.Sum(static s => (long)s.Payload.Length);

        // The retransmission timer resends only the first MSS, not the whole super-segment.
        SentSegment resent = Assert.Single(p.AdvanceTo(p.Tcb.NextDeadlineMicros));
        Assert.Equal(start.Value, resent.Seq);
        Assert.Equal(mss, resent.Payload.Length);

        // The peer acknowledges everything sent: new data goes out as super-segments again.
        List<SentSegment> after = p.Send(TcpFlags.Ack, ack: start + (int)inFlight);
        Assert.Contains(after, s => s.Payload.Length > mss);
    }

    [Fact]
    public void A_super_segment_carries_the_mss_as_its_segment_size_and_counts_as_its_wire_segments()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { SegmentationLimit = 64_000, DelayedAckTimeout = TimeSpan.Zero });
        p.Establish();
        int mss = p.Tcb.Mss;
        long before = p.Counters.SegmentsSent;
        p.Tcb.Send(new byte[40 * mss], p.Now);
        List<SentSegment> sent = p.Output.Take();

        // Each segment says what the device cuts it into: the MSS for a super-segment, nothing for one MSS or less.
        Assert.Contains(sent, s => s.Payload.Length > mss);
        Assert.All(sent, s => Assert.Equal(s.Payload.Length > mss ? mss : 0, s.Header.SegmentSize));

        // SegmentsSent counts what leaves on the wire: a super-segment of k MSS is k segments.
        long wireSegments = sent.Sum(s => (long)Math.Max(1, (s.Payload.Length + mss - 1) / mss));
        Assert.True(wireSegments > sent.Count);
        Assert.Equal(wireSegments, p.Counters.SegmentsSent - before);

        // A retransmission is one MSS, an ordinary segment again.
        SentSegment resent = Assert.Single(p.AdvanceTo(p.Tcb.NextDeadlineMicros));
        Assert.Equal(0, resent.Header.SegmentSize);
        Assert.Equal(wireSegments + 1, p.Counters.SegmentsSent - before);
    }

    [Fact]
    public void Without_segmentation_offload_every_segment_is_one_mss()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default);
        p.Establish();
        int mss = p.Tcb.Mss;
        long before = p.Counters.SegmentsSent;
        p.Tcb.Send(new byte[10 * mss], p.Now);
        List<SentSegment> sent = p.Output.Take();
        Assert.All(sent, s => Assert.True(s.Payload.Length <= mss && s.Header.SegmentSize == 0));
        Assert.Equal(sent.Count, p.Counters.SegmentsSent - before);
    }
}
