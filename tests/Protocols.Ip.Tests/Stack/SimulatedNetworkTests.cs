using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

/// <summary>Stacks driven by the simulation harness (branch sim): virtual clock, impaired links.</summary>
public class SimulatedNetworkTests
{
    private static readonly Ipv4Address A = TwoStacks.AddressA;
    private static readonly Ipv4Address B = TwoStacks.AddressB;

    private static (NetworkStack A, NetworkStack B, RecordingTransport Pinger) Build(NetworkSimulator sim, LinkOptions link, DeviceMedium medium)
    {
        var (da, db) = sim.Network.CreateLink(link, medium: medium);
        NetworkStack a = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = sim.Seed }));
        NetworkStack b = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = sim.Seed + 1 }));
        a.AddInterface(da, A, 24);
        b.AddInterface(db, B, 24);
        var pinger = new RecordingTransport(IpProtocol.Icmp);
        b.RegisterTransport(pinger);
        return (a, b, pinger);
    }

    [Fact]
    public void Ping_over_a_delayed_ethernet_link_takes_ARP_plus_one_round_trip()
    {
        var sim = new NetworkSimulator(seed: 3);
        var (_, b, pinger) = Build(sim, new LinkOptions { Delay = TimeSpan.FromMilliseconds(5) }, DeviceMedium.Ethernet);
        b.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 1, 1, new byte[3000]));
        TimeSpan took = sim.RunUntil(() => pinger.Datagrams.Count == 1, TimeSpan.FromSeconds(5));

        // ARP request and reply, then the echo and its reply: two round trips of 10 ms.
        Assert.Equal(TimeSpan.FromMilliseconds(20), took);
    }

    [Fact]
    public void Pings_over_a_lossy_link_are_deterministic_per_seed()
    {
        static void Scenario(NetworkSimulator sim)
        {
            var (a, b, pinger) = Build(sim, new LinkOptions { Loss = 0.2, Delay = TimeSpan.FromMilliseconds(2), Jitter = TimeSpan.FromMilliseconds(1) }, DeviceMedium.Ethernet);
            for (int i = 0; i < 50; i++)
            {
                b.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 1, (ushort)i, new byte[2000]));
                sim.RunFor(TimeSpan.FromSeconds(1));
            }

            sim.Trace($"replies {pinger.Datagrams.Count}; a {a.Counters.Snapshot()}; b {b.Counters.Snapshot()}");

            // Loss costs replies (a lost fragment costs the datagram), but many get through.
            Assert.InRange(pinger.Datagrams.Count, 5, 45);
        }

        ulong first = NetworkSimulator.VerifyDeterminism(11, Scenario);
        ulong other = NetworkSimulator.VerifyDeterminism(12, Scenario);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void A_flood_of_a_thousand_pings_is_answered_in_full()
    {
        var sim = new NetworkSimulator(seed: 5);
        var (a, b, pinger) = Build(sim, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1), RateBitsPerSecond = 100_000_000 }, DeviceMedium.Ethernet);

        // Warm ARP with one ping, then 1000 back to back (more than the ARP queue would hold).
        b.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 2, 0, new byte[56]));
        sim.RunUntil(() => pinger.Datagrams.Count == 1, TimeSpan.FromSeconds(1));
        for (int i = 1; i <= 1000; i++)
        {
            Assert.Equal(IpSendResult.Sent, b.SendDatagram(new IpSendRequest(A, IpProtocol.Icmp), Packets.Echo(IcmpType.EchoRequest, 2, (ushort)i, new byte[56])));
        }

        sim.RunUntil(() => pinger.Datagrams.Count == 1001, TimeSpan.FromSeconds(5));
        var sequences = pinger.Datagrams.Select(d => (d.Payload[6] << 8) | d.Payload[7]).ToHashSet();
        Assert.Equal(1001, sequences.Count);
        StackCountersSnapshot s = a.Counters.Snapshot();
        Assert.Equal(1001, s.IcmpOutOf(IcmpType.EchoReply));
        Assert.Equal(0, s.TotalDropped);
    }
}
