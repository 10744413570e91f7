using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Every way a TCP operation fails yields one shape: a <see cref="TcpException"/> (an <see cref="IOException"/> and a <see cref="NetworkException"/>) with the socket error a kernel would report and an inner <see cref="SocketException"/> of the same code.</summary>
public class TcpErrorShapeTests
{
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    private static IpAddress A => TcpStackPair.AddressA;

    private static IpAddress B => TcpStackPair.AddressB;

    internal static void AssertShape(SocketError expected, Exception e)
    {
        TcpException tcp = Assert.IsType<TcpException>(e);
        Assert.IsAssignableFrom<IOException>(tcp);
        Assert.IsAssignableFrom<NetworkException>(tcp);
        Assert.Equal(expected, tcp.SocketErrorCode);
        Assert.Equal(expected, Assert.IsType<SocketException>(tcp.InnerException).SocketErrorCode);
    }

    [Fact]
    public void A_reset_in_answer_to_the_SYN_is_ConnectionRefused()
    {
        var net = new TcpStackPair(seed: 201, Lan);
        AssertShape(SocketError.ConnectionRefused, net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 9)))));
    }

    [Fact]
    public void ICMP_protocol_unreachable_in_answer_to_the_SYN_is_ConnectionRefused()
    {
        var net = new TcpStackPair(seed: 202, Lan, tcpOnB: false);
        AssertShape(SocketError.ConnectionRefused, net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)))));
    }

    [Fact]
    public void No_route_is_NetworkUnreachable()
    {
        var net = new TcpStackPair(seed: 203);
        AssertShape(SocketError.NetworkUnreachable, net.Run(() => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(IpEndpoint.Parse("192.0.2.1:80")))));
    }

    [Fact]
    public void A_reset_from_the_peer_is_ConnectionReset_and_the_local_abort_ConnectionAborted()
    {
        var net = new TcpStackPair(seed: 204, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        TcpException read = net.Run(async () =>
        {
            server.Abort();
            return await Assert.ThrowsAsync<TcpException>(async () => _ = await client.ReadAsync(new byte[10]));
        });
        AssertShape(SocketError.ConnectionReset, read);
        AssertShape(SocketError.ConnectionAborted, net.Run(() => Assert.ThrowsAsync<TcpException>(async () => _ = await server.ReadAsync(new byte[1]))));
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void A_SYN_that_nobody_answers_is_TimedOut()
    {
        var net = new TcpStackPair(seed: 205, Lan with { Loss = 1 });
        TcpException e = net.Run(
            () => Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80), TcpConnectionOptions.Default with { SynRetries = 2 }, null)),
            TimeSpan.FromMinutes(10));
        AssertShape(SocketError.TimedOut, e);
    }

    [Fact]
    public void A_write_after_CompleteWrites_is_Shutdown()
    {
        var net = new TcpStackPair(seed: 207, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        client.CompleteWrites();
        AssertShape(SocketError.Shutdown, net.Run(() => Assert.ThrowsAsync<TcpException>(async () => await client.WriteAsync(new byte[1]))));
        client.Dispose();
        server.Dispose();
    }

    [Fact]
    public void An_accept_pending_when_the_listener_closes_is_OperationAborted()
    {
        var net = new TcpStackPair(seed: 208, Lan);
        TcpListener listener = net.TcpB.Listen(80);
        TcpException e = net.Run(async () =>
        {
            Task<TcpStream> waiting = listener.AcceptAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(1), net.Sim.Clock);
            listener.Dispose();
            return await Assert.ThrowsAsync<TcpException>(() => waiting);
        });
        AssertShape(SocketError.OperationAborted, e);
    }

    [Fact]
    public void Listening_twice_is_AddressAlreadyInUse_and_on_an_address_not_ours_AddressNotAvailable()
    {
        var net = new TcpStackPair(seed: 209, Lan);
        using TcpListener listener = net.TcpB.Listen(80);
        AssertShape(SocketError.AddressAlreadyInUse, Assert.Throws<TcpException>(() => net.TcpB.Listen(80)));
        AssertShape(SocketError.AddressNotAvailable, Assert.Throws<TcpException>(() => net.TcpB.Listen(new IpEndpoint(A, 81))));
    }
}
