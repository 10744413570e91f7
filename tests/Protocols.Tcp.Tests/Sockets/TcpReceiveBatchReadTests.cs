using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// Reads and the stack's receive batches, deterministically: a device wrapper lets the test act
/// between two frames of one batch (as an application thread does while the loop drains a
/// device) and look at the end of every poll. A read that arrives in the middle of a batch runs
/// there, takes what queued in the ring and the rest of the batch in one copy; a read filled
/// from a batch completes before the poll returns, so a loop that stops after it leaves no read
/// half-filled; coalesced runs go into a waiting read.
/// </summary>
public class TcpReceiveBatchReadTests(ITestOutputHelper output)
{
    private const int Segment = 1448; // MSS 1460 less the timestamps option
    private const int Flight = 10; // the sender's initial window (RFC 6928)

    [Fact]
    public void A_read_posted_in_the_middle_of_a_batch_takes_the_queued_bytes_and_the_rest_of_the_batch_in_one_read()
    {
        var bed = new Bed(receiveCoalescing: false);
        byte[] data = TestData.Seeded(Flight * Segment, 1);
        var buffer = new byte[64 * 1024];
        ValueTask<int> read = default;

        // After the third data segment of the batch the application asks for a read (from another
        // thread, in a real program): it is posted while the loop is still in the batch.
        bed.Probe.OnDataFrame = n =>
        {
            if (n == 3)
            {
                read = bed.Server.ReadAsync(buffer);
            }
        };
        long acksBefore = bed.TcpB.Counters.SegmentsSent;
        bed.Write(data);
        bed.Sim.RunUntil(() => bed.Probe.DataFrames == Flight && read.IsCompleted, TimeSpan.FromSeconds(1));

        Assert.Equal(1, bed.Probe.DataBatches); // the whole flight came in one batch
        Assert.True(read.IsCompletedSuccessfully);
        int n = Result(read);
        Assert.Equal(data.Length, n); // one read took the whole batch
        Assert.Equal(data, buffer[..n]);

        // The three segments that came before the read went through the ring; the read took them
        // from there and stayed open for the other seven, which went straight into its buffer.
        TcpCounters b = bed.TcpB.Counters;
        output.WriteLine($"direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}, B sent {b.SegmentsSent - acksBefore}");
        Assert.Equal(3 * Segment, b.BytesReadFromRing);
        Assert.Equal(7 * Segment, b.BytesReadDirect);

        // RFC 5681 4.2: still at least one ACK for every second full-sized segment.
        Assert.True(b.SegmentsSent - acksBefore >= Flight / 2, $"{b.SegmentsSent - acksBefore} ACKs for {Flight} segments");
    }

    [Fact]
    public void A_read_waiting_before_the_batch_takes_every_segment_of_it_in_one_copy_and_completes_before_the_poll_ends()
    {
        var bed = new Bed(receiveCoalescing: false);
        byte[] data = TestData.Seeded(Flight * Segment, 2);
        var buffer = new byte[64 * 1024];
        ValueTask<int> read = bed.Server.ReadAsync(buffer);
        bed.Probe.Progress = () => bed.TcpB.Counters.BytesReadDirect;
        bed.Probe.Completed = () => read.IsCompleted;
        bed.Sim.RunPending(); // the read waits on the loop
        Assert.False(read.IsCompleted);

        bed.Write(data);
        bed.Sim.RunUntil(() => bed.Probe.DataFrames == Flight, TimeSpan.FromSeconds(1));

        // The poll that received the batch completed the read before it returned (its last step
        // flushes the device): no later poll, request or timer is needed, so a loop stopped right
        // after it leaves no read half-filled.
        Assert.Equal(1, bed.Probe.DataBatches);
        Assert.True(bed.Probe.CompletedAtEndOfProgressPoll);
        Assert.Equal(data.Length, Result(read));
        Assert.Equal(data, buffer[..data.Length]);
        Assert.Equal(data.Length, bed.TcpB.Counters.BytesReadDirect);
        Assert.Equal(0, bed.TcpB.Counters.BytesReadFromRing);
        Assert.Equal(0, bed.TcpB.Counters.BytesReadDirectFromRuns); // no coalescing: one copy each
    }

    [Fact]
    public void Coalesced_runs_go_into_a_waiting_read_counted_as_two_copies_and_every_second_segment_is_still_acknowledged()
    {
        var bed = new Bed(receiveCoalescing: true);
        byte[] data = TestData.Seeded(Flight * Segment, 3);
        var buffer = new byte[64 * 1024];
        ValueTask<int> read = bed.Server.ReadAsync(buffer);
        bed.Probe.Progress = () => bed.TcpB.Counters.BytesReadDirect;
        bed.Probe.Completed = () => read.IsCompleted;
        bed.Sim.RunPending();
        long sentBefore = bed.TcpB.Counters.SegmentsSent;

        bed.Write(data);
        bed.Sim.RunUntil(() => bed.Probe.DataFrames == Flight, TimeSpan.FromSeconds(1));

        Assert.True(bed.Probe.CompletedAtEndOfProgressPoll);
        Assert.Equal(data.Length, Result(read));
        Assert.Equal(data, buffer[..data.Length]);
        TcpCounters b = bed.TcpB.Counters;
        output.WriteLine($"runs {b.CoalescedRuns} of {b.CoalescedSegments} segments; direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}; B sent {b.SegmentsSent - sentBefore}");
        Assert.Equal(Flight / 2, b.CoalescedRuns); // runs of two (TcpStackOptions.CoalescedRunSegments)
        Assert.Equal(data.Length, b.BytesReadDirect);
        Assert.Equal(0, b.BytesReadFromRing);

        // Every byte went through a run's buffer first: two copies, and counted so.
        Assert.Equal(data.Length, b.BytesReadDirectFromRuns);
        Assert.True(b.SegmentsSent - sentBefore >= Flight / 2, "RFC 5681 4.2: an ACK per two full-sized segments");
    }

