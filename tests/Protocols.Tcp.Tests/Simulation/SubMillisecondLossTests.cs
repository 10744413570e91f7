using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Loss on a path of a fraction of a millisecond (0.2 ms RTT, 1 Gbit/s, 3 % random loss of data
/// and of ACKs, 20 MB, seeded): the flight in a fast recovery is a few segments, so a
/// retransmission that arrived but whose ACK was lost, with what was sent after it lost too,
/// leaves no ACK to clock the sender. Without a probe in recovery only the retransmission timer
/// moves it on, after its 200 ms minimum: about a thousand round trips, most found spurious by
/// the timestamp echo. The recovery probe (a probe timeout after the ACKs stopped) brings an ACK
/// whose SACK blocks let RACK go on.
/// </summary>
public sealed class SubMillisecondLossTests(ITestOutputHelper output)
{
    private const int Bytes = 20_000_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void A_lost_ack_clock_in_recovery_costs_a_probe_not_a_timeout(int seed)
    {
        var link = new LinkOptions { Delay = TimeSpan.FromMicroseconds(100), RateBitsPerSecond = 1_000_000_000, Loss = 0.03 };
        var sim = new NetworkSimulator(seed: seed);
        var pair = new TcpStackPair(sim, link, 1500);
        byte[] data = TestData.Seeded(Bytes, seed);
        Task<TransferResult> transfer = pair.StartTransfer(data, []);
        TimeSpan took = sim.RunUntil(() => transfer.IsCompleted, TimeSpan.FromMinutes(10));
        TransferResult result = sim.RunUntilCompleted(transfer, TimeSpan.Zero);
        Assert.Equal(SHA256.HashData(data), result.Sha256AtB);

        TcpCounters a = pair.TcpA.Counters;
        long lost = pair.Link.AToB.Statistics.Lost;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {took.TotalSeconds:0.000} s ({Bytes * 8 / took.TotalSeconds / 1e6:0} Mbit/s), data lost {lost}, ACKs lost {pair.Link.BToA.Statistics.Lost}, retransmissions {a.SegmentsRetransmitted}, RTOs {a.Timeouts} (spurious {a[TcpCounter.SpuriousTimeouts]}), TLPs {a[TcpCounter.TailLossProbes]}, recovery probes {a[TcpCounter.RecoveryProbes]}"));

        // A timeout found spurious means the data had arrived and only the ACK clock was lost.
        Assert.Equal(0, a[TcpCounter.SpuriousTimeouts]);
        Assert.True(a.Timeouts <= Math.Max(1, lost / 100), $"{a.Timeouts} RTOs for {lost} lost");
        Assert.True(a.SegmentsRetransmitted <= Math.Max(1.05 * lost, lost + 2), $"{a.SegmentsRetransmitted} retransmissions for {lost} lost");

        // 0.52-0.58 s without a timeout (the loss-based window near the Mathis bound), 0.74 s with
        // one; each 200 ms timeout more shows here.
        Assert.True(took < TimeSpan.FromSeconds(0.8), $"took {took.TotalSeconds:0.000} s");
    }
}
