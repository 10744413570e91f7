using Protocols.Tcp.Engine;
using Protocols.Tcp.Engine.CongestionControl;
using Protocols.Tcp.Engine.Recovery;
using SentSegment = Protocols.Tcp.Engine.Recovery.SentSegment;

namespace Protocols.Tcp.Tests.Engine;

/// <summary>
/// BBR's parts against draft-cardwell-iccrg-bbr-congestion-control: the windowed max bandwidth
/// filter, the min-RTT filter, the full-pipe estimator, the state machine on synthetic rate samples
/// (Startup, Drain, ProbeBW's gain cycle, ProbeRTT), the window in recovery; the delivery-rate
/// sampler (draft-cheng-iccrg-delivery-rate-estimation) and the pacer.
/// </summary>
public sealed class BbrControllerTests
{
    private const int Smss = 1000;
    private const long Bandwidth = 10_000_000; // bytes per second
    private const long Rtt = 20_000; // microseconds
    private const long Bdp = Bandwidth * Rtt / 1_000_000; // 200,000 bytes

    [Fact]
    public void The_max_filter_keeps_the_best_sample_of_the_window_and_lets_it_age_out()
    {
        var f = new WindowedMaxFilter(10);
        f.Update(100, 0);
        f.Update(50, 3);
        f.Update(80, 6);
        Assert.Equal(100, f.Best);
        f.Update(60, 10);
        Assert.Equal(100, f.Best); // 10 rounds old: still inside
        f.Update(60, 11);
        Assert.Equal(80, f.Best); // the best aged out; the next best of the window takes over
        f.Update(90, 12);
        Assert.Equal(90, f.Best);
        f.Update(10, 40);
        Assert.Equal(10, f.Best); // nothing left inside the window
    }

    [Fact]
    public void The_min_rtt_filter_takes_lower_samples_and_expires_after_its_window()
    {
        var f = new MinRttFilter(BbrController.MinRttWindowMicros);
        Assert.False(f.HasValue);
        f.Update(-1, 0);
        Assert.False(f.HasValue);
        f.Update(30_000, 0);
        f.Update(25_000, 1_000);
        f.Update(40_000, 2_000);
        Assert.Equal(25_000, f.MinRtt);
        Assert.False(f.Expired);
        f.Update(40_000, 1_000 + BbrController.MinRttWindowMicros + 1);
        Assert.True(f.Expired);
        Assert.Equal(40_000, f.MinRtt); // an expired estimate takes any sample
        f.Refresh(20_000_000);
        f.Update(-1, 25_000_000);
        Assert.False(f.Expired);
    }

    [Fact]
    public void The_pipe_is_full_after_three_rounds_without_a_quarter_more_bandwidth_or_one_stalled_lossy_round()
    {
        var f = new BbrFullPipeEstimator();
        f.OnAck(100, roundStart: true, appLimited: false);
        f.OnAck(125, roundStart: true, appLimited: false); // +25%: still growing
        f.OnAck(130, roundStart: true, appLimited: false);
        f.OnAck(130, roundStart: false, appLimited: false); // not a round start: not counted
        f.OnAck(140, roundStart: true, appLimited: true); // application-limited: not counted
        f.OnAck(150, roundStart: true, appLimited: false);
        Assert.False(f.FilledPipe);
        f.OnAck(150, roundStart: true, appLimited: false);
        Assert.True(f.FilledPipe);

        var lossy = new BbrFullPipeEstimator();
        lossy.OnAck(100, roundStart: true, appLimited: false, lossyRound: true); // growing: random loss does not end Startup
        Assert.False(lossy.FilledPipe);
        lossy.OnAck(101, roundStart: true, appLimited: false, lossyRound: true);
        Assert.True(lossy.FilledPipe);
    }

