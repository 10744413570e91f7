using System.Diagnostics;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Bench;

/// <summary>The settings of one bench run.</summary>
/// <param name="Duration">How long to transfer, in wall-clock time.</param>
/// <param name="Mtu">The link MTU.</param>
/// <param name="Loss">The fraction of frames dropped in each direction.</param>
/// <param name="Rtt">The round-trip time of the simulated link (virtual time; half each way).</param>
/// <param name="Seed">The seed of the link's randomness and the stacks.</param>
internal sealed record BenchSettings(TimeSpan Duration, int Mtu, double Loss, TimeSpan Rtt, int Seed = 1);

/// <summary>What a bench run measured.</summary>
/// <param name="Bytes">Bytes the receiving application read within the measured time.</param>
/// <param name="Seconds">Wall-clock seconds measured.</param>
/// <param name="VirtualSeconds">Virtual seconds that passed on the simulated network meanwhile.</param>
/// <param name="Retransmissions">Segments retransmitted by both stacks.</param>
/// <param name="Settings">The settings.</param>
internal sealed record BenchResult(long Bytes, double Seconds, double VirtualSeconds, long Retransmissions, BenchSettings Settings)
{
    /// <summary>Goodput in gigabits per second of wall-clock time.</summary>
    public double Gbps => Seconds <= 0 ? 0 : Bytes * 8 / Seconds / 1e9;
}

/// <summary>
/// <c>bench</c>: two stacks on one simulated link, one TCP connection, bulk data from A to B for a
/// wall-clock duration. The simulation runs both stacks on this thread, deterministically, and
/// moves virtual time only when nothing is left to do at the current instant (a link delay, a
/// timer), so the goodput measures the stacks' own processing cost per byte (with the RTT, loss
/// and MTU shaping the TCP dynamics), not a modelled wire speed.
/// </summary>
internal static class TransferBench
{
    /// <summary>The port B listens on.</summary>
    public const ushort Port = 5001;

    private static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");

    /// <summary>Runs the transfer and returns what it measured.</summary>
    public static BenchResult Run(BenchSettings settings)
    {
        var sim = new Simulation(settings.Seed);
        var link = new LinkOptions { Loss = settings.Loss, Delay = settings.Rtt / 2, QueueLimitPackets = 100_000, QueueLimitBytes = 64 << 20 };
        MemoryLink wire = sim.Network.CreateLink(link, link, DeviceMedium.Ip, settings.Mtu);
        NetworkStack a = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed, Name = "bench-a", RequestQueueCapacity = 65536 }));
        NetworkStack b = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed + 1, Name = "bench-b", RequestQueueCapacity = 65536 }));
        a.AddInterface(wire.A, AddressA, 24);
        b.AddInterface(wire.B, AddressB, 24);
        TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = settings.Seed, Name = "bench-a" });
        TcpLayer tcpB = b.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1, Name = "bench-b" });
        using TcpListener listener = tcpB.Listen(Port);

        (TcpStream client, TcpStream server) = sim.RunUntilCompleted(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream c = await tcpA.ConnectAsync(new IpEndpoint(AddressB, Port));
            return (c, await accept);
        }, TimeSpan.FromMinutes(5));

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

        client.Abort();
        server.Abort();
        sim.RunFor(TimeSpan.FromSeconds(1));
        long retransmissions = tcpA.Counters.SegmentsRetransmitted + tcpB.Counters.SegmentsRetransmitted;
        return new BenchResult(bytes, seconds, virtualSeconds, retransmissions, settings);
    }
}
