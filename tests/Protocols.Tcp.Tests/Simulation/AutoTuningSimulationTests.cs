using System.Globalization;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Buffer autotuning in the simulation, over 100 Mbit/s with a 20 ms RTT (a bandwidth-delay product
/// of 250 kB) and a one-BDP queue: buffers that start at 64 KiB grow past the BDP and the transfer
/// runs at the bottleneck's rate; a cap below the BDP stops the growth at the cap; a slow reader
/// keeps its buffer small; without autotuning 64 KiB hold the transfer to 64 KiB per round trip.
/// </summary>
public sealed class AutoTuningSimulationTests(ITestOutputHelper output)
{
    private const int Bdp = 250_000; // 100 Mbit/s x 20 ms
    private const int Small = 64 * 1024;

    // Of the bytes the last Transfer read, the share that went straight from a segment into a waiting read.
    private double _directShare;

    private static LinkOptions Bottleneck => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        RateBitsPerSecond = 100_000_000,
        QueueLimitPackets = 167,
        QueueLimitBytes = 167 * 1600,
    };

    // A sends `bytes` to B, whose application reads `readSize` bytes every `readEvery` (or as fast as it can).
    private (double Mbps, TcpConnectionInfo Sender, TcpConnectionInfo Receiver) Transfer(TcpConnectionOptions options, int bytes, int readSize = 256 * 1024, TimeSpan? readEvery = null)
    {
        var sim = new NetworkSimulator(5);
        var pair = new TcpStackPair(sim, Bottleneck, options: options);
        byte[] data = TestData.Seeded(bytes, 9);
        TcpListener listener = pair.TcpB.Listen(5001, 4);
        TcpConnectionInfo? sender = null;
        TcpConnectionInfo? receiver = null;
        Task<byte[]> read = sim.Start(async () =>
        {
            using TcpStream s = await listener.AcceptAsync(CancellationToken.None);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[readSize];
            int n;
            while ((n = await s.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                receiver = s.GetInfo();
                if (readEvery is TimeSpan pause)
                {
                    await Task.Delay(pause, sim.Clock);
                }
            }

            return sha.GetHashAndReset();
        });
        Task write = sim.Start(async () =>
        {
            using TcpStream c = await pair.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 5001), CancellationToken.None);
            await TcpStackPair.SendAll(c, data);
            sender = c.GetInfo();
            Assert.Equal(0, await c.ReadAsync(new byte[1])); // the peer's FIN
        });
        TimeSpan took = sim.RunUntil(() => read.IsCompleted && write.IsCompleted, TimeSpan.FromMinutes(5));
        Assert.Equal(SHA256.HashData(data), sim.RunUntilCompleted(read, TimeSpan.Zero));
        double mbps = bytes * 8 / took.TotalSeconds / 1e6;
        _directShare = (double)pair.TcpB.Counters.BytesReadDirect / bytes;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{bytes >> 20} MiB in {took.TotalSeconds:0.000} s = {mbps:0.0} Mbit/s, {_directShare:0.0%} read straight from the segments; receive buffer {receiver!.ReceiveBufferSize} (window {receiver.ReceiveWindow}), send buffer {sender!.SendBufferSize}, cwnd {sender.CongestionWindow}, retransmissions {sender.Retransmissions}"));
        return (mbps, sender, receiver);
    }

    [Fact]
    public void Buffers_grow_past_the_bandwidth_delay_product_and_the_transfer_fills_the_bottleneck()
    {
        var options = new TcpConnectionOptions { ReceiveBufferSize = Small, SendBufferSize = Small };
        (double mbps, TcpConnectionInfo sender, TcpConnectionInfo receiver) = Transfer(options, 16 << 20);

        // Dynamic right-sizing: about twice what is read per round trip (the RTT with the queue
        // included), far below the 6 MiB cap. The reader keeps a read waiting, so it takes nearly
        // every byte straight from the segments: those reads are what the autotuner measures.
        Assert.True(_directShare > 0.9, $"{_directShare:P1} read straight from the segments");
        Assert.InRange(receiver.ReceiveBufferSize, Bdp, 8 * Bdp);
        Assert.InRange(sender.SendBufferSize, Bdp, 8 * Bdp); // twice the congestion window
        Assert.True(mbps > 80, $"{mbps:0.0} Mbit/s");

        // The same buffers without autotuning: one 64 KiB window per round trip, 26 Mbit/s at most.
        (double fixedMbps, _, TcpConnectionInfo fixedReceiver) = Transfer(options with { AutoTuneBuffers = false }, 4 << 20);
        Assert.Equal(Small, fixedReceiver.ReceiveBufferSize);
        Assert.True(fixedMbps < 27, $"{fixedMbps:0.0} Mbit/s");
    }

    [Fact]
    public void Growth_stops_at_the_cap()
    {
        const int Cap = 128 * 1024; // about half the BDP
        var options = new TcpConnectionOptions { ReceiveBufferSize = Small, ReceiveBufferMaxSize = Cap, SendBufferSize = Small, SendBufferMaxSize = Cap };
        (double mbps, TcpConnectionInfo sender, TcpConnectionInfo receiver) = Transfer(options, 8 << 20);
        Assert.Equal(Cap, receiver.ReceiveBufferSize);
        Assert.Equal(Cap, sender.SendBufferSize);
        Assert.InRange(mbps, 40, 55); // 128 KiB per 20 ms round trip = 52 Mbit/s
    }

    [Fact]
    public void A_slow_reader_keeps_its_buffer_small()
    {
        // 16 KiB every 10 ms: 13 Mbit/s, about 33 kB per 20 ms round trip. The buffer grows to twice
        // that plus 16 segments of slack (89 kB), not towards the path's 250 kB.
        var options = new TcpConnectionOptions { ReceiveBufferSize = 32 * 1024 };
        (double mbps, _, TcpConnectionInfo receiver) = Transfer(options, 2 << 20, readSize: 16 * 1024, readEvery: TimeSpan.FromMilliseconds(10));
        Assert.InRange(receiver.ReceiveBufferSize, 80_000, 110_000);
        Assert.InRange(mbps, 10, 14);
    }
}
