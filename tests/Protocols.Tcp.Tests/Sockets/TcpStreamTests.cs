using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>TcpStream semantics (DESIGN.md "Public API shape", docs/tcp.md 3).</summary>
public class TcpStreamTests
{
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    private static (TcpStackPair Net, TcpListener Listener, TcpStream Client, TcpStream Server) Open(int seed, TcpConnectionOptions? client = null, TcpConnectionOptions? server = null)
    {
        var net = new TcpStackPair(seed, Lan);
        TcpListener listener = net.TcpB.Listen(80, options: server);
        (TcpStream c, TcpStream s) = net.Connect(listener, client);
        return (net, listener, c, s);
    }

    [Fact]
    public void A_stream_opened_after_another_closed_reuses_its_operations_and_a_stale_value_task_stays_stale()
    {
        var net = new TcpStackPair(59, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream firstClient, TcpStream firstServer) = net.Connect(listener);
        ValueTask<int> staleRead = default;
        ValueTask staleWrite = default;
        net.Run(async () =>
        {
            staleWrite = firstClient.WriteAsync(new byte[] { 1, 2, 3 });
            await staleWrite;
            staleRead = firstServer.ReadAsync(new byte[10]);
            Assert.Equal(3, await staleRead);
            await firstServer.WriteAsync(new byte[] { 4 });
            Assert.Equal(1, await firstClient.ReadAsync(new byte[10]));
            await firstClient.DisposeAsync();
            await firstServer.DisposeAsync();
        });
        net.Settle();
        Assert.Equal(2, net.TcpA.StreamOperations.Count); // the closed streams' read and write operations were kept
        Assert.Equal(2, net.TcpB.StreamOperations.Count);

        (TcpStream client, TcpStream server) = net.Connect(listener);
        Assert.Equal(0, net.TcpA.StreamOperations.Count + net.TcpB.StreamOperations.Count); // the new streams took them
        byte[] got = net.Run(async () =>
        {
            ValueTask<int> read = server.ReadAsync(new byte[100]);
            Assert.False(read.IsCompleted);

            // The first streams' value tasks were consumed: reading them again must not observe the
            // new streams' operations (same objects, newer tokens).
            Assert.Throws<InvalidOperationException>(() => staleRead.GetAwaiter().GetResult());
            Assert.Throws<InvalidOperationException>(() => staleWrite.GetAwaiter().GetResult());
            await client.WriteAsync(new byte[] { 7, 8 });
            int n = await read;
            var buffer = new byte[100];
            await server.WriteAsync(new byte[] { 9 });
            int m = await client.ReadAsync(buffer);
            return new byte[] { (byte)n, (byte)m, buffer[0] };
        });
        Assert.Equal(new byte[] { 2, 1, 9 }, got);
        Assert.Throws<ObjectDisposedException>(() => { _ = firstClient.ReadAsync(new byte[1]); });
    }

