using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

/// <summary>
/// SACK-based loss recovery in the engine: RACK-TLP (RFC 8985), RFC 6675 with PRR, D-SACK
/// (RFC 2883), undo (RFC 3522), reneging and bad blocks. The first group plays the peer with
/// hand-built segments in explicit time (exact segments and instants); the second runs two
/// engines over <see cref="EnginePair"/> with a seeded or targeted filter.
/// </summary>
public class TcpControlBlockSackTests
{
    private const int Mss = 1460;

    // ------------------------------------------------------------------ scripted peer, exact segments

    [Fact]
    public void Rack_marks_a_segment_lost_once_the_reordering_window_has_passed()
    {
        // Handshake RTT 10 ms: min_RTT = SRTT = 10 ms, so RACK's reordering window is 10 / 4 = 2.5 ms
        // while fewer than three segments are SACKed and no reordering was seen (RFC 8985 6.2 step 4).
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[4 * Mss], p.Now);
        Assert.Equal(4, p.Output.Take().Count);

        p.Now += 10_000;
        List<SentSegment> sent = p.Send(TcpFlags.Ack, ack: start, sack: [Block(start + Mss, start + (2 * Mss))]);
        Assert.Empty(sent); // segment 1 may only be late

        // RFC 8985 6.2 step 5: lost when xmit_ts + RACK.rtt (10 ms) + reo_wnd (2.5 ms) has passed.
        Assert.Equal(p.Now + 2_500, p.Tcb.NextDeadlineMicros);
        Assert.Empty(p.AdvanceTo(p.Now + 2_499));
        sent = p.AdvanceTo(p.Now + 1);
        SentSegment retransmission = Assert.Single(sent);
        Assert.Equal(start.Value, retransmission.Seq);
        Assert.Equal(Mss, retransmission.Payload.Length);
        Assert.Equal(1, p.Counters[TcpCounter.RackLostSegments]);
        Assert.Equal(1, p.Counters[TcpCounter.SackRecoveries]);
    }

    [Fact]
    public void Three_sacked_segments_mark_the_hole_lost_at_once()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[5 * Mss], p.Now);
        p.Output.Take();
        p.Now += 10_000;

        // RFC 8985 6.2 step 4: no reordering seen and DupThresh segments SACKed: the window is 0.
        List<SentSegment> sent = p.Send(TcpFlags.Ack, ack: start, sack: [Block(start + Mss, start + (4 * Mss))]);
        SentSegment retransmission = Assert.Single(sent);
        Assert.Equal(start.Value, retransmission.Seq);
    }

    [Fact]
    public void The_tail_loss_probe_goes_out_two_srtt_after_the_last_segment_and_resends_it()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[2 * Mss], p.Now);
        Assert.Equal(2, p.Output.Take().Count);

        // RFC 8985 7.2: PTO = 2 x SRTT (10 ms) + 2 ms (Linux) with more than one segment in flight, before the RTO (200 ms).
        Assert.Equal(p.Now + 22_000, p.Tcb.NextDeadlineMicros);
        List<SentSegment> sent = p.AdvanceTo(p.Now + 22_000);
        SentSegment probe = Assert.Single(sent);

        // RFC 8985 7.3: no new data to send, so the last segment goes again.
        Assert.Equal((start + Mss).Value, probe.Seq);
        Assert.Equal(1, p.Counters[TcpCounter.TailLossProbes]);
        Assert.Equal(0, p.Counters[TcpCounter.Timeouts]);

        // Its ACK reports segment 2 SACKed: RACK then finds segment 1 lost, without an RTO.
        p.Now += 10_000;
        sent = p.Send(TcpFlags.Ack, ack: start, sack: [Block(start + Mss, start + (2 * Mss))]);
        sent.AddRange(p.AdvanceTo(p.Now + 3_000));
        Assert.Contains(sent, s => s.Seq == start.Value && s.Payload.Length == Mss);
        Assert.Equal(0, p.Counters[TcpCounter.Timeouts]);
    }

    [Fact]
    public void A_probe_sends_new_data_when_the_congestion_window_held_it_back()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[12 * Mss], p.Now);
        Assert.Equal(10, p.Output.Take().Count); // the initial window (RFC 6928)

        // RFC 8985 7.3: new data, beyond cwnd; two full-sized segments, which a receiver that delays
        // ACKs acknowledges at once (RFC 5681 4.2), each its own segment.
        List<SentSegment> probe = p.AdvanceTo(p.Now + 22_000);
        Assert.Equal(2, probe.Count);
        Assert.Equal((start + (10 * Mss)).Value, probe[0].Seq);
        Assert.Equal((start + (11 * Mss)).Value, probe[1].Seq);
        Assert.All(probe, s => Assert.Equal(Mss, s.Payload.Length));
        Assert.Equal(1, p.Counters[TcpCounter.TailLossProbes]);
    }

    [Fact]
    public void A_probe_that_brings_no_ack_is_followed_by_a_second_at_twice_the_timeout()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        long t0 = p.Now;
        p.Tcb.Send(new byte[14 * Mss], p.Now);
        Assert.Equal(10, p.Output.Take().Count);

        // PTO = 2 x SRTT + 2 ms = 22 ms: the first probe, two new segments.
        Assert.Equal(2, p.AdvanceTo(t0 + 22_000).Count);
        Assert.Equal(1, p.Counters[TcpCounter.TailLossProbes]);

        // No ACK: a second probe at twice the PTO (RFC 9002 6.2.1), the next two, well before the RTO.
        Assert.Equal(t0 + 66_000, p.Tcb.NextDeadlineMicros);
        List<SentSegment> second = p.AdvanceTo(t0 + 66_000);
        Assert.Equal(2, second.Count);
        Assert.Equal((start + (12 * Mss)).Value, second[0].Seq);
        Assert.Equal(2, p.Counters[TcpCounter.TailLossProbes]);

        // No third: the retransmission timer (200 ms from the second probe) is the last resort.
        Assert.Empty(p.AdvanceTo(t0 + 66_000 + 199_000));
        Assert.NotEmpty(p.AdvanceTo(t0 + 66_000 + 250_000));
        Assert.Equal(1, p.Counters[TcpCounter.Timeouts]);
        Assert.Equal(2, p.Counters[TcpCounter.TailLossProbes]);
    }

    [Fact]
    public void A_recovery_whose_acks_stop_sends_a_probe_before_the_retransmission_timeout()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[30 * Mss], p.Now);
        List<SentSegment> sent = p.Output.Take();
        Assert.Equal(10, sent.Count);
        p.Now += 10_000;

        // Segments 2-4 SACKed: RACK marks segment 1 lost and a fast recovery starts (RFC 8985 6.2).
        sent.AddRange(p.Send(TcpFlags.Ack, ack: start, sack: [Block(start + Mss, start + (4 * Mss))]));
        Assert.Contains(sent, s => s.Seq == start.Value && s.Payload.Length == Mss);
        uint maxSent = sent.Max(s => s.Seq + (uint)s.Payload.Length);
        long recoveryAt = p.Now;

        // Then no ACK at all (the retransmission arrived and its ACK was lost, say). The recovery
        // probe goes a PTO (2 x SRTT + 2 ms = 22 ms, no delayed-ACK allowance) after the last ACK: new data.
        Assert.Empty(p.AdvanceTo(recoveryAt + 21_000));
        List<SentSegment> probe = p.AdvanceTo(recoveryAt + 22_000);
        Assert.Equal(2, probe.Count);
        Assert.Equal(maxSent, probe[0].Seq);
        Assert.Equal(1, p.Counters[TcpCounter.RecoveryProbes]);
        Assert.Equal(0, p.Counters[TcpCounter.Timeouts]);

        // Its ACK shows segment 1's retransmission arrived: the recovery goes on, no RTO.
        p.Now += 10_000;
        p.Send(TcpFlags.Ack, ack: start + (10 * Mss), sack: [Block((SeqNum)probe[0].Seq, (SeqNum)(probe[1].Seq + Mss))]);
        p.AdvanceTo(p.Now + 5_000);
        Assert.Equal(start + (10 * Mss), p.Tcb.SndUna);
        Assert.Equal(0, p.Counters[TcpCounter.Timeouts]);
    }

    [Fact]
    public void A_probe_sends_one_segment_when_only_one_is_left()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[(10 * Mss) + 100], p.Now);
        Assert.Equal(10, p.Output.Take().Count);

        SentSegment probe = Assert.Single(p.AdvanceTo(p.Now + 22_000));
        Assert.Equal((start + (10 * Mss)).Value, probe.Seq);
        Assert.Equal(100, probe.Payload.Length);
    }

    [Fact]
    public void After_a_timeout_only_unsacked_data_is_resent()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[6 * Mss], p.Now);
        p.Output.Take();
        p.Now += 10_000;
        TcpSackBlock sixth = Block(start + (5 * Mss), start + (6 * Mss));
        List<SentSegment> sent = p.Send(TcpFlags.Ack, ack: start, sack: [sixth]);

        // RACK resends segment 1; nothing comes back, so the timeout resends it again (RFC 8985 6.3,
        // cwnd = one segment); then the loss window grows with each ACK and the rest follows, never
        // the SACKed sixth segment.
        sent.AddRange(p.AdvanceTo(p.Now + 300_000));
        Assert.Equal(1, p.Counters[TcpCounter.Timeouts]);
        for (int i = 1; i < 5; i++)
        {
            p.Now += 10_000;
            sent.AddRange(p.Send(TcpFlags.Ack, ack: start + (i * Mss), sack: [sixth]));
        }

        p.Now += 10_000;
        p.Send(TcpFlags.Ack, ack: start + (6 * Mss));
        Assert.Equal(start + (6 * Mss), p.Tcb.SndUna);
        Assert.DoesNotContain(sent, s => s.Seq == sixth.LeftEdge && s.Payload.Length > 0);
        for (int i = 0; i < 5; i++)
        {
            Assert.Contains(sent, s => s.Seq == (start + (i * Mss)).Value && s.Payload.Length == Mss);
        }
    }

    [Fact]
    public void A_receiver_that_reneges_is_recovered_by_the_retransmission_timeout()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[4 * Mss], p.Now);
        p.Output.Take();
        p.Now += 10_000;

        // Segments 2-4 SACKed: segment 1 is resent at once.
        List<SentSegment> sent = p.Send(TcpFlags.Ack, ack: start, sack: [Block(start + Mss, start + (4 * Mss))]);
        Assert.Equal(start.Value, Assert.Single(sent).Seq);

        // The receiver acknowledges segment 1 but has dropped 2-4 (RFC 2018 8 allows it): no SACK blocks.
        p.Now += 10_000;
        p.Send(TcpFlags.Ack, ack: start + Mss);
        Assert.Equal(start + Mss, p.Tcb.SndUna);

        // The retransmission timeout forgets the SACKs and resends segment 2.
        sent = p.AdvanceTo(p.Now + 1_000_000);
        Assert.Equal(1, p.Counters[TcpCounter.SackRenegings]);
        Assert.Contains(sent, s => s.Seq == (start + Mss).Value && s.Payload.Length == Mss);

        // ... and the rest as the peer acknowledges.
        p.Send(TcpFlags.Ack, ack: start + (2 * Mss));
        sent = p.AdvanceTo(p.Now + 1_000_000);
        p.Send(TcpFlags.Ack, ack: start + (4 * Mss));
        Assert.Equal(start + (4 * Mss), p.Tcb.SndUna);
        Assert.Equal(TcpState.Established, p.Tcb.State);
    }

    [Fact]
    public void Bogus_sack_blocks_are_ignored_and_counted()
    {
        var p = new EngineRecorder();
        p.Establish(sack: true);
        SeqNum start = p.Tcb.SndNxt;
        p.Tcb.Send(new byte[4 * Mss], p.Now);
        p.Output.Take();
        p.Now += 5_000;
        SeqNum sndMax = p.Tcb.SndMax;

        TcpSackBlock[] bogus =
        [
            Block(start + Mss, sndMax + 1000), // covers data never sent
            Block(start + (3 * Mss), start + Mss), // inverted
            Block(sndMax + 5000, sndMax + 9000), // entirely beyond SND.MAX
        ];
        List<SentSegment> sent = p.Send(TcpFlags.Ack, ack: start, sack: bogus);
        Assert.Empty(sent);
        Assert.Equal(3, p.Counters[TcpCounter.SackBlocksIgnored]);

        // A block reaching below SND.UNA that is not a D-SACK (second position), and one larger than any
        // window. (A block wholly below SND.UNA is old news from a late ACK: skipped, not counted.)
        p.Send(TcpFlags.Ack, ack: start + Mss, sack: [Block(start + (2 * Mss), start + (3 * Mss)), Block(start + Mss - 100, start + (2 * Mss)), Block(start - 100_000, start - 90_000)]);
        p.Send(TcpFlags.Ack, ack: start + Mss, sack: [Block(start + Mss, start + Mss + 70_000)]);
        Assert.Equal(5, p.Counters[TcpCounter.SackBlocksIgnored]);
        Assert.Equal(0, p.Counters[TcpCounter.SackRecoveries]);

        p.Send(TcpFlags.Ack, ack: sndMax);
        Assert.Equal(sndMax, p.Tcb.SndUna);
        Assert.Equal(TcpState.Established, p.Tcb.State);
    }

    // ------------------------------------------------------------------ two engines over a wire

    [Fact]
    public void A_single_loss_is_repaired_by_one_fast_retransmit()
    {
        (EnginePair wire, HashSet<int> dropped) = DropFirstCopies(segments: 200, lose: i => i == 20);
        Assert.Single(dropped);
        Assert.Equal(1, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(1, wire.CountersA[TcpCounter.SackRecoveries]);
        Assert.Equal(0, wire.CountersA.Timeouts);
    }

    [Fact]
    public void A_burst_loss_is_repaired_in_one_episode()
    {
        (EnginePair wire, HashSet<int> dropped) = DropFirstCopies(segments: 200, lose: i => i is >= 30 and < 36);
        Assert.Equal(6, dropped.Count);
        Assert.Equal(6, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(1, wire.CountersA[TcpCounter.SackRecoveries]);
        Assert.Equal(0, wire.CountersA.Timeouts);
    }

    [Fact]
    public void A_tail_loss_is_found_by_the_loss_probe_not_the_timeout()
    {
        (EnginePair wire, HashSet<int> dropped) = DropFirstCopies(segments: 40, lose: i => i >= 38);
        Assert.Equal(2, dropped.Count);
        Assert.True(wire.CountersA[TcpCounter.TailLossProbes] >= 1);
        Assert.Equal(0, wire.CountersA.Timeouts);
        Assert.Equal(2, wire.CountersA.SegmentsRetransmitted);
    }

    [Fact]
    public void A_lost_retransmission_is_found_by_rack_without_a_timeout()
    {
        var wire = new EnginePair();
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        SeqNum first = wire.A.SndNxt;
        uint victim = (first + (25 * mss)).Value;
        int copies = 0;
        wire.Filter = s => s.FromA && s.Seq == victim && s.Payload.Length > 0 && ++copies <= 2 ? WireAction.Drop : WireAction.Deliver;
        byte[] data = TestData.Seeded(300 * mss);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        Assert.Equal(3, copies); // the original and the first retransmission were lost, the second arrived
        Assert.Equal(2, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(0, wire.CountersA.Timeouts);
    }

    [Fact]
    public void Reordering_within_the_window_does_not_start_recovery()
    {
        // The application writes one segment every 2 ms; one segment is 3 ms late, so the next one
        // overtakes it: one SACKed segment, inside RACK's window of min_RTT / 4 = 5 ms.
        var wire = new EnginePair(optionsA: TcpConnectionOptions.Default with { NoDelay = true });
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        SeqNum first = wire.A.SndNxt;
        wire.ReorderDelay = 3_000;
        wire.Filter = s => s.FromA && s.Seq == (first + (10 * mss)).Value ? WireAction.Delay : WireAction.Deliver;
        for (int i = 0; i < 30; i++)
        {
            wire.A.Send(TestData.Seeded(mss, i), wire.Now);
            wire.Run(2_000);
        }

        wire.Run(1_000_000);
        Assert.Equal(first + (30 * mss), wire.A.SndUna);
        Assert.True(wire.CountersB.OutOfOrderQueued >= 1);
        Assert.Equal(0, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(0, wire.CountersA[TcpCounter.SackRecoveries]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_spurious_fast_retransmit_is_undone(bool timestamps)
    {
        // One segment is 5 ms late while the whole flight overtakes it: RACK resends it (a zero
        // window: no reordering seen yet). Then the original arrives: with timestamps the ACK's echo
        // shows it (Eifel, RFC 3522), without them the D-SACK for the retransmission does (RFC 2883).
        TcpConnectionOptions options = TcpConnectionOptions.Default with { Timestamps = timestamps };
        var wire = new EnginePair(options, options);
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        SeqNum first = wire.A.SndNxt;
        wire.ReorderDelay = 5_000;
        bool delayed = false;
        wire.Filter = s => s.FromA && s.Seq == (first + (12 * mss)).Value && !delayed && (delayed = true) ? WireAction.Delay : WireAction.Deliver;
        byte[] data = TestData.Seeded(100 * mss);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        Assert.Equal(1, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(1, wire.CountersA[TcpCounter.RecoveriesUndone]);
        if (!timestamps)
        {
            Assert.True(wire.CountersA[TcpCounter.DsacksReceived] >= 1);
        }

        Assert.Equal(int.MaxValue, wire.A.Congestion.SlowStartThreshold); // the halving was taken back
    }

    [Fact]
    public void A_spurious_timeout_is_detected_by_the_timestamp_echo_and_undone()
    {
        // The ACKs of one flight are held 600 ms on the way back, longer than the RTO: A times out and
        // resends; the ACK of the resent segment echoes the originals' timestamp (the duplicate did not
        // update the receiver's TS.Recent), which shows the timeout was spurious (RFC 3522).
        var wire = new EnginePair();
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        byte[] data = TestData.Seeded(60 * mss);
        wire.ReorderDelay = 600_000;
        long start = wire.Now;
        // The ACKs of the first flight and of the loss probe (RFC 8985 7) are held.
        wire.Filter = s => !s.FromA && s.Time >= start + 15_000 && s.Time < start + 255_000 ? WireAction.Delay : WireAction.Deliver;
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        Assert.True(wire.CountersA.Timeouts >= 1);
        Assert.Equal(1, wire.CountersA[TcpCounter.SpuriousTimeouts]);
        Assert.Equal(int.MaxValue, wire.A.Congestion.SlowStartThreshold);
    }

    [Fact]
    public void Lost_acks_need_no_retransmission()
    {
        var wire = new EnginePair();
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        var random = new Random(5);
        wire.Filter = s => !s.FromA && s.Payload.Length == 0 && random.NextDouble() < 0.5 ? WireAction.Drop : WireAction.Deliver;
        byte[] data = TestData.Seeded(300 * mss);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        Assert.Equal(0, wire.CountersA.Timeouts);
        Assert.True(wire.CountersA.SegmentsRetransmitted <= 1, $"{wire.CountersA.SegmentsRetransmitted} retransmissions");
    }

    private static TcpSackBlock Block(SeqNum left, SeqNum right) => new(left.Value, right.Value);

    // A transfer of `segments` full segments from A to B whose data segments number `lose` (from 0)
    // are lost the first time they are sent; returns the wire and the numbers dropped.
    private static (EnginePair Wire, HashSet<int> Dropped) DropFirstCopies(int segments, Func<int, bool> lose)
    {
        var wire = new EnginePair();
        wire.Connect();
        int mss = wire.A.Mss; // 1448: timestamps take 12 bytes of 1460
        SeqNum first = wire.A.SndNxt;
        var dropped = new HashSet<int>();
        wire.Filter = s =>
        {
            int index = (new SeqNum(s.Seq) - first) / mss;
            return s.FromA && s.Payload.Length > 0 && lose(index) && dropped.Add(index) ? WireAction.Drop : WireAction.Deliver;
        };
        byte[] data = TestData.Seeded(segments * mss);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        return (wire, dropped);
    }
}
