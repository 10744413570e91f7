using System.Net.Sockets;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// One copy on the receive path through the whole stack: in-order data that finds a read waiting
/// goes straight into the read's buffer (<see cref="TcpCounter.BytesReadDirect"/>), the rest through
/// the receive ring (<see cref="TcpCounter.BytesReadFromRing"/>); every byte arrives once, in order,
/// whichever way it took, and whatever cancels or closes meanwhile.
/// </summary>
public class TcpDirectReadTests(ITestOutputHelper output)
{
    // Segments spaced in time (100 Mbit/s: one full frame every 120 us) with a reader that always
    // has its next read waiting when the next segment comes.
    private static readonly LinkOptions Paced = new() { Delay = TimeSpan.FromMilliseconds(1), RateBitsPerSecond = 100_000_000 };

    // A over the paced link connected to B:80; disposing it closes B's listener.
    private static Connection Connect(int seed)
    {
        var pair = new TcpStackPair(seed, Paced);
        TcpListener listener = pair.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = pair.Connect(listener);
        return new Connection(pair, client, server, listener);
    }

    [Fact]
    public void A_reader_that_always_waits_takes_every_byte_straight_from_the_segments()
    {
        using Connection c = Connect(seed: 11);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        byte[] data = TestData.Seeded(2_000_000, 11);
        Task send = pair.Sim.Start(async () =>
        {
            await TcpStackPair.SendAll(client, data);
            client.CompleteWrites();
        });
        (long bytes, byte[] sha) = pair.Run(() => TcpStackPair.ReceiveAll(server), TimeSpan.FromSeconds(60));
        pair.Sim.RunUntilCompleted(send, TimeSpan.FromSeconds(5));

        Assert.Equal(data.Length, bytes);
        Assert.Equal(SHA256.HashData(data), sha);
        TcpCounters b = pair.TcpB.Counters;
        output.WriteLine($"direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}");
        Assert.Equal(data.Length, b.BytesReadDirect);
        Assert.Equal(0, b.BytesReadFromRing);
    }

    [Fact]
    public void Data_that_arrives_before_any_read_is_read_from_the_ring()
    {
        using Connection c = Connect(seed: 12);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        byte[] data = TestData.Seeded(100_000, 12); // fits the 256 KiB receive buffer
        pair.Run(async () =>
        {
            await client.WriteAsync(data);
            client.CompleteWrites();
        });
        pair.Settle();
        Assert.Equal(0, pair.TcpB.Counters.BytesReadDirect + pair.TcpB.Counters.BytesReadFromRing);

        (long bytes, byte[] sha) = pair.Run(() => TcpStackPair.ReceiveAll(server));
        Assert.Equal(data.Length, bytes);
        Assert.Equal(SHA256.HashData(data), sha);
        Assert.Equal(0, pair.TcpB.Counters.BytesReadDirect);
        Assert.Equal(data.Length, pair.TcpB.Counters.BytesReadFromRing);
    }

    [Fact]
    public void A_reader_that_falls_behind_and_catches_up_mixes_both_paths_and_loses_nothing()
    {
        using Connection c = Connect(seed: 13);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        byte[] data = TestData.Seeded(1_500_000, 13);
        Task send = pair.Sim.Start(async () =>
        {
            await TcpStackPair.SendAll(client, data, chunk: 10_000);
            client.CompleteWrites();
        });

        // Small reads, and a pause of 5 ms after every 100 kB: data piles up in the ring, then the
        // reader drains it and waits again.
        var received = new MemoryStream();
        pair.Run(async () =>
        {
            var buffer = new byte[3000];
            long sincePause = 0;
            int n;
            while ((n = await server.ReadAsync(buffer)) > 0)
            {
                received.Write(buffer, 0, n);
                sincePause += n;
                if (sincePause >= 100_000)
                {
                    sincePause = 0;
                    await Task.Delay(TimeSpan.FromMilliseconds(5), pair.Sim.Clock);
                }
            }
        }, TimeSpan.FromSeconds(60));
        pair.Sim.RunUntilCompleted(send, TimeSpan.FromSeconds(5));

        Assert.Equal(data, received.ToArray());
        TcpCounters b = pair.TcpB.Counters;
        output.WriteLine($"direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}");
        Assert.True(b.BytesReadDirect > 0 && b.BytesReadFromRing > 0, $"direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}");
        Assert.Equal(data.Length, b.BytesReadDirect + b.BytesReadFromRing);
    }

    [Theory]
    [InlineData(0.02, 0.0, 1)]
    [InlineData(0.0, 0.10, 2)]
    [InlineData(0.05, 0.05, 3)]
    public void Transfers_with_loss_and_reordering_arrive_intact_through_both_paths(double loss, double reorder, int seed)
    {
        var link = new LinkOptions
        {
            Delay = TimeSpan.FromMilliseconds(5),
            RateBitsPerSecond = 200_000_000,
            Loss = loss,
            Reordering = reorder,
            ReorderDelay = TimeSpan.FromMilliseconds(3),
        };
        var pair = new TcpStackPair(seed, link);
        byte[] up = TestData.Seeded(600_000, seed);
        byte[] down = TestData.Seeded(400_000, seed + 100);
        pair.Transfer(up, down, TimeSpan.FromSeconds(300));
        TcpCounters a = pair.TcpA.Counters;
        TcpCounters b = pair.TcpB.Counters;
        output.WriteLine($"A: direct {a.BytesReadDirect}, ring {a.BytesReadFromRing}; B: direct {b.BytesReadDirect}, ring {b.BytesReadFromRing}; out of order {a.OutOfOrderQueued + b.OutOfOrderQueued}");
        Assert.Equal(up.Length, b.BytesReadDirect + b.BytesReadFromRing);
        Assert.Equal(down.Length, a.BytesReadDirect + a.BytesReadFromRing);
        Assert.True(b.BytesReadDirect > 0 && b.BytesReadFromRing > 0, "both paths used at B");
        Assert.True(a.OutOfOrderQueued + b.OutOfOrderQueued > 0, "holes were filled through the ring");
    }

