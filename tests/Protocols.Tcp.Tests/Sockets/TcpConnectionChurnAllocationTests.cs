using Protocols.Ip;
using Protocols.Tcp.Tests.Framing;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// What a connection's setup and teardown allocates, both ends together, with many connections
/// open at once: the connection and its control block are new objects, but rings and stream
/// operations come back from pools, so the bytes per connection stay bounded.
/// </summary>
public class TcpConnectionChurnAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void A_connection_cycle_with_200_open_at_once_allocates_a_bounded_number_of_bytes()
    {
        const int Clients = 200;
        const int Request = 100;
        const int Response = 1000;
        var net = new TcpStackPair(seed: 83, tcpB: new TcpStackOptions { Seed = 84, Name = "churn-b", SynQueueLength = 1024 }, requestQueueCapacity: 1 << 16);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 1024);
        var remote = new IpEndpoint(TcpStackPair.AddressB, 80);
        byte[] answer = new byte[Response];
        bool stop = false;
        long completed = 0;
        long failed = 0;

        async Task ServeAsync(TcpStream stream)
        {
            byte[] buffer = new byte[Request];
            await using (stream)
            {
                int read = 0;
                int n;
                while (read < Request && (n = await stream.ReadAsync(buffer.AsMemory(read))) > 0)
                {
                    read += n;
                }

                await stream.WriteAsync(answer);
                stream.CompleteWrites(); // the server closes first and keeps TIME-WAIT
                while (await stream.ReadAsync(buffer) > 0)
                {
                }
            }
        }

        net.Sim.Start(async () =>
        {
            while (!stop)
            {
                _ = ServeAsync(await listener.AcceptAsync());
            }
        });

        for (int i = 0; i < Clients; i++)
        {
            net.Sim.Start(async () =>
            {
                byte[] request = new byte[Request];
                byte[] buffer = new byte[Response];
                while (!stop)
                {
                    await using TcpStream stream = await net.TcpA.ConnectAsync(remote);
                    await stream.WriteAsync(request);
                    int total = 0;
                    int n;
                    while ((n = await stream.ReadAsync(buffer)) > 0)
                    {
                        total += n;
                    }

                    // Plain counters: xUnit's asserts allocate, which would be measured too.
                    if (total == Response)
                    {
                        completed++;
                    }
                    else
                    {
                        failed++;
                    }
                }
            });
        }

        // Warm-up: pools filled, the connection table grown, JIT tiers.
        Assert.True(net.Sim.TryRunUntil(() => completed >= 3000, TimeSpan.FromMinutes(10)), $"{completed} connections in the warm-up");
        long start = completed;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(net.Sim.TryRunUntil(() => completed >= start + 4000, TimeSpan.FromMinutes(10)), $"{completed - start} connections measured");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long connections = completed - start;
        stop = true;
        double perConnection = (double)allocated / connections;
        output.WriteLine($"{allocated} bytes for {connections} connections: {perConnection:F0} bytes per connection (both ends, the test's tasks included)");
        Assert.Equal(0, failed);

        // Measured: 6.9 KB per connection (two control blocks with their parts, two connections,
        // two streams, the connect task, the test's own async state; the server's TIME-WAIT is a
        // record stored inline in the layer's table, nothing per connection on the heap). Rings
        // from ArrayPool.Shared, whose few dozen arrays per size run out with 400 connection ends
        // open, and new stream operations for every stream cost 2.3 KB more here (and 11-15 KB in
        // bench --connections, where gen-2 collections also trim the shared pool): the bound
        // catches that.
        if (AllocationAssert.Optimized)
        {
            Assert.True(perConnection < 7_200, $"{perConnection:F0} bytes allocated per connection");
        }
    }
}
