using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Tests.Engine;

/// <summary>HyStart++ (RFC 9406 4.2): rounds, the RTT threshold, CSS, its rounds, and the return to slow start after a false exit.</summary>
public sealed class HyStartPlusPlusTests
{
    private const int Smss = 1000;
    private const long Flight = 10 * Smss; // a constant flight: every round is 10 ACKs of one segment

    private long _now;

    // One round of ACKs (one segment each) with the given RTT sample; returns the total cwnd increase.
    private long Round(HyStartPlusPlus hy, long rttMicros, out bool enterAvoidance, int acks = 10)
    {
        long increase = 0;
        enterAvoidance = false;
        for (int i = 0; i < acks && !enterAvoidance; i++)
        {
            _now += 100;
            increase += hy.OnAck(new CongestionAck(Smss, Flight, rttMicros, _now), Smss, Flight, out enterAvoidance);
        }

        return increase;
    }

    [Theory]
    [InlineData(1_000, 4_000)]     // MIN_RTT_THRESH
    [InlineData(20_000, 4_000)]    // 20 / 8 = 2.5 ms, raised to 4
    [InlineData(64_000, 8_000)]    // 64 / 8
    [InlineData(200_000, 16_000)]  // 25 ms, capped at MAX_RTT_THRESH
    public void The_rtt_threshold_is_an_eighth_of_the_last_round_within_4_and_16_ms(long lastRoundMinRtt, long expected)
    {
        Assert.Equal(expected, HyStartPlusPlus.RttThreshold(lastRoundMinRtt));
    }

    [Fact]
    public void Slow_start_grows_by_the_bytes_acknowledged_up_to_l_segments()
    {
        var hy = new HyStartPlusPlus();
        Assert.Equal(Smss, hy.OnAck(new CongestionAck(Smss, Flight, 20_000, 1), Smss, Flight, out _));
        // A stretch ACK of 20 segments grows cwnd by L = 8 segments (RFC 9406 4.2, non-paced).
        Assert.Equal(8 * Smss, hy.OnAck(new CongestionAck(20 * Smss, Flight, 20_000, 2), Smss, Flight, out _));
    }

    [Theory]
    [InlineData(23_999, HyStartPhase.SlowStart)]            // a rise of 3.999 ms: below the 4 ms threshold
    [InlineData(24_000, HyStartPhase.ConservativeSlowStart)]
    public void A_round_whose_minimum_rtt_rose_by_the_threshold_enters_css(long risenRtt, HyStartPhase expected)
    {
        var hy = new HyStartPlusPlus();
        Round(hy, 20_000, out _);
        Round(hy, 20_000, out _);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Assert.Equal(20_000, hy.LastRoundMinRttMicros);

        // The check needs N_RTT_SAMPLE = 8 samples in the round: after 7 nothing has happened yet.
        Round(hy, risenRtt, out _, acks: 7);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Round(hy, risenRtt, out _, acks: 1);
        Assert.Equal(expected, hy.Phase);
    }

    [Fact]
    public void Css_grows_a_quarter_as_fast_and_ends_in_congestion_avoidance_after_five_rounds()
    {
        var hy = new HyStartPlusPlus();
        Round(hy, 20_000, out _);
        Assert.Equal(10 * Smss, Round(hy, 20_000, out _)); // slow start: one SMSS per SMSS acknowledged
        Round(hy, 30_000, out _, acks: 8);
        Assert.Equal(HyStartPhase.ConservativeSlowStart, hy.Phase);
        Assert.Equal(2 * Smss / 4, Round(hy, 30_000, out _, acks: 2)); // RFC 9406 4.2: / CSS_GROWTH_DIVISOR

        // The round CSS began in counts as its first; four more complete CSS_ROUNDS = 5.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(10 * Smss / 4, Round(hy, 30_000, out bool early));
            Assert.False(early);
        }

