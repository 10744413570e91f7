using Protocols.Tcp.Engine.CongestionControl;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Engine;

/// <summary>
/// CUBIC against RFC 9438's formulas: β_cubic, W_max and fast convergence at a loss, K, the window
/// against W_cubic(t) at given times in the concave and convex regions, the Reno-friendly region
/// and α_cubic, the timeout rule, application-limited flows; HyStart++ hand-over.
/// </summary>
public sealed class CubicControllerTests(ITestOutputHelper output)
{
    private const int Smss = 1000;
    private const double C = 0.4;

    private static CubicController NoHyStart() => new(new CubicOptions { HyStart = false });

    // Slow start (HyStart++ off, L = 2) from IW10 to `segments` segments, the sender always cwnd-limited.
    private static long GrowTo(CubicController cc, int segments, ref long now)
    {
        cc.OnConnectionEstablished(Smss, now);
        while (cc.CongestionWindow < segments * (long)Smss)
        {
            now += 1000;
            long acked = Math.Min(2L * Smss, (segments * (long)Smss) - cc.CongestionWindow);
            cc.OnAck(new CongestionAck(acked, cc.CongestionWindow - acked, null, now));
        }

        return cc.CongestionWindow;
    }

    // One loss episode: fast recovery entered with the whole window in flight, left with a full ACK.
    private static void Loss(CubicController cc, ref long now)
    {
        long flight = cc.CongestionWindow;
        now += 1000;
        cc.OnEnterFastRecovery(flight, now);
        now += 1000;
        cc.OnExitFastRecovery(new CongestionAck(flight, cc.SlowStartThreshold, null, now));
    }

    // Congestion avoidance with a full window in flight: an ACK of 2 segments every RTT * 2 / cwnd,
    // each carrying an RTT sample, until `until`.
    private static void Run(CubicController cc, long rttMicros, long until, ref long now)
    {
        while (now < until)
        {
            long cwnd = cc.CongestionWindow;
            now += Math.Max(1, rttMicros * 2 * Smss / cwnd);
            cc.OnAck(new CongestionAck(2L * Smss, cwnd - (2L * Smss), rttMicros, now));
        }
    }

    [Fact]
    public void A_loss_multiplies_the_window_by_beta_and_sets_w_max_and_k()
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        Assert.Equal(100_000, cc.CongestionWindow);

        cc.OnEnterFastRecovery(100_000, now);
        // RFC 9438 4.6: ssthresh = flight_size * 0.7; 4.7: W_max = cwnd (no earlier W_max).
        Assert.Equal(70_000, cc.SlowStartThreshold);
        Assert.Equal(100_000, cc.WMax);
        Assert.Equal(73_000, cc.CongestionWindow); // RFC 5681 3.2 step 3 inflation by 3 SMSS
        Assert.True(cc.InFastRecovery);
        cc.OnDuplicateAck(now);
        Assert.Equal(74_000, cc.CongestionWindow);
        cc.OnExitFastRecovery(new CongestionAck(100_000, 70_000, null, now));
        Assert.Equal(70_000, cc.CongestionWindow); // min(ssthresh, FlightSize + SMSS)

