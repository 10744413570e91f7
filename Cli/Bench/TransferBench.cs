using System.Diagnostics;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Bench;

/// <summary>The settings of one bench run.</summary>
/// <param name="Duration">How long to transfer, in wall-clock time; with <see cref="Bytes"/>, the most a transfer may take.</param>
/// <param name="Mtu">The link MTU.</param>
/// <param name="Loss">The fraction of frames dropped in each direction.</param>
/// <param name="Rtt">The round-trip time of the simulated link (virtual time; half each way).</param>
/// <param name="Seed">The seed of the link's randomness and the stacks.</param>
internal sealed record BenchSettings(TimeSpan Duration, int Mtu, double Loss, TimeSpan Rtt, int Seed = 1)
{
    /// <summary>The bottleneck rate in Mbit/s, each way; 0: no rate limit (no queue either).</summary>
    public double RateMbit { get; init; }

    /// <summary>The drop-tail queue at the bottleneck in packets; null: one bandwidth-delay product (rate × RTT / MTU).</summary>
    public int? QueuePackets { get; init; }

    /// <summary>The congestion controller's name; null: the stack's default.</summary>
    public string? CongestionControl { get; init; }

    /// <summary>Transfer exactly this many bytes (SHA-256 checked) instead of running for <see cref="Duration"/>.</summary>
    public long? Bytes { get; init; }

    /// <summary>The fraction of frames held back by <see cref="ReorderDelay"/>, each way.</summary>
    public double Reordering { get; init; }

    /// <summary>The extra delay of a reordered frame.</summary>
    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Up to this much uniform extra delay per frame (it reorders frames closer together than itself).</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>
    /// Whether the buffers autotune; null: when the link has a rate (<see cref="RateMbit"/>) or the
    /// transfer a size (<see cref="Bytes"/>). A timed run on a link without a rate has no
    /// bandwidth-delay product to tune to: autotuning would grow the windows to their caps (4 and
    /// 6 MiB) and the processing-speed figure would measure the cache misses of multi-megabyte
    /// rings, so it keeps the fixed 256 KiB buffers.
    /// </summary>
    public bool? AutoTune { get; init; }

    /// <summary>The stacks' own receive coalescing (<see cref="NetworkStackOptions.ReceiveCoalescing"/>); off unless <c>--gro</c> or <c>--gro-run</c>.</summary>
    public bool ReceiveCoalescing { get; init; }

    /// <summary>The most segments one coalesced run may cover (<see cref="TcpStackOptions.CoalescedRunSegments"/>); <c>--gro-run</c>.</summary>
    public int CoalescedRunSegments { get; init; } = 2;

    /// <summary>Whether the buffers autotune in this run (<see cref="AutoTune"/>, or its rule).</summary>
    public bool EffectiveAutoTune => AutoTune ?? (RateMbit > 0 || Bytes is not null);

    /// <summary>The queue in packets the run uses: <see cref="QueuePackets"/>, or one bandwidth-delay product when rate limited.</summary>
    public int EffectiveQueuePackets => QueuePackets ?? (RateMbit > 0 ? Math.Max(1, (int)Math.Round(RateMbit * 1e6 / 8 * Rtt.TotalSeconds / Mtu)) : 0);
}

/// <summary>What a bench run measured.</summary>
/// <param name="Bytes">Bytes the receiving application read within the measured time.</param>
/// <param name="Seconds">Wall-clock seconds measured.</param>
/// <param name="VirtualSeconds">Virtual seconds that passed on the simulated network meanwhile (with a fixed size: from the connection's start to the last byte read).</param>
/// <param name="Retransmissions">Segments retransmitted by both stacks.</param>
/// <param name="Settings">The settings.</param>
internal sealed record BenchResult(long Bytes, double Seconds, double VirtualSeconds, long Retransmissions, BenchSettings Settings)
{
    /// <summary>Goodput in gigabits per second of wall-clock time.</summary>
    public double Gbps => Seconds <= 0 ? 0 : Bytes * 8 / Seconds / 1e9;

