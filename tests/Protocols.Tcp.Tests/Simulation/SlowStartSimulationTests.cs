using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine.CongestionControl;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Slow start in the simulation. Into a bottleneck of 100 Mbit/s, 20 ms RTT and a drop-tail queue
/// of one bandwidth-delay product (167 packets), CUBIC's HyStart++ with the ACK train leaves slow
/// start before the queue overflows; standard slow start, and RFC 9406's delay test alone, overflow
/// it. A round-trip step on the ACK path shows HyStart++ entering CSS and returning to slow start.
/// </summary>
public sealed class SlowStartSimulationTests(ITestOutputHelper output)
{
    private const int Bytes = 16 << 20;
    private const int Mss = 1448;
    private const int BdpPackets = 167; // 100 Mbit/s x 20 ms / 1500 bytes

    private static LinkOptions Bottleneck => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 100_000_000,
        QueueLimitPackets = BdpPackets,
        QueueLimitBytes = BdpPackets * 1600,
    };

    // A to B; the controllers A creates are kept so the test can look at them.
    private static (TcpStackPair Pair, Task<TransferResult> Transfer, byte[] Data, List<CubicController> Made) Start(string cc, LinkOptions link, CubicOptions? cubic = null, int seed = 7)
    {
        var sim = new NetworkSimulator(seed);
        var made = new List<CubicController>();
        CongestionControllerRegistry registry = CongestionControllerRegistry.Default.With("cubic", () =>
        {
            var c = new CubicController(cubic);
            made.Add(c);
            return c;
        });
        var options = new TcpConnectionOptions { CongestionControl = cc };
        var pair = new TcpStackPair(sim, link, options: options, tcpA: new TcpStackOptions { Seed = 11, Name = "a", Defaults = options, CongestionControllers = registry });
        byte[] data = TestData.Seeded(Bytes, 3);
        return (pair, pair.StartTransfer(data, []), data, made);
    }

    private (TimeSpan Took, long QueueDrops, List<TcpConnectionInfo> Samples) Finish(TcpStackPair pair, Task<TransferResult> transfer, byte[] data, string label)
    {
        var samples = new List<TcpConnectionInfo>();
        TimeSpan start = TimeSpan.Zero;
        while (!transfer.IsCompleted && pair.Sim.Elapsed < TimeSpan.FromSeconds(120))
        {
            pair.Sim.RunFor(TimeSpan.FromMilliseconds(5));
            if (pair.TcpA.GetConnections().FirstOrDefault(c => c.State is not (TcpState.Listen or TcpState.Closed)) is TcpConnectionInfo info)
            {
                samples.Add(info);
            }
        }

        TransferResult result = pair.Sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);
        TimeSpan took = pair.Sim.Elapsed - start;
        long drops = pair.Link.AToB.Statistics.QueueDrops;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: {Bytes >> 20} MiB in {took.TotalSeconds:0.000} s = {Bytes * 8 / took.TotalSeconds / 1e6:0.0} Mbit/s, queue drops {drops}, retransmissions {pair.TcpA.Counters.SegmentsRetransmitted}, first ssthresh {samples.FirstOrDefault(s => s.SlowStartThreshold < int.MaxValue)?.SlowStartThreshold / Mss} segments"));
        return (took, drops, samples);
    }

    [Fact]
    public void Cubic_leaves_slow_start_before_a_one_bdp_queue_overflows()
    {
        (TcpStackPair pair, Task<TransferResult> transfer, byte[] data, List<CubicController> made) = Start("cubic", Bottleneck);
        (TimeSpan took, long drops, List<TcpConnectionInfo> samples) = Finish(pair, transfer, data, "cubic");

        HyStartPlusPlus hy = Assert.IsType<HyStartPlusPlus>(Assert.Single(made).HyStart);
        Assert.Equal(SlowStartExit.AckTrain, hy.Exit);
        // The window left slow start above the path's BDP and below what the path and the queue hold.
        Assert.InRange(hy.ExitWindow / Mss, BdpPackets, 2 * BdpPackets);
        TcpConnectionInfo first = samples.First(s => s.SlowStartThreshold < int.MaxValue);
        Assert.Equal(0, first.Retransmissions);
        Assert.True(drops <= 10, $"{drops} segments lost in slow start");
        Assert.True(Bytes * 8 / took.TotalSeconds > 85e6, $"{took} for {Bytes} bytes");
    }

    [Fact]
    public void Standard_slow_start_and_the_rfc_9406_delay_test_alone_overflow_it()
    {
        // NewReno: slow start doubles until the queue overflows.
        (TcpStackPair pair, Task<TransferResult> transfer, byte[] data, _) = Start("newreno", Bottleneck);
        (_, long drops, _) = Finish(pair, transfer, data, "newreno");
        Assert.True(drops > 100, $"{drops} drops");

        // HyStart++ without the ACK train: each round's smallest RTT comes from the start of the round
        // before, so the queue that round builds shows a round late, after the window doubled past it.
        (pair, transfer, data, List<CubicController> made) = Start("cubic", Bottleneck, new CubicOptions { HyStartAckTrain = false });
        (_, drops, _) = Finish(pair, transfer, data, "cubic, RFC 9406 delay test only");
        Assert.True(drops > 100, $"{drops} drops");
        Assert.Equal(SlowStartExit.Congestion, Assert.Single(made).HyStart!.Exit);
    }

    [Fact]
    public void An_rtt_step_enters_css_and_its_end_returns_to_slow_start()
    {
        // A fast path (1 Gbit/s, no queue to speak of) where the ACK path slows by 5 ms for a while:
        // the RTT rises by 5 ms (threshold: max(4, 20 / 8) = 4 ms), CSS begins; the RTT falls back,
        // the rise was not a queue, slow start resumes (RFC 9406 4.2).
        var fast = new LinkOptions { Delay = TimeSpan.FromMilliseconds(10), RateBitsPerSecond = 1_000_000_000, QueueLimitPackets = 10_000, QueueLimitBytes = 16 << 20 };
        (TcpStackPair pair, Task<TransferResult> transfer, byte[] data, List<CubicController> made) = Start("cubic", fast, new CubicOptions { HyStartAckTrain = false });
        pair.Sim.RunUntil(() => made.Count == 1 && made[0].CongestionWindow >= 40 * Mss, TimeSpan.FromSeconds(5));
        HyStartPlusPlus hy = made[0].HyStart!;
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);

        pair.Link.BToA.Options = fast with { Delay = TimeSpan.FromMilliseconds(15) };
        pair.Sim.RunUntil(() => hy.Phase != HyStartPhase.SlowStart, TimeSpan.FromSeconds(1));
        Assert.Equal(HyStartPhase.ConservativeSlowStart, hy.Phase);
        long cssWindow = made[0].CongestionWindow;

        pair.Link.BToA.Options = fast;
        pair.Sim.RunUntil(() => hy.Phase != HyStartPhase.ConservativeSlowStart, TimeSpan.FromSeconds(1));
        Assert.Equal(HyStartPhase.SlowStart, hy.Phase);
        Assert.Equal(1, hy.SpuriousExits);
        output.WriteLine($"CSS at {cssWindow / Mss} segments, back to slow start at {made[0].CongestionWindow / Mss}");
        Finish(pair, transfer, data, "rtt step");
        Assert.Equal(0, pair.TcpA.Counters.SegmentsRetransmitted);
    }
}