    [Fact]
    public void A_read_cancelled_before_the_data_arrives_leaves_the_data_for_the_next_read()
    {
        using Connection c = Connect(seed: 14);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        using var cts = new CancellationTokenSource();
        var buffer = new byte[4096];
        Task<int> cancelled = pair.Sim.Start(async () => await server.ReadAsync(buffer, cts.Token));
        pair.Settle(); // the read waits on the loop, registered for direct delivery
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => pair.Sim.RunUntilCompleted(cancelled, TimeSpan.FromSeconds(1)));

        byte[] data = TestData.Seeded(1000, 14);
        pair.Run(async () => await client.WriteAsync(data));
        pair.Settle();
        Assert.All(buffer, b => Assert.Equal(0, b)); // the cancelled read's buffer was not written

        int n = pair.Run(async () => await server.ReadAsync(buffer));
        Assert.Equal(data, buffer[..n]);
        Assert.Equal(0, pair.TcpB.Counters.BytesReadDirect);
        Assert.Equal(1000, pair.TcpB.Counters.BytesReadFromRing);
    }

    [Fact]
    public void A_read_cancelled_after_the_data_went_into_it_returns_the_data()
    {
        using Connection c = Connect(seed: 15);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        using var cts = new CancellationTokenSource();
        var buffer = new byte[4096];
        ValueTask<int> read = default;
        pair.Run(() =>
        {
            read = server.ReadAsync(buffer, cts.Token);
            return Task.CompletedTask;
        });
        pair.Settle();
        byte[] data = TestData.Seeded(1000, 15);
        pair.Run(async () => await client.WriteAsync(data));

        // Poll B until the segment has gone straight into the read; cancel in the same instant,
        // before the read's continuation runs.
        pair.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromSeconds(1));
        cts.Cancel();
        Assert.True(read.IsCompletedSuccessfully);
        Assert.Equal(1000, Result(read));
        Assert.Equal(data, buffer[..1000]);
        Assert.Equal(1000, pair.TcpB.Counters.BytesReadDirect);
    }

    // The result of a read that completed (a local helper: the test itself never blocks on a task).
    private static int Result(ValueTask<int> read) => read.GetAwaiter().GetResult();

    [Fact]
    public void Disposing_the_stream_while_a_read_waits_fails_the_read_and_the_data_that_follows_resets_the_connection()
    {
        using Connection c = Connect(seed: 16);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        var buffer = new byte[4096];
        Task<int> read = pair.Sim.Start(async () => await server.ReadAsync(buffer));
        pair.Settle();
        server.Dispose();
        var e = Assert.Throws<TcpException>(() => pair.Sim.RunUntilCompleted(read, TimeSpan.FromSeconds(1)));
        Assert.Equal(SocketError.OperationAborted, e.SocketErrorCode);
        pair.Settle();

        // The peer may still send until it sees our FIN; data for a closed application is refused
        // (RST), and never written into the failed read's buffer.
        try
        {
            pair.Run(async () => await client.WriteAsync(TestData.Seeded(1000, 16)));
        }
        catch (TcpException)
        {
        }

        pair.Settle();
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, pair.TcpB.Counters.BytesReadDirect);
    }

    [Fact]
    public void A_zero_length_read_waits_for_data_and_leaves_it_in_the_ring()
    {
        using Connection c = Connect(seed: 17);
        (TcpStackPair pair, TcpStream client, TcpStream server) = c;
        Task<int> zero = pair.Sim.Start(async () => await server.ReadAsync(Memory<byte>.Empty));
        pair.Settle();
        Assert.False(zero.IsCompleted);
        byte[] data = TestData.Seeded(500, 17);
        pair.Run(async () => await client.WriteAsync(data));
        Assert.Equal(0, pair.Sim.RunUntilCompleted(zero, TimeSpan.FromSeconds(1)));

        var buffer = new byte[1000];
        int n = pair.Run(async () => await server.ReadAsync(buffer));
        Assert.Equal(data, buffer[..n]);
        Assert.Equal(0, pair.TcpB.Counters.BytesReadDirect);
        Assert.Equal(500, pair.TcpB.Counters.BytesReadFromRing);
    }

    private sealed record Connection(TcpStackPair Pair, TcpStream Client, TcpStream Server, TcpListener Listener) : IDisposable
    {
        public void Deconstruct(out TcpStackPair pair, out TcpStream client, out TcpStream server) => (pair, client, server) = (Pair, Client, Server);

        public void Dispose() => Listener.Dispose();
    }
}
