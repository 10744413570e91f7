using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;
using static Protocols.Nat.Tests.NatRig;

namespace Protocols.Nat.Tests;

/// <summary>Static entries, the pool, the bounded table, its view and its meters.</summary>
public class NatTableTests
{
    [Fact]
    public void Static_entries_come_first_and_let_everything_in()
    {
        var options = new NatOptions
        {
            Static = [new NatStaticEntry(HostA, Packets.A("203.0.113.20"))],
            PoolFirst = Packets.A("203.0.113.50"),
            PoolLast = Packets.A("203.0.113.51"),
        };
        var rig = new NatRig(options);
        byte[] outA = rig.OneOut(Packets.Udp(HostA, 1234, Remote, 53));
        Assert.Equal(Packets.A("203.0.113.20"), Packets.Source(outA));
        Assert.Equal(1234, Packets.SourcePort(outA));
        byte[] outB = rig.OneOut(Packets.Udp(HostB, 1234, Remote, 53));
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(outB));

        // Unsolicited inbound to the static address, any protocol and port.
        byte[] inA = rig.OneIn(Packets.Tcp(Remote2, 5555, Packets.A("203.0.113.20"), 22, Packets.Syn));
        Assert.Equal(HostA, Packets.Destination(inA));
        Assert.Equal(22, Packets.DestinationPort(inA));
        Assert.Contains(rig.Table, r => r.Kind == NatMappingKind.Static && r.ToString() == $"ip {HostA}:0 203.0.113.20:0 0.0.0.0:0 static 0");
    }

    [Fact]
    public void The_pool_binds_one_address_per_host_while_it_has_flows_then_pat_takes_the_rest()
    {
        var options = new NatOptions { PoolFirst = Packets.A("203.0.113.50"), PoolLast = Packets.A("203.0.113.50") };
        var rig = new NatRig(options);
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(rig.OneOut(Packets.Udp(HostA, 1, Remote, 53))));
        Assert.Equal(RouterOutside, Packets.Source(rig.OneOut(Packets.Udp(HostB, 1, Remote, 53))));

        // A's flow expires; the address is free for B's next mapping.
        rig.Wait(TimeSpan.FromMinutes(6));
        Assert.Empty(rig.Table);
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(rig.OneOut(Packets.Udp(HostB, 2, Remote, 53))));

        // The router answers ARP for nothing of that here (IP medium), but takes datagrams to the pool address:
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 53, Packets.A("203.0.113.50"), 2)));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote, 53, Packets.A("203.0.113.50"), 3)));
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.NatNoMapping));
    }

    [Fact]
    public void The_table_is_bounded_and_new_flows_get_port_unreachable_when_it_is_full()
    {
        var rig = new NatRig(new NatOptions { MaxMappings = 10, Seed = 3 });
        for (int i = 0; i < 10; i++)
        {
            rig.OneOut(Packets.Udp(HostA, (ushort)(2000 + i), Remote, 53));
        }

        Assert.Empty(rig.FromInside(Packets.Udp(HostA, 3000, Remote, 53)));
        byte[] error = Assert.Single(rig.InsideReceived);
        Assert.Equal((byte)IcmpUnreachableCode.PortUnreachable, error[21]);
        Assert.Equal(HostA, Packets.Destination(error));
        Assert.Equal(1, rig.Gateway.Counters.Exhausted);
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.NatTableFull));
        Assert.Equal(10, rig.Gateway.Counters.MappingCount);

        // Existing mappings keep working.
        Assert.Single(rig.FromInside(Packets.Udp(HostA, 2005, Remote2, 53)));
    }

    [Fact]
    public void A_flood_of_new_flows_stays_within_the_bounds_and_can_be_dropped_silently()
    {
        var rig = new NatRig(new NatOptions { MaxMappings = 1000, MaxSessions = 1500, Exhaustion = NatExhaustionAction.Drop, Seed = 4 });
        var random = new Random(9);
        for (int i = 0; i < 5000; i++)
        {
            rig.FromInside(Packets.Udp(Ipv4Address.FromUInt32(HostA.ToUInt32() + (uint)random.Next(200)), (ushort)random.Next(1024, 65536), Ipv4Address.FromUInt32(Remote.ToUInt32() + (uint)random.Next(50)), 53));
        }

        Assert.True(rig.Gateway.Counters.MappingCount <= 1000);
        Assert.True(rig.Gateway.Counters.SessionCount <= 1500);
        Assert.True(rig.Gateway.Counters.Exhausted > 3000);
        Assert.Empty(rig.InsideReceived);
        rig.Wait(TimeSpan.FromMinutes(6));
        Assert.Equal(0, rig.Gateway.Counters.SessionCount);
    }

    [Fact]
    public void Outside_ports_run_out_cleanly()
    {
        // Low ports (1-1023) behind one address: 1023 inside hosts using port 53 take them all.
        var rig = new NatRig(new NatOptions { Seed = 5, Exhaustion = NatExhaustionAction.Drop });
        for (uint i = 0; i < 1023; i++)
        {
            rig.OneOut(Packets.Udp(Ipv4Address.FromUInt32(Packets.A("10.0.1.0").ToUInt32() + i), 53, Remote, 53));
        }

        Assert.Empty(rig.FromInside(Packets.Udp(Packets.A("10.0.9.9"), 53, Remote, 53)));
        Assert.Equal(1, rig.Gateway.Counters.Exhausted);
        Assert.Equal(1023, rig.Table.Select(r => r.Outside.Port).Distinct().Count());
    }

    [Fact]
    public void The_idle_time_of_a_row_counts_from_its_last_packet()
    {
        var rig = new NatRig();
        rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        rig.Wait(TimeSpan.FromSeconds(42));
        NatTableRow row = Assert.Single(rig.Table);
        Assert.Equal(TimeSpan.FromSeconds(42), row.Idle);
        Assert.Equal("udp", row.State);
        Assert.Equal(new IpEndpoint(HostA, 40000), row.Inside);
        Assert.Equal(new IpEndpoint(Remote, 53), row.Remote);
    }

    [Fact]
    public void The_meter_publishes_table_sizes_and_sessions_by_state()
    {
        // The meter is process-wide: gateways of tests running in parallel publish on it too, so
        // only this gateway's measurements (its own stack tag) count.
        const string name = "meter-test";
        var rig = new NatRig(new NatOptions { Seed = 1, Name = name });
        rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        rig.OneOut(Packets.Tcp(HostA, 40001, Remote, 80, Packets.Syn));
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Protocols.Nat")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(System.Diagnostics.Metrics.Instrument i, long v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string key = i.Name;
            bool ours = false;
            foreach (KeyValuePair<string, object?> t in tags)
            {
                ours |= t.Key == "protocols.stack" && Equals(t.Value, name);
                key += $"|{t.Key}={t.Value}";
            }

            if (ours)
            {
                seen[key] = v;
            }
        }

        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(2, seen[$"protocols.nat.mappings|protocols.stack={name}"]);
        Assert.Equal(1, seen[$"protocols.nat.sessions|protocols.stack={name}|protocol=tcp|state=SynSent"]);
        Assert.Equal(1, seen[$"protocols.nat.sessions|protocols.stack={name}|protocol=udp|state=none"]);
        Assert.Equal(2, seen[$"protocols.nat.translated|protocols.stack={name}|direction=outbound"]);
    }

    [Fact]
    public void Real_stacks_talk_tcp_and_udp_through_the_nat_from_two_hosts_with_the_same_port()
    {
        var sim = new NetworkSimulator(7);
        MemoryLink insideLink = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        MemoryLink insideLink2 = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        MemoryLink outsideLink = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(5) }, mtu: 1400);
        NetworkStack router = sim.AddStack(c => new NetworkStack(new NetworkStackOptions { TimeProvider = c, Seed = 1, Forwarding = true, Name = "router" }));
        router.AddInterface(insideLink.A, RouterInside, 24);
        router.AddInterface(insideLink2.A, Packets.A("10.0.2.1"), 24);
        NetworkInterface outside = router.AddInterface(outsideLink.A, RouterOutside, 24);
        using var nat = new NatGateway(router, outside, new NatOptions { Seed = 1 });
        NetworkStack server = sim.AddStack(c => new NetworkStack(new NetworkStackOptions { TimeProvider = c, Seed = 2 }));
        server.AddInterface(outsideLink.B, Packets.A("203.0.113.7"), 24);
        NetworkStack a = sim.AddStack(c => new NetworkStack(new NetworkStackOptions { TimeProvider = c, Seed = 3 }));
        a.AddInterface(insideLink.B, HostA, 24, gateway: RouterInside);
        NetworkStack b = sim.AddStack(c => new NetworkStack(new NetworkStackOptions { TimeProvider = c, Seed = 4 }));
        b.AddInterface(insideLink2.B, Packets.A("10.0.2.10"), 24, gateway: Packets.A("10.0.2.1"));
        TcpListener listener = server.UseTcp(new TcpStackOptions { Seed = 5 }).Listen(80);
        TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = 6 });
        TcpLayer tcpB = b.UseTcp(new TcpStackOptions { Seed = 7 });
        var data = new byte[1 << 20];
        new Random(1).NextBytes(data);

        async Task<(IpEndpoint Seen, byte[] Echo)> Fetch(TcpLayer client)
        {
            await using TcpStream c = await client.ConnectAsync(new IpEndpoint(Packets.A("203.0.113.7"), 80), null, new IpEndpoint(IpAddress.Ipv4Any, 45000));
            await using TcpStream s = await listener.AcceptAsync();
            Task send = SendAll(s);
            var received = new MemoryStream();
            await c.CopyToAsync(received);
            await send;
            return (s.RemoteEndPoint, received.ToArray());
        }

        async Task SendAll(TcpStream s)
        {
            await s.WriteAsync(data);
            s.CompleteWrites();
        }

        (IpEndpoint seenA, byte[] bodyA) = sim.RunUntilCompleted(() => Fetch(tcpA), TimeSpan.FromMinutes(2));
        (IpEndpoint seenB, byte[] bodyB) = sim.RunUntilCompleted(() => Fetch(tcpB), TimeSpan.FromMinutes(2));
        Assert.Equal(data, bodyA);
        Assert.Equal(data, bodyB);
        Assert.Equal(new IpEndpoint(RouterOutside, 45000), seenA);
        Assert.Equal((IpAddress)RouterOutside, seenB.Address);
        Assert.NotEqual(45000, seenB.Port);

        // UDP both ways through the same NAT.
        using UdpSocket echo = UdpSocket.Bind(server, 7);
        using UdpSocket ua = UdpSocket.Bind(a, 5000);
        Task<UdpReceiveResult> serverReceive = sim.Start(async () => await echo.ReceiveFromAsync(new byte[100]));
        sim.RunUntilCompleted(sim.Start(async () => { await ua.SendToAsync(new byte[] { 1, 2, 3 }, new IpEndpoint(Packets.A("203.0.113.7"), 7)); return 0; }), TimeSpan.FromSeconds(5));
        UdpReceiveResult got = sim.RunUntilCompleted(serverReceive, TimeSpan.FromSeconds(5));
        Assert.Equal(new IpEndpoint(RouterOutside, 5000), got.RemoteEndpoint);
        Assert.True(router.Counters.Snapshot().Forwarded > 1000);
    }
}
