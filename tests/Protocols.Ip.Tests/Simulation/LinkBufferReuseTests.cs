using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Ip.Tests.Simulation;

/// <summary>A link with many frames in flight reuses the buffers of delivered frames: nothing is allocated per frame in steady state.</summary>
public class LinkBufferReuseTests(ITestOutputHelper output)
{
    [Fact]
    public void A_link_with_a_thousand_frames_in_flight_allocates_nothing_per_frame()
    {
        var sim = new NetworkSimulator(3);
        var options = new LinkOptions { Delay = TimeSpan.FromMilliseconds(5) };
        MemoryLink link = sim.Network.CreateLink(options, options, mtu: 1500);
        byte[] frame = new byte[1500];
        long delivered = 0;
        void Count(ReadOnlySpan<byte> bytes) => delivered += bytes.Length;
        FrameHandler handler = Count;

        // One burst of 1000 frames per millisecond, each delivered 5 ms later: ~5000 in flight.
        void Burst()
        {
            for (int i = 0; i < 1000; i++)
            {
                if (!link.A.TrySend(frame))
                {
                    throw new InvalidOperationException("send refused");
                }
            }

            sim.RunFor(TimeSpan.FromMilliseconds(1));
            while (link.B.Receive(handler, 4096) > 0)
            {
            }
        }

        for (int i = 0; i < 20; i++)
        {
            Burst(); // warm up: the in-flight queue and the free list grow to size
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long deliveredBefore = delivered;
        for (int i = 0; i < 50; i++)
        {
            Burst();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long frames = (delivered - deliveredBefore) / frame.Length;
        output.WriteLine($"{allocated} bytes allocated for {frames} frames");
        Assert.Equal(50_000, frames);
        Assert.True(link.AToB.Statistics.InFlight >= 4000, $"{link.AToB.Statistics.InFlight} in flight");
        Assert.True(allocated / frames < 8, $"{allocated} bytes allocated for {frames} frames");
    }
}
