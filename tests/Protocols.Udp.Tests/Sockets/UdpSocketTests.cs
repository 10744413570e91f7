using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

public class UdpSocketTests
{
    private static IpAddress A => UdpSimulation.AddressA;

    private static IpAddress B => UdpSimulation.AddressB;

    /// <summary>The family's broadcast: 255.255.255.255, or the all-nodes group ff02::1 (IPv6 has no broadcast).</summary>
    private static IpAddress Broadcast => Family.Ipv6 ? Ipv6Address.AllNodes : Ipv4Address.Broadcast;

    /// <summary>Destination unreachable errors (ICMP or ICMPv6) a stack sent.</summary>
    private static long UnreachablesSent(NetworkStack stack) => Family.Ipv6
        ? stack.Counters.Snapshot().Icmpv6OutOf(Icmpv6Type.DestinationUnreachable)
        : stack.Counters.Snapshot().IcmpOutOf(IcmpType.DestinationUnreachable);

    [Fact]
    public void Datagrams_flow_both_ways_between_two_stacks()
    {
        var net = new UdpSimulation(seed: 1);
        using var server = UdpSocket.Bind(net.B, 7);
        using var client = UdpSocket.Bind(net.A);
        Assert.InRange(client.LocalEndpoint.Port, (ushort)32768, (ushort)60999);
        Assert.Equal(IpAddress.Ipv6Any, client.LocalEndpoint.Address);
        Assert.True(client.DualStack);

        (UdpReceiveResult atServer, byte[] request, UdpReceiveResult atClient, byte[] reply) = net.Run(async () =>
        {
            await client.SendToAsync("ping"u8.ToArray(), new IpEndpoint(B, 7));
            var buffer = new byte[100];
            UdpReceiveResult r1 = await server.ReceiveFromAsync(buffer);
            byte[] got = buffer[..r1.BytesReceived];
            await server.SendToAsync("pong!"u8.ToArray(), r1.RemoteEndpoint);
            var buffer2 = new byte[100];
            UdpReceiveResult r2 = await client.ReceiveFromAsync(buffer2);
            return (r1, got, r2, buffer2[..r2.BytesReceived]);
        });

        Assert.Equal("ping"u8.ToArray(), request);
        Assert.Equal(new IpEndpoint(A, client.LocalEndpoint.Port), atServer.RemoteEndpoint);
        Assert.Equal(B, atServer.LocalAddress);
        Assert.False(atServer.Truncated);
        Assert.Equal("pong!"u8.ToArray(), reply);
        Assert.Equal(new IpEndpoint(B, 7), atClient.RemoteEndpoint);

        UdpCountersSnapshot a = net.UdpA.Counters.Snapshot(), b = net.UdpB.Counters.Snapshot();
        Assert.Equal((1, 1), (a.DatagramsSent, a.DatagramsReceived));
        Assert.Equal((1, 1), (b.DatagramsSent, b.DatagramsReceived));
        Assert.Equal(0, a.InErrors + b.InErrors + a.NoPorts + b.NoPorts);
    }

    [Fact]
    public void Datagrams_that_arrive_before_the_receive_wait_in_order()
    {
        var net = new UdpSimulation(seed: 2);
        using var server = UdpSocket.Bind(net.B, 9000);
        using var client = UdpSocket.Connect(net.A, new IpEndpoint(B, 9000));
        net.Run(async () =>
        {
            for (byte i = 0; i < 5; i++)
            {
                await client.SendAsync(new byte[] { i, i, i });
            }
        });
        net.Settle();

        byte[] order = net.Run(async () =>
        {
            var seen = new byte[5];
            var buffer = new byte[10];
            for (int i = 0; i < 5; i++)
            {
                UdpReceiveResult r = await server.ReceiveFromAsync(buffer);
                Assert.Equal(3, r.BytesReceived);
                seen[i] = buffer[0];
            }

            return seen;
        });
        Assert.Equal([0, 1, 2, 3, 4], order);
    }