    [Fact]
    public void A_read_returns_as_soon_as_one_byte_is_there()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(51);
        int n = net.Run(async () =>
        {
            ValueTask<int> read = server.ReadAsync(new byte[1000]);
            await client.WriteAsync(new byte[] { 42 });
            return await read;
        });
        Assert.Equal(1, n);
    }

    [Fact]
    public void A_zero_byte_read_waits_for_data_and_consumes_nothing()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(52);
        (bool completedEarly, int zero, int n) = net.Run(async () =>
        {
            ValueTask<int> wait = server.ReadAsync(Memory<byte>.Empty);
            await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
            bool completedEarly = wait.IsCompleted;
            await client.WriteAsync("abc"u8.ToArray());
            int zero = await wait;
            int n = await server.ReadAsync(new byte[10]);
            return (completedEarly, zero, n);
        });
        Assert.False(completedEarly);
        Assert.Equal(0, zero);
        Assert.Equal(3, n);
    }

    [Fact]
    public void A_zero_byte_read_completes_at_FIN_and_reads_then_return_0()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(53);
        (int zero, int eof, int again) = net.Run(async () =>
        {
            ValueTask<int> wait = server.ReadAsync(Memory<byte>.Empty);
            client.CompleteWrites();
            return (await wait, await server.ReadAsync(new byte[10]), await server.ReadAsync(new byte[10]));
        });
        Assert.Equal((0, 0, 0), (zero, eof, again));
    }

    [Fact]
    public void One_read_and_one_write_run_concurrently_but_a_second_read_or_write_throws()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(54);
        net.Run(async () =>
        {
            ValueTask<int> read = client.ReadAsync(new byte[10]);
            Assert.Throws<InvalidOperationException>(() => { _ = client.ReadAsync(new byte[10]); });
            ValueTask write = client.WriteAsync(new byte[5]);
            await write;
            Assert.Equal(5, await server.ReadAsync(new byte[10]));
            await server.WriteAsync(new byte[7]);
            Assert.Equal(7, await read);

            // A write waiting for space (tiny buffers, the peer does not read) blocks a second write.
            ValueTask big = client.WriteAsync(new byte[2_000_000]);
            await Task.Delay(TimeSpan.FromMilliseconds(50), net.Sim.Clock);
            Assert.False(big.IsCompleted);
            Assert.Throws<InvalidOperationException>(() => { _ = client.WriteAsync(new byte[1]); });
            byte[] all = await ReadExactly(server, 2_000_000);
            await big;
            Assert.Equal(2_000_000, all.Length);
        });
    }

    private static async Task<byte[]> ReadExactly(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    [Fact]
    public void A_cancelled_read_throws_and_loses_no_data()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(55);
        using var cts = new CancellationTokenSource();
        byte[] got = net.Run(async () =>
        {
            ValueTask<int> read = server.ReadAsync(new byte[10], cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(10), net.Sim.Clock);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await read);
            await client.WriteAsync("after"u8.ToArray());
            var buffer = new byte[10];
            int n = await server.ReadAsync(buffer);
            return buffer[..n];
        });
        Assert.Equal("after"u8.ToArray(), got);
    }

    [Fact]
    public void A_write_blocked_on_a_full_window_can_be_cancelled_and_the_connection_still_reads()
    {
        var small = TcpConnectionOptions.Default with { SendBufferSize = 16 * 1024, ReceiveBufferSize = 16 * 1024 };
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(56, small, small);
        using var cts = new CancellationTokenSource();
        net.Run(async () =>
        {
            ValueTask write = client.WriteAsync(new byte[1_000_000], cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(200), net.Sim.Clock);
            Assert.False(write.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await write);

            // Reads still work (in both directions) and a new write is allowed.
            await server.WriteAsync("pong"u8.ToArray());
            var buffer = new byte[4];
            await client.ReadExactlyAsync(buffer);
            Assert.Equal("pong"u8.ToArray(), buffer);
            // The send buffer is full of the cancelled write's data, so a new write needs the server to read some.
            ValueTask again = client.WriteAsync(new byte[1]);
            Assert.True(await server.ReadAsync(new byte[64 * 1024]) > 0);
            await again;
        });
    }

    [Fact]
    public void Dispose_fails_pending_operations_and_closes_with_FIN()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(57);
        net.Run(async () =>
        {
            ValueTask<int> pending = client.ReadAsync(new byte[10]);
            client.Dispose();
            TcpErrorShapeTests.AssertShape(SocketError.OperationAborted, await Assert.ThrowsAsync<TcpException>(async () => await pending));
            Assert.Throws<ObjectDisposedException>(() => { _ = client.ReadAsync(new byte[1]); });
            Assert.Throws<ObjectDisposedException>(() => { _ = client.WriteAsync(new byte[1]); });
            Assert.Throws<ObjectDisposedException>(() => client.CompleteWrites());
            Assert.False(client.CanRead);
            Assert.Equal(0, await server.ReadAsync(new byte[10])); // the FIN
            client.Dispose(); // twice is fine
        });
        server.Dispose();
    }

    [Fact]
    public void Dispose_with_unread_data_resets_the_connection()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(58);
        TcpException e = net.Run(async () =>
        {
            await client.WriteAsync("unread"u8.ToArray());
            await Task.Delay(TimeSpan.FromMilliseconds(20), net.Sim.Clock);
            server.Dispose(); // RFC 9293 3.10.4 / Linux: data discarded -> RST
            return await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[10]));
        });
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public void Runs_repeat_exactly_even_through_library_code_that_uses_ConfigureAwait_false()
    {
        // Completions go to the loop thread's context (the simulation's), not to the thread pool,
        // so ReadExactlyAsync / CopyToAsync (ConfigureAwait(false) inside) stay deterministic.
        static void Scenario(NetworkSimulator sim)
        {
            var net = new TcpStackPair(seed: sim.Seed, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1), Loss = 0.05, Jitter = TimeSpan.FromMilliseconds(1) }, sim: sim);
            using TcpListener listener = net.TcpB.Listen(80);
            net.Run(async () =>
            {
                Task<TcpStream> accept = listener.AcceptAsync();
                using TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80)).ConfigureAwait(false);
                using TcpStream server = await accept.ConfigureAwait(false);
                var data = new byte[200_000];
                new Random(sim.Seed).NextBytes(data);
                Task write = client.WriteAsync(data).AsTask();
                var buffer = new byte[data.Length];
                for (int offset = 0; offset < data.Length; offset += 10_000)
                {
                    await server.ReadExactlyAsync(buffer.AsMemory(offset, 10_000)).ConfigureAwait(false);
                    sim.Trace($"{offset} at {sim.Elapsed.Ticks}");
                }

                await write.ConfigureAwait(false);
                Assert.Equal(data, buffer);
            });
        }

        NetworkSimulator.VerifyDeterminism(seed: 36, Scenario, runs: 3);
    }

    [Fact]
    public void Stream_properties()
    {
        (TcpStackPair net, TcpListener listener, TcpStream client, TcpStream server) = Open(59);
        Assert.True(client.CanRead && client.CanWrite && client.CanTimeout);
        Assert.False(client.CanSeek);
        Assert.Throws<NotSupportedException>(() => client.Length);
        Assert.Throws<NotSupportedException>(() => client.Position);
        Assert.Equal(Timeout.Infinite, client.ReadTimeout);
        client.ReadTimeout = 100;
        Assert.Equal(100, client.ReadTimeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.WriteTimeout = 0);
        Assert.Equal(listener.LocalEndPoint.Port, client.RemoteEndPoint.Port);
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
        Assert.Equal(server.LocalEndPoint, client.RemoteEndPoint);
        client.NoDelay = true;
        net.Settle();
        Assert.True(client.NoDelay);
        Assert.StartsWith($"TcpStream {new IpEndpoint(TcpStackPair.AddressA, 0).ToString()[..^2]}:", client.ToString());
    }

    [Fact]
    public void Sync_Read_and_Write_block_and_honour_the_timeouts()
    {
        (TcpStackPair net, _, TcpStream client, TcpStream server) = Open(60);

        // The simulation runs on its own thread, in virtual time; this thread blocks like an application's.
        using var stop = new CancellationTokenSource();
        var driver = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
                Thread.Yield();
            }
        });
        driver.Start();
        try
        {
            client.Write("sync"u8.ToArray(), 0, 4);
            var buffer = new byte[10];
            Assert.Equal(4, server.Read(buffer, 0, 10));
            server.ReadTimeout = 500;
            TcpException e = Assert.Throws<TcpException>(() => server.Read(buffer, 0, 10));
            Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

            // The timed-out read lost nothing and the stream still works.
            client.Write("more"u8.ToArray(), 0, 4);
            Assert.Equal(4, server.Read(buffer, 0, 10));
        }
        finally
        {
            stop.Cancel();
            driver.Join();
        }
    }
}
