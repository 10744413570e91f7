using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Bulk transfers between two stacks over a simulated link (which does not coalesce) with receive
/// coalescing on and off, seeded, with loss and reordering: the data arrives intact either way,
/// coalescing merges runs only when it is on, and every merged run is acknowledged.
/// </summary>
public class ReceiveCoalescingSimulationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.0, 0.0, 1)]
    [InlineData(0.02, 0.0, 2)]
    [InlineData(0.0, 0.05, 3)]
    [InlineData(0.02, 0.05, 4)]
    public void A_transfer_with_loss_and_reordering_arrives_intact_with_coalescing_on_and_off(double loss, double reorder, int seed)
    {
        byte[] up = TestData.Seeded(2_000_000, seed);
        byte[] down = TestData.Seeded(200_000, seed + 100);
        var link = new LinkOptions
        {
            Delay = TimeSpan.FromMilliseconds(5),
            Loss = loss,
            Reordering = reorder,
            ReorderDelay = TimeSpan.FromMilliseconds(3),
        };

        foreach (bool coalescing in new[] { true, false })
        {
            var pair = new TcpStackPair(seed, link, receiveCoalescing: coalescing);
            TimeSpan took = pair.Transfer(up, down, TimeSpan.FromSeconds(300)).Took;
            TcpCounters a = pair.TcpA.Counters;
            TcpCounters b = pair.TcpB.Counters;
            output.WriteLine(FormattableString.Invariant(
                $"coalescing {(coalescing ? "on" : "off")}, loss {loss:P0} reorder {reorder:P0}: {took.TotalSeconds:0.000} s virtual; B received {b.SegmentsReceived} segments in {b.CoalescedRuns} merged runs ({b.CoalescedSegments} segments) and sent {b.SegmentsSent}; A retransmitted {a.SegmentsRetransmitted}, B queued {b.OutOfOrderQueued} out of order"));
            if (coalescing)
            {
                Assert.True(b.CoalescedRuns > 0, "runs were merged");
                Assert.True(b.CoalescedSegments >= 2 * b.CoalescedRuns);

                // Every merged run of two or more full-sized segments is acknowledged at once, so B
                // sends at least one segment per run (its data to A and ACKs together).
                Assert.True(b.SegmentsSent >= b.CoalescedRuns, $"{b.SegmentsSent} segments sent for {b.CoalescedRuns} runs");
            }
            else
            {
                Assert.Equal(0, b.CoalescedRuns);
                Assert.Equal(0, a.CoalescedRuns);
            }
        }
    }
}
