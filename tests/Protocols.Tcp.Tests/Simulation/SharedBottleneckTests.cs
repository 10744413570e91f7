using System.Globalization;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine.CongestionControl;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Two bulk flows from A to B through one bottleneck (20 Mbit/s, 20 ms RTT, drop-tail queue of one
/// bandwidth-delay product, 34 packets), seeded, in virtual time: how the bottleneck is shared over
/// 25 simulated seconds, counted at the receiver from second 5 on (past both starts). BBRv1 models
/// the path and ignores loss below 20%, so beside a loss-based flow filling the queue it takes more
/// than half (Cardwell et al. and later measurements report the same of Linux's BBRv1); the bounds
/// are what the design promises: the CUBIC flow is not starved, and two BBR flows converge.
/// </summary>
public sealed class SharedBottleneckTests(ITestOutputHelper output)
{
    private const int SegmentSize = 1448;
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Measured = TimeSpan.FromSeconds(20);

    // One bandwidth-delay product is 20 Mbit/s x 20 ms = 50 kB, 34 packets of 1500 bytes.
    private static LinkOptions Path(int queuePackets) => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 20_000_000,
        QueueLimitPackets = queuePackets,
        QueueLimitBytes = queuePackets * 1500,
    };

    [Theory]
    [InlineData(34)]  // one BDP
    [InlineData(136)] // four
    public void A_cubic_flow_beside_a_bbr_flow_keeps_at_least_a_tenth_and_the_link_stays_full(int queuePackets)
    {
        Shares s = ShareOfFullLink(queuePackets, BbrController.RegisteredName, CubicController.RegisteredName);
        Assert.True(s.Second >= 0.10 * (s.First + s.Second), $"cubic got {s.SecondShare:P1}");
    }

    [Theory]
    [InlineData(34)]
    [InlineData(136)]
    public void Two_bbr_flows_share_the_bottleneck_roughly_evenly(int queuePackets)
    {
        Assert.InRange(ShareOfFullLink(queuePackets, BbrController.RegisteredName, BbrController.RegisteredName).FirstShare, 0.3, 0.7);
    }

    [Theory]
    [InlineData(34)]
    [InlineData(136)]
    public void Two_cubic_flows_share_the_bottleneck_roughly_evenly(int queuePackets)
    {
        Assert.InRange(ShareOfFullLink(queuePackets, CubicController.RegisteredName, CubicController.RegisteredName).FirstShare, 0.3, 0.7);
    }

    // The shares of Share(...), written to the output, after checking that together the two flows
    // keep the 20 Mbit/s link at least 90% full.
    private Shares ShareOfFullLink(int queuePackets, string first, string second)
    {
        Shares s = Share(queuePackets, first, second);
        output.WriteLine(s.Format(first, second));
        Assert.True(s.TotalMbps >= 0.9 * 20, $"{s.TotalMbps:0.0} Mbit/s together");
        return s;
    }

    // Two connections A -> B, the first with `first`, the second with `second`, started together;
    // bytes each delivered to B between Warmup and Warmup + Measured. Without random impairments the
    // run is deterministic (the seed only picks ports and initial sequence numbers).
    private static Shares Share(int queuePackets, string first, string second)
    {
        const int seed = 1;
        var sim = new NetworkSimulator(seed);
        var pair = new TcpStackPair(sim, Path(queuePackets), 1500, tcpA: new TcpStackOptions { Seed = seed, Name = "a" });
        var received = new Dictionary<int, long>(); // bytes at B by the client's port
        using var stop = new CancellationTokenSource();
        TcpListener listener = pair.TcpB.Listen(5001, 16);
        Task receivers = sim.Start(async () =>
        {
            Task[] reads = new Task[2];
            for (int i = 0; i < 2; i++)
            {
                TcpStream s = await listener.AcceptAsync(CancellationToken.None);
                reads[i] = Drain(s, received, s.RemoteEndPoint.Port, stop.Token);
            }

            await Task.WhenAll(reads);
        });
        ushort[] ports = new ushort[2];
        Task senders = sim.Start(async () =>
        {
            Task[] writes = new Task[2];
            string[] controllers = [first, second];
            for (int i = 0; i < 2; i++)
            {
                TcpStream c = await pair.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 5001), new TcpConnectionOptions { CongestionControl = controllers[i] }, null);
                ports[i] = c.LocalEndPoint.Port;
                writes[i] = Fill(c, stop.Token);
            }

            await Task.WhenAll(writes);
        });

        sim.RunUntil(() => sim.Elapsed >= Warmup, Warmup + TimeSpan.FromSeconds(1));
        long[] atWarmup = [Received(received, ports, 0), Received(received, ports, 1)];
        sim.RunUntil(() => sim.Elapsed >= Warmup + Measured, Measured + TimeSpan.FromSeconds(1));
        long[] atEnd = [Received(received, ports, 0), Received(received, ports, 1)];
        stop.Cancel();
        listener.Dispose();
        return new Shares(atEnd[0] - atWarmup[0], atEnd[1] - atWarmup[1], Measured.TotalSeconds, pair.Link.AToB.Statistics.QueueDrops);
    }

    // The bytes received so far on the connection whose client port is ports[index].
    private static long Received(Dictionary<int, long> received, ushort[] ports, int index)
    {
        Assert.True(ports[index] != 0, "the connection is up");
        return received.GetValueOrDefault(ports[index]);
    }

    // Reads until cancelled, counting what arrives under the client's port.
    private static async Task Drain(TcpStream stream, Dictionary<int, long> received, int port, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(buffer, cancellationToken);
                if (n == 0)
                {
                    return;
                }

                received[port] = received.GetValueOrDefault(port) + n;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Writes until cancelled.
    private static async Task Fill(TcpStream stream, CancellationToken cancellationToken)
    {
        byte[] chunk = TestData.Seeded(64 * 1024, SegmentSize);
        try
        {
            while (true)
            {
                await stream.WriteAsync(chunk, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private readonly record struct Shares(long First, long Second, double Seconds, long QueueDrops)
    {
        public double FirstShare => (double)First / (First + Second);

        public double SecondShare => (double)Second / (First + Second);

        public double TotalMbps => (First + Second) * 8 / Seconds / 1e6;

        public string Format(string firstName, string secondName) => string.Create(CultureInfo.InvariantCulture,
            $"{firstName} {First * 8 / Seconds / 1e6:0.00} Mbit/s ({FirstShare:P1}), {secondName} {Second * 8 / Seconds / 1e6:0.00} Mbit/s ({SecondShare:P1}), together {TotalMbps:0.00} of 20 Mbit/s, {QueueDrops} queue drops");
    }
}
