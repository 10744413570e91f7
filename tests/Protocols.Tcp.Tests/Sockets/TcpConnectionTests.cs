using System.Net.Sockets;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Connections between two stacks through the layer: open, echo, refuse, reset, time out, half-close, the table and the counters.</summary>
public class TcpConnectionTests
{
    private static IpAddress A => TcpStackPair.AddressA;

    private static IpAddress B => TcpStackPair.AddressB;
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    internal static async Task<byte[]> ReadToEndAsync(Stream stream, int bufferSize = 4096)
    {
        var all = new MemoryStream();
        var buffer = new byte[bufferSize];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    internal static async Task EchoAsync(TcpListener listener)
    {
        using TcpStream s = await listener.AcceptAsync();
        var buffer = new byte[3000];
        int n;
        while ((n = await s.ReadAsync(buffer)) > 0)
        {
            await s.WriteAsync(buffer.AsMemory(0, n));
        }

        s.CompleteWrites();
    }

    [Fact]
    public void Connect_accept_and_echo_100_KB_with_endpoints_states_and_counters()
    {
        var net = new TcpStackPair(seed: 21, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        byte[] data = RandomNumberGenerator.GetBytes(100_000);
        (byte[] echoed, IpEndpoint local, IpEndpoint remote, TcpState state) = net.Run(async () =>
        {
            Task serve = EchoAsync(listener);
            using TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            TcpState state = client.State;
            Task<byte[]> read = ReadToEndAsync(client);
            await client.WriteAsync(data);
            client.CompleteWrites();
            byte[] echoed = await read;
            await serve;
            return (echoed, client.LocalEndPoint, client.RemoteEndPoint, state);
        });

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(echoed));
        Assert.Equal(TcpState.Established, state);
        Assert.Equal(A, local.Address);
        Assert.InRange(local.Port, (ushort)32768, (ushort)60999);
        Assert.Equal(new IpEndpoint(B, 80), remote);
        Assert.Equal(1, net.TcpA.Counters.ActiveOpens);
        Assert.Equal(1, net.TcpB.Counters.PassiveOpens);
        Assert.Equal(0, net.TcpA.Counters.BadSegments + net.TcpB.Counters.BadSegments);
        Assert.True(net.TcpA.Counters.SegmentsSent > 70, $"{net.TcpA.Counters.SegmentsSent} segments sent");

        // Both closed (B first: its FIN came after A's, so A... whichever closed first sits in TIME_WAIT); after 2 MSL nothing is left.
        net.Sim.RunFor(TimeSpan.FromSeconds(61));
        net.Settle();
        Assert.Equal(0, net.TcpA.ConnectionCount);
        Assert.Equal(0, net.TcpB.ConnectionCount);
    }

    [Fact]
    public void A_SYN_to_a_port_nobody_listens_on_fails_with_ConnectionRefused()
    {
        var net = new TcpStackPair(seed: 22, Lan);
        TcpException e = net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 9))));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        Assert.Equal(1, net.TcpB.Counters.ResetsSent);
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void ICMP_protocol_unreachable_in_answer_to_the_SYN_fails_the_connect_with_ConnectionRefused()
    {
        // B has no TCP at all: its IP answers the SYN with ICMP protocol unreachable (RFC 1122
        // 3.2.2.1), a hard error in SYN-SENT (RFC 1122 4.2.3.9, as Linux).
        var net = new TcpStackPair(seed: 33, Lan, tcpOnB: false);
        TcpException e = net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80))));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(1, net.TcpA.Counters[TcpCounter.IcmpErrors]);
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void ICMP_errors_reach_the_connection_they_quote_but_forged_sequence_numbers_are_ignored_RFC_5927()
    {
        var net = new TcpStackPair(seed: 35, Lan, traceB: true);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        IpAddress router = Family.Host(254);

        // RFC 1191: a router on the path has an MTU of 1000.
        net.InjectIcmpErrorTowardsA(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, 1000, client.LocalEndPoint, client.RemoteEndPoint, router);

        // RFC 5927 / RFC 1122 4.2.3.9: host unreachable on an established connection is a soft error.
        net.InjectIcmpErrorTowardsA(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, 0, client.LocalEndPoint, client.RemoteEndPoint, router);

        // An error quoting a connection that does not exist is ignored.
        net.InjectIcmpErrorTowardsA(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, 0, new IpEndpoint(A, 1), client.RemoteEndPoint, router);
        net.Settle();
        // RFC 5927 4.1: both quote seq 1, not in [SND.UNA, SND.NXT) (nothing is in flight), so both are ignored
        // (the in-window cases are in Scripted/IcmpTests).
        Assert.Equal(0, net.TcpA.Counters[TcpCounter.IcmpErrors]);
        Assert.Equal(2, net.TcpA.Counters[TcpCounter.IcmpErrorsIgnored]);
        Assert.Equal(TcpState.Established, client.State);

        net.Lines.Clear();
        byte[] got = net.Run(async () =>
        {
            await client.WriteAsync(new byte[20_000]);
            client.CompleteWrites();
            return await ReadToEndAsync(server);
        });
        Assert.Equal(20_000, got.Length);
        int largest = net.Lines.Where(l => l.Contains(" In ", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.LastIndexOf("length ", StringComparison.Ordinal) + 7)..], System.Globalization.CultureInfo.InvariantCulture)).Max();
        Assert.Equal(1500 - Family.Headers - 12, largest); // the MSS was not lowered
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void A_new_SYN_for_a_4_tuple_in_TIME_WAIT_opens_a_new_connection_RFC_6191()
    {
        var net = new TcpStackPair(seed: 37, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        var local = new IpEndpoint(A, 40123);
        TcpStream again = net.Run(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80), null, local);
            TcpStream server = await accept;

            // The server closes first: the server side keeps the 4-tuple in TIME_WAIT.
            server.Dispose();
            Assert.Equal(0, await client.ReadAsync(new byte[1]));
            client.Dispose();
            await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
            Assert.Equal(TcpState.TimeWait, net.TcpB.GetConnections().Single(r => r.State != TcpState.Listen).State);
            Assert.Equal(0, net.TcpA.ConnectionCount);

            // Same 4-tuple, a newer ISN and timestamp: TIME_WAIT gives way.
            accept = listener.AcceptAsync();
            TcpStream again = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80), null, local);
            TcpStream second = await accept;
            await again.WriteAsync("again"u8.ToArray());
            var buffer = new byte[5];
            await second.ReadExactlyAsync(buffer);
            Assert.Equal("again"u8.ToArray(), buffer);
            return again;
        });

        Assert.Equal(local, again.LocalEndPoint);
        Assert.Equal(1, net.TcpB.Counters.TimeWaitRecycled);
    }

    [Fact]
    public void Segments_fit_the_sending_interface_even_when_the_peer_announces_a_larger_MSS()
    {
        // A's interface has a small MTU (576, or IPv6's 1280 minimum), B announces 1460 (1440): A's segments must still fit it
        // (RFC 9293 3.7.1: Eff.snd.MSS is bounded by what the interface can send; with DF set, a
        // datagram IP refuses as too big lowers the MSS like an ICMP fragmentation-needed would).
        var net = new TcpStackPair(seed: 38, Lan, interfaceMtuA: Family.SmallMtu, traceB: true);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        byte[] got = net.Run(async () =>
        {
            await client.WriteAsync(new byte[30_000]);
            client.CompleteWrites();
            return await ReadToEndAsync(server);
        });
        Assert.Equal(30_000, got.Length);
        int largest = net.Lines.Where(l => l.Contains(" In ", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.LastIndexOf("length ", StringComparison.Ordinal) + 7)..], System.Globalization.CultureInfo.InvariantCulture)).Max();
        Assert.InRange(largest, 400, Family.SmallMtu - Family.Headers);
        Assert.Equal(0, net.A.Counters.Snapshot().FragmentsSent + net.A.Counters.Snapshot().Ipv6.FragmentsSent);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void The_segment_trace_shows_each_segment_with_the_state_after_it()
    {
        var lines = new List<string>();
        var tcpA = new TcpStackOptions { Seed = 39, Name = "trace-a", SegmentTrace = lines.Add };
        var net = new TcpStackPair(seed: 39, Lan, tcpA: tcpA);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        string a = System.Text.RegularExpressions.Regex.Escape(client.LocalEndPoint.ToString());
        string b = System.Text.RegularExpressions.Regex.Escape(new IpEndpoint(B, 80).ToString());
        Assert.Equal(3, lines.Count);
        Assert.Matches($@"^00:00:00\.\d{{6}} tcp {a} > {b} out \[S\] seq \d+ ack 0 win 65535 len 0 SynSent$", lines[0]);
        // The engine reports a received segment before what it sends in answer, with the state they go out in.
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"tcp {b} > {a} in \[S\.\] seq \d+ ack \d+ win \d+ len 0 Established$"));
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"tcp {a} > {b} out \[\.\] .* len 0 Established$"));
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void A_stack_connects_to_its_own_address()
    {
        var net = new TcpStackPair(seed: 34, Lan);
        using TcpListener listener = net.TcpA.Listen(80);
        byte[] echoed = net.Run(async () =>
        {
            Task serve = EchoAsync(listener);
            using TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(A, 80));
            await client.WriteAsync(new byte[70_000]);
            client.CompleteWrites();
            byte[] echoed = await ReadToEndAsync(client);
            await serve;
            return echoed;
        });
        Assert.Equal(70_000, echoed.Length);
        Assert.Equal(0, net.Link.AToB.Statistics.Sent);
    }

    [Fact]
    public void Connecting_without_a_route_fails_with_NetworkUnreachable()
    {
        var net = new TcpStackPair(seed: 23);
        TcpException e = net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(IpEndpoint.Parse("192.0.2.1:80"))));
        Assert.Equal(SocketError.NetworkUnreachable, e.SocketErrorCode);
    }

    [Fact]
    public void Abort_resets_the_peer_whose_reads_and_writes_then_fail_with_ConnectionReset()
    {
        var net = new TcpStackPair(seed: 24, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        (TcpException read, TcpException write) = net.Run(async () =>
        {
            server.Abort();
            TcpException read = await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[10]));
            TcpException write = await Assert.ThrowsAsync<TcpException>(async () => await client.WriteAsync(new byte[10]));
            return (read, write);
        });

        Assert.Equal(SocketError.ConnectionReset, read.SocketErrorCode);
        Assert.Equal(SocketError.ConnectionReset, write.SocketErrorCode);
        Assert.Equal(SocketError.ConnectionAborted, net.Run(() => Assert.ThrowsAsync<TcpException>(async () => _ = await server.ReadAsync(new byte[1]))).SocketErrorCode);
        Assert.Equal(1, net.TcpA.Counters.ResetsReceived);
        net.Settle();
        Assert.Equal(0, net.TcpA.ConnectionCount + net.TcpB.ConnectionCount);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void A_peer_that_vanishes_makes_the_connection_time_out()
    {
        var net = new TcpStackPair(seed: 25, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener, TcpConnectionOptions.Default with { MaxRetransmissions = 4 });
        net.Link.AToB.Options = Lan with { Loss = 1 };
        net.Link.BToA.Options = Lan with { Loss = 1 };
        TcpException e = net.Run(
            async () =>
            {
                await client.WriteAsync(new byte[100]);
                return await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[10]));
            },
            TimeSpan.FromMinutes(10));
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.True(net.TcpA.Counters.SegmentsRetransmitted >= 4);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void Keepalive_ends_an_idle_connection_to_a_vanished_peer_with_TimedOut()
    {
        var net = new TcpStackPair(seed: 40, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        var options = TcpConnectionOptions.Default with { KeepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(10), Interval = TimeSpan.FromSeconds(1), ProbeCount = 3 } };
        (TcpStream client, TcpStream server) = net.Connect(listener, options);
        net.Link.AToB.Options = Lan with { Loss = 1 };
        net.Link.BToA.Options = Lan with { Loss = 1 };
        (TcpException e, TimeSpan took) = net.Run(
            async () =>
            {
                DateTimeOffset start = net.Sim.Now;
                TcpException e = await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[1]));
                return (e, net.Sim.Now - start);
            },
            TimeSpan.FromMinutes(1));
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.InRange(took, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(15));
        Assert.Equal(1, net.TcpA.Counters.KeepAliveTimeouts);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void A_SYN_nobody_answers_times_out_after_the_SYN_retries()
    {
        var net = new TcpStackPair(seed: 26, Lan);
        net.Link.AToB.Options = Lan with { Loss = 1 };
        var options = TcpConnectionOptions.Default with { SynRetries = 2, ConnectTimeout = null };
        (TcpException e, TimeSpan took) = net.Run(
            async () =>
            {
                DateTimeOffset start = net.Sim.Now;
                TcpException e = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80), options, null));
                return (e, net.Sim.Now - start);
            },
            TimeSpan.FromMinutes(5));
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

        // RFC 6298 5.7 / Linux: initial RTO 1 s, doubled: SYN at 0, retries at 1 and 3 s, give up at 7 s.
        Assert.InRange(took, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(8));
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void ConnectTimeout_bounds_the_attempt_in_time()
    {
        var net = new TcpStackPair(seed: 27, Lan);
        net.Link.AToB.Options = Lan with { Loss = 1 };
        var options = TcpConnectionOptions.Default with { ConnectTimeout = TimeSpan.FromSeconds(2) };
        (TcpException e, TimeSpan took) = net.Run(async () =>
        {
            DateTimeOffset start = net.Sim.Now;
            TcpException e = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80), options, null));
            return (e, net.Sim.Now - start);
        });
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(2), took);
        net.Settle();
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void Cancelling_a_connect_drops_the_half_open_connection()
    {
        var net = new TcpStackPair(seed: 28, Lan);
        net.Link.AToB.Options = Lan with { Loss = 1 };
        using var cts = new CancellationTokenSource();
        Task<TcpStream> connect = null!;
        net.Run(async () =>
        {
            connect = net.TcpA.ConnectAsync(new IpEndpoint(B, 80), cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(500), net.Sim.Clock);
            Assert.Equal(1, net.TcpA.ConnectionCount);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect);
        });
        net.Settle();
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void Half_close_from_the_client_the_server_keeps_sending()
    {
        var net = new TcpStackPair(seed: 29, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        (byte[] atServer, byte[] atClient, TcpState serverState) = net.Run(async () =>
        {
            await client.WriteAsync("request"u8.ToArray());
            client.CompleteWrites();
            byte[] atServer = await ReadToEndAsync(server); // 0 = the client's FIN
            TcpState serverState = server.State;

            // The server's direction is still open: a long answer after the FIN.
            await server.WriteAsync(new byte[50_000]);
            await server.WriteAsync("end"u8.ToArray());
            server.CompleteWrites();
            byte[] atClient = await ReadToEndAsync(client);
            return (atServer, atClient, serverState);
        });

        Assert.Equal("request"u8.ToArray(), atServer);
        Assert.Equal(TcpState.CloseWait, serverState);
        Assert.Equal(50_003, atClient.Length);
        Assert.Equal("end"u8.ToArray(), atClient[^3..]);

        // A write after CompleteWrites fails with Shutdown.
        Assert.Equal(SocketError.Shutdown, net.Run(() => Assert.ThrowsAsync<TcpException>(async () => await client.WriteAsync(new byte[1]))).SocketErrorCode);
        client.Dispose();
        server.Dispose();
        net.Sim.RunFor(TimeSpan.FromSeconds(61));
        Assert.Equal(0, net.TcpA.ConnectionCount + net.TcpB.ConnectionCount);
    }

    [Fact]
    public void Half_close_from_the_server_the_client_keeps_sending()
    {
        var net = new TcpStackPair(seed: 30, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        (byte[] atClient, byte[] atServer) = net.Run(async () =>
        {
            await server.WriteAsync("banner"u8.ToArray());
            server.CompleteWrites();
            byte[] atClient = await ReadToEndAsync(client);
            await client.WriteAsync(new byte[20_000]);
            client.CompleteWrites();
            byte[] atServer = await ReadToEndAsync(server);
            return (atClient, atServer);
        });

        Assert.Equal("banner"u8.ToArray(), atClient);
        Assert.Equal(20_000, atServer.Length);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void The_connection_table_lists_listeners_and_connections_like_ss()
    {
        var net = new TcpStackPair(seed: 31, Lan);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 16);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        net.Run(async () =>
        {
            await client.WriteAsync(new byte[1000]);
            await Task.Delay(TimeSpan.FromMilliseconds(100), net.Sim.Clock);
        });

        IReadOnlyList<TcpConnectionInfo> atB = net.TcpB.GetConnections();
        Assert.Equal(2, atB.Count);
        Assert.Equal(TcpState.Listen, atB[0].State);
        Assert.Equal(new IpEndpoint(IpAddress.Ipv6Any, 80), atB[0].Local);
        Assert.Equal(16, atB[0].SendQueue);
        TcpConnectionInfo row = atB[1];
        Assert.Equal(TcpState.Established, row.State);
        Assert.Equal(new IpEndpoint(B, 80), row.Local);
        Assert.Equal(client.LocalEndPoint, row.Remote);
        Assert.Equal(1000, row.ReceiveQueue);
        Assert.StartsWith($"ESTAB 1000 0 {new IpEndpoint(B, 80)} {(Family.Ipv6 ? "[" + A + "]" : A)}:", row.ToString());

        IReadOnlyList<TcpConnectionInfo> atA = net.Run(() => net.TcpA.GetConnectionsAsync());
        TcpConnectionInfo mine = Assert.Single(atA);
        Assert.Equal(client.LocalEndPoint, mine.Local);
        Assert.Equal(1000, mine.BytesSent);
        Assert.Equal(1500 - Family.Headers - 12, mine.Mss); // the route's MTU - 40 (60 over IPv6), less 12 bytes of timestamps per segment, as ss shows it
        Assert.Equal(mine, client.GetInfo() with { ActiveTimerRemaining = mine.ActiveTimerRemaining });
        Assert.Equal(1, net.TcpA.Counters.CurrentEstablished);
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void The_MSS_follows_the_interface_MTU()
    {
        var net = new TcpStackPair(seed: 32, Lan, mtu: Family.SmallMtu);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        byte[] got = net.Run(async () =>
        {
            await client.WriteAsync(new byte[10_000]);
            client.CompleteWrites();
            return await ReadToEndAsync(server);
        });
        Assert.Equal(10_000, got.Length);
        Assert.Equal(Family.SmallMtu - Family.Headers - 12, client.GetInfo().Mss);
        Assert.Equal(0, net.Link.AToB.Statistics.MtuDrops);
        client.Dispose();
        server.Dispose();
    }
}