    [Fact]
    public void A_read_filled_by_datagrams_to_ourselves_completes_in_the_same_poll()
    {
        // Datagrams to our own address are delivered after the device batches: outside a batch a
        // read filled from a segment completes at once.
        var sim = new NetworkSimulator(4);
        MemoryLink link = sim.Network.CreateLink(null, null, DeviceMedium.Ip, 1500);
        NetworkStack stack = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 4, Name = "self" }));
        var probe = new PollProbe(link.B);
        stack.AddInterface(probe, new InterfaceConfiguration { Addresses = [new InterfaceAddress(TcpStackPair.AddressB, Family.PrefixLength)] });
        TcpLayer tcp = stack.UseTcp(new TcpStackOptions { Seed = 4, Name = "self" });
        using TcpListener listener = tcp.Listen(80);
        (TcpStream client, TcpStream server) = sim.RunUntilCompleted(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream c = await tcp.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80), null, null);
            return (c, await accept);
        }, TimeSpan.FromSeconds(5));

        var buffer = new byte[8192];
        ValueTask<int> read = server.ReadAsync(buffer);
        probe.Progress = () => tcp.Counters.BytesReadDirect;
        probe.Completed = () => read.IsCompleted;
        sim.RunPending();
        byte[] data = TestData.Seeded(3000, 4);
        sim.RunUntilCompleted(async () => await client.WriteAsync(data), TimeSpan.FromSeconds(1));
        sim.RunUntil(() => read.IsCompleted, TimeSpan.FromSeconds(1));

        Assert.True(probe.CompletedAtEndOfProgressPoll);
        int n = Result(read);
        Assert.True(n > 0);
        Assert.Equal(data[..n], buffer[..n]);
        Assert.Equal(n, tcp.Counters.BytesReadDirect);
        client.Dispose();
        server.Dispose();
    }

    // The result of a read that completed (the test itself never blocks on a task).
    private static int Result(ValueTask<int> read) => read.GetAwaiter().GetResult();

    /// <summary>Two stacks on a perfect wire (no delay, no rate limit: a flight arrives as one batch), B's device probed, one connection A to B.</summary>
    private sealed class Bed
    {
        public Bed(bool receiveCoalescing)
        {
            Sim = new NetworkSimulator(7);
            MemoryLink link = Sim.Network.CreateLink(null, null, DeviceMedium.Ip, 1500);
            NetworkStack a = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 7, Name = "a", ReceiveCoalescing = receiveCoalescing }));
            NetworkStack b = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 8, Name = "b", ReceiveCoalescing = receiveCoalescing }));
            Probe = new PollProbe(link.B);
            a.AddInterface(link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(TcpStackPair.AddressA, Family.PrefixLength)] });
            b.AddInterface(Probe, new InterfaceConfiguration { Addresses = [new InterfaceAddress(TcpStackPair.AddressB, Family.PrefixLength)] });
            TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = 7, Name = "a" });
            TcpB = b.UseTcp(new TcpStackOptions { Seed = 8, Name = "b" });
            TcpListener listener = TcpB.Listen(80);
            (Client, Server) = Sim.RunUntilCompleted(async () =>
            {
                Task<TcpStream> accept = listener.AcceptAsync();
                TcpStream client = await tcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80), null, null);
                return (client, await accept);
            }, TimeSpan.FromSeconds(5));
            Sim.RunUntilIdle(TimeSpan.FromSeconds(1));
        }

        public NetworkSimulator Sim { get; }

        public PollProbe Probe { get; }

        public TcpLayer TcpB { get; }

        public TcpStream Client { get; }

        public TcpStream Server { get; }

        /// <summary>Queues <paramref name="data"/> on A in one write (one flight of full-sized segments).</summary>
        public void Write(byte[] data)
        {
            Task write = Sim.Start(async () => await Client.WriteAsync(data));
            Sim.RunUntilCompleted(write, TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>
    /// Counts the data frames (longer than a bare TCP/IP header) received per poll and calls
    /// <see cref="OnDataFrame"/> before each is processed. At the end of every poll (the stack
    /// flushes its devices last) in which <see cref="Progress"/> moved, it samples
    /// <see cref="Completed"/>: whether the read was complete before the poll returned.
    /// </summary>
    private sealed class PollProbe(INetworkDevice inner) : FrameObservingDevice(inner)
    {
        private int _framesThisPoll;
        private long _lastProgress;

        public Action<int>? OnDataFrame { get; set; }

        public Func<long>? Progress { get; set; }

        public Func<bool>? Completed { get; set; }

        public int DataFrames { get; private set; }

        /// <summary>Polls in which at least one data frame arrived.</summary>
        public int DataBatches { get; private set; }

        /// <summary>At the end of the last poll in which <see cref="Progress"/> moved: whether <see cref="Completed"/> held.</summary>
        public bool? CompletedAtEndOfProgressPoll { get; private set; }

        public override void Flush()
        {
            base.Flush();
            if (_framesThisPoll > 0)
            {
                DataBatches++;
                _framesThisPoll = 0;
            }

            if (Progress?.Invoke() is long progress && progress != _lastProgress)
            {
                _lastProgress = progress;
                CompletedAtEndOfProgressPoll = Completed?.Invoke();
            }
        }

        protected override void OnFrame(ReadOnlySpan<byte> frame, bool outbound)
        {
            if (!outbound && frame.Length > 100)
            {
                DataFrames++;
                _framesThisPoll++;
                OnDataFrame?.Invoke(DataFrames);
            }
        }
    }
}
