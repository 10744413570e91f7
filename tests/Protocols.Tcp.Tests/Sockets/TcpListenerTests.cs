using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Listeners: the accept queue and its overflow, the SYN queue and SYN cookies, accept cancellation and disposal.</summary>
public class TcpListenerTests
{
    private static IpAddress B => TcpStackPair.AddressB;
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public void A_full_accept_queue_drops_handshakes_counts_them_and_recovers_when_the_application_accepts()
    {
        var net = new TcpStackPair(seed: 41, Lan);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 2);
        var clients = new List<TcpStream>();
        Task<TcpStream>? fifth = null;
        net.Run(async () =>
        {
            // Four SYNs find room (the accept queue is empty); of the four completing ACKs, the last
            // two find the accept queue full and are dropped. The clients complete their handshakes
            // all the same (they got SYN-ACKs), as with Linux.
            clients.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)))));
            await Task.Delay(TimeSpan.FromMilliseconds(100), net.Sim.Clock);
            Assert.Equal(2, listener.PendingCount);
            Assert.Equal(2, net.TcpB.Counters.ListenOverflows);

            // While the queue stays full, a new SYN is dropped (Linux's tcp_conn_request).
            fifth = net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            await Task.Delay(TimeSpan.FromMilliseconds(100), net.Sim.Clock);
            Assert.False(fifth.IsCompleted);
        });

        Assert.Equal(3, net.TcpB.Counters.ListenOverflows);
        Assert.Equal(3, net.TcpB.Counters.ListenDrops);

        // Accepting makes room: the SYN-ACK retransmissions draw the clients' ACKs again, which now
        // fit, and the fifth client's SYN retransmission gets in.
        List<TcpStream> servers = net.Run(async () =>
        {
            var accepted = new List<TcpStream>();
            for (int i = 0; i < 5; i++)
            {
                accepted.Add(await listener.AcceptAsync());
            }

            clients.Add(await fifth!);
            return accepted;
        });
        Assert.Equal(
            clients.Select(c => c.LocalEndPoint).OrderBy(e => e.Port),
            servers.Select(s => s.RemoteEndPoint).OrderBy(e => e.Port));

        // And they work.
        byte[] got = net.Run(async () =>
        {
            await clients[3].WriteAsync("hi"u8.ToArray());
            TcpStream server = servers.Single(s => s.RemoteEndPoint == clients[3].LocalEndPoint);
            var buffer = new byte[2];
            await server.ReadExactlyAsync(buffer);
            return buffer;
        });
        Assert.Equal("hi"u8.ToArray(), got);
    }

    [Fact]
    public void A_full_SYN_queue_answers_with_SYN_cookies_and_the_connection_still_works()
    {
        var tcpB = new TcpStackOptions { Seed = 43, Name = "cookies-b", SynQueueLength = 3 };
        var net = new TcpStackPair(seed: 42, Lan, tcpB: tcpB);
        using TcpListener listener = net.TcpB.Listen(80);

        // A SYN flood from spoofed sources fills the SYN queue (their SYN-ACKs go nowhere).
        for (int i = 0; i < 10; i++)
        {
            IpAddress spoofed = Family.Host(100 + i);
            net.InjectTowardsB((ushort)(20000 + i), 80, new TcpOutgoingSegment { Seq = new SeqNum((uint)(i * 1000)), Flags = TcpFlags.Syn, Window = 65535, Options = new TcpOptions { Mss = 1460 } }, source: spoofed);
        }

        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(3, listener.SynQueueCount);
        Assert.Equal(7, net.TcpB.Counters.SynCookiesSent);

        // A legitimate client still connects, through a cookie, and data flows both ways.
        byte[] echoed = net.Run(async () =>
        {
            Task serve = TcpConnectionTests.EchoAsync(listener);
            using TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            Task<byte[]> read = TcpConnectionTests.ReadToEndAsync(client);
            await client.WriteAsync(new byte[100_000]);
            client.CompleteWrites();
            byte[] echoed = await read;
            await serve;
            return echoed;
        });

        Assert.Equal(100_000, echoed.Length);
        Assert.Equal(8, net.TcpB.Counters.SynCookiesSent);
        Assert.Equal(1, net.TcpB.Counters.SynCookiesReceived);
        Assert.Equal(0, net.TcpB.Counters.SynCookiesFailed);
    }

    [Fact]
    public void SynCookies_Always_serves_every_connection_by_cookie_and_forged_cookie_ACKs_get_a_RST()
    {
        var tcpB = new TcpStackOptions { Seed = 44, Name = "always-b", SynCookies = TcpSynCookieMode.Always };
        var net = new TcpStackPair(seed: 44, Lan, tcpB: tcpB, traceB: true);
        using TcpListener listener = net.TcpB.Listen(80);
        string reply = net.Run(async () =>
        {
            Task serve = TcpConnectionTests.EchoAsync(listener);
            using TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            await client.WriteAsync("cookie"u8.ToArray());
            client.CompleteWrites();
            byte[] got = await TcpConnectionTests.ReadToEndAsync(client);
            await serve;
            return System.Text.Encoding.ASCII.GetString(got);
        });
        Assert.Equal("cookie", reply);
        Assert.Equal(1, net.TcpB.Counters.SynCookiesSent);
        Assert.Equal(1, net.TcpB.Counters.SynCookiesReceived);
        Assert.Equal(0, listener.SynQueueCount);

        // An ACK with a made-up cookie: it fails validation and gets the LISTEN-state RST.
        net.Lines.Clear();
        net.InjectTowardsB(33333, 80, new TcpOutgoingSegment { Seq = new SeqNum(5001), Ack = new SeqNum(123456), Flags = TcpFlags.Ack, Window = 100 });
        net.Settle();
        Assert.Equal(1, net.TcpB.Counters.SynCookiesFailed);
        Assert.EndsWith("Flags [R], seq 123456, win 0, length 0", net.Lines[^1]);
    }

    [Fact]
    public void SynCookies_Never_drops_SYNs_that_find_the_SYN_queue_full()
    {
        var tcpB = new TcpStackOptions { Seed = 45, Name = "never-b", SynQueueLength = 1, SynCookies = TcpSynCookieMode.Never };
        var net = new TcpStackPair(seed: 45, Lan, tcpB: tcpB);
        using TcpListener listener = net.TcpB.Listen(80);
        net.InjectTowardsB(20000, 80, new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Syn, Window = 65535 }, source: Family.Host(99));
        net.InjectTowardsB(20001, 80, new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Syn, Window = 65535 }, source: Family.Host(98));
        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, listener.SynQueueCount);
        Assert.Equal(1, net.TcpB.Counters.ListenDrops);
        Assert.Equal(0, net.TcpB.Counters.SynCookiesSent);
    }

    [Fact]
    public void Half_open_connections_are_freed_after_the_SYN_ACK_retries()
    {
        var net = new TcpStackPair(seed: 46, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        net.InjectTowardsB(20000, 80, new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Syn, Window = 65535 }, source: Family.Host(99));
        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, listener.SynQueueCount);
        Assert.Equal(1, net.TcpB.ConnectionCount);

        // 5 retries with backoff from 1 s: 1+2+4+8+16+32 = 63 s.
        net.Sim.RunFor(TimeSpan.FromSeconds(70));
        Assert.Equal(0, listener.SynQueueCount);
        Assert.Equal(0, net.TcpB.ConnectionCount);
    }

    [Fact]
    public void Disposing_a_listener_resets_its_half_open_connections_in_arrival_order()
    {
        var net = new TcpStackPair(seed: 49, Lan, traceB: true);
        TcpListener listener = net.TcpB.Listen(80);
        for (int i = 0; i < 3; i++)
        {
            net.InjectTowardsB((ushort)(30000 + i), 80, new TcpOutgoingSegment { Seq = new SeqNum(100), Flags = TcpFlags.Syn, Window = 65535 }, source: Family.Host(77));
        }

        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(3, listener.SynQueueCount);
        net.Lines.Clear();
        listener.Dispose();
        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        string[] resets = net.Lines.Where(l => l.Contains("Flags [R", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, resets.Length);
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains($"{B}.80 > {Family.Host(77)}.{30000 + i}: Flags [R", resets[i]);
        }

        Assert.Equal(0, net.TcpB.ConnectionCount);
    }

    [Fact]
    public void Accept_can_be_cancelled_without_losing_a_connection()
    {
        var net = new TcpStackPair(seed: 47, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        using var cts = new CancellationTokenSource();
        (TcpStream client, TcpStream server) = net.Run(async () =>
        {
            Task<TcpStream> first = listener.AcceptAsync(cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(10), net.Sim.Clock);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
            TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            TcpStream server = await listener.AcceptAsync();
            return (client, server);
        });
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
    }

    [Fact]
    public void Disposing_a_listener_fails_waiting_accepts_and_resets_queued_connections()
    {
        var net = new TcpStackPair(seed: 48, Lan);
        TcpListener listener = net.TcpB.Listen(80);
        (TcpException read, TcpException refused) = net.Run(async () =>
        {
            TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            await Task.Delay(TimeSpan.FromMilliseconds(10), net.Sim.Clock);
            Assert.Equal(1, listener.PendingCount);
            listener.Dispose();
            TcpException read = await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[1]));
            TcpException refused = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)));
            return (read, refused);
        });
        Assert.Equal(SocketError.ConnectionReset, read.SocketErrorCode);
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Equal(0, net.TcpB.ListenerCount);

        TcpListener second = net.TcpB.Listen(81);
        TcpException pending = net.Run(async () =>
        {
            Task<TcpStream> waiting = second.AcceptAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(1), net.Sim.Clock);
            second.Dispose();
            return await Assert.ThrowsAsync<TcpException>(() => waiting);
        });
        Assert.Equal(SocketError.OperationAborted, pending.SocketErrorCode);
    }
}
