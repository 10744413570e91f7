using SocketError = System.Net.Sockets.SocketError;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;
using static Protocols.Relay.Tests.ForwarderRig;

namespace Protocols.Relay.Tests;

/// <summary>The transparent forwarder relaying through a fake outbound side.</summary>
public class ForwarderTests
{
    [Fact]
    public async Task A_connection_to_any_address_is_relayed_to_that_destination_both_ways_with_half_close()
    {
        await using var rig = new ForwarderRig();
        byte[] request = RandomNumberGenerator.GetBytes(100_000);
        byte[] response = RandomNumberGenerator.GetBytes(300_000);
        await using TcpStream client = await rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait);
        FakeServer server = await rig.NextServerAsync();
        Assert.Equal(Far, server.Destination);
        Assert.Equal(Far, client.RemoteEndPoint);

        await client.WriteAsync(request);
        client.CompleteWrites();

        // The client's FIN reached the destination as a FIN (its read ends) ...
        Assert.Equal(request, await server.ReadToEndAsync().WaitAsync(Wait));

        // ... and the destination can still answer over the half-open connection, then FIN.
        await server.WriteAsync(response);
        await server.CompleteAsync();
        var received = new MemoryStream();
        await client.CopyToAsync(received).WaitAsync(Wait);
        Assert.Equal(response, received.ToArray());
        Assert.Equal(1, rig.Forwarder.Counters.ConnectionsRelayed);
    }

    [Fact]
    public async Task A_refused_destination_is_refused_to_the_client()
    {
        await using var rig = new ForwarderRig();
        rig.Outbound.Decide = _ => OutboundError.Refused;
        TcpException e = await Assert.ThrowsAsync<TcpException>(() => rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(1, rig.Forwarder.Counters.ConnectionsRefused);
        Assert.Equal(0, rig.ForwarderTcp.Counters.PassiveOpens);
    }

    [Fact]
    public async Task An_unreachable_destination_comes_back_as_icmp_host_unreachable()
    {
        await using var rig = new ForwarderRig();
        rig.Outbound.Decide = _ => OutboundError.HostUnreachable;

        // One SYN, no retransmission, so exactly one ICMP error can come back. Host unreachable in
        // SYN-SENT is soft (RFC 1122 4.2.3.9): the connect fails when its SYN times out, with that
        // error (as Linux reports EHOSTUNREACH), not at once.
        var once = new TcpConnectionOptions { SynRetries = 0 };
        TcpException e = await Assert.ThrowsAsync<TcpException>(() => rig.ClientTcp.ConnectAsync(Far, once, null).WaitAsync(Wait));
        Assert.Equal(SocketError.HostUnreachable, e.SocketErrorCode);
        Assert.Equal(1, rig.Client.Counters.Snapshot().IcmpInOf(IcmpType.DestinationUnreachable));
        Assert.Equal(1, rig.Forwarder.Counters.ConnectionsUnreachable);
        Assert.Equal(0, rig.ForwarderTcp.Counters.PassiveOpens);
    }

    [Fact]
    public async Task A_slow_destination_slows_the_client_and_nothing_is_read_faster_than_written()
    {
        await using var rig = new ForwarderRig(new ForwarderOptions { RelayBufferSize = 16 * 1024 });
        await using TcpStream client = await rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait);
        FakeServer server = await rig.NextServerAsync();
        byte[] data = RandomNumberGenerator.GetBytes(8 << 20);
        Task write = Task.Run(async () =>
        {
            await client.WriteAsync(data);
            client.CompleteWrites();
        });

        // The destination does not read: the client's write cannot finish, and what left it is
        // bounded by the buffers on the way (client send buffer, forwarder receive window, one
        // relay buffer, the outbound side's 64 KiB), far below 8 MiB.
        await Task.Delay(1500);
        Assert.False(write.IsCompleted);
        long inFlight = rig.Forwarder.Counters.BytesToDestinations;
        IReadOnlyList<TcpConnectionInfo> rows = await rig.ForwarderTcp.GetConnectionsAsync();
        TcpConnectionInfo relayed = rows.Single(r => r.State == TcpState.Established);
        Assert.True(relayed.ReceiveQueue <= 1 << 20, $"forwarder holds {relayed.ReceiveQueue} unread bytes");

        // Once it reads, everything arrives, in order.
        byte[] got = await server.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await write.WaitAsync(Wait);
        Assert.Equal(data, got);
        _ = inFlight;
    }

    [Fact]
    public async Task A_reset_by_the_destination_resets_the_client()
    {
        await using var rig = new ForwarderRig();
        await using TcpStream client = await rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait);
        FakeServer server = await rig.NextServerAsync();
        await server.WriteAsync(new byte[1000]);
        byte[] buffer = new byte[1000];
        await client.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
        server.Reset();
        TcpException e = await Assert.ThrowsAsync<TcpException>(async () =>
        {
            while (await client.ReadAsync(buffer).AsTask().WaitAsync(Wait) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public async Task A_reset_by_the_client_aborts_the_outbound_connection()
    {
        await using var rig = new ForwarderRig();
        TcpStream client = await rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait);
        FakeServer server = await rig.NextServerAsync();
        Task<byte[]> read = server.ReadToEndAsync();
        client.Abort();
        await Assert.ThrowsAsync<OutboundException>(() => read.WaitAsync(Wait));
        Assert.True(server.ClientAborted);
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_listener_on_the_stacks_own_address_still_wins()
    {
        await using var rig = new ForwarderRig();
        TcpListener own = rig.ForwarderTcp.Listen(80);
        Task<TcpStream> accepted = own.AcceptAsync();
        await using TcpStream client = await rig.ClientTcp.ConnectAsync(new IpEndpoint(ForwarderAddress, 80)).WaitAsync(Wait);
        await using TcpStream server = await accepted.WaitAsync(Wait);
        Assert.Empty(rig.Outbound.Attempts);

        // And the stack's own address is never relayed, even on a port nobody listens on.
        TcpException e = await Assert.ThrowsAsync<TcpException>(() => rig.ClientTcp.ConnectAsync(new IpEndpoint(ForwarderAddress, 81)).WaitAsync(Wait));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Empty(rig.Outbound.Attempts);
    }

    [Fact]
    public async Task Held_syns_are_bounded_and_cookies_keep_legitimate_clients_working()
    {
        // Connects to port 9 hang at the outbound side: their SYNs stay held. Past the SYN queue
        // (8 here) the stack answers with SYN cookies, so a client to port 80 still gets through.
        await using var rig = new ForwarderRig(forwarderTcp: new TcpStackOptions { Name = "forwarder", SynQueueLength = 8 });
        rig.Outbound.Hang = d => d.Port == 9;
        var stuck = new List<Task<TcpStream>>();
        for (int i = 0; i < 20; i++)
        {
            stuck.Add(rig.ClientTcp.ConnectAsync(new IpEndpoint(Far.Address, 9)));
        }

        DateTime limit = DateTime.UtcNow + Wait;
        while (rig.Outbound.Attempts.Count < 8 && DateTime.UtcNow < limit)
        {
            await Task.Delay(20);
        }

        // The first 8 SYNs are held; the other 12 got cookie SYN-ACKs, and since these clients are
        // real they completed the handshake and were relayed afterwards (a spoofed flood would not).
        DateTime settle = DateTime.UtcNow + Wait;
        while (rig.Outbound.Attempts.Count < 20 && DateTime.UtcNow < settle)
        {
            await Task.Delay(20);
        }

        Assert.Equal(12, rig.Forwarder.Counters.ConnectionsAcceptedByCookie);
        Assert.Equal(20, rig.Outbound.Attempts.Count(a => a.Port == 9));
        await using TcpStream legit = await rig.ClientTcp.ConnectAsync(Far).WaitAsync(Wait);
        FakeServer server = await rig.NextServerAsync();
        await legit.WriteAsync(new byte[] { 1, 2, 3 });
        legit.CompleteWrites();
        Assert.Equal(new byte[] { 1, 2, 3 }, await server.ReadToEndAsync().WaitAsync(Wait));
        Assert.True(rig.ForwarderTcp.Counters.SynCookiesSent > 0);
        Assert.Equal(13, rig.Forwarder.Counters.ConnectionsAcceptedByCookie);
    }

    [Fact]
    public async Task Udp_flows_are_relayed_and_answered_from_the_original_destination()
    {
        await using var rig = new ForwarderRig();
        var dns = new IpEndpoint(Ipv4Address.Parse("198.51.100.53"), 53);
        using UdpSocket socket = UdpSocket.Bind(rig.Client, 5353);
        await socket.SendToAsync(new byte[] { 1, 2, 3, 4 }, dns);
        byte[] buffer = new byte[100];
        UdpReceiveResult r = await socket.ReceiveFromAsync(buffer).AsTask().WaitAsync(Wait);
        Assert.Equal(dns, r.RemoteEndpoint);
        Assert.Equal(new byte[] { 4, 3, 2, 1 }, buffer[..r.BytesReceived]);
        Assert.Equal(1, rig.Forwarder.Counters.UdpFlowsOpenedCount);
    }

    [Fact]
    public async Task Udp_port_unreachable_at_the_destination_comes_back_to_the_client()
    {
        await using var rig = new ForwarderRig();
        rig.Outbound.Decide = _ => OutboundError.Refused;
        var closed = new IpEndpoint(Ipv4Address.Parse("198.51.100.9"), 9999);
        using UdpSocket socket = UdpSocket.Connect(rig.Client, closed);
        await socket.SendAsync(new byte[] { 1 });
        UdpException e = await Assert.ThrowsAsync<UdpException>(async () => await socket.ReceiveFromAsync(new byte[10]).AsTask().WaitAsync(Wait));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public async Task Idle_udp_flows_are_closed_after_the_timeout()
    {
        await using var rig = new ForwarderRig(new ForwarderOptions { UdpTimeout = TimeSpan.FromSeconds(1) });
        using UdpSocket socket = UdpSocket.Bind(rig.Client, 5353);
        await socket.SendToAsync(new byte[] { 1 }, new IpEndpoint(Ipv4Address.Parse("198.51.100.53"), 53));
        await socket.ReceiveFromAsync(new byte[10]).AsTask().WaitAsync(Wait);
        FakeFlow flow = Assert.Single(rig.Outbound.Flows);
        DateTime limit = DateTime.UtcNow + Wait;
        while (!flow.Disposed && DateTime.UtcNow < limit)
        {
            await Task.Delay(50);
        }

        Assert.True(flow.Disposed);
        Assert.Equal(1, rig.Forwarder.Counters.UdpFlowsTimedOut);
        Assert.Equal(0, rig.Forwarder.Counters.UdpFlowsOpen);
    }
}
