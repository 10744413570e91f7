using System.Diagnostics;
using System.Globalization;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// The impairment matrix: two stacks over a 20 ms RTT, 50 Mbit/s link (64-packet drop-tail queue)
/// with one impairment per cell (applied in both directions); each cell moves data both ways at
/// once (or A to B only, "a&gt;b"), checks SHA-256 on both sides and a bound on virtual time, and
/// prints virtual time and retransmission counts. Seeded: every run gives the same numbers.
/// </summary>
public class ImpairmentMatrixTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    // Cell -> link (both directions), MTU, bytes per direction, both directions or A to B only, bound on virtual time
    // (about three times what seed 4242 measured; the report lists the measurements).
    private static readonly Dictionary<string, (LinkOptions Link, int Mtu, int Bytes, bool BothWays, TimeSpan Bound)> Matrix = new()
    {
        ["loss 0%"] = (Base, 1500, 4 * MiB, true, TimeSpan.FromSeconds(10)), // also the MTU 1500 cell
        ["loss 1%"] = (Base with { Loss = 0.01 }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(30)),
        ["loss 5%"] = (Base with { Loss = 0.05 }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(120)),
        ["loss 10%"] = (Base with { Loss = 0.10 }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(300)),
        ["loss 20%"] = (Base with { Loss = 0.20 }, 1500, 1 * MiB, true, TimeSpan.FromSeconds(900)),
        ["loss 5% a>b"] = (Base with { Loss = 0.05 }, 1500, 4 * MiB, false, TimeSpan.FromSeconds(150)),
        ["loss 10% a>b"] = (Base with { Loss = 0.10 }, 1500, 4 * MiB, false, TimeSpan.FromSeconds(400)),
        // 20 % loss on data and ACKs alike, without SACK: mostly timeouts; 1 MiB keeps the cell short.
        ["loss 20% a>b"] = (Base with { Loss = 0.20 }, 1500, 1 * MiB, false, TimeSpan.FromSeconds(1200)),
        ["reorder 5%"] = (Base with { Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(5) }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(30)),
        ["duplicate 5%"] = (Base with { Duplication = 0.05 }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(10)),
        ["corrupt 1%"] = (Base with { Corruption = 0.01 }, 1500, 4 * MiB, true, TimeSpan.FromSeconds(30)),
        ["mtu 576"] = (Base, 576, 2 * MiB, true, TimeSpan.FromSeconds(10)),
        ["mtu 9000"] = (Base, 9000, 4 * MiB, true, TimeSpan.FromSeconds(5)),
    };

    private static LinkOptions Base => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 50_000_000,
        QueueLimitPackets = 64,
    };

    [Theory]
    [InlineData("loss 0%")]
    [InlineData("loss 1%")]
    [InlineData("loss 5%")]
    [InlineData("loss 10%")]
    [InlineData("loss 20%")]
    [InlineData("loss 5% a>b")]
    [InlineData("loss 10% a>b")]
    [InlineData("loss 20% a>b")]
    [InlineData("reorder 5%")]
    [InlineData("duplicate 5%")]
    [InlineData("corrupt 1%")]
    [InlineData("mtu 576")]
    [InlineData("mtu 9000")]
    public void Transfer_both_ways_arrives_intact_within_the_bound(string cell)
    {
        (LinkOptions link, int mtu, int bytes, bool bothWays, TimeSpan bound) = Matrix[cell];
        mtu = Math.Max(mtu, Family.SmallMtu); // "mtu 576" runs at IPv6's minimum, 1280, over IPv6
        var sim = new NetworkSimulator(seed: 4242);
        var pair = new TcpStackPair(sim, link, mtu);
        byte[] aToB = TestData.Seeded(bytes, 1);
        byte[] bToA = bothWays ? TestData.Seeded(bytes, 2) : [];
        var wall = Stopwatch.StartNew();
        TimeSpan took = pair.Transfer(aToB, bToA, bound).Took;
        wall.Stop();

        TcpCounters a = pair.TcpA.Counters;
        TcpCounters b = pair.TcpB.Counters;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv,
            $"| {cell,-13} | {bytes / 1024,5} KiB {(bothWays ? "each way" : "a to b  ")} | {took.TotalSeconds,8:0.000} s virtual | {(bytes + bToA.Length) * 8 / took.TotalSeconds / 1e6,7:0.000} Mbit/s | " +
            $"retrans A {a.SegmentsRetransmitted} B {b.SegmentsRetransmitted} | fast A {a.FastRetransmits} B {b.FastRetransmits} | " +
            $"RTO A {a.Timeouts} B {b.Timeouts} | bad A {a.BadSegments} B {b.BadSegments} | wall {wall.Elapsed.TotalSeconds:0.00} s |"));
        output.WriteLine($"link: {pair.Link}");
    }
}
