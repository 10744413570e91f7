using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;
using Sim = Protocols.Ip.Simulation.Simulation;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// How well loss recovery works, measured: one A-to-B transfer per cell over a 20 ms RTT,
/// 100 Mbit/s link with a drop-tail queue of one bandwidth-delay product (167 packets), seeded.
/// Each cell counts the segments the link really lost (random loss plus queue drops, data
/// direction), our retransmissions, RTOs and the D-SACKs the receiver reported, and checks the
/// targets: retransmissions at most 1.05 x the segments lost, at most one RTO per 100 lost
/// segments, and with reordering alone at most 1 % of the segments sent retransmitted.
/// </summary>
public sealed class RecoveryQualityTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    private static LinkOptions Base => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 100_000_000,
        QueueLimitPackets = 167,
        QueueLimitBytes = 167 * 1500,
    };

    [Theory]
    [InlineData("loss 0%", 0.0, 0.0, 4242)]
    [InlineData("loss 0.1%", 0.001, 0.0, 4242)]
    [InlineData("loss 1%", 0.01, 0.0, 4242)]
    [InlineData("loss 3%", 0.03, 0.0, 4242)]
    [InlineData("loss 5%", 0.05, 0.0, 4242)]
    [InlineData("loss 1% seed 7", 0.01, 0.0, 7)]
    [InlineData("loss 5% seed 7", 0.05, 0.0, 7)]
    [InlineData("reorder 5%", 0.0, 0.05, 4242)]
    [InlineData("reorder 5% seed 7", 0.0, 0.05, 7)]
    public void Retransmissions_match_losses(string cell, double loss, double reordering, int seed)
    {
        Measurement m = Run(Base with { Loss = loss, Reordering = reordering, ReorderDelay = TimeSpan.FromMilliseconds(5), Jitter = reordering > 0 ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero }, 8 * MiB, seed);
        output.WriteLine(m.Format(cell));
        if (reordering > 0)
        {
            Assert.True(m.Retransmissions <= m.SegmentsSent / 100.0, $"spurious retransmissions {m.Retransmissions} of {m.SegmentsSent} sent");
            return;
        }

        Assert.True(m.Retransmissions <= Math.Max(1.05 * m.Lost, m.Lost + 2), $"{m.Retransmissions} retransmissions for {m.Lost} lost");
        Assert.True(m.Timeouts <= Math.Max(1, m.Lost / 100), $"{m.Timeouts} RTOs for {m.Lost} lost");
    }

    private static Measurement Run(LinkOptions link, int bytes, int seed)
    {
        var sim = new Sim(seed: seed);
        var pair = new TcpPair(sim, link with { Loss = 0, Reordering = 0 }, 1500);
        pair.Link.AToB.Options = link; // impairments on the data direction; ACKs travel clean
        byte[] data = TcpPair.Data(bytes, seed);
        Task<TransferResult> transfer = pair.StartTransfer(data, []);
        TimeSpan took = sim.RunUntil(() => transfer.IsCompleted, TimeSpan.FromMinutes(10));
        TransferResult result = sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);
        LinkStatistics s = pair.Link.AToB.Statistics;
        TcpCounters a = pair.TcpA.Counters;
        return new Measurement(bytes, took, s.Sent, s.Lost + s.QueueDrops, a.SegmentsRetransmitted, a.Timeouts, a[TcpCounter.TailLossProbes], a[TcpCounter.DsacksReceived] * 1000 + pair.TcpB.Counters[TcpCounter.DsacksSent], a[TcpCounter.RecoveriesUndone], link.Loss);
    }

    private sealed record Measurement(int Bytes, TimeSpan Took, long SegmentsSent, long Lost, long Retransmissions, long Timeouts, long Probes, long Dsacks, long Undone, double Loss)
    {
        public double Mbps => Bytes * 8 / Took.TotalSeconds / 1e6;

        // Mathis et al.: MSS / RTT x 1.22 / sqrt(p).
        public double MathisMbps => Loss > 0 ? 1448 * 8 / 0.020 * 1.22 / Math.Sqrt(Loss) / 1e6 : double.NaN;

        public string Format(string cell) => string.Create(CultureInfo.InvariantCulture,
            $"| {cell,-18} | {Took.TotalSeconds,7:0.000} s | {Mbps,7:0.00} Mbit/s | Mathis {MathisMbps,6:0.00} ({Mbps / MathisMbps:0.00}x) | sent {SegmentsSent} | lost {Lost} | retrans {Retransmissions} ({(Lost > 0 ? Retransmissions / (double)Lost : 0):0.000}x) | RTO {Timeouts} | TLP {Probes} | D-SACK {Dsacks} | undone {Undone} |");
    }
}
