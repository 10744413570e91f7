using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// How well loss recovery works, measured: one A-to-B transfer per cell over a 20 ms RTT,
/// 100 Mbit/s link with a drop-tail queue of one bandwidth-delay product (167 packets), seeded.
/// Each cell counts the segments the link really lost (random loss plus queue drops, data
/// direction), our retransmissions, RTOs and the D-SACKs the receiver reported, and checks the
/// targets: retransmissions at most 1.05 x the segments lost, at most one RTO per 100 lost
/// segments, and with reordering alone at most 1 % of the segments sent retransmitted beyond
/// those that did not arrive (queue drops, PAWS refusals at the receiver).
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

    // Cell -> impairments of the data direction, of the ACK direction, and the link's rate and queue.
    private static readonly Dictionary<string, (LinkOptions Data, LinkOptions Acks)> Cells = new()
    {
        ["loss 0%"] = (Base, Base),
        ["loss 0.1%"] = (Base with { Loss = 0.001 }, Base),
        ["loss 1%"] = (Base with { Loss = 0.01 }, Base),
        ["loss 3%"] = (Base with { Loss = 0.03 }, Base),
        ["loss 5%"] = (Base with { Loss = 0.05 }, Base),
        ["loss 1% + ACK loss 1%"] = (Base with { Loss = 0.01 }, Base with { Loss = 0.01 }),
        ["loss 5% + ACK loss 5%"] = (Base with { Loss = 0.05 }, Base with { Loss = 0.05 }),
        ["50 Mbit/s, 64-packet queue"] = (Small, Small),
        ["duplicate 5%"] = (Base with { Duplication = 0.05 }, Base with { Duplication = 0.05 }),
        ["reorder 5%"] = (Base with { Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(5) }, Base),
        ["reorder 5% + jitter"] = (Base with { Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(5), Jitter = TimeSpan.FromMilliseconds(1) }, Base with { Jitter = TimeSpan.FromMilliseconds(1) }),
        ["reorder 5% both ways"] = (Base with { Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(5) }, Base with { Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(5) }),
    };

    private static LinkOptions Small => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 50_000_000,
        QueueLimitPackets = 64,
    };

    public static TheoryData<string, int> CellsAndSeeds()
    {
        var data = new TheoryData<string, int>();
        foreach (string cell in Cells.Keys)
        {
            data.Add(cell, 4242);
            data.Add(cell, 7);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CellsAndSeeds))]
    public void Retransmissions_match_losses(string cell, int seed)
    {
        (LinkOptions data, LinkOptions acks) = Cells[cell];
        Measurement m = Run(data, acks, 8 * MiB, seed);
        output.WriteLine(m.Format($"{cell} (seed {seed})"));
        if (data.Reordering > 0 || data.Duplication > 0)
        {
            // No random loss: a retransmission beyond the segments that did not arrive is spurious.
            // Segments that did not arrive are the queue's drops (the buffers autotune past the
            // path's capacity, so slow start may still overflow it) and the receiver's PAWS
            // rejections (RFC 7323 5.3: once a retransmission fills the hole at RCV.NXT, TS.Recent
            // takes its timestamp, and a reordered segment sent before it is refused as old, as
            // Linux refuses it). At most 1 % of the segments sent.
            long spurious = m.Retransmissions - m.Lost - m.PawsRejected;
            Assert.True(spurious <= m.SegmentsSent / 100.0, $"{spurious} spurious retransmissions ({m.Retransmissions} for {m.Lost} lost and {m.PawsRejected} refused by PAWS), {m.SegmentsSent} sent");
        }
        else
        {
            Assert.True(m.Retransmissions <= Math.Max(1.05 * m.Lost, m.Lost + 2), $"{m.Retransmissions} retransmissions for {m.Lost} lost");
        }

        // At most one RTO per 100 lost segments, with ACKs lost as well: when a recovery's ACKs stop
        // (a retransmission lost again, or its ACK lost, with nothing sent after it that could be
        // SACKed) the recovery probe brings one back instead of the timer.
        Assert.True(m.Timeouts <= Math.Max(1, m.Lost / 100), $"{m.Timeouts} RTOs for {m.Lost} lost");
    }

    private static Measurement Run(LinkOptions dataLink, LinkOptions ackLink, int bytes, int seed)
    {
        var sim = new NetworkSimulator(seed: seed);
        var pair = new TcpStackPair(sim, ackLink, 1500);
        pair.Link.AToB.Options = dataLink;
        byte[] data = TestData.Seeded(bytes, seed);
        Task<TransferResult> transfer = pair.StartTransfer(data, []);
        TimeSpan took = sim.RunUntil(() => transfer.IsCompleted, TimeSpan.FromMinutes(10));
        TransferResult result = sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);
        LinkStatistics s = pair.Link.AToB.Statistics;
        TcpCounters a = pair.TcpA.Counters;
        return new Measurement(bytes, took, s.Sent, s.Lost + s.QueueDrops, a.SegmentsRetransmitted, a.Timeouts, a[TcpCounter.TailLossProbes], a[TcpCounter.DsacksReceived], a[TcpCounter.RecoveriesUndone], dataLink.Loss)
        {
            PawsRejected = pair.TcpB.Counters[TcpCounter.PawsRejected],
        };
    }

    private sealed record Measurement(int Bytes, TimeSpan Took, long SegmentsSent, long Lost, long Retransmissions, long Timeouts, long Probes, long Dsacks, long Undone, double Loss)
    {
        /// <summary>Segments the receiver refused by PAWS (RFC 7323 5.3).</summary>
        public long PawsRejected { get; init; }

        public double Mbps => Bytes * 8 / Took.TotalSeconds / 1e6;

        // Mathis et al.: MSS / RTT x 1.22 / sqrt(p).
        public double MathisMbps => Loss > 0 ? 1448 * 8 / 0.020 * 1.22 / Math.Sqrt(Loss) / 1e6 : double.NaN;

        public string Format(string cell) => string.Create(CultureInfo.InvariantCulture,
            $"| {cell,-18} | {Took.TotalSeconds,7:0.000} s | {Mbps,7:0.00} Mbit/s | Mathis {MathisMbps,6:0.00} ({Mbps / MathisMbps:0.00}x) | sent {SegmentsSent} | lost {Lost} | retrans {Retransmissions} ({(Lost > 0 ? Retransmissions / (double)Lost : 0):0.000}x) | RTO {Timeouts} | TLP {Probes} | D-SACK {Dsacks} | undone {Undone} | PAWS-refused {PawsRejected} |");
    }
}
