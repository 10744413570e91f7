using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Two stacks over a 20 ms RTT link that loses, reorders (holding a frame back 30 ms) and
/// duplicates frames at random, seeded: data both ways arrives intact and both ends close
/// cleanly, the last FIN and ACK being subject to the same impairments.
/// </summary>
public class LossReorderDuplicationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.02, 0.0, 0.0, 1)]
    [InlineData(0.10, 0.0, 0.0, 2)]
    [InlineData(0.0, 0.10, 0.0, 3)]
    [InlineData(0.0, 0.0, 0.10, 4)]
    [InlineData(0.05, 0.05, 0.05, 5)]
    public void Transfer_survives_loss_reordering_and_duplication(double loss, double reorder, double duplicate, int seed)
    {
        var link = new LinkOptions
        {
            Delay = TimeSpan.FromMilliseconds(10),
            Loss = loss,
            Reordering = reorder,
            ReorderDelay = TimeSpan.FromMilliseconds(30),
            Duplication = duplicate,
        };
        var pair = new TcpStackPair(seed, link);
        byte[] up = TestData.Seeded(400_000, seed);
        byte[] down = TestData.Seeded(300_000, seed + 100);
        TimeSpan took = pair.Transfer(up, down, TimeSpan.FromSeconds(300)).Took;
        TcpCounters a = pair.TcpA.Counters;
        TcpCounters b = pair.TcpB.Counters;
        output.WriteLine(FormattableString.Invariant(
            $"loss {loss:P0} reorder {reorder:P0} dup {duplicate:P0}: 700 kB in {took.TotalSeconds:0.00} s virtual (20 ms RTT), retransmitted {a.SegmentsRetransmitted}+{b.SegmentsRetransmitted}, timeouts {a.Timeouts}+{b.Timeouts}, fast retransmits {a.FastRetransmits}+{b.FastRetransmits}"));
        output.WriteLine($"link: {pair.Link}");

        // Both streams are closed; the connections leave the tables (TIME-WAIT included) without a reset either way.
        pair.Sim.RunUntil(() => pair.TcpA.GetConnections().Count == 0 && pair.TcpB.GetConnections().Count == 0, TimeSpan.FromSeconds(200));
        Assert.Equal(0, a.ResetsSent + a.ResetsReceived + a.EstablishedResets);
        Assert.Equal(0, b.ResetsSent + b.ResetsReceived + b.EstablishedResets);
    }
}