    /// <summary>Goodput in gigabits per second of the simulation's own time.</summary>
    public double SimulatedGbps => VirtualSeconds <= 0 ? 0 : Bytes * 8 / VirtualSeconds / 1e9;

    /// <summary>With a fixed size: goodput over the second half of the bytes, in the simulation's time (past slow start); else null.</summary>
    public double? SecondHalfGbps { get; init; }

    /// <summary>With a fixed size: whether the SHA-256 of what was read equals that of what was written; else null.</summary>
    public bool? Sha256Verified { get; init; }

    /// <summary>Data segments the sender put on the link.</summary>
    public long SegmentsSent { get; init; }

    /// <summary>Frames the link dropped in the data direction: random loss plus the full queue.</summary>
    public long DataFramesLost { get; init; }

    /// <summary>Of <see cref="DataFramesLost"/>, those the full queue dropped.</summary>
    public long QueueDrops { get; init; }

    /// <summary>Frames (ACKs) the link dropped in the other direction.</summary>
    public long AckFramesLost { get; init; }

    /// <summary>Retransmission timeouts at the sender.</summary>
    public long Timeouts { get; init; }

    /// <summary>Fast retransmits at the sender.</summary>
    public long FastRetransmits { get; init; }

    /// <summary>The congestion controller the connection used.</summary>
    public string CongestionControl { get; init; } = string.Empty;

    /// <summary>Bytes the receiver's TCP copied straight from the device's segments into a waiting read (one copy).</summary>
    public long BytesReadDirect { get; init; }

    /// <summary>Bytes that went from a coalesced run into a waiting read (two copies: into the run, then into the read).</summary>
    public long BytesReadDirectFromRuns { get; init; }

    /// <summary>Bytes the receiver read out of its receive ring (copied in on arrival, and out again).</summary>
    public long BytesReadFromRing { get; init; }

    /// <summary>The share of the bytes read that went straight from the device's segment into the application's buffer, 0..1.</summary>
    public double DirectShare => BytesRead == 0 ? 0 : (double)BytesReadDirect / BytesRead;

    /// <summary>Copies per byte on the receive path between the device's buffer and the application's: 1 for a byte read straight from its segment, 2 through a run or the ring (3 through both).</summary>
    public double ReceiveCopiesPerByte => BytesRead == 0 ? 0 : 2 - DirectShare;

    private long BytesRead => BytesReadDirect + BytesReadDirectFromRuns + BytesReadFromRing;
}

/// <summary>
/// <c>bench</c>: two stacks on one simulated link, one TCP connection, bulk data from A to B for a
/// wall-clock duration, or a fixed number of bytes. The simulation runs both stacks on this
/// thread, deterministically, and moves virtual time only when nothing is left to do at the
/// current instant (a link delay, a timer, a frame's serialisation at a bottleneck), so the
/// wall-clock goodput measures the stacks' own processing cost per byte, and the virtual-time
/// goodput what the same transfer would achieve on the modelled link.
/// </summary>
internal static class TransferBench
{
    /// <summary>The port B listens on.</summary>
    public const ushort Port = 5001;

    // A fixed-size transfer repeats a random pattern of this prime length, so reordered or lost data
    // changes the SHA-256 unless it moved by a multiple of a prime number of megabytes.
    private const int PatternLength = 1_048_573;

    private static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");

