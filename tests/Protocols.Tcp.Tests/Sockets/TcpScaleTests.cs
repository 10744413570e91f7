using System.Diagnostics;
using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// Many simultaneous connections between two stacks: O(1) demultiplexing, ephemeral ports across
/// several destinations, lazily allocated buffers. 10,000 connections are opened, used and closed
/// through TIME_WAIT; 100,000 are opened and used (about 5 s and 230 MiB on a 2-core machine;
/// PROTOCOLS_TCP_SCALE=N changes the count; 0 reports the test skipped, for a machine short of memory).
/// </summary>
public class TcpScaleTests(ITestOutputHelper output)
{
    [Fact]
    public void Ten_thousand_simultaneous_connections() => Run(10_000, closeAll: true);

    [ScaleFact]
    public void Hundred_thousand_simultaneous_connections() => Run(ScaleFactAttribute.Count, closeAll: false);

    private void Run(int count, bool closeAll)
    {
        const int PerListener = 25_000; // below the 28,232 ephemeral ports per destination
        const int Batch = 1000;
        var net = new TcpStackPair(seed: 81);
        int listenerCount = (count + PerListener - 1) / PerListener;
        var listeners = Enumerable.Range(0, listenerCount).Select(i => net.TcpB.Listen((ushort)(80 + i), backlog: 4096)).ToArray();
        var clients = new TcpStream[count];
        var servers = new List<TcpStream>(count);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var wall = Stopwatch.StartNew();
        TimeSpan virtualTime = net.Sim.Elapsed;
        net.Run(
            async () =>
            {
                // Batches of 1000 (a batch never straddles two listeners); the application accepts
                // as fast as clients connect, with as many accepts waiting as connects in flight.
                for (int start = 0; start < count; start += Batch)
                {
                    int n = Math.Min(Batch, count - start);
                    TcpListener listener = listeners[start / PerListener];
                    var accepts = new Task<TcpStream>[n];
                    var connects = new Task<TcpStream>[n];
                    for (int i = 0; i < n; i++)
                    {
                        accepts[i] = listener.AcceptAsync();
                        connects[i] = net.TcpA.ConnectAsync(listener.LocalEndPoint with { Address = TcpStackPair.AddressB });
                    }

                    (await Task.WhenAll(connects)).CopyTo(clients, start);
                    servers.AddRange(await Task.WhenAll(accepts));
                }
            },
            TimeSpan.FromMinutes(10));
        wall.Stop();
        virtualTime = net.Sim.Elapsed - virtualTime;

        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        long perConnection = (memoryAfter - memoryBefore) / count;
        output.WriteLine($"{count} connections: {wall.Elapsed.TotalSeconds:0.0} s wall, {virtualTime.TotalSeconds:0.000} s virtual, {(memoryAfter - memoryBefore) / (1024 * 1024)} MiB managed ({perConnection} bytes per connection, both ends, idle)");

        Assert.Equal(count, servers.Count);
        Assert.Equal(count, net.TcpA.ConnectionCount);
        Assert.Equal(count, net.TcpB.ConnectionCount);
        Assert.Equal(count, net.TcpA.Counters.CurrentEstablished);
        Assert.Equal(count, clients.Select(c => (c.LocalEndPoint, c.RemoteEndPoint)).Distinct().Count());

        // A few of them carry data, each to its own server end.
        var byTuple = servers.ToDictionary(s => (s.RemoteEndPoint, s.LocalEndPoint.Port));
        net.Run(async () =>
        {
            foreach (int i in new[] { 0, count / 2, count - 1 })
            {
                await clients[i].WriteAsync(BitConverter.GetBytes(i));
                var buffer = new byte[4];
                await byTuple[(clients[i].LocalEndPoint, clients[i].RemoteEndPoint.Port)].ReadExactlyAsync(buffer);
                Assert.Equal(i, BitConverter.ToInt32(buffer));
            }
        });

        if (closeAll)
        {
            // The clients close first (closing both ends at the same instant would be 10,000
            // simultaneous closes, TIME_WAIT on both sides); the servers see the FIN, then close.
            foreach (TcpStream c in clients)
            {
                c.Dispose();
            }

            net.Sim.RunFor(TimeSpan.FromSeconds(1));
            Assert.Equal(count, net.TcpB.GetConnections().Count(r => r.State == TcpState.CloseWait));
            foreach (TcpStream s in servers)
            {
                s.Dispose();
            }

            net.Sim.RunFor(TimeSpan.FromSeconds(1));
            Assert.Equal(0, net.TcpB.ConnectionCount);
            Assert.Equal(count, net.TcpA.GetConnections().Count(r => r.State == TcpState.TimeWait));
            net.Sim.RunFor(TimeSpan.FromSeconds(61));
            Assert.Equal(0, net.TcpA.ConnectionCount);
        }

        GC.KeepAlive(listeners);
    }
}