    [Fact]
    public void A_short_buffer_truncates_and_says_so()
    {
        var net = new UdpSimulation(seed: 3);
        using var server = UdpSocket.Bind(net.B, 9000);
        using var client = UdpSocket.Bind(net.A);
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync(new byte[] { 1, 2, 3, 4, 5, 6 }, new IpEndpoint(B, 9000));
            return await server.ReceiveFromAsync(new byte[4]);
        });
        Assert.Equal(4, r.BytesReceived);
        Assert.Equal(6, r.DatagramLength);
        Assert.True(r.Truncated);
    }

    [Fact]
    public void Ephemeral_ports_are_allocated_without_collisions_until_the_range_is_exhausted()
    {
        var net = new UdpSimulation(seed: 4);
        var sockets = new List<UdpSocket>(28232);
        var ports = new HashSet<ushort>();
        for (int i = 0; i < 28232; i++)
        {
            UdpSocket s = UdpSocket.Bind(net.A);
            Assert.True(ports.Add(s.LocalEndpoint.Port), $"port {s.LocalEndpoint.Port} twice");
            sockets.Add(s);
        }

        Assert.Equal(28232, ports.Count);
        Assert.Equal(32768, ports.Min());
        Assert.Equal(60999, ports.Max());
        UdpException e = Assert.Throws<UdpException>(() => UdpSocket.Bind(net.A));
        Assert.Equal(SocketError.AddressNotAvailable, e.SocketErrorCode);
        Assert.Equal(SocketError.AddressNotAvailable, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);

        ushort freed = sockets[1234].LocalEndpoint.Port;
        sockets[1234].Dispose();
        using UdpSocket again = UdpSocket.Bind(net.A);
        Assert.Equal(freed, again.LocalEndpoint.Port);

        foreach (UdpSocket s in sockets)
        {
            s.Dispose();
        }

        Assert.Equal(1, net.UdpA.SocketCount);
    }

    [Fact]
    public void Binding_a_port_in_use_fails_with_address_in_use()
    {
        var net = new UdpSimulation(seed: 5);
        using var first = UdpSocket.Bind(net.B, 53);
        UdpException e = Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, 53));
        Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, new IpEndpoint(B, 53))).SocketErrorCode);

        // Another stack's port space is its own.
        using var elsewhere = UdpSocket.Bind(net.A, 53);

        // A specific address that is not the stack's cannot be bound.
        Assert.Equal(SocketError.AddressNotAvailable, Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, new IpEndpoint(A, 54))).SocketErrorCode);

        // A specific address first blocks the wildcard.
        using var specific = UdpSocket.Bind(net.B, new IpEndpoint(B, 55));
        Assert.Equal(B, specific.LocalEndpoint.Address);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, 55)).SocketErrorCode);
    }

    [Fact]
    public void A_socket_bound_to_a_specific_address_sends_from_it_and_receives()
    {
        var net = new UdpSimulation(seed: 6);
        using var server = UdpSocket.Bind(net.B, new IpEndpoint(B, 700));
        using var client = UdpSocket.Bind(net.A, new IpEndpoint(A, 0));
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync(new byte[] { 9 }, new IpEndpoint(B, 700));
            return await server.ReceiveFromAsync(new byte[4]);
        });
        Assert.Equal(new IpEndpoint(A, client.LocalEndpoint.Port), r.RemoteEndpoint);
    }

    [Fact]
    public void A_connected_socket_takes_only_its_peers_datagrams()
    {
        var net = new UdpSimulation(seed: 7);
        using var server = UdpSocket.Bind(net.B, 5000);
        using var peer = UdpSocket.Bind(net.A, 1111);
        using var stranger = UdpSocket.Bind(net.A, 2222, new UdpSocketOptions { ReceiveIcmpErrors = true });
        server.Connect(new IpEndpoint(A, 1111));
        Assert.Equal(new IpEndpoint(A, 1111), server.RemoteEndpoint);

        (UdpReceiveResult got, byte[] data) = net.Run(async () =>
        {
            await stranger.SendToAsync("not for you"u8.ToArray(), new IpEndpoint(B, 5000));
            await peer.SendToAsync("for you"u8.ToArray(), new IpEndpoint(B, 5000));
            var buffer = new byte[64];
            UdpReceiveResult r = await server.ReceiveFromAsync(buffer);
            return (r, buffer[..r.BytesReceived]);
        });
        net.Settle();

        Assert.Equal("for you"u8.ToArray(), data);
        Assert.Equal(new IpEndpoint(A, 1111), got.RemoteEndpoint);
        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(1, b.DatagramsReceived);
        Assert.Equal(1, b.NoPorts); // the stranger's datagram found no socket that takes it...
        Assert.Equal(1, UnreachablesSent(net.B)); // ...and drew port unreachable

        // The stranger (IP_RECVERR-like option) sees the refusal.
        UdpException e = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await stranger.ReceiveFromAsync(new byte[8])));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(new IpEndpoint(B, 5000), e.RemoteEndpoint);
        Assert.Equal(B, e.ReportedBy);

        // Disconnected, the server takes datagrams from anyone again.
        server.Disconnect();
        Assert.Null(server.RemoteEndpoint);
        UdpReceiveResult later = net.Run(async () =>
        {
            await stranger.SendToAsync("now ok"u8.ToArray(), new IpEndpoint(B, 5000));
            return await server.ReceiveFromAsync(new byte[64]);
        });
        Assert.Equal(new IpEndpoint(A, 2222), later.RemoteEndpoint);
    }

    [Fact]
    public void Port_unreachable_is_sent_for_an_unbound_port_and_a_connected_sender_sees_connection_refused()
    {
        var net = new UdpSimulation(seed: 8);
        using var client = UdpSocket.Connect(net.A, new IpEndpoint(B, 4444));
        Task<UdpReceiveResult> pending = net.Sim.Start(async () => await client.ReceiveFromAsync(new byte[16]));
        net.Run(async () => await client.SendAsync("anyone?"u8.ToArray()));
        net.Sim.RunUntil(() => pending.IsCompleted, UdpSimulation.Limit);

        UdpException e = Assert.Throws<UdpException>(() => pending.GetAwaiter().GetResult());
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        Assert.Equal(new IpEndpoint(B, 4444), e.RemoteEndpoint);
        Assert.Equal(1, net.UdpB.Counters.Snapshot().NoPorts);
        Assert.Equal(1, UnreachablesSent(net.B));
        Assert.Equal(1, net.UdpA.Counters.Snapshot().IcmpErrorsReceived);

        // The error is reported once; the socket keeps working (a send now goes out again).
        net.Run(async () => await client.SendAsync("again"u8.ToArray()));
        Assert.Equal(2, net.UdpA.Counters.Snapshot().DatagramsSent);
    }

    [Fact]
    public void A_refusal_that_arrives_with_no_receive_waiting_fails_the_next_send_or_receive()
    {
        var net = new UdpSimulation(seed: 9);
        using var client = UdpSocket.Connect(net.A, new IpEndpoint(B, 4444));
        net.Run(async () => await client.SendAsync("x"u8.ToArray()));
        net.Settle();
        Assert.Equal(1, net.UdpA.Counters.Snapshot().IcmpErrorsReceived);

        UdpException e = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await client.SendAsync("y"u8.ToArray())));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(1, net.UdpA.Counters.Snapshot().DatagramsSent); // the failed send did not go out
    }

    [Fact]
    public void Connecting_elsewhere_drops_an_unreported_error_about_the_old_peer()
    {
        var net = new UdpSimulation(seed: 28);
        using var sink = UdpSocket.Bind(net.B, 5555);
        using var client = UdpSocket.Connect(net.A, new IpEndpoint(B, 4444));
        net.Run(async () => await client.SendAsync("x"u8.ToArray()));
        net.Settle();
        Assert.Equal(1, net.UdpA.Counters.Snapshot().IcmpErrorsReceived);

        client.Connect(new IpEndpoint(B, 5555));
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendAsync("y"u8.ToArray());
            return await sink.ReceiveFromAsync(new byte[4]);
        });
        Assert.Equal(1, r.BytesReceived);
    }

    [Fact]
    public void An_unconnected_socket_ignores_icmp_errors_by_default()
    {
        var net = new UdpSimulation(seed: 10);
        using var client = UdpSocket.Bind(net.A);
        using var server = UdpSocket.Bind(net.B, 6000);
        net.Run(async () => await client.SendToAsync("lost"u8.ToArray(), new IpEndpoint(B, 4444)));
        net.Settle();
        Assert.Equal(1, net.UdpA.Counters.Snapshot().IcmpErrorsReceived);

        // The next exchange works: the refusal about another peer was not turned into an error.
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync("hi"u8.ToArray(), new IpEndpoint(B, 6000));
            await server.SendToAsync("hello"u8.ToArray(), new IpEndpoint(A, client.LocalEndpoint.Port));
            return await client.ReceiveFromAsync(new byte[16]);
        });
        Assert.Equal(5, r.BytesReceived);
    }

    [Fact]
    public void Soft_icmp_errors_are_reported_only_when_asked_for()
    {
        var net = new UdpSimulation(seed: 27);
        var peer = new IpEndpoint(B, 4444);
        using var sink = UdpSocket.Bind(net.B, 4444); // the real peer takes what is sent
        using var plain = UdpSocket.Connect(net.A, peer);
        using var recverr = UdpSocket.Connect(net.A, peer, new UdpSocketOptions { ReceiveIcmpErrors = true });
        IpAddress router = Family.Host(254);
        foreach (UdpSocket s in new[] { plain, recverr })
        {
            net.InjectIcmpErrorTowardsA(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, new IpEndpoint(A, s.LocalEndpoint.Port), peer, router);
            net.InjectIcmpErrorTowardsA(IcmpType.TimeExceeded, 0, new IpEndpoint(A, s.LocalEndpoint.Port), peer, router);
        }

        net.Settle();
        Assert.Equal(4, net.UdpA.Counters.Snapshot().IcmpErrorsReceived);

        // The connected socket without the option ignores soft errors: its send goes out.
        net.Run(async () => await plain.SendAsync("x"u8.ToArray()));
        Assert.Equal(1, net.UdpA.Counters.Snapshot().DatagramsSent);

        // With the option, the latest error is kept and reported once.
        UdpException e = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await recverr.ReceiveFromAsync(new byte[4])));
        Assert.Equal(SocketError.HostUnreachable, e.SocketErrorCode);
        Assert.Equal(router, e.ReportedBy);
        Assert.Equal(peer, e.RemoteEndpoint);

        // A hard error about another peer does not fail a connected socket either.
        net.InjectIcmpErrorTowardsA(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, new IpEndpoint(A, plain.LocalEndpoint.Port), new IpEndpoint(B, 5555), B);
        net.Settle();
        net.Run(async () => await plain.SendAsync("y"u8.ToArray()));
        Assert.Equal(2, net.UdpA.Counters.Snapshot().DatagramsSent);
    }

    [Fact]
    public void No_port_unreachable_for_broadcasts_to_unbound_ports()
    {
        var net = new UdpSimulation(seed: 11);
        var datagram = new byte[12];
        UdpPacket.Write(datagram, new IpEndpoint(A, 68), new IpEndpoint(Broadcast, 67), "dhcp"u8);
        net.InjectTowardsB(datagram, destination: Broadcast);
        net.Settle();

        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(1, b.IgnoredBroadcasts);
        Assert.Equal(0, b.NoPorts);
        Assert.Equal(0, UnreachablesSent(net.B));
    }

    [Fact]
    public void A_wildcard_socket_receives_broadcasts()
    {
        var net = new UdpSimulation(seed: 12);
        using var server = UdpSocket.Bind(net.B, 67);
        var datagram = new byte[12];
        UdpPacket.Write(datagram, new IpEndpoint(A, 68), new IpEndpoint(Broadcast, 67), "dhcp"u8);
        net.InjectTowardsB(datagram, destination: Broadcast);
        UdpReceiveResult r = net.Run(async () => await server.ReceiveFromAsync(new byte[16]));
        Assert.Equal(Broadcast, r.LocalAddress);
        Assert.Equal(4, r.BytesReceived);
    }

    [Fact]
    public void A_zero_checksum_means_none_and_is_accepted_over_IPv4_only()
    {
        var net = new UdpSimulation(seed: 13);
        using var server = UdpSocket.Bind(net.B, 8000);
        var datagram = new byte[13];
        UdpPacket.Write(datagram, new IpEndpoint(A, 1234), new IpEndpoint(B, 8000), "hello"u8, computeChecksum: false);
        if (Family.Ipv6)
        {
            // RFC 8200 8.1: over IPv6 the checksum is mandatory (Write computes it regardless), and a
            // datagram with a zero checksum is discarded as a checksum error.
            Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(6)));
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(6), 0);
            net.InjectTowardsB(datagram);
            net.Settle();
            Assert.Equal(0, net.UdpB.Counters.Snapshot().DatagramsReceived);
            Assert.Equal(1, net.UdpB.Counters.Snapshot().ChecksumErrors);
            return;
        }

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(6)));
        net.InjectTowardsB(datagram);

        var buffer = new byte[16];
        UdpReceiveResult r = net.Run(async () => await server.ReceiveFromAsync(buffer));
        Assert.Equal("hello"u8.ToArray(), buffer[..r.BytesReceived]);
        Assert.Equal(0, net.UdpB.Counters.Snapshot().ChecksumErrors);
    }

    [Fact]
    public void A_socket_that_computes_no_checksums_is_still_understood()
    {
        var net = new UdpSimulation(seed: 14);
        using var server = UdpSocket.Bind(net.B, 8000);
        using var client = UdpSocket.Bind(net.A, 0, new UdpSocketOptions { ComputeChecksums = false });
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync("plain"u8.ToArray(), new IpEndpoint(B, 8000));
            return await server.ReceiveFromAsync(new byte[16]);
        });
        Assert.Equal(5, r.BytesReceived);
    }

    [Fact]
    public void A_bad_checksum_is_dropped_counted_and_not_answered()
    {
        var net = new UdpSimulation(seed: 15);
        using var server = UdpSocket.Bind(net.B, 8000);
        var datagram = new byte[13];
        UdpPacket.Write(datagram, new IpEndpoint(A, 1234), new IpEndpoint(B, 8000), "hello"u8);
        datagram[10] ^= 0x20; // corrupt the data after the checksum was computed
        net.InjectTowardsB(datagram);

        // The same corruption to an unbound port: still only a checksum error, no port unreachable.
        var unbound = new byte[13];
        UdpPacket.Write(unbound, new IpEndpoint(A, 1234), new IpEndpoint(B, 8001), "hello"u8);
        unbound[10] ^= 0x20;
        net.InjectTowardsB(unbound);
        net.Settle();

        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(2, b.ChecksumErrors);
        Assert.Equal(2, b.InErrors);
        Assert.Equal(0, b.DatagramsReceived);
        Assert.Equal(0, b.NoPorts);
        Assert.Equal(0, UnreachablesSent(net.B));

        // Nothing was queued: a receive now waits (and is cancelled by the test).
        using var cts = new CancellationTokenSource();
        Task<UdpReceiveResult> receive = net.Sim.Start(async () => await server.ReceiveFromAsync(new byte[16], cts.Token));
        net.Settle();
        Assert.False(receive.IsCompleted);
        cts.Cancel();
        net.Sim.RunUntil(() => receive.IsCompleted, UdpSimulation.Limit);
        Assert.True(receive.IsCanceled);
    }

    [Fact]
    public void Malformed_datagrams_are_dropped_and_counted()
    {
        var net = new UdpSimulation(seed: 16);
        using var server = UdpSocket.Bind(net.B, 8000);
        var datagram = new byte[13];
        UdpPacket.Write(datagram, new IpEndpoint(A, 1234), new IpEndpoint(B, 8000), "hello"u8);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), 40); // length beyond the IP payload
        net.InjectTowardsB(datagram);
        net.InjectTowardsB(datagram.AsSpan(0, 6)); // shorter than a header
        net.Settle();

        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(2, b.MalformedDatagrams);
        Assert.Equal(2, b.InErrors);
        Assert.Equal(0, b.DatagramsReceived);
    }

    [Fact]
    public void A_full_receive_queue_drops_and_counts()
    {
        var net = new UdpSimulation(seed: 17);
        using var server = UdpSocket.Bind(net.B, 8000, new UdpSocketOptions { ReceiveQueueDatagrams = 4 });
        using var tight = UdpSocket.Bind(net.B, 8001, new UdpSocketOptions { ReceiveQueueBytes = 2500 });
        using var client = UdpSocket.Bind(net.A);
        net.Run(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                await client.SendToAsync(new byte[] { (byte)i }, new IpEndpoint(B, 8000));
                await client.SendToAsync(new byte[1000], new IpEndpoint(B, 8001));
            }
        });
        net.Settle();

        Assert.Equal(6, server.ReceiveQueueDrops);
        Assert.Equal(8, tight.ReceiveQueueDrops); // 1000 + 1000 fit in 2500 bytes, the third does not
        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(14, b.ReceiveBufferErrors);
        Assert.Equal(14, b.InErrors);
        Assert.Equal(6, b.DatagramsReceived);

        // The four that fit are the first four, in order.
        byte[] firsts = net.Run(async () =>
        {
            var got = new byte[4];
            for (int i = 0; i < 4; i++)
            {
                var buffer = new byte[4];
                await server.ReceiveFromAsync(buffer);
                got[i] = buffer[0];
            }

            return got;
        });
        Assert.Equal([0, 1, 2, 3], firsts);
    }

    [Fact]
    public void A_cancelled_receive_completes_cancelled_and_takes_no_datagram()
    {
        var net = new UdpSimulation(seed: 18);
        using var server = UdpSocket.Bind(net.B, 8000);
        using var client = UdpSocket.Bind(net.A);
        using var cts = new CancellationTokenSource();
        Task<UdpReceiveResult> first = net.Sim.Start(async () => await server.ReceiveFromAsync(new byte[16], cts.Token));
        net.Sim.RunFor(TimeSpan.FromSeconds(1));
        Assert.False(first.IsCompleted);

        cts.Cancel();
        net.Sim.RunUntil(() => first.IsCompleted, UdpSimulation.Limit);
        Assert.True(first.IsCanceled);

        var buffer = new byte[16];
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync("after"u8.ToArray(), new IpEndpoint(B, 8000));
            return await server.ReceiveFromAsync(buffer);
        });
        Assert.Equal("after"u8.ToArray(), buffer[..r.BytesReceived]);

        // An already-cancelled token completes at once.
        Assert.True(server.ReceiveFromAsync(buffer, new CancellationToken(true)).IsCanceled);
    }

    [Fact]
    public void A_receive_with_a_virtual_time_timeout_gives_up()
    {
        var net = new UdpSimulation(seed: 19);
        using var server = UdpSocket.Bind(net.B, 8000);
        bool timedOut = net.Run(async () =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2), net.Sim.Clock);
            try
            {
                await server.ReceiveFromAsync(new byte[4], cts.Token);
                return false;
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        });
        Assert.True(timedOut);
        Assert.Equal(TimeSpan.FromSeconds(2), net.Sim.Elapsed);
    }

    [Fact]
    public void Dispose_unbinds_fails_waiting_receives_and_the_port_is_refused_afterwards()
    {
        var net = new UdpSimulation(seed: 20);
        var server = UdpSocket.Bind(net.B, 8000);
        Task<UdpReceiveResult> waiting = net.Sim.Start(async () => await server.ReceiveFromAsync(new byte[16]));
        net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, net.UdpB.SocketCount);

        server.Dispose();
        server.Dispose(); // idempotent
        Assert.Equal(0, net.UdpB.SocketCount);
        net.Sim.RunUntil(() => waiting.IsCompleted, UdpSimulation.Limit);
        Assert.IsType<ObjectDisposedException>(waiting.Exception?.InnerException);
        Assert.True(server.ReceiveFromAsync(new byte[1]).IsFaulted);
        Assert.True(server.SendToAsync(new byte[1], new IpEndpoint(A, 9)).IsFaulted);

        using var client = UdpSocket.Bind(net.A);
        net.Run(async () => await client.SendToAsync("x"u8.ToArray(), new IpEndpoint(B, 8000)));
        net.Settle();
        Assert.Equal(1, net.UdpB.Counters.Snapshot().NoPorts);

        using var again = UdpSocket.Bind(net.B, 8000); // the port is free again
        Assert.Equal(8000, again.LocalEndpoint.Port);
    }

    [Theory]
    [InlineData(65507)]
    [InlineData(60000)]
    [InlineData(1473)]
    public void Large_datagrams_are_fragmented_and_reassembled_across_a_1500_mtu_link(int size)
    {
        var net = new UdpSimulation(seed: 25, link: new LinkOptions { Reordering = 0.3, Delay = TimeSpan.FromMilliseconds(2) });
        using var server = UdpSocket.Bind(net.B, 8000);
        using var client = UdpSocket.Bind(net.A);
        var payload = new byte[size];
        new Random(size).NextBytes(payload);
        var buffer = new byte[70000];
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync(payload, new IpEndpoint(B, 8000));
            return await server.ReceiveFromAsync(buffer);
        });

        Assert.Equal(size, r.BytesReceived);
        Assert.True(payload.AsSpan().SequenceEqual(buffer.AsSpan(0, size)));
        // 1480 data bytes per fragment at MTU 1500; 1448 over IPv6 (40 + 8 of fragment header, multiples of 8).
        int perFragment = Family.Ipv6 ? 1448 : 1480;
        int fragments = (size + 8 + perFragment - 1) / perFragment;
        StackCountersSnapshot a = net.A.Counters.Snapshot(), b = net.B.Counters.Snapshot();
        Assert.Equal(fragments, Family.Ipv6 ? a.Ipv6.FragmentsSent : a.FragmentsSent);
        Assert.Equal(1, Family.Ipv6 ? b.Ipv6.Reassembled : b.Reassembled);
        Assert.Equal(0, net.UdpB.Counters.Snapshot().ChecksumErrors);
    }

    [Fact]
    public void Send_errors_are_reported()
    {
        var net = new UdpSimulation(seed: 21);
        using var socket = UdpSocket.Bind(net.A);

        UdpException notConnected = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendAsync(new byte[1])));
        Assert.Equal(SocketError.DestinationAddressRequired, notConnected.SocketErrorCode);

        UdpException tooBig = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendToAsync(new byte[Family.Ipv6 ? UdpPacket.MaxPayloadLengthIpv6 + 1 : 65508], new IpEndpoint(B, 9))));
        Assert.Equal(SocketError.MessageSize, tooBig.SocketErrorCode);

        UdpException noRoute = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendToAsync(new byte[1], new IpEndpoint(Family.Ipv6 ? IpAddress.Parse("2001:db8:ffff::1") : Ipv4Address.Parse("192.0.2.1"), 9))));
        Assert.Equal(SocketError.NetworkUnreachable, noRoute.SocketErrorCode);

        Assert.Equal(SocketError.InvalidArgument, Assert.Throws<UdpException>(() => socket.Connect(new IpEndpoint(B, 0))).SocketErrorCode);
        Assert.True(socket.SendToAsync(new byte[1], new IpEndpoint(Family.Ipv6 ? IpAddress.Ipv6Any : IpAddress.Ipv4Any, 9)).IsFaulted);

        using var df = UdpSocket.Bind(net.A, 0, new UdpSocketOptions { DontFragment = true });
        int fits = 1500 - (Family.Ipv6 ? 48 : 28);
        UdpException dfTooBig = Assert.ThrowsAny<UdpException>(() => net.Run(async () => await df.SendToAsync(new byte[fits + 1], new IpEndpoint(B, 9))));
        Assert.Equal(SocketError.MessageSize, dfTooBig.SocketErrorCode);
        net.Run(async () => await df.SendToAsync(new byte[fits], new IpEndpoint(B, 9))); // exactly the MTU fits

        Assert.True(net.UdpA.Counters.Snapshot().SendErrors >= 2);
    }

    [Fact]
    public void Ttl_and_tos_options_reach_the_ip_header()
    {
        var sim = new NetworkSimulator(seed: 29);
        var (near, far) = sim.Network.CreateLink();
        NetworkStack stack = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 29 }), s => s.Poll(), s => s.NextDeadline);
        stack.AddInterface(near, new InterfaceConfiguration { Addresses = [new InterfaceAddress(A, Family.PrefixLength)] });
        using var client = UdpSocket.Bind(stack, 0, new UdpSocketOptions { Ttl = 3, TypeOfService = 0xb8 });
        sim.RunUntilCompleted(async () => await client.SendToAsync(new byte[4], new IpEndpoint(B, 9)), UdpSimulation.Limit);
        sim.RunUntilIdle();

        byte[]? frame = null;
        Assert.Equal(1, far.Receive(f => frame = f.ToArray(), 10)); // the far end is read by the test itself
        UdpHeader.Reader udp;
        if (Family.Ipv6)
        {
            // The hop limit and the traffic class are IPv6's TTL and type of service.
            Assert.True(Ipv6Header.TryRead(frame, out Ipv6Header.Reader ip6, out _));
            Assert.Equal(3, ip6.HopLimit);
            Assert.Equal(0xb8, ip6.TrafficClass);
            Assert.Equal(IpProtocol.Udp, ip6.NextHeader);
            Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(ip6.Payload, ip6.Source, ip6.Destination, false, out udp));
        }
        else
        {
            Assert.True(Ipv4Header.TryRead(frame, out Ipv4Header.Reader ip, out _));
            Assert.Equal(3, ip.Ttl);
            Assert.Equal(0xb8 >> 2, ip.Dscp);
            Assert.Equal(IpProtocol.Udp, ip.Protocol);
            Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(ip.Payload, ip.Source, ip.Destination, false, out udp));
        }

        Assert.Equal(client.LocalEndpoint.Port, udp.SourcePort);
    }

    [Fact]
    public void A_cancelled_send_that_the_loop_has_not_taken_is_not_sent()
    {
        var net = new UdpSimulation(seed: 22);
        using var socket = UdpSocket.Bind(net.A);
        using var cts = new CancellationTokenSource();
        ValueTask send = socket.SendToAsync(new byte[10], new IpEndpoint(B, 9), cts.Token);
        cts.Cancel(); // before the stack polled
        Assert.True(send.IsCanceled);
        net.Settle();
        Assert.Equal(0, net.UdpA.Counters.Snapshot().DatagramsSent);
    }

    [Fact]
    public void UseUdp_is_idempotent_and_Udp_requires_it()
    {
        var net = new UdpSimulation(seed: 23);
        Assert.Same(net.UdpA, net.A.UseUdp());
        Assert.Same(net.UdpA, net.A.Udp());
        Assert.Same(net.UdpA, net.A.GetTransport(IpProtocol.Udp));
        using var bare = new NetworkStack(new NetworkStackOptions { TimeProvider = net.Sim.Clock });
        Assert.Throws<InvalidOperationException>(() => bare.Udp());
        UdpSocket.Bind(bare, 5).Dispose(); // Bind enables UDP on demand
        Assert.Equal(bare.Name, bare.Udp().Counters.StackName); // metrics tagged like the stack's own
    }

    [Fact]
    public void Counters_are_published_on_the_Protocols_Udp_meter()
    {
        var net = new UdpSimulation(seed: 24, udpB: new UdpOptions { Name = "meter-test-b" });
        using var server = UdpSocket.Bind(net.B, 8000);
        using var client = UdpSocket.Bind(net.A);
        net.Run(async () =>
        {
            await client.SendToAsync(new byte[3], new IpEndpoint(B, 8000));
            await client.SendToAsync(new byte[3], new IpEndpoint(B, 8001));
            await server.ReceiveFromAsync(new byte[3]);
        });
        net.Settle();

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == UdpMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "protocols.stack" && (string?)tag.Value == "meter-test-b")
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(1, seen["protocols.udp.datagrams.received"]);
        Assert.Equal(1, seen["protocols.udp.no_ports"]);
        Assert.Equal(0, seen["protocols.udp.checksum_errors"]);
    }

    [Fact]
    public void Hostile_datagrams_never_throw_and_every_one_is_accounted_for()
    {
        var net = new UdpSimulation(seed: 26);
        using var open = UdpSocket.Bind(net.B, 7, new UdpSocketOptions { ReceiveQueueDatagrams = 16 });
        using var connected = UdpSocket.Bind(net.B, 8);
        connected.Connect(new IpEndpoint(A, 1));
        var random = new Random(26);
        var datagram = new byte[600];
        const int Count = 20_000;
        for (int i = 0; i < Count; i++)
        {
            int payload = random.Next(0, 64);
            var from = new IpEndpoint(A, (ushort)random.Next(0, 4));
            var to = new IpEndpoint(B, (ushort)random.Next(5, 11));
            int length = UdpPacket.Write(datagram, from, to, new byte[payload], computeChecksum: random.Next(4) != 0);
            switch (random.Next(4))
            {
                case 0: // a bit flip anywhere
                    datagram[random.Next(length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // truncated, or a length field that lies
                    if (random.Next(2) == 0)
                    {
                        length = random.Next(0, length);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)random.Next(0, 65536));
                    }

                    break;
                case 2: // garbage
                    random.NextBytes(datagram.AsSpan(0, length));
                    break;
            }

            net.InjectTowardsB(datagram.AsSpan(0, length));
            if (i % 500 == 0)
            {
                net.Settle();
            }
        }

        net.Settle();
        UdpCountersSnapshot b = net.UdpB.Counters.Snapshot();
        Assert.Equal(Count, b.DatagramsReceived + b.NoPorts + b.IgnoredBroadcasts + b.InErrors);
        Assert.Equal(b.InErrors, b.ChecksumErrors + b.MalformedDatagrams + b.ReceiveBufferErrors);
        Assert.True(b.ChecksumErrors > 0 && b.MalformedDatagrams > 0 && b.NoPorts > 0 && b.DatagramsReceived > 0, b.ToString());
        Assert.Equal(0, net.B.Counters.Snapshot().CallbackExceptions);

        // Still answering.
        using var client = UdpSocket.Bind(net.A);
        using var fresh = UdpSocket.Bind(net.B, 9000);
        UdpReceiveResult r = net.Run(async () =>
        {
            await client.SendToAsync("alive?"u8.ToArray(), new IpEndpoint(B, 9000));
            return await fresh.ReceiveFromAsync(new byte[16]);
        });
        Assert.Equal(6, r.BytesReceived);
    }

    [Fact]
    public void Runs_are_deterministic_under_a_lossy_link()
    {
        ulong first = NetworkSimulator.VerifyDeterminism(30, sim => Exchange(sim, 30));
        ulong second = NetworkSimulator.VerifyDeterminism(31, sim => Exchange(sim, 31));
        Assert.NotEqual(first, second); // the seed matters
    }

    // 200 datagrams over a link with loss, duplication, reordering and jitter; the receiver traces what it got.
    private static void Exchange(NetworkSimulator sim, int seed)
    {
        var options = new LinkOptions { Loss = 0.1, Duplication = 0.05, Reordering = 0.1, Delay = TimeSpan.FromMilliseconds(5), Jitter = TimeSpan.FromMilliseconds(3) };
        var link = sim.Network.CreateLink(options, options);
        NetworkStack a = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed }), s => s.Poll(), s => s.NextDeadline);
        NetworkStack b = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed + 1 }), s => s.Poll(), s => s.NextDeadline);
        a.AddInterface(link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(A, Family.PrefixLength)] });
        b.AddInterface(link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(B, Family.PrefixLength)] });
        a.UseUdp(new UdpOptions { Seed = seed });
        b.UseUdp(new UdpOptions { Seed = seed });
        using var server = UdpSocket.Bind(b, 9);
        using var client = UdpSocket.Bind(a);
        int received = 0;
        sim.Start(async () =>
        {
            var buffer = new byte[8];
            while (true)
            {
                UdpReceiveResult r = await server.ReceiveFromAsync(buffer);
                received++;
                sim.Trace(buffer.AsSpan(0, r.BytesReceived));
            }
        });
        sim.RunUntilCompleted(
            async () =>
            {
                for (int i = 0; i < 200; i++)
                {
                    await client.SendToAsync(BitConverter.GetBytes(i), new IpEndpoint(B, 9));
                    await Task.Delay(TimeSpan.FromMilliseconds(1), sim.Clock);
                }
            },
            TimeSpan.FromMinutes(1));
        sim.RunUntilIdle(TimeSpan.FromMinutes(1));
        Assert.InRange(received, 150, 230);
        sim.Trace(BitConverter.GetBytes(received));
    }
}