    [Fact]
    public void Startup_drains_then_probes_bandwidth_at_the_model_s_rate_and_window()
    {
        var driver = new Driver();
        Assert.Equal(BbrState.Startup, driver.Cc.State);
        Assert.Equal(BbrController.HighGain, driver.Cc.PacingGain);

        // Constant samples: three rounds without growth fill the pipe; a small flight ends Drain at once.
        var seen = new List<BbrState>();
        for (int i = 0; i < 100 && driver.Cc.State != BbrState.ProbeBw; i++)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: Bdp / 2);
            if (seen.Count == 0 || seen[^1] != driver.Cc.State)
            {
                seen.Add(driver.Cc.State);
            }
        }

        Assert.Equal([BbrState.Startup, BbrState.ProbeBw], seen); // Drain lasted within one ACK
        Assert.True(driver.Cc.FilledPipe);
        Assert.Equal(Bdp, driver.Cc.EstimatedBdp);

        // ProbeBW: pacing at gain x BtlBw less the 1% margin; the window grows to 2 BDP plus three quanta.
        var gains = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: 2 * Bdp); // enough in flight to end the probing phase
            gains.Add(driver.Cc.PacingGain);
            long expected = Bandwidth * driver.Cc.PacingGain / BbrController.GainUnit * 99 / 100;
            Assert.Equal(expected, driver.Cc.PacingRate);
        }

        Assert.Equal([BbrController.GainUnit * 3 / 4, BbrController.GainUnit, BbrController.GainUnit * 5 / 4], gains.Order());
        Assert.InRange(driver.Cc.CongestionWindow, 2 * Bdp, (2 * Bdp) + (3 * 65536));
        Assert.Equal(BbrState.ProbeBw, driver.Cc.State);
    }

    [Fact]
    public void ProbeRtt_holds_four_segments_for_200_ms_and_a_round_then_restores_the_window()
    {
        var driver = new Driver();
        while (driver.Cc.State != BbrState.ProbeBw)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: Bdp / 2);
        }

        long cwnd = 0;
        while (driver.Cc.State != BbrState.ProbeRtt)
        {
            cwnd = driver.Cc.CongestionWindow; // the window ProbeRTT saves
            driver.Ack(Bandwidth, Rtt + 5_000, inFlight: Bdp); // never lower than 20 ms: the estimate ages
        }

        long enteredAt = driver.Now;
        Assert.InRange(enteredAt, BbrController.MinRttWindowMicros, BbrController.MinRttWindowMicros + 100_000);
        Assert.Equal(BbrController.MinPipeSegments * Smss, driver.Cc.CongestionWindow);
        while (driver.Cc.State == BbrState.ProbeRtt)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: 4 * Smss);
            Assert.True(driver.Cc.State != BbrState.ProbeRtt || driver.Cc.CongestionWindow == 4 * Smss);
        }

        Assert.True(driver.Now - enteredAt >= BbrController.ProbeRttDurationMicros);
        Assert.Equal(BbrState.ProbeBw, driver.Cc.State);
        Assert.Equal(1, driver.Cc.ProbeRttCount);
        // The saved window comes back, held to the new model's target (the RTT measured in ProbeRTT is lower).
        Assert.True(cwnd > 2 * Bdp, $"{cwnd} before ProbeRTT");
        Assert.InRange(driver.Cc.CongestionWindow, 2 * Bdp, (2 * Bdp) + (3 * 65536));
    }

    [Fact]
    public void Recovery_holds_the_window_to_the_flight_for_a_round_and_restores_it_after()
    {
        var driver = new Driver();
        while (driver.Cc.State != BbrState.ProbeBw)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: Bdp / 2);
        }

        for (int i = 0; i < 500; i++)
        {
            driver.Ack(Bandwidth, Rtt, inFlight: Bdp);
        }

        long before = driver.Cc.CongestionWindow;
        driver.Cc.OnEnterFastRecovery(before, driver.Now);
        Assert.True(driver.Cc.InFastRecovery);
        driver.Ack(Bandwidth, Rtt, inFlight: 150_000, lost: 1_000);
        Assert.Equal(150_000 + (2 * Smss), driver.Cc.CongestionWindow); // in flight plus what the ACK delivered
        Assert.Equal(driver.Cc.CongestionWindow, driver.Cc.SlowStartThreshold); // PRR aims at the window

        driver.Cc.OnExitFastRecovery(new CongestionAck(2 * Smss, Bdp, Rtt, driver.Now));
        Assert.False(driver.Cc.InFastRecovery);
        Assert.Equal(before, driver.Cc.CongestionWindow);
        Assert.Equal(Bandwidth, driver.Cc.BottleneckBandwidth); // the model is not cut by loss

        driver.Cc.OnRetransmissionTimeout(Bdp, false, driver.Now);
        Assert.Equal(Smss, driver.Cc.CongestionWindow);
        driver.Cc.OnReductionUndone(driver.Now);
        Assert.Equal(before, driver.Cc.CongestionWindow);
    }

    [Fact]
    public void Without_rate_samples_it_does_not_pace_and_halves_on_loss()
    {
        var cc = new BbrController();
        cc.OnConnectionEstablished(Smss, 0);
        Assert.Equal(0, cc.PacingRate);
        cc.OnAck(new CongestionAck(2 * Smss, 8 * Smss, Rtt, 1000));
        Assert.Equal(12 * Smss, cc.CongestionWindow);
        cc.OnEnterFastRecovery(12 * Smss, 2000);
        Assert.Equal(6 * Smss, cc.CongestionWindow);
        Assert.Equal(0, cc.PacingRate);
    }

    [Fact]
    public void The_registry_creates_bbr_by_name()
    {
        Assert.Contains(BbrController.RegisteredName, CongestionControllerRegistry.Default.Names);
        Assert.IsType<BbrController>(CongestionControllerRegistry.Default.Create("BBR"));
        Assert.Equal(CubicController.RegisteredName, CongestionRules.DefaultName);
    }

    [Fact]
    public void The_sampler_measures_delivered_bytes_over_the_longer_of_the_send_and_ack_intervals()
    {
        var sampler = new DeliveryRateSampler();
        var segments = new SentSegment[10];
        var stamps = new DeliveryStamp[10];
        long pipe = 0;
        for (int i = 0; i < 10; i++)
        {
            // Ten 1000-byte segments sent 1 ms apart from t = 0.
            Micros at = i * 1_000;
            DeliveryStamp stamp = sampler.OnTransmit(pipe, at);
            segments[i] = new SentSegment { Start = new SeqNum((uint)(i * 1000)), End = new SeqNum((uint)((i + 1) * 1000)), SentAt = at, Order = i + 1 };
            stamps[i] = stamp;
            pipe += 1000;
        }

        // All ten delivered by one ACK 20 ms after the last was sent: the send interval (9 ms) is
        // shorter than the ACK interval from the first stamp (29 ms), which gives the rate.
        for (int i = 0; i < 10; i++)
        {
            sampler.OnDelivered(segments[i], stamps[i], 29_000);
        }

        RateSample sample = sampler.TakeSample(Micros.Zero, 0, 10_000, 0, 29_000);
        Assert.Equal(10_000, sample.Delivered);
        Assert.Equal(29_000, sample.IntervalMicros);
        Assert.Equal(10_000L * 1_000_000 / 29_000, sample.DeliveryRate);
        Assert.Equal(20_000, sample.RttMicros);
        Assert.Equal(0, sample.PriorDelivered);
        Assert.Equal(10_000, sample.TotalDelivered);

        // An interval shorter than the minimum RTT gives no rate.
        DeliveryStamp next = sampler.OnTransmit(0, 30_000);
        var one = new SentSegment { Start = new SeqNum(10_000), End = new SeqNum(11_000), SentAt = 30_000, Order = 11 };
        sampler.OnDelivered(one, next, 31_000);
        RateSample short1 = sampler.TakeSample(new Micros(20_000), 0, 1000, 0, 31_000);
        Assert.False(short1.IsValid);
        Assert.Equal(1000, short1.NewlyAcked);

        // Application-limited until what was in flight is delivered.
        sampler.OnApplicationLimited(pipe: 0);
        Assert.True(sampler.IsAppLimited);
        DeliveryStamp limited = sampler.OnTransmit(0, 40_000);
        Assert.True(limited.AppLimited);
    }

    [Fact]
    public void The_pacer_releases_a_quantum_then_waits_for_the_rate()
    {
        Assert.Equal(2 * 1448, Pacer.Quantum(1_000_000, 1448, 1448)); // 1 ms at 1 MB/s is less than two segments
        Assert.Equal(12_500, Pacer.Quantum(12_500_000, 1448, 1448));
        Assert.Equal(Pacer.MaxQuantum, Pacer.Quantum(1_000_000_000, 1448, 1448));
        Assert.Equal(128 * 1024, Pacer.Quantum(1_000_000_000, 1448, 128 * 1024)); // a whole super-segment

        var pacer = new Pacer();
        long rate = 1_000_000; // 1 byte per microsecond
        long quantum = 3000;
        Micros now = 0;
        int sent = 0;
        while (pacer.MaySend(rate, quantum, now))
        {
            pacer.OnSent(1000);
            sent++;
        }

        Assert.Equal(3, sent); // the quantum goes at once
        Micros release = pacer.ReleaseTime(rate, now);
        Assert.Equal(new Micros(1), release); // the credit is exactly spent: positive again a microsecond later
        Assert.True(pacer.MaySend(rate, quantum, release));
        pacer.OnSent(1000);
        Assert.False(pacer.MaySend(rate, quantum, release + 500));
        Assert.Equal(release + 1000, pacer.ReleaseTime(rate, release + 500));
    }

    [Fact]
    public void The_steady_state_does_not_allocate()
    {
        var driver = new Driver();
        for (int i = 0; i < 20_000; i++)
        {
            driver.Ack(Bandwidth, Rtt + (i % 7 * 100), inFlight: Bdp, lost: i % 100 == 0 ? Smss : 0);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            driver.Ack(Bandwidth, Rtt + (i % 7 * 100), inFlight: Bdp, lost: i % 100 == 0 ? Smss : 0);
            if (i % 500 == 0)
            {
                driver.Cc.OnEnterFastRecovery(Bdp, driver.Now);
            }
            else if (i % 500 == 250)
            {
                driver.Cc.OnExitFastRecovery(new CongestionAck(Smss, Bdp, Rtt, driver.Now));
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(BbrState.ProbeBw, driver.Cc.State);
    }

    // Feeds the controller one ACK of two segments per millisecond; a round trip is 20 segments.
    private sealed class Driver
    {
        private long _delivered;

        public Driver()
        {
            Cc.OnConnectionEstablished(Smss, 0);
        }

        public BbrController Cc { get; } = new();

        public long Now { get; private set; }

        public void Ack(long rate, long rtt, long inFlight, long lost = 0)
        {
            Now += 1000;
            long acked = 2 * Smss;
            _delivered += acked;
            long prior = Math.Max(_delivered - (20 * Smss), 0);
            Cc.OnRateSample(new RateSample(rate, 20 * Smss, rtt, prior, _delivered, false, acked, lost, inFlight, inFlight, rtt, Now));
        }
    }
}
