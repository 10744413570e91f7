using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Steady-state transfer allocates nothing per segment in the layer (and the engine under it): one send buffer, reused operations.</summary>
public class TcpAllocationTests(ITestOutputHelper output)
{
    private const int N = 10_000;

    [Fact]
    public void Writes_and_reads_allocate_nothing_per_segment_in_steady_state()
    {
        Measured m = MeasureRoundTrips(seed: 71, readFirst: false);
        output.WriteLine($"{m.Allocated} bytes allocated for {m.Segments} segments and {N} writes + reads");
        Assert.True(m.Segments >= N, $"{m.Segments} segments");
        // Less than one byte per write+read: one small object (24 bytes or more) every few round trips
        // would exceed it (measured: 0 bytes on an idle machine). A one-off allocation on the thread,
        // such as a pool or queue growing (7.8 KB once on a loaded machine), stays below.
        Assert.True(m.Allocated < N, $"{m.Allocated} bytes allocated for {m.Segments} segments ({(double)m.Allocated / N:F2} per write+read)");
    }

    [Fact]
    public void Reads_waiting_before_the_data_take_it_in_one_copy_and_allocate_nothing_per_segment()
    {
        Measured m = MeasureRoundTrips(seed: 72, readFirst: true);
        output.WriteLine($"{m.Allocated} bytes allocated for {m.Segments} segments; {m.Direct} bytes read straight from segments, {m.FromRing} from the ring");
        Assert.True(m.Segments >= N, $"{m.Segments} segments");
        Assert.Equal((long)N * m.Chunk, m.Direct); // every segment went straight into the read that waited
        Assert.Equal(0, m.FromRing);
        Assert.True(m.Allocated < N, $"{m.Allocated} bytes allocated for {m.Segments} segments ({(double)m.Allocated / N:F2} per write+read)");
    }

    // N round trips of one MSS-sized write from A and one read at B (the read issued before the
    // write when readFirst, after it otherwise), after 2,000 to warm up: pools, queues, buffers grown
    // to size, JIT tiers. Allocations are those of this thread, which runs both stacks.
    private static Measured MeasureRoundTrips(int seed, bool readFirst)
    {
        var net = new TcpStackPair(seed);
        using TcpListener listener = net.TcpB.Listen(80);
        var options = TcpConnectionOptions.Default with { NoDelay = true };
        (TcpStream client, TcpStream server) = net.Connect(listener, options);
        byte[] chunk = new byte[client.GetInfo().Mss];
        byte[] buffer = new byte[64 * 1024];

        void Pump()
        {
            for (int i = 0; i < 4; i++)
            {
                net.Sim.Clock.Advance(TimeSpan.FromMilliseconds(1));
                net.A.Poll();
                net.B.Poll();
            }
        }

        void RoundTrip()
        {
            ValueTask<int> read = default;
            if (readFirst)
            {
                read = server.ReadAsync(buffer); // the read waits first: the segment goes straight into it
                Pump();
            }

            ValueTask write = client.WriteAsync(chunk);
            Pump();
            if (!readFirst)
            {
                read = server.ReadAsync(buffer);
                Pump();
            }

            // Plain checks: xUnit's asserts allocate, which would be measured too.
            if (!write.IsCompletedSuccessfully || !read.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("a write and read did not complete within a few polls");
            }

            write.GetAwaiter().GetResult();
            if (read.GetAwaiter().GetResult() <= 0)
            {
                throw new InvalidOperationException("nothing read");
            }
        }

        for (int i = 0; i < 2000; i++)
        {
            RoundTrip();
        }

        TcpCounters a = net.TcpA.Counters, b = net.TcpB.Counters;
        long segmentsBefore = a.SegmentsSent + b.SegmentsSent;
        long directBefore = b.BytesReadDirect, ringBefore = b.BytesReadFromRing;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < N; i++)
        {
            RoundTrip();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return new Measured(allocated, a.SegmentsSent + b.SegmentsSent - segmentsBefore, b.BytesReadDirect - directBefore, b.BytesReadFromRing - ringBefore, chunk.Length);
    }

    private sealed record Measured(long Allocated, long Segments, long Direct, long FromRing, int Chunk);
}
