using System.Diagnostics;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Bench;

/// <summary>The settings of one <c>bench --connections</c> run.</summary>
/// <param name="Duration">How long to open and close connections, in wall-clock time (after a warm-up of a fifth of it, at most 2 s).</param>
/// <param name="Clients">Connections open at once (each client opens the next as soon as its last one is closed).</param>
/// <param name="RequestBytes">Bytes each client sends before it waits for the answer.</param>
/// <param name="ResponseBytes">Bytes the server answers with, followed by its FIN.</param>
/// <param name="Seed">The seed of the stacks.</param>
internal sealed record ConnectionBenchSettings(TimeSpan Duration, int Clients = 100, int RequestBytes = 100, int ResponseBytes = 1000, int Seed = 1);

/// <summary>What a <c>bench --connections</c> run measured.</summary>
/// <param name="Connections">Connections that went through the whole exchange within the measured time (handshake, request, answer, close on both ends).</param>
/// <param name="Seconds">Wall-clock seconds measured.</param>
/// <param name="CpuSeconds">CPU seconds this process used meanwhile.</param>
/// <param name="AllocatedBytes">Bytes allocated on the measuring thread meanwhile.</param>
/// <param name="Failures">Connections that failed (refused, reset, timed out) in the measured time.</param>
/// <param name="Settings">The settings.</param>
internal sealed record ConnectionBenchResult(long Connections, double Seconds, double CpuSeconds, long AllocatedBytes, long Failures, ConnectionBenchSettings Settings)
{
    /// <summary>Connections opened and closed per wall-clock second.</summary>
    public double PerSecond => Seconds <= 0 ? 0 : Connections / Seconds;

    /// <summary>CPU microseconds per connection (both ends).</summary>
    public double CpuMicrosPerConnection => Connections == 0 ? 0 : CpuSeconds * 1e6 / Connections;

    /// <summary>Bytes allocated per connection (both ends, the stream objects and tasks included).</summary>
    public double BytesPerConnection => Connections == 0 ? 0 : (double)AllocatedBytes / Connections;
}

/// <summary>
/// <c>bench --connections</c>: connection churn between two stacks in this process, on one
/// thread. Each of N clients connects, sends a small request, reads the answer to the end and
/// closes; the server accepts, reads the request, answers and closes first (as an HTTP/1.1 server
/// does with <c>Connection: close</c>, so its side keeps TIME-WAIT and a reused client port finds
/// it there). The simulation runs both stacks and every task on the calling thread in virtual
/// time over a link with a 10 µs delay each way, so the figure is the stacks' own cost of a
/// connection's setup and teardown: SYN, SYN-ACK, ACK, the two data segments and their ACKs, the
/// FINs, the listener's queues, the streams and their operations.
/// </summary>
internal static class ConnectionBench
{
    private const ushort Port = 8080;
    private static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.0.0.2");

    /// <summary>Runs the churn and returns what it measured.</summary>
    public static ConnectionBenchResult Run(ConnectionBenchSettings settings)
    {
        var sim = new NetworkSimulator(settings.Seed);
        var link = new LinkOptions { Delay = TimeSpan.FromMicroseconds(10), QueueLimitPackets = 100_000, QueueLimitBytes = 64 << 20 };
        MemoryLink wire = sim.Network.CreateLink(link, link, DeviceMedium.Ip, 1500);
        NetworkStack client = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed, Name = "churn-client", RequestQueueCapacity = 1 << 20 }));
        NetworkStack server = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = settings.Seed + 1, Name = "churn-server", RequestQueueCapacity = 1 << 20 }));
        client.AddInterface(wire.A, ClientAddress, 24);
        server.AddInterface(wire.B, ServerAddress, 24);
        TcpLayer clientTcp = client.UseTcp(new TcpStackOptions { Seed = settings.Seed, Name = "churn-client" });
        TcpLayer serverTcp = server.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1, Name = "churn-server", SynQueueLength = 4096 });
        using TcpListener listener = serverTcp.Listen(Port, backlog: 4096);

        bool stop = false;
        long completed = 0;
        long failures = 0;
        byte[] response = new byte[settings.ResponseBytes];
        sim.Start(async () =>
        {
            while (!stop)
            {
                TcpStream accepted = await listener.AcceptAsync();
                _ = ServeAsync(accepted);
            }
        });

        async Task ServeAsync(TcpStream stream)
        {
            byte[] buffer = new byte[settings.RequestBytes];
            try
            {
                int read = 0;
                while (read < buffer.Length)
                {
                    int n = await stream.ReadAsync(buffer.AsMemory(read));
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                await stream.WriteAsync(response);
                stream.CompleteWrites();
                while (await stream.ReadAsync(buffer) > 0)
                {
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                failures++;
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }

        var remote = new IpEndpoint(ServerAddress, Port);
        for (int i = 0; i < settings.Clients; i++)
        {
            sim.Start(async () =>
            {
                byte[] request = new byte[settings.RequestBytes];
                byte[] buffer = new byte[Math.Max(settings.ResponseBytes, 1)];
                while (!stop)
                {
                    try
                    {
                        await using TcpStream stream = await clientTcp.ConnectAsync(remote);
                        await stream.WriteAsync(request);
                        int total = 0;
                        int n;
                        while ((n = await stream.ReadAsync(buffer)) > 0)
                        {
                            total += n;
                        }

                        if (total == settings.ResponseBytes)
                        {
                            completed++;
                        }
                        else
                        {
                            failures++;
                        }
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException)
                    {
                        failures++;
                    }
                }
            });
        }

        // Warm-up: JIT tiers, pools, the TIME-WAIT table filling.
        TimeSpan warmUp = TimeSpan.FromTicks(Math.Min(settings.Duration.Ticks / 5, TimeSpan.FromSeconds(2).Ticks));
        var watch = Stopwatch.StartNew();
        sim.TryRunUntil(() => watch.Elapsed >= warmUp, TimeSpan.FromDays(1));

        long completedBefore = completed;
        long failuresBefore = failures;
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        watch.Restart();
        sim.TryRunUntil(() => watch.Elapsed >= settings.Duration, TimeSpan.FromDays(1));
        double seconds = watch.Elapsed.TotalSeconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        long connections = completed - completedBefore;
        long failed = failures - failuresBefore;
        stop = true;
        return new ConnectionBenchResult(connections, seconds, cpu, allocated, failed, settings);
    }
}