        Round(hy, 30_000, out bool enter);
        Assert.False(enter);
        Round(hy, 30_000, out enter, acks: 1);
        Assert.True(enter, "CSS_ROUNDS rounds of CSS end slow start");
        Assert.Equal(HyStartPhase.Done, hy.Phase);
        Assert.Equal(0, hy.OnAck(new CongestionAck(Smss, Flight, 30_000, _now + 1), Smss, Flight, out _));
    }

    [Fact]
    public void An_rtt_back_below_the_css_baseline_returns_to_slow_start()
    {
        var hy = new HyStartPlusPlus();
        Round(hy, 20_000, out _);
        Round(hy, 20_000, out _);
        Round(hy, 30_000, out _); // CSS with baseline 30 ms
        Assert.Equal(HyStartPhase.ConservativeSlowStart, hy.Phase);

        // Jitter, not a queue: the next round's minimum is below the baseline once 8 samples are in.
        Round(hy, 22_000, out _, acks: 7);
        Assert.Equal(HyStartPhase.ConservativeSlowStart, hy.Phase);
        Round(hy, 22_000, out _, acks: 1);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Assert.Equal(1, hy.SpuriousExits);
        Assert.Equal(2 * Smss, Round(hy, 22_000, out _, acks: 2)); // full slow-start growth again

        // A later real rise still ends slow start: 22 ms + 4 ms.
        Round(hy, 22_000, out _);
        Round(hy, 26_000, out _);
        Assert.Equal(HyStartPhase.ConservativeSlowStart, hy.Phase);
    }

    [Fact]
    public void A_loss_ends_hystart_and_reset_starts_it_over()
    {
        var hy = new HyStartPlusPlus();
        Round(hy, 20_000, out _);
        hy.OnCongestion();
        Assert.Equal(HyStartPhase.Done, hy.Phase);
        Assert.Equal(0, Round(hy, 20_000, out _));
        hy.Reset();
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Assert.Equal(10 * Smss, Round(hy, 20_000, out _));
    }

    [Fact]
    public void The_ack_train_ends_slow_start_once_closely_spaced_acks_span_half_the_minimum_rtt()
    {
        var hy = new HyStartPlusPlus(ackTrain: true);
        long cwnd = 20 * Smss; // above the 16-segment floor
        long now = 0;
        bool enter = false;

        // Round 1 (minimum RTT 20 ms): three clumps of ACKs 1 ms apart with 5 ms gaps between them:
        // only the spacing inside the clumps counts, 3 x 3 ms = 9 ms, not above 10 ms.
        long Ack(long at, out bool e) => hy.OnAck(new CongestionAck(Smss, 1000 * Smss, 20_000, at), Smss, cwnd, out e);
        for (int clump = 0; clump < 3 && !enter; clump++)
        {
            for (int i = 0; i < 4 && !enter; i++)
            {
                now += i == 0 ? 5_000 : 1_000;
                Ack(now, out enter);
            }
        }

        Assert.False(enter);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);

        // Two more closely spaced ACKs: 11 ms > 20 / 2: slow start ends with ssthresh = cwnd.
        now += 1_000;
        Ack(now, out enter);
        Assert.False(enter);
        now += 1_000;
        Assert.Equal(0, Ack(now, out enter));
        Assert.True(enter);
        Assert.Equal((HyStartPhase.Done, SlowStartExit.AckTrain, cwnd), (hy.Phase, hy.Exit, hy.ExitWindow));
    }

    [Fact]
    public void The_ack_train_needs_sixteen_segments_of_window_and_is_off_by_default()
    {
        foreach ((bool ackTrain, long cwnd) in new[] { (true, 15L * Smss), (false, 100L * Smss) })
        {
            var hy = new HyStartPlusPlus(ackTrain: ackTrain);
            bool enter = false;
            for (int i = 1; i <= 30 && !enter; i++)
            {
                hy.OnAck(new CongestionAck(Smss, 1000 * Smss, 20_000, i * 1_000), Smss, cwnd, out enter);
            }

            Assert.False(enter);
            Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        }
    }
}
