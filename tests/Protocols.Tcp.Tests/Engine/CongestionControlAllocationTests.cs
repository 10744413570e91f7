using Protocols.Tcp.Engine;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Tests.Engine;

public class CongestionControlAllocationTests
{
    private static void Drive(RtoEstimator rto, ICongestionController cc, int rounds)
    {
        for (int i = 0; i < rounds; i++)
        {
            long now = i * 1_000L;
            rto.AddSample(40_000 + (i % 7 * 1_000), RtoEstimator.ExpectedSamplesPerWindow(20_000, 1460));
            if (RtoEstimator.TryGetTimestampSample((uint)i + 40, (uint)i, 1_000, out long tsRtt)
                && RtoEstimator.IsSampleUsable(segmentWasRetransmitted: true, fromTimestamps: true))
            {
                rto.AddSample(tsRtt);
            }

            cc.OnAck(new CongestionAck(1460, 20_000, rto.LatestRtt, now));
            if (i % 50 == 0)
            {
                cc.OnEnterFastRecovery(20_000, now);
                cc.OnDuplicateAck(now);
                cc.OnPartialAck(new CongestionAck(2920, 17_000, null, now));
                cc.OnExitFastRecovery(new CongestionAck(17_000, 0, null, now));
            }

            if (i % 97 == 0)
            {
                rto.BackOff();
                cc.OnRetransmissionTimeout(20_000, false, now);
            }

            if (CongestionRules.IsRestartAfterIdle(now - 300_000, now, rto.Rto))
            {
                cc.OnRestartAfterIdle(now);
            }
        }
    }

    [Fact]
    public void The_steady_state_does_not_allocate()
    {
        var rto = new RtoEstimator();
        ICongestionController cc = CongestionControllerRegistry.Default.Create(CongestionRules.DefaultName);
        cc.OnConnectionEstablished(1460, 0);
        Drive(rto, cc, 1_000); // warm up: JIT, static initializers

        long before = GC.GetAllocatedBytesForCurrentThread();
        Drive(rto, cc, 10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(cc.CongestionWindow >= 1460);
    }
}
