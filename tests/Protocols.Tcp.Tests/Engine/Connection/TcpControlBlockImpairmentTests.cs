using Protocols.Tcp.Engine;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockImpairmentTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.02, 0.0, 0.0, 1)]
    [InlineData(0.10, 0.0, 0.0, 2)]
    [InlineData(0.0, 0.10, 0.0, 3)]
    [InlineData(0.0, 0.0, 0.10, 4)]
    [InlineData(0.05, 0.05, 0.05, 5)]
    public void Transfer_survives_loss_reordering_and_duplication(double loss, double reorder, double duplicate, int seed)
    {
        var wire = new EngineWire(seed: seed);
        var random = new Random(seed);
        wire.Connect();
        wire.Filter = s =>
        {
            double r = random.NextDouble();
            return r < loss ? WireAction.Drop
                : r < loss + reorder ? WireAction.Delay
                : r < loss + reorder + duplicate ? WireAction.Duplicate
                : WireAction.Deliver;
        };
        byte[] up = EngineWire.Pattern(400_000, seed);
        byte[] down = EngineWire.Pattern(300_000, seed + 100);
        long start = wire.Now;
        Assert.Equal(up, wire.Transfer(wire.A, wire.B!, up, limit: 300_000_000));
        Assert.Equal(down, wire.Transfer(wire.B!, wire.A, down, limit: 300_000_000));
        Assert.True(wire.Now - start < 300_000_000, $"took {(wire.Now - start) / 1e6} s");
        output.WriteLine(FormattableString.Invariant(
            $"loss {loss:P0} reorder {reorder:P0} dup {duplicate:P0}: 700 kB in {(wire.Now - start) / 1e6:0.00} s virtual (20 ms RTT), retransmitted {wire.CountersA.SegmentsRetransmitted}+{wire.CountersB.SegmentsRetransmitted}, timeouts {wire.CountersA.Timeouts}+{wire.CountersB.Timeouts}, fast retransmits {wire.CountersA.FastRetransmits}+{wire.CountersB.FastRetransmits}"));

        // And both close cleanly despite the impairment.
        wire.A.Close(wire.Now);
        wire.B!.Close(wire.Now);
        wire.Run(200_000_000);
        Assert.Equal(TcpState.Closed, wire.A.State);
        Assert.Equal(TcpState.Closed, wire.B.State);
        Assert.Equal(System.Net.Sockets.SocketError.Success, wire.A.Error);
        Assert.Equal(System.Net.Sockets.SocketError.Success, wire.B.Error);
    }
}