        // The first ACK of congestion avoidance starts the epoch: K = cbrt((W_max - cwnd_epoch) / C) in segments.
        cc.OnAck(new CongestionAck(2 * Smss, 68_000, 100_000, now + 1));
        Assert.Equal(Math.Cbrt(30 / C), cc.K, 9);
    }

    [Theory]
    [InlineData(100_000, true, 70_000)]  // the flight fills the window: both bases agree
    [InlineData(90_000, true, 70_000)]   // a flight short of cwnd: cwnd * 0.7 (RFC 9438 4.6, with the 5.8 rule)
    [InlineData(120_000, true, 84_000)]  // a flight past cwnd (SACKed data beyond a hole): FlightSize * 0.7
    [InlineData(90_000, false, 63_000)]  // the flight-only option: FlightSize * 0.7
    [InlineData(120_000, false, 84_000)]
    public void A_loss_reduces_the_larger_of_cwnd_and_the_flight_by_beta(long flight, bool fromCongestionWindow, long ssthresh)
    {
        var cc = new CubicController(new CubicOptions { HyStart = false, ReduceFromCongestionWindow = fromCongestionWindow });
        long now = 0;
        GrowTo(cc, 100, ref now);
        Assert.Equal(100_000, cc.CongestionWindow);
        cc.OnEnterFastRecovery(flight, now);
        Assert.InRange(cc.SlowStartThreshold, ssthresh - 1, ssthresh); // β = 0.7 in binary floating point
        Assert.Equal(100_000, cc.WMax); // W_max is the window, whatever the base
    }

    [Theory]
    [InlineData(false, 40_000, 70_000)] // option (2): cwnd = ssthresh however little is outstanding
    [InlineData(true, 40_000, 41_000)]  // option (1): min(ssthresh, FlightSize + SMSS)
    [InlineData(true, 80_000, 70_000)]
    public void Leaving_fast_recovery_sets_the_window_by_rfc_6582_option_two_unless_told_otherwise(bool limitedByFlight, long flightAtExit, long cwnd)
    {
        var cc = new CubicController(new CubicOptions { HyStart = false, ExitRecoveryLimitedByFlightSize = limitedByFlight });
        long now = 0;
        GrowTo(cc, 100, ref now);
        cc.OnEnterFastRecovery(100_000, now);
        Assert.Equal(70_000, cc.SlowStartThreshold);
        cc.OnExitFastRecovery(new CongestionAck(100_000, flightAtExit, null, now + 1000));
        Assert.False(cc.InFastRecovery);
        Assert.Equal(cwnd, cc.CongestionWindow);
    }

    [Theory]
    [InlineData(1.0)]  // concave: W_cubic(1) = 0.4 (1 - 4.217)^3 + 100 = 86.7 segments
    [InlineData(2.5)]
    [InlineData(4.2172)] // t = K: back at W_max
    [InlineData(6.0)]  // convex: 102.3 segments
    [InlineData(8.0)]  // 121.6 segments
    public void In_congestion_avoidance_the_window_follows_w_cubic(double seconds)
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        Loss(cc, ref now);
        const long Rtt = 200_000; // long enough that W_est (+0.529 segment per RTT) stays below the cubic
        long epoch = now + 1;
        Run(cc, Rtt, epoch + (long)(seconds * 1e6), ref now);

        // RFC 9438 4.2: W_cubic(t) = C (t - K)^3 + W_max with K = cbrt((100 - 70) / 0.4); each ACK moves
        // cwnd towards W_cubic(t + RTT), so the window tracks the curve.
        double k = Math.Cbrt(30 / C);
        double t = (now - epoch) / 1e6;
        double expected = ((C * Math.Pow(t - k, 3)) + 100) * Smss;
        output.WriteLine($"t={t:0.000}s cwnd={cc.CongestionWindow} W_cubic={expected:0} W_est={cc.WEst}");
        Assert.InRange(cc.CongestionWindow, expected - (1.5 * Smss), expected + (1.5 * Smss));
        Assert.True(cc.CongestionWindow > cc.WEst, "this long RTT keeps CUBIC out of the Reno-friendly region");
    }

    [Fact]
    public void On_a_short_rtt_the_window_is_reno_friendly_with_alpha_0_529_then_1_past_cwnd_prior()
    {
        // W_max 20 segments, RTT 10 ms: Reno's line grows faster than the cubic (RFC 9438 4.3).
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 20, ref now);
        Loss(cc, ref now);
        Assert.Equal(14_000, cc.CongestionWindow);
        const long Rtt = 10_000;
        double alpha = 3 * (1 - 0.7) / (1 + 0.7); // RFC 9438 equation (3): 0.529

        // Five RTTs in: W_est = 14 + 5 * 0.529 segments, above W_cubic(0.05) = 0.4 (0.05 - 2.47)^3 + 20 = 14.3.
        long epoch = now + 1;
        Run(cc, Rtt, epoch + (5 * Rtt), ref now);
        double expected = (14 + (alpha * 5)) * Smss;
        output.WriteLine($"5 RTT: cwnd={cc.CongestionWindow} W_est={cc.WEst} expected {expected:0}");
        Assert.Equal(cc.WEst, cc.CongestionWindow);
        Assert.InRange(cc.CongestionWindow, expected * 0.97, expected * 1.03);

        // W_est reaches cwnd_prior (20 segments) after 6 / 0.529 = 11.3 RTTs; then α_cubic = 1: one
        // segment per RTT, so 20 RTTs later it is at about 20 + 8.7.
        Run(cc, Rtt, epoch + (20 * Rtt), ref now);
        expected = (20 + (20 - (6 / alpha))) * Smss;
        output.WriteLine($"20 RTT: cwnd={cc.CongestionWindow} expected {expected:0}");
        Assert.InRange(cc.CongestionWindow, expected * 0.95, expected * 1.05);
    }

    [Fact]
    public void Fast_convergence_lowers_w_max_when_a_loss_comes_below_the_previous_one()
    {
        foreach (bool fastConvergence in new[] { true, false })
        {
            var cc = new CubicController(new CubicOptions { HyStart = false, FastConvergence = fastConvergence });
            long now = 0;
            GrowTo(cc, 100, ref now);
            Loss(cc, ref now); // W_max = 100 segments, cwnd 70
            Loss(cc, ref now); // again at cwnd 70 < W_max
            // RFC 9438 4.7: W_max = cwnd * (1 + β) / 2 = 70 * 0.85 = 59.5 segments; without it, cwnd.
            Assert.Equal(fastConvergence ? 59_500 : 70_000, cc.WMax);
            Assert.Equal(49_000, cc.SlowStartThreshold);
        }
    }

    [Fact]
    public void After_a_timeout_the_first_epoch_starts_with_k_0_and_w_max_at_its_start()
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        cc.OnRetransmissionTimeout(100_000, segmentAlreadyRetransmittedByTimer: false, now);
        // RFC 9438 4.8: cwnd = 1 SMSS like Reno, ssthresh = flight * 0.7.
        Assert.Equal((1000, 70_000), (cc.CongestionWindow, cc.SlowStartThreshold));
        cc.OnRetransmissionTimeout(1000, segmentAlreadyRetransmittedByTimer: true, now);
        Assert.Equal(70_000, cc.SlowStartThreshold); // RFC 5681 3.1: held for a backed-off resend

        while (cc.InSlowStart)
        {
            now += 1000;
            cc.OnAck(new CongestionAck(2 * Smss, cc.CongestionWindow, 20_000, now));
        }

        Assert.Equal(70_000, cc.CongestionWindow);
        cc.OnAck(new CongestionAck(2 * Smss, 68_000, 20_000, now + 1));
        Assert.Equal(0, cc.K);
        Assert.Equal(70_000, cc.WMax);
    }

    [Fact]
    public void An_application_limited_sender_does_not_grow_the_window_nor_count_the_time()
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        Loss(cc, ref now);

        // Half a second cwnd-limited (the epoch starts), ten seconds of ACKs while only 10 segments
        // are in flight (RFC 9438 5.8), half a second cwnd-limited again.
        Run(cc, 100_000, now + 500_000, ref now);
        long before = cc.CongestionWindow;
        for (int i = 0; i < 1000; i++)
        {
            now += 10_000;
            cc.OnAck(new CongestionAck(2 * Smss, 8 * Smss, 100_000, now));
        }

        Assert.Equal(before, cc.CongestionWindow);
        Run(cc, 100_000, now + 500_000, ref now);

        // The window is where one second on the curve puts it, not eleven.
        double k = Math.Cbrt(30 / C);
        double expected = ((C * Math.Pow(1.0 - k, 3)) + 100) * Smss;
        output.WriteLine($"cwnd={cc.CongestionWindow} W_cubic(1 s)={expected:0}");
        Assert.InRange(cc.CongestionWindow, expected - (2 * Smss), expected + (2 * Smss));
    }

    [Fact]
    public void The_mss_change_keeps_the_number_of_segments()
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        Loss(cc, ref now);
        cc.OnMssChanged(500, now);
        Assert.Equal((35_000, 35_000, 50_000), (cc.CongestionWindow, cc.SlowStartThreshold, cc.WMax));
    }

    [Fact]
    public void HyStart_plus_plus_hands_over_to_congestion_avoidance_with_ssthresh_at_cwnd()
    {
        var cc = new CubicController();
        long now = 0;
        cc.OnConnectionEstablished(Smss, now);
        Assert.Null(cc.HyStart); // made at the first ACK, so an idle connection does without

        // Rounds of ACKs with a constant flight: the RTT is 20 ms, then rises by 5 ms (queueing).
        long rtt = 20_000;
        int rounds = 0;
        while (cc.HyStart?.Phase != HyStartPhase.Done && rounds < 40)
        {
            if (rounds == 3)
            {
                rtt = 25_000;
            }

            long flight = cc.CongestionWindow;
            for (long acked = 0; acked < flight && cc.HyStart?.Phase != HyStartPhase.Done; acked += Smss)
            {
                now += 100;
                cc.OnAck(new CongestionAck(Smss, flight, rtt, now));
            }

            rounds++;
        }

        HyStartPlusPlus hy = Assert.IsType<HyStartPlusPlus>(cc.HyStart);
        Assert.Equal(HyStartPhase.Done, hy.Phase);
        Assert.Equal(0, hy.SpuriousExits);
        Assert.False(cc.InSlowStart);
        Assert.Equal(cc.CongestionWindow, cc.SlowStartThreshold);
        Assert.Equal(0, cc.WMax); // RFC 9438 4.10: no W_max before the first congestion avoidance epoch
        long exitWindow = cc.CongestionWindow;
        cc.OnAck(new CongestionAck(Smss, exitWindow, rtt, now + 1));
        Assert.Equal(0, cc.K);
        Assert.Equal(exitWindow, cc.WMax);
        output.WriteLine($"left slow start after {rounds} rounds at cwnd {exitWindow}");
    }

    [Fact]
    public void The_registry_creates_cubic_by_default()
    {
        Assert.Equal("cubic", CongestionRules.DefaultName);
        Assert.Equal("cubic", new TcpConnectionOptions().CongestionControl);
        Assert.IsType<CubicController>(CongestionControllerRegistry.Default.Create(new TcpConnectionOptions().CongestionControl));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CubicController(new CubicOptions { Beta = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CubicController(new CubicOptions { C = 0 }));
    }

    [Fact]
    public void A_spurious_reduction_is_undone_to_the_state_before_it()
    {
        CubicController cc = NoHyStart();
        long now = 0;
        GrowTo(cc, 100, ref now);
        Loss(cc, ref now); // W_max 100 segments, cwnd 70
        Run(cc, 100_000, now + 2_000_000, ref now);
        (long cwnd, long ssthresh, long wMax, double k) = (cc.CongestionWindow, cc.SlowStartThreshold, cc.WMax, cc.K);

        // A second episode, then found spurious (D-SACK or Eifel): RFC 9438 4.9 puts everything back.
        cc.OnEnterFastRecovery(cwnd, now);
        Assert.NotEqual(cwnd, cc.CongestionWindow);
        cc.OnReductionUndone(now);
        Assert.False(cc.InFastRecovery);
        Assert.Equal((cwnd, ssthresh, wMax, k), (cc.CongestionWindow, cc.SlowStartThreshold, cc.WMax, cc.K));

        // Nothing to undo twice; and a timeout is undone the same way.
        cc.OnReductionUndone(now);
        Assert.Equal(cwnd, cc.CongestionWindow);
        cc.OnRetransmissionTimeout(cwnd, segmentAlreadyRetransmittedByTimer: false, now);
        Assert.Equal(Smss, cc.CongestionWindow);
        cc.OnReductionUndone(now);
        Assert.Equal((cwnd, ssthresh, wMax), (cc.CongestionWindow, cc.SlowStartThreshold, cc.WMax));
    }

    [Fact]
    public void A_spurious_reduction_in_slow_start_resumes_slow_start_and_hystart()
    {
        var cc = new CubicController();
        long now = 0;
        cc.OnConnectionEstablished(Smss, now);
        for (int i = 0; i < 10; i++)
        {
            now += 1000;
            cc.OnAck(new CongestionAck(Smss, cc.CongestionWindow - Smss, 20_000, now));
        }

        HyStartPlusPlus hy = Assert.IsType<HyStartPlusPlus>(cc.HyStart);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        long cwnd = cc.CongestionWindow;

        // Reordering taken for a loss: the episode ends slow start and HyStart++ ...
        cc.OnEnterFastRecovery(cwnd, now);
        Assert.False(cc.InSlowStart && !cc.InFastRecovery);
        Assert.Equal(HyStartPhase.Done, hy.Phase);

        // ... and D-SACK shows it was spurious: slow start goes on, still watched by HyStart++.
        cc.OnReductionUndone(now);
        Assert.True(cc.InSlowStart);
        Assert.Equal(cwnd, cc.CongestionWindow);
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Assert.Equal(SlowStartExit.None, hy.Exit);
        now += 1000;
        cc.OnAck(new CongestionAck(Smss, cc.CongestionWindow - Smss, 20_000, now));
        Assert.Equal(cwnd + Smss, cc.CongestionWindow);
    }
}
