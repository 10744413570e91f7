using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine.CongestionControl;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// BBR in the simulation, on the loss matrix's path (100 Mbit/s bottleneck, 20 ms RTT, drop-tail
/// queue of one bandwidth-delay product, 167 packets), seeded: random loss is not read as
/// congestion, so goodput stays near the bottleneck where a loss-based controller is held near the
/// Mathis bound; without loss the queue stays short; the sender paces; ProbeRTT comes every 10 s.
/// </summary>
public sealed class BbrSimulationTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;
    private const double BottleneckMbps = 100;

    private static LinkOptions Path => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 100_000_000,
        QueueLimitPackets = 167,
        QueueLimitBytes = 167 * 1500,
    };

    // Mathis et al.: MSS / RTT x 1.22 / sqrt(p).
    private static double MathisMbps(double p) => 1448 * 8 / 0.020 * 1.22 / Math.Sqrt(p) / 1e6;

    [Theory]
    [InlineData(4242)]
    [InlineData(7)]
    public void At_1_percent_random_loss_goodput_is_at_least_one_and_a_half_times_mathis(int seed)
    {
        Run run = Transfer(Path with { Loss = 0.01 }, 16 * MiB, seed);
        double mathis = MathisMbps(0.01);
        output.WriteLine(run.Format() + string.Create(CultureInfo.InvariantCulture, $"; Mathis {mathis:0.00} Mbit/s ({run.Mbps / mathis:0.00}x)"));
        Assert.True(run.Mbps >= 1.5 * mathis, $"{run.Mbps:0.00} Mbit/s, Mathis {mathis:0.00}");
        AssertRecoveryQuality(run);
    }

    [Theory]
    [InlineData(4242)]
    [InlineData(7)]
    public void At_0_1_percent_random_loss_goodput_past_startup_is_at_least_80_percent_of_the_bottleneck(int seed)
    {
        Run run = Transfer(Path with { Loss = 0.001 }, 16 * MiB, seed);
        output.WriteLine(run.Format());
        Assert.True(run.MbpsPastStartup >= 0.8 * BottleneckMbps, $"{run.MbpsPastStartup:0.00} Mbit/s past Startup");
        AssertRecoveryQuality(run);
    }

    [Fact]
    public void Without_loss_the_queue_stays_short_and_startup_loses_few_segments()
    {
        Run run = Transfer(Path, 16 * MiB, 4242);
        output.WriteLine(run.Format());

        // The one-BDP queue holds 167 packets: Startup's overshoot loses at most 10 segments (the
        // target slow start is held to), then nothing is lost.
        Assert.Equal(0, run.RandomLoss);
        Assert.True(run.QueueDrops <= 10, $"{run.QueueDrops} queue drops");
        Assert.Equal(run.QueueDrops, run.DropsInStartup);

        // Past Startup the RTT stays near the 20 ms base (a full queue would add 20 ms).
        Assert.True(run.MeanRttPastStartupMs <= 26, $"mean RTT past Startup {run.MeanRttPastStartupMs:0.0} ms");
        Assert.True(run.MbpsPastStartup >= 0.9 * BottleneckMbps, $"{run.MbpsPastStartup:0.00} Mbit/s past Startup");
        AssertRecoveryQuality(run);
    }

    [Fact]
    public void The_sender_paces_where_an_unpaced_one_bursts_on_bunched_acks()
    {
        // ACKs delayed by up to 2 ms each arrive in clumps: a window-limited sender answers each
        // clump with a burst; a paced one releases at most one quantum at a time.
        (int pacedBurst, long pacingRate) = LargestBurst(paced: true);
        (int unpacedBurst, _) = LargestBurst(paced: false);
        long quantumSegments = (Math.Max(2L * 1448, pacingRate / 1000) + 1447) / 1448;
        output.WriteLine($"largest burst in one instant: paced {pacedBurst} segments (quantum {quantumSegments} at {pacingRate} B/s), unpaced {unpacedBurst}");
        Assert.True(pacedBurst <= quantumSegments + 1, $"paced burst {pacedBurst}");
        Assert.True(unpacedBurst > quantumSegments + 1, $"unpaced burst {unpacedBurst}");
    }

    [Fact]
    public void ProbeRtt_comes_after_ten_seconds_holds_four_segments_for_200_ms_and_returns_to_ProbeBw()
    {
        var path = Path with { RateBitsPerSecond = 20_000_000, QueueLimitPackets = 34, QueueLimitBytes = 34 * 1500 };
        var sim = new NetworkSimulator(seed: 11);
        (TcpStackPair pair, List<ICongestionController> made) = Pair(sim, path, () => new BbrController());
        Task<TransferResult> transfer = pair.StartTransfer(TestData.Seeded(40 * MiB, 11), []);
        sim.RunUntil(() => made.Count == 1 && ((BbrController)made[0]).State == BbrState.ProbeBw, TimeSpan.FromSeconds(10));
        var cc = (BbrController)made[0];
        Assert.Equal(0, cc.ProbeRttCount);

        sim.RunUntil(() => cc.State == BbrState.ProbeRtt, TimeSpan.FromSeconds(12));
        TimeSpan entered = sim.Elapsed;
        long largestCwnd = 0;
        sim.RunUntil(
            () =>
            {
                if (cc.State == BbrState.ProbeRtt)
                {
                    largestCwnd = Math.Max(largestCwnd, cc.CongestionWindow);
                }

                return cc.State != BbrState.ProbeRtt;
            },
            TimeSpan.FromSeconds(2));
        TimeSpan held = sim.Elapsed - entered;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ProbeRTT at {entered.TotalSeconds:0.000} s for {held.TotalMilliseconds:0.0} ms, largest window {largestCwnd} bytes; then {cc}"));
        Assert.InRange(entered.TotalSeconds, 10, 11.5);
        Assert.True(held >= TimeSpan.FromMilliseconds(220), $"held {held.TotalMilliseconds} ms"); // 200 ms and a round trip
        Assert.True(largestCwnd <= BbrController.MinPipeSegments * 1460, $"window {largestCwnd} in ProbeRTT");
        Assert.Equal(BbrState.ProbeBw, cc.State);
        Assert.Equal(1, cc.ProbeRttCount);
        Assert.InRange(cc.MinRttMicros, 20_000, 22_000); // 20 ms plus a frame's serialisation at 20 Mbit/s
        Assert.False(transfer.IsFaulted);
    }

    [Fact]
    public void Without_sack_there_are_no_rate_samples_and_the_unpaced_fallback_window_completes_the_transfer()
    {
        var sim = new NetworkSimulator(seed: 3);
        var noSack = new TcpConnectionOptions { CongestionControl = BbrController.RegisteredName, SackPermitted = false };
        (TcpStackPair pair, List<ICongestionController> made) = Pair(sim, Path, () => new BbrController(), noSack);
        pair.Link.AToB.Options = Path with { Loss = 0.01 };
        byte[] data = TestData.Seeded(4 * MiB, 3);
        Task<TransferResult> transfer = pair.StartTransfer(data, []);
        TimeSpan took = sim.RunUntil(() => transfer.IsCompleted, TimeSpan.FromMinutes(5));
        TransferResult result = sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        var cc = (BbrController)made[0];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{took.TotalSeconds:0.000} s, {pair.TcpA.Counters.SegmentsRetransmitted} retransmissions, {pair.TcpA.Counters.Timeouts} RTOs; {cc}"));
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);
        Assert.Equal(0, cc.DeliveredBytes); // no sample ever came
        Assert.Equal(0, cc.PacingRate);
        Assert.Equal(0, pair.TcpA.Counters[TcpCounter.SackRecoveries]);
    }

    private (int Burst, long PacingRate) LargestBurst(bool paced)
    {
        var sim = new NetworkSimulator(seed: 5);
        (TcpStackPair pair, List<ICongestionController> made) = Pair(sim, Path, () => paced ? new BbrController() : new Unpaced(new BbrController()));
        pair.Link.BToA.Options = Path with { Jitter = TimeSpan.FromMilliseconds(2) };
        Task<TransferResult> transfer = pair.StartTransfer(TestData.Seeded(64 * MiB, 5), []);
        sim.RunFor(TimeSpan.FromSeconds(1)); // past Startup
        long last = pair.Link.AToB.Statistics.Sent;
        int burst = 0;
        TimeSpan end = sim.Elapsed + TimeSpan.FromSeconds(1);
        sim.RunUntil(
            () =>
            {
                long sent = pair.Link.AToB.Statistics.Sent;
                burst = Math.Max(burst, (int)(sent - last));
                last = sent;
                return sim.Elapsed >= end;
            },
            TimeSpan.FromSeconds(2));
        Assert.False(transfer.IsFaulted);
        BbrController bbr = made[0] is Unpaced u ? u.Inner : (BbrController)made[0];
        return (burst, bbr.PacingRate);
    }

    private static (TcpStackPair Pair, List<ICongestionController> Made) Pair(NetworkSimulator sim, LinkOptions path, Func<ICongestionController> create, TcpConnectionOptions? options = null)
    {
        var made = new List<ICongestionController>();
        CongestionControllerRegistry registry = CongestionControllerRegistry.Default.With(BbrController.RegisteredName, () =>
        {
            ICongestionController c = create();
            made.Add(c);
            return c;
        });
        var pair = new TcpStackPair(sim, path, 1500, tcpA: new TcpStackOptions
        {
            Seed = 4,
            Name = "a",
            CongestionControllers = registry,
            Defaults = options ?? new TcpConnectionOptions { CongestionControl = BbrController.RegisteredName },
        });
        return (pair, made);
    }

    private static void AssertRecoveryQuality(Run run)
    {
        long lost = run.RandomLoss + run.QueueDrops;
        Assert.True(run.Retransmissions <= Math.Max(1.05 * lost, lost + 2), $"{run.Retransmissions} retransmissions for {lost} lost");
        Assert.Equal(0, run.Timeouts);
    }

    private Run Transfer(LinkOptions dataLink, int bytes, int seed)
    {
        var sim = new NetworkSimulator(seed: seed);
        (TcpStackPair pair, List<ICongestionController> made) = Pair(sim, Path, () => new BbrController());
        pair.Link.AToB.Options = dataLink;
        byte[] data = TestData.Seeded(bytes, seed);
        Task<TransferResult> transfer = pair.StartTransfer(data, []);

        // Startup and Drain: until ProbeBW, counting the queue's drops.
        sim.RunUntil(() => made.Count == 1 && ((BbrController)made[0]).State == BbrState.ProbeBw, TimeSpan.FromSeconds(30));
        var cc = (BbrController)made[0];
        TimeSpan probeBwAt = sim.Elapsed;
        long deliveredAtProbeBw = cc.DeliveredBytes;
        long dropsInStartup = pair.Link.AToB.Statistics.QueueDrops;

        // Past it: RTT samples on every instant a new one arrives.
        double rttSum = 0;
        int rttCount = 0;
        long lastRtt = -1;
        sim.RunUntil(
            () =>
            {
                long rtt = cc.LatestRttMicros;
                if (rtt > 0 && rtt != lastRtt)
                {
                    rttSum += rtt;
                    rttCount++;
                    lastRtt = rtt;
                }

                return transfer.IsCompleted;
            },
            TimeSpan.FromMinutes(5));
        TimeSpan took = sim.Elapsed;
        TransferResult result = sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);
        LinkStatistics s = pair.Link.AToB.Statistics;
        TcpCounters a = pair.TcpA.Counters;
        double pastStartupSeconds = (took - probeBwAt).TotalSeconds;
        return new Run(
            bytes,
            took,
            (cc.DeliveredBytes - deliveredAtProbeBw) * 8 / pastStartupSeconds / 1e6,
            s.Lost,
            s.QueueDrops,
            dropsInStartup,
            a.SegmentsRetransmitted,
            a.Timeouts,
            rttCount > 0 ? rttSum / rttCount / 1000 : double.NaN,
            cc.ToString());
    }

    // BBR's window and model without its pacing rate: the sender sends whatever the window allows.
    private sealed class Unpaced(BbrController inner) : ICongestionController
    {
        public BbrController Inner => inner;

        public string Name => inner.Name;

        public long CongestionWindow => inner.CongestionWindow;

        public long SlowStartThreshold => inner.SlowStartThreshold;

        public bool InFastRecovery => inner.InFastRecovery;

        public bool UsesDeliveryRate => true;

        public long PacingRate => 0;

        public void OnConnectionEstablished(int smss, long nowMicros) => inner.OnConnectionEstablished(smss, nowMicros);

        public void OnMssChanged(int newSmss, long nowMicros) => inner.OnMssChanged(newSmss, nowMicros);

        public void OnAck(in CongestionAck ack) => inner.OnAck(ack);

        public void OnEnterFastRecovery(long flightSize, long nowMicros) => inner.OnEnterFastRecovery(flightSize, nowMicros);

        public void OnDuplicateAck(long nowMicros) => inner.OnDuplicateAck(nowMicros);

        public void OnPartialAck(in CongestionAck ack) => inner.OnPartialAck(ack);

        public void OnExitFastRecovery(in CongestionAck ack) => inner.OnExitFastRecovery(ack);

        public void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros) => inner.OnRetransmissionTimeout(flightSize, segmentAlreadyRetransmittedByTimer, nowMicros);

        public void OnReductionUndone(long nowMicros) => inner.OnReductionUndone(nowMicros);

        public void OnRestartAfterIdle(long nowMicros) => inner.OnRestartAfterIdle(nowMicros);

        public void OnRateSample(in RateSample sample) => inner.OnRateSample(sample);
    }

    private sealed record Run(int Bytes, TimeSpan Took, double MbpsPastStartup, long RandomLoss, long QueueDrops, long DropsInStartup, long Retransmissions, long Timeouts, double MeanRttPastStartupMs, string Controller)
    {
        public double Mbps => Bytes * 8 / Took.TotalSeconds / 1e6;

        public string Format() => string.Create(CultureInfo.InvariantCulture,
            $"{Took.TotalSeconds:0.000} s, {Mbps:0.00} Mbit/s ({MbpsPastStartup:0.00} past Startup), random loss {RandomLoss}, queue drops {QueueDrops} ({DropsInStartup} in Startup/Drain), retrans {Retransmissions}, RTO {Timeouts}, mean RTT past Startup {MeanRttPastStartupMs:0.0} ms; {Controller}");
    }
}