    /// <summary>Runs the transfer and returns what it measured.</summary>
    /// <exception cref="IOException">The connection failed, or a fixed-size transfer did not finish in time.</exception>
    public static BenchResult Run(BenchSettings settings)
    {
        var sim = new NetworkSimulator(settings.Seed);
        var link = new LinkOptions
        {
            Loss = settings.Loss,
            Delay = settings.Rtt / 2,
            Reordering = settings.Reordering,
            ReorderDelay = settings.ReorderDelay,
            Jitter = settings.Jitter,
            QueueLimitPackets = 100_000,
            QueueLimitBytes = 64 << 20,
        };
        if (settings.RateMbit > 0)
        {
            int queue = settings.EffectiveQueuePackets;
            link = link with
            {
                RateBitsPerSecond = (long)(settings.RateMbit * 1e6),
                QueueLimitPackets = queue,
                QueueLimitBytes = (int)Math.Min(int.MaxValue, (long)queue * (settings.Mtu + 64)), // the packet count is the limit
            };
        }

        MemoryLink wire = sim.Network.CreateLink(link, link, DeviceMedium.Ip, settings.Mtu);
        NetworkStack a = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed, Name = "bench-a", RequestQueueCapacity = 65536, ReceiveCoalescing = settings.ReceiveCoalescing }));
        NetworkStack b = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed + 1, Name = "bench-b", RequestQueueCapacity = 65536, ReceiveCoalescing = settings.ReceiveCoalescing }));
        a.AddInterface(wire.A, AddressA, 24);
        b.AddInterface(wire.B, AddressB, 24);
        TcpConnectionOptions connection = settings.CongestionControl is string cc ? new TcpConnectionOptions { CongestionControl = cc } : new TcpConnectionOptions();
        if (!settings.EffectiveAutoTune)
        {
            connection = connection with { AutoTuneBuffers = false };
        }
        TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = settings.Seed, Name = "bench-a", Defaults = connection, CoalescedRunSegments = settings.CoalescedRunSegments });
        TcpLayer tcpB = b.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1, Name = "bench-b", Defaults = connection, CoalescedRunSegments = settings.CoalescedRunSegments });
        using TcpListener listener = tcpB.Listen(Port);

        TimeSpan connectStart = sim.Elapsed;
        (TcpStream client, TcpStream server) = sim.RunUntilCompleted(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream c = await tcpA.ConnectAsync(new IpEndpoint(AddressB, Port));
            return (c, await accept);
        }, TimeSpan.FromMinutes(5));

        BenchResult result = settings.Bytes is long total
            ? RunFixed(sim, client, server, total, connectStart, settings)
            : RunTimed(sim, client, server, settings);

        LinkStatistics data = wire.AToB.Statistics;
        LinkStatistics acks = wire.BToA.Statistics;
        client.Abort();
        server.Abort();
        sim.RunFor(TimeSpan.FromSeconds(1));
        return result with
        {
            Retransmissions = tcpA.Counters.SegmentsRetransmitted + tcpB.Counters.SegmentsRetransmitted,
            SegmentsSent = tcpA.Counters.SegmentsSent,
            DataFramesLost = data.Lost + data.QueueDrops,
            QueueDrops = data.QueueDrops,
            AckFramesLost = acks.Lost + acks.QueueDrops,
            Timeouts = tcpA.Counters.Timeouts,
            FastRetransmits = tcpA.Counters.FastRetransmits,
            CongestionControl = connection.CongestionControl,
            BytesReadDirect = tcpB.Counters.BytesReadDirect - tcpB.Counters.BytesReadDirectFromRuns,
            BytesReadDirectFromRuns = tcpB.Counters.BytesReadDirectFromRuns,
            BytesReadFromRing = tcpB.Counters.BytesReadFromRing,
        };
    }

    // Bulk data for a wall-clock duration: the processing-speed figure (the sender writes zeros, nothing is hashed).
    private static BenchResult RunTimed(NetworkSimulator sim, TcpStream client, TcpStream server, BenchSettings settings)
    {
        bool stop = false;
        long received = 0;
        Exception? failure = null;
        sim.Start(async () =>
        {
            byte[] chunk = new byte[64 * 1024];
            try
            {
                while (!stop)
                {
                    await client.WriteAsync(chunk);
                }

                client.CompleteWrites();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                failure ??= e;
            }
        });
        sim.Start(async () =>
        {
            byte[] buffer = new byte[256 * 1024];
            try
            {
                int n;
                while ((n = await server.ReadAsync(buffer)) > 0)
                {
                    received += n;
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                failure ??= e;
            }
        });

        TimeSpan virtualStart = sim.Elapsed;
        var watch = Stopwatch.StartNew();
        sim.TryRunUntil(() => watch.Elapsed >= settings.Duration || failure is not null, TimeSpan.FromDays(1));
        double seconds = watch.Elapsed.TotalSeconds;
        long bytes = received;
        double virtualSeconds = (sim.Elapsed - virtualStart).TotalSeconds;
        stop = true;
        if (failure is not null)
        {
            throw new IOException($"the bench connection failed: {failure.Message}", failure);
        }

        return new BenchResult(bytes, seconds, virtualSeconds, 0, settings);
    }

    // Exactly `total` bytes of a seeded pattern, then FIN; the receiver hashes what it reads.
    private static BenchResult RunFixed(NetworkSimulator sim, TcpStream client, TcpStream server, long total, TimeSpan start, BenchSettings settings)
    {
        byte[] pattern = new byte[PatternLength + (64 * 1024)];
        new Random(settings.Seed).NextBytes(pattern.AsSpan(0, PatternLength));
        pattern.AsSpan(0, 64 * 1024).CopyTo(pattern.AsSpan(PatternLength)); // so a chunk may start anywhere in the cycle
        byte[] expected = PatternHash(pattern, total);

        long received = 0;
        long halfBytes = 0;
        TimeSpan? half = null;
        TimeSpan? end = null;
        byte[]? actual = null;
        Exception? failure = null;
        sim.Start(async () =>
        {
            try
            {
                long sent = 0;
                while (sent < total)
                {
                    int n = (int)Math.Min(64 * 1024, total - sent);
                    await client.WriteAsync(pattern.AsMemory((int)(sent % PatternLength), n));
                    sent += n;
                }

                client.CompleteWrites();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                failure ??= e;
            }
        });
        sim.Start(async () =>
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[256 * 1024];
            try
            {
                int n;
                while ((n = await server.ReadAsync(buffer)) > 0)
                {
                    sha.AppendData(buffer, 0, n);
                    received += n;
                    if (half is null && received >= total / 2)
                    {
                        half = sim.Elapsed;
                        halfBytes = received;
                    }
                }

                end = sim.Elapsed;
                actual = sha.GetHashAndReset();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                failure ??= e;
            }
        });

        var watch = Stopwatch.StartNew();
        TimeSpan wallLimit = settings.Duration;
        bool done = sim.TryRunUntil(() => actual is not null || failure is not null || watch.Elapsed >= wallLimit, TimeSpan.FromHours(4));
        double seconds = watch.Elapsed.TotalSeconds;
        if (failure is not null)
        {
            throw new IOException($"the bench connection failed: {failure.Message}", failure);
        }

        if (!done || actual is null || end is not TimeSpan finished)
        {
            throw new IOException($"the transfer of {total} bytes did not finish: {received} bytes read after {seconds:0.0} s of wall-clock and {(sim.Elapsed - start).TotalSeconds:0.0} s of simulated time");
        }

        double virtualSeconds = (finished - start).TotalSeconds;
        double secondHalf = (finished - half!.Value).TotalSeconds;
        return new BenchResult(received, seconds, virtualSeconds, 0, settings)
        {
            Sha256Verified = actual.AsSpan().SequenceEqual(expected),
            SecondHalfGbps = secondHalf > 0 ? (total - halfBytes) * 8 / secondHalf / 1e9 : null,
        };
    }

    // The SHA-256 of the first `total` bytes of the repeating pattern.
    private static byte[] PatternHash(byte[] pattern, long total)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long offset = 0; offset < total;)
        {
            int n = (int)Math.Min(PatternLength, total - offset);
            sha.AppendData(pattern, 0, n);
            offset += n;
        }

        return sha.GetHashAndReset();
    }
}
