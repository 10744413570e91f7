using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>Two stacks, A (10.0.0.1) and B (10.0.0.2), on one simulated IP link, with UDP enabled on both.</summary>
internal sealed class UdpSimulation
{
    public static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    public UdpSimulation(int seed, LinkOptions? link = null, int mtu = 1500, UdpOptions? udpA = null, UdpOptions? udpB = null, Simulation? sim = null)
    {
        Sim = sim ?? new Simulation(seed);
        Link = Sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        A = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed }), s => s.Poll(), s => s.NextDeadline);
        B = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed + 1 }), s => s.Poll(), s => s.NextDeadline);
        A.AddInterface(Link.A, AddressA, 24);
        B.AddInterface(Link.B, AddressB, 24);
        UdpA = A.UseUdp(udpA ?? new UdpOptions { Seed = seed, Name = $"sim{seed}-a" });
        UdpB = B.UseUdp(udpB ?? new UdpOptions { Seed = seed + 1, Name = $"sim{seed}-b" });
    }

    public Simulation Sim { get; }

    public MemoryLink Link { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public UdpLayer UdpA { get; }

    public UdpLayer UdpB { get; }

    public void Run(Func<Task> scenario) => Sim.RunUntilCompleted(scenario, Limit);

    public T Run<T>(Func<Task<T>> scenario) => Sim.RunUntilCompleted(scenario, Limit);

    /// <summary>Runs the simulation until nothing is in flight.</summary>
    public void Settle() => Sim.RunUntilIdle(TimeSpan.FromMinutes(5));

    /// <summary>
    /// Puts an ICMP error on the wire from B towards A, reported by <paramref name="reporter"/> and
    /// quoting a UDP datagram <paramref name="from"/> (on A) to <paramref name="to"/>.
    /// </summary>
    public void InjectIcmpErrorTowardsA(IcmpType type, byte code, IpEndpoint from, IpEndpoint to, Ipv4Address reporter)
    {
        var udp = new byte[12];
        UdpPacket.Write(udp, from, to, "quot"u8);
        var quoted = new byte[Ipv4Header.FixedLength + udp.Length];
        Ipv4Packet.Write(quoted, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Udp, Identification = 7, Source = from.Address.ToIpv4(), Destination = to.Address.ToIpv4() }, [], udp);
        var icmp = new byte[IcmpHeader.FixedLength + quoted.Length];
        int icmpLength = IcmpMessage.WriteError(icmp, type, code, 0, quoted);
        var packet = new byte[Ipv4Header.FixedLength + icmpLength];
        int n = Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Icmp, Identification = 8, Source = reporter, Destination = from.Address.ToIpv4() }, [], icmp.AsSpan(0, icmpLength));
        Assert.True(Link.B.TrySend(packet.AsSpan(0, n)));
    }

    /// <summary>Puts a hand-made IPv4 packet from A's side of the link on the wire towards B.</summary>
    public void InjectTowardsB(ReadOnlySpan<byte> udpDatagram, Ipv4Address? source = null, Ipv4Address? destination = null)
    {
        var header = new Ipv4Header
        {
            Ttl = 64,
            Protocol = IpProtocol.Udp,
            Identification = 4242,
            Source = source ?? AddressA,
            Destination = destination ?? AddressB,
        };
        var packet = new byte[Ipv4Header.FixedLength + udpDatagram.Length];
        int n = Ipv4Packet.Write(packet, header, [], udpDatagram);
        Assert.True(Link.A.TrySend(packet.AsSpan(0, n)));
    }
}
