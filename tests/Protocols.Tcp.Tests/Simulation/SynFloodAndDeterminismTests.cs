using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Tests.Scripted;
using Protocols.Tcp.Tests.Sockets;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>A SYN flood from random spoofed sources while real clients connect; same seed, same run.</summary>
public class SynFloodAndDeterminismTests(ITestOutputHelper output)
{
    [Fact]
    public void Legitimate_clients_connect_and_exchange_data_through_a_syn_flood()
    {
        var sim = new NetworkSimulator(seed: 7);
        var link = new LinkOptions { Delay = TimeSpan.FromMilliseconds(5) };
        var pair = new TcpStackPair(sim, link, tcpB: new TcpStackOptions { Seed = 99, Name = "b", SynQueueLength = 64, SynCookies = TcpSynCookieMode.Auto });
        TcpListener listener = pair.TcpB.Listen(80, 64);

        // The echo server: accepts forever, echoes each connection until FIN.
        int served = 0;
        sim.Start(async () =>
        {
            while (true)
            {
                TcpStream s = await listener.AcceptAsync(CancellationToken.None);
                _ = sim.Start(async () =>
                {
                    using (s)
                    {
                        var buffer = new byte[4096];
                        int n;
                        while ((n = await s.ReadAsync(buffer)) > 0)
                        {
                            await s.WriteAsync(buffer.AsMemory(0, n));
                        }

                        s.CompleteWrites();
                        served++;
                    }
                });
            }
        });

        // The flood: 2000 SYNs per second for 10 s, from random 10.0.0.3-254 (2001:db8::3-fe) addresses and ports,
        // injected on A's end of the wire (the SYN-ACKs go to addresses nobody owns).
        var random = new Random(11);
        long flooded = 0;
        TimeSpan interval = TimeSpan.FromMicroseconds(500);
        DateTimeOffset next = sim.Now;
        DateTimeOffset end = sim.Now + TimeSpan.FromSeconds(10);
        sim.Register(
            () =>
            {
                int sent = 0;
                while (next <= sim.Now && next < end)
                {
                    IpAddress source = Family.Host(random.Next(3, 255));
                    byte[] syn = ScriptedPeer.BuildSegment(source, TcpStackPair.AddressB, (ushort)random.Next(1024, 65535), 80, TcpFlags.Syn, (uint)random.Next(), options: ScriptedPeer.Options(mss: 1460));
                    pair.Link.A.TrySend(TcpStackPair.Packet(source, TcpStackPair.AddressB, syn));
                    flooded++;
                    sent++;
                    next += interval;
                }

                return sent;
            },
            () => next < end ? next : null);

        // 20 real clients, one every 500 ms, each sends 10 KiB and checks the echo.
        var clients = new List<Task<bool>>();
        for (int i = 0; i < 20; i++)
        {
            int index = i;
            clients.Add(sim.Start(async () =>
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 + (500 * index)), sim.Clock);
                using TcpStream c = await pair.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80), CancellationToken.None);
                byte[] data = TestData.Seeded(10 * 1024, index);
                Task send = TcpStackPair.SendAll(c, data);
                (long bytes, byte[] sha) = await TcpStackPair.ReceiveAll(c);
                await send;
                return bytes == data.Length && sha.AsSpan().SequenceEqual(SHA256.HashData(data));
            }));
        }

        Task<bool[]> all = Task.WhenAll(clients);
        TimeSpan took = sim.RunUntil(() => all.IsCompleted, TimeSpan.FromSeconds(60));
        Assert.All(sim.RunUntilCompleted(all, TimeSpan.Zero), Assert.True);
        TcpCounters b = pair.TcpB.Counters;
        output.WriteLine($"{flooded} spoofed SYNs; 20 clients served in {took.TotalSeconds:0.000} s virtual; server: cookies sent {b.SynCookiesSent}, received {b.SynCookiesReceived}, failed {b.SynCookiesFailed}, listen overflows {b.ListenOverflows}, drops {b.ListenDrops}");
        Assert.True(flooded >= 19_000);
        Assert.True(b.SynCookiesSent > 1000, "the full SYN queue must switch the listener to cookies");
        Assert.True(pair.TcpB.GetConnections().Count(c => c.State == TcpState.SynReceived) <= 64, "the SYN queue is bounded");
        Assert.Equal(20, served);
    }

    [Fact]
    public void The_same_seed_gives_the_same_trace_and_another_seed_another()
    {
        ulong Run(int seed) => NetworkSimulator.VerifyDeterminism(seed, sim =>
        {
            var link = new LinkOptions { Delay = TimeSpan.FromMilliseconds(10), Loss = 0.05, Reordering = 0.05, ReorderDelay = TimeSpan.FromMilliseconds(3), Duplication = 0.02 };
            var pair = new TcpStackPair(sim, link);
            Task<TransferResult> transfer = pair.StartTransfer(TestData.Seeded(256 * 1024, 1), TestData.Seeded(128 * 1024, 2));
            sim.RunUntil(() => transfer.IsCompleted, TimeSpan.FromSeconds(120));
            sim.RunUntilCompleted(transfer, TimeSpan.Zero);
            sim.Trace(pair.TcpA.Counters.ToString() ?? "");
            sim.Trace(pair.TcpB.Counters.ToString() ?? "");
        });

        ulong first = Run(1);
        ulong second = Run(2);
        output.WriteLine($"seed 1: {first:x16}, seed 2: {second:x16}");
        Assert.NotEqual(first, second);
    }
}
