using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>UDP over a simulated Ethernet segment: ARP before the first datagram, broadcasts, several hosts.</summary>
public class UdpEthernetTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public void Unicast_waits_for_arp_and_broadcasts_reach_every_host_on_the_segment()
    {
        var sim = new NetworkSimulator(seed: 40);
        MemorySegment segment = sim.Network.CreateSegment(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        NetworkStack[] hosts = new NetworkStack[3];
        for (int i = 0; i < hosts.Length; i++)
        {
            int seed = 40 + i;
            hosts[i] = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed }), s => s.Poll(), s => s.NextDeadline);
            hosts[i].AddInterface(segment.Attach(), Ipv4Address.Create(192, 168, 1, (byte)(i + 1)), 24);
            hosts[i].UseUdp(new UdpOptions { Seed = seed });
        }

        using var client = UdpSocket.Bind(hosts[0], 68);
        using var server1 = UdpSocket.Bind(hosts[1], 67);
        using var server2 = UdpSocket.Bind(hosts[2], 67);
        using var unicastOnly = UdpSocket.Bind(hosts[2], new IpEndpoint(Ipv4Address.Parse("192.168.1.3"), 69));

        // Unicast: the first send is queued behind ARP, then delivered.
        var buffer = new byte[32];
        UdpReceiveResult unicast = sim.RunUntilCompleted(
            async () =>
            {
                await client.SendToAsync("hello"u8.ToArray(), IpEndpoint.Parse("192.168.1.2:67"));
                return await server1.ReceiveFromAsync(buffer);
            },
            Limit);
        Assert.Equal(IpEndpoint.Parse("192.168.1.1:68"), unicast.RemoteEndpoint);
        Assert.True(sim.Elapsed >= TimeSpan.FromMilliseconds(3), "request, reply and datagram each cross the segment"); // 1 ms per hop

        // Subnet broadcast: both wildcard sockets on port 67 get it, from the client's address.
        foreach (Ipv4Address broadcast in new[] { Ipv4Address.Parse("192.168.1.255"), Ipv4Address.Broadcast })
        {
            (UdpReceiveResult r1, UdpReceiveResult r2) = sim.RunUntilCompleted(
                async () =>
                {
                    await client.SendToAsync("all"u8.ToArray(), new IpEndpoint(broadcast, 67));
                    UdpReceiveResult a = await server1.ReceiveFromAsync(new byte[8]);
                    UdpReceiveResult b = await server2.ReceiveFromAsync(new byte[8]);
                    return (a, b);
                },
                Limit);
            Assert.Equal(broadcast, r1.LocalAddress);
            Assert.Equal(broadcast, r2.LocalAddress);
            Assert.Equal(IpEndpoint.Parse("192.168.1.1:68"), r2.RemoteEndpoint);
        }

        // A broadcast to a port nobody listens on, and to one held only by a specific-address
        // socket: no ICMP from anyone, counted as ignored.
        sim.RunUntilCompleted(
            async () =>
            {
                await client.SendToAsync("x"u8.ToArray(), IpEndpoint.Parse("192.168.1.255:9999"));
                await client.SendToAsync("y"u8.ToArray(), IpEndpoint.Parse("192.168.1.255:69"));
            },
            Limit);
        sim.RunUntilIdle(TimeSpan.FromMinutes(5));
        Assert.Equal(2, hosts[1].Udp().Counters.Snapshot().IgnoredBroadcasts);
        Assert.Equal(2, hosts[2].Udp().Counters.Snapshot().IgnoredBroadcasts);
        Assert.All(hosts, h => Assert.Equal(0, h.Counters.Snapshot().IcmpOutOf(IcmpType.DestinationUnreachable)));
        Assert.Equal(0, hosts[0].Udp().Counters.Snapshot().IcmpErrorsReceived);
    }

    [Fact]
    public void A_socket_bound_to_one_interfaces_address_ignores_datagrams_to_the_other()
    {
        var sim = new NetworkSimulator(seed: 41);
        var (a1, b1) = sim.Network.CreateLink(name: "l1");
        var (a2, b2) = sim.Network.CreateLink(name: "l2");
        NetworkStack host = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 1 }), s => s.Poll(), s => s.NextDeadline);
        NetworkStack peer1 = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 2 }), s => s.Poll(), s => s.NextDeadline);
        NetworkStack peer2 = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 3 }), s => s.Poll(), s => s.NextDeadline);
        host.AddInterface(a1, Ipv4Address.Parse("10.1.0.1"), 24);
        host.AddInterface(a2, Ipv4Address.Parse("10.2.0.1"), 24);
        peer1.AddInterface(b1, Ipv4Address.Parse("10.1.0.2"), 24);
        peer2.AddInterface(b2, Ipv4Address.Parse("10.2.0.2"), 24);

        using var onFirst = UdpSocket.Bind(host, IpEndpoint.Parse("10.1.0.1:53"));
        using var onSecond = UdpSocket.Bind(host, IpEndpoint.Parse("10.2.0.1:53")); // same port, other address
        using var p1 = UdpSocket.Bind(peer1);
        using var p2 = UdpSocket.Bind(peer2);

        (UdpReceiveResult r1, UdpReceiveResult r2) = sim.RunUntilCompleted(
            async () =>
            {
                await p1.SendToAsync("one"u8.ToArray(), IpEndpoint.Parse("10.1.0.1:53"));
                await p2.SendToAsync("two"u8.ToArray(), IpEndpoint.Parse("10.2.0.1:53"));
                UdpReceiveResult x = await onFirst.ReceiveFromAsync(new byte[8]);
                UdpReceiveResult y = await onSecond.ReceiveFromAsync(new byte[8]);
                return (x, y);
            },
            Limit);
        Assert.Equal(Ipv4Address.Parse("10.1.0.2"), r1.RemoteEndpoint.Address);
        Assert.Equal(Ipv4Address.Parse("10.2.0.2"), r2.RemoteEndpoint.Address);

        // Replies leave from the bound address, over the right interface.
        UdpReceiveResult back = sim.RunUntilCompleted(
            async () =>
            {
                await onSecond.SendToAsync("re"u8.ToArray(), r2.RemoteEndpoint);
                return await p2.ReceiveFromAsync(new byte[8]);
            },
            Limit);
        Assert.Equal(IpEndpoint.Parse("10.2.0.1:53"), back.RemoteEndpoint);
        Assert.Equal(0, host.Udp().Counters.Snapshot().NoPorts);
    }
}
