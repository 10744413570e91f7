using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Ephemeral ports: the range, no collision with a live 4-tuple (TIME_WAIT included), exhaustion per destination.</summary>
public class TcpPortTests
{
    private static IpAddress B => TcpStackPair.AddressB;
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public void Ephemeral_ports_are_distinct_per_destination_and_run_out_with_AddressNotAvailable()
    {
        var tcpA = new TcpStackOptions { Seed = 61, Name = "ports-a", EphemeralPortFirst = 50000, EphemeralPortLast = 50003 };
        var net = new TcpStackPair(seed: 61, Lan, tcpA: tcpA);
        using TcpListener l80 = net.TcpB.Listen(80, backlog: 16);
        using TcpListener l81 = net.TcpB.Listen(81, backlog: 16);
        (List<TcpStream> to80, TcpException exhausted, TcpStream to81) = net.Run(async () =>
        {
            var streams = new List<TcpStream>();
            for (int i = 0; i < 4; i++)
            {
                streams.Add(await net.TcpA.ConnectAsync(new IpEndpoint(B, 80)));
            }

            TcpException exhausted = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)));

            // Another destination has its own 4-tuples: the same ports are free for it.
            TcpStream to81 = await net.TcpA.ConnectAsync(new IpEndpoint(B, 81));
            return (streams, exhausted, to81);
        });

        Assert.Equal(new ushort[] { 50000, 50001, 50002, 50003 }, to80.Select(s => s.LocalEndPoint.Port).Order());
        Assert.Equal(SocketError.AddressNotAvailable, exhausted.SocketErrorCode);
        Assert.InRange(to81.LocalEndPoint.Port, (ushort)50000, (ushort)50003);
    }

    [Fact]
    public void A_port_in_TIME_WAIT_is_not_reused_until_2_MSL_have_passed()
    {
        var tcpA = new TcpStackOptions { Seed = 62, Name = "tw-a", EphemeralPortFirst = 50000, EphemeralPortLast = 50000, Defaults = TcpConnectionOptions.Default with { Msl = TimeSpan.FromSeconds(5) } };
        var net = new TcpStackPair(seed: 62, Lan, tcpA: tcpA);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 16);
        net.Run(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            TcpStream server = await accept;

            // A closes first, so A holds the 4-tuple in TIME_WAIT.
            client.Dispose();
            Assert.Equal(0, await server.ReadAsync(new byte[1]));
            server.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(100), net.Sim.Clock);
            Assert.Equal(TcpState.TimeWait, Assert.Single(net.TcpA.GetConnections()).State);
            TcpException busy = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)));
            Assert.Equal(SocketError.AddressNotAvailable, busy.SocketErrorCode);

            await Task.Delay(TimeSpan.FromSeconds(11), net.Sim.Clock);
            using TcpStream again = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            Assert.Equal(50000, again.LocalEndPoint.Port);
        });
    }

    [Fact]
    public void An_explicit_local_endpoint_in_use_fails_with_AddressAlreadyInUse()
    {
        var net = new TcpStackPair(seed: 63, Lan);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 16);
        net.Run(async () =>
        {
            var local = new IpEndpoint(TcpStackPair.AddressA, 40000);
            using TcpStream first = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80), null, local);
            Assert.Equal(local, first.LocalEndPoint);
            TcpException e = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80), null, local));
            Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
            TcpException notOurs = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80), null, new IpEndpoint(B, 1)));
            Assert.Equal(SocketError.AddressNotAvailable, notOurs.SocketErrorCode);
        });
    }

    [Fact]
    public void Ephemeral_ports_skip_ports_with_a_listener()
    {
        var tcpA = new TcpStackOptions { Seed = 64, Name = "skip-a", EphemeralPortFirst = 50000, EphemeralPortLast = 50001 };
        var net = new TcpStackPair(seed: 64, Lan, tcpA: tcpA);
        using TcpListener taken = net.TcpA.Listen(50000);
        using TcpListener listener = net.TcpB.Listen(80, backlog: 16);
        ushort port = net.Run(async () =>
        {
            using TcpStream c = await net.TcpA.ConnectAsync(new IpEndpoint(B, 80));
            await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(B, 80)));
            return c.LocalEndPoint.Port;
        });
        Assert.Equal(50001, port);
    }
}
