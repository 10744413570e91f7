using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>
/// The sockets under real threads: two stacks each run their loop with RunAsync on the real clock
/// over a perfect memory link, while callers on thread-pool threads send, receive and cancel
/// concurrently. Not deterministic by nature; it checks what must hold under any interleaving.
/// </summary>
public sealed class UdpSocketThreadingTests : IAsyncLifetime
{
    private static readonly Ipv4Address A = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address B = Ipv4Address.Parse("10.0.0.2");

    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));
    private NetworkStack _a = null!;
    private NetworkStack _b = null!;
    private Task _loops = Task.CompletedTask;

    public Task InitializeAsync()
    {
        var network = new MemoryNetwork(seed: 1, TimeProvider.System);
        var (da, db) = network.CreateLink(medium: DeviceMedium.Ip);
        _a = new NetworkStack(new NetworkStackOptions { Seed = 1 });
        _b = new NetworkStack(new NetworkStackOptions { Seed = 2 });
        _a.AddInterface(da, A, 24);
        _b.AddInterface(db, B, 24);
        _a.UseUdp(new UdpOptions { Seed = 1 });
        _b.UseUdp(new UdpOptions { Seed = 2 });
        _loops = Task.WhenAll(Task.Run(() => _a.RunAsync(_stop.Token)), Task.Run(() => _b.RunAsync(_stop.Token)));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loops.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public async Task Concurrent_clients_get_every_echo()
    {
        using var server = UdpSocket.Bind(_b, 7);
        Task echo = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (true)
            {
                UdpReceiveResult r = await server.ReceiveFromAsync(buffer, _stop.Token);
                await server.SendToAsync(buffer.AsMemory(0, r.BytesReceived), r.RemoteEndpoint, _stop.Token);
            }
        });

        const int Clients = 4, RoundTrips = 500;
        Task[] clients = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            using var client = UdpSocket.Connect(_a, new IpEndpoint(B, 7));
            var request = new byte[64];
            var reply = new byte[64];
            for (int i = 0; i < RoundTrips; i++)
            {
                BitConverter.TryWriteBytes(request, (c * 100_000) + i);
                await client.SendAsync(request, _stop.Token);
                UdpReceiveResult r = await client.ReceiveFromAsync(reply, _stop.Token);
                Assert.Equal(64, r.BytesReceived);
                Assert.Equal((c * 100_000) + i, BitConverter.ToInt32(reply));
            }
        })).ToArray();

        await Task.WhenAll(clients).WaitAsync(_stop.Token);
        Assert.False(echo.IsFaulted, echo.Exception?.ToString());
        UdpCountersSnapshot a = _a.Udp().Counters.Snapshot();
        Assert.Equal(Clients * RoundTrips, a.DatagramsReceived);
        Assert.Equal(0, a.InErrors + _b.Udp().Counters.Snapshot().InErrors);
    }

    [Fact]
    public async Task Receives_cancelled_at_random_moments_never_swallow_a_datagram()
    {
        using var receiver = UdpSocket.Bind(_b, 9, new UdpSocketOptions { ReceiveQueueDatagrams = 100_000, ReceiveQueueBytes = 64 << 20 });
        using var sender = UdpSocket.Bind(_a);
        const int Count = 3000;
        var seen = new bool[Count];
        int received = 0, cancelled = 0;

        Task send = Task.Run(async () =>
        {
            var data = new byte[4];
            for (int i = 0; i < Count; i++)
            {
                BitConverter.TryWriteBytes(data, i);
                await sender.SendToAsync(data, new IpEndpoint(B, 9), _stop.Token);
                if (i % 50 == 0)
                {
                    // Pause now and then so the receiver drains the queue and its receives wait:
                    // a cancellation can only race a delivery while a receive is pending.
                    await Task.Delay(1);
                }
            }
        });

        var random = new Random(3);
        var buffer = new byte[16];
        while (received < Count)
        {
            _stop.Token.ThrowIfCancellationRequested();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            ValueTask<UdpReceiveResult> receive = receiver.ReceiveFromAsync(buffer, cts.Token);
            if (random.Next(3) == 0)
            {
                cts.CancelAfter(TimeSpan.FromTicks(random.Next(0, 20_000)));
            }

            try
            {
                UdpReceiveResult r = await receive;
                int i = BitConverter.ToInt32(buffer);
                Assert.Equal(4, r.BytesReceived);
                Assert.False(seen[i], $"datagram {i} twice");
                seen[i] = true;
                received++;
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                cancelled++;
            }
        }

        await send;
        Assert.All(seen, Assert.True);
        Assert.Equal(0, receiver.ReceiveQueueDrops);
        Assert.True(cancelled > 0, "no receive was cancelled: the test did not exercise the race");
    }
}
