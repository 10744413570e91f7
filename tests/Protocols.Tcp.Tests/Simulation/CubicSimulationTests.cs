using System.Globalization;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine.CongestionControl;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// CUBIC in the simulation: over 50 Mbit/s with a 100 ms RTT (a BDP of 417 segments) and a queue
/// long enough that nothing overflows, one data segment is dropped once congestion avoidance runs;
/// the window then follows RFC 9438's curve W_cubic(t) = C (t - K)^3 + W_max, with ssthresh =
/// 0.7 x FlightSize and K = cbrt((W_max - cwnd_epoch) / C), in the real ACK clock of the path.
/// </summary>
public sealed class CubicSimulationTests(ITestOutputHelper output)
{
    private const double C = 0.4;

    [Fact]
    public void After_a_loss_the_window_follows_w_cubic_through_k()
    {
        var link = new LinkOptions { Delay = TimeSpan.FromMilliseconds(50), RateBitsPerSecond = 50_000_000, QueueLimitPackets = 1000, QueueLimitBytes = 1000 * 1600 };
        var sim = new NetworkSimulator(3);
        var made = new List<CubicController>();
        CongestionControllerRegistry registry = CongestionControllerRegistry.Default.With("cubic", () =>
        {
            var c = new CubicController();
            made.Add(c);
            return c;
        });
        var pair = new TcpStackPair(sim, link, tcpA: new TcpStackOptions { Seed = 4, Name = "a", CongestionControllers = registry });
        Task<TransferResult> transfer = pair.StartTransfer(TestData.Seeded(96 << 20, 1), []);

        // Out of slow start (HyStart++), one second of congestion avoidance, then one data frame lost.
        sim.RunUntil(() => made.Count == 1 && !made[0].InSlowStart, TimeSpan.FromSeconds(10));
        CubicController cc = made[0];
        sim.RunFor(TimeSpan.FromSeconds(1));
        long lost = pair.Link.AToB.Statistics.Lost;
        pair.Link.AToB.Options = link with { Loss = 1 };
        sim.RunUntil(() => pair.Link.AToB.Statistics.Lost > lost, TimeSpan.FromSeconds(1));
        pair.Link.AToB.Options = link;
        long dropped = pair.Link.AToB.Statistics.Lost - lost;
        sim.RunUntil(() => cc.InFastRecovery, TimeSpan.FromSeconds(1));
        long wMax = cc.WMax;
        long ssthresh = cc.SlowStartThreshold;
        int smss = cc.Smss;

        // The epoch begins at the first ACK of congestion avoidance after recovery.
        sim.RunUntil(() => !cc.InFastRecovery && !cc.InSlowStart && cc.K > 0, TimeSpan.FromSeconds(5));
        TimeSpan epoch = sim.Elapsed;
        double expectedK = Math.Cbrt((wMax - ssthresh) / (double)smss / C);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{dropped} frame(s) dropped; W_max {wMax / smss} segments, ssthresh {ssthresh / smss}, K {cc.K:0.000} s (expected {expectedK:0.000} s)"));
        Assert.InRange(cc.K, expectedK - 0.05, expectedK + 0.05);

        foreach (double at in new[] { 0.5, expectedK / 2, expectedK, expectedK + 1.5 })
        {
            sim.RunUntil(() => (sim.Elapsed - epoch).TotalSeconds >= at, TimeSpan.FromSeconds(30));
            double t = (sim.Elapsed - epoch).TotalSeconds;
            double wCubic = ((C * Math.Pow(t - cc.K, 3) * smss) + wMax) / smss;
            double cwnd = (double)cc.CongestionWindow / smss;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"t = {t:0.000} s: cwnd {cwnd:0.0} segments, W_cubic(t) {wCubic:0.0}, W_est {cc.WEst / smss}"));
            Assert.InRange(cwnd, wCubic * 0.97, wCubic * 1.03);
        }

        Assert.Equal(1, pair.TcpA.Counters.FastRetransmits);
        Assert.Equal(0, pair.TcpA.Counters.Timeouts);
        Assert.False(transfer.IsFaulted);
    }
}
