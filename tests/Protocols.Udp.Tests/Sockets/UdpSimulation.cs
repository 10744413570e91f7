using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>
/// Two stacks, A (10.0.0.1 or 2001:db8::1) and B (10.0.0.2 or 2001:db8::2), on one simulated IP
/// link, with UDP enabled on both; the family is <see cref="Family.Ipv6"/>'s.
/// </summary>
internal sealed class UdpSimulation
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>A's address in the current test's family.</summary>
    public static IpAddress AddressA => Family.Host(1);

    /// <summary>B's address in the current test's family.</summary>
    public static IpAddress AddressB => Family.Host(2);

    public UdpSimulation(int seed, LinkOptions? link = null, int mtu = 1500, UdpOptions? udpA = null, UdpOptions? udpB = null, NetworkSimulator? sim = null)
    {
        Sim = sim ?? new NetworkSimulator(seed);
        Link = Sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        A = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed }), s => s.Poll(), s => s.NextDeadline);
        B = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed + 1 }), s => s.Poll(), s => s.NextDeadline);
        A.AddInterface(Link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressA, Family.PrefixLength)] });
        B.AddInterface(Link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressB, Family.PrefixLength)] });
        UdpA = A.UseUdp(udpA ?? new UdpOptions { Seed = seed, Name = $"sim{seed}-a" });
        UdpB = B.UseUdp(udpB ?? new UdpOptions { Seed = seed + 1, Name = $"sim{seed}-b" });
    }

    public NetworkSimulator Sim { get; }

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
    /// quoting a UDP datagram <paramref name="from"/> (on A) to <paramref name="to"/>. Over IPv6, the
    /// ICMPv6 equivalent (host unreachable is address unreachable, fragmentation needed is packet too
    /// big, time exceeded stays), quoting a packet with the flow label A gives that flow.
    /// </summary>
    public void InjectIcmpErrorTowardsA(IcmpType type, byte code, IpEndpoint from, IpEndpoint to, IpAddress reporter)
    {
        var udp = new byte[12];
        UdpPacket.Write(udp, from, to, "quot"u8);
        if (from.Address.IsIpv6)
        {
            Ipv6Address src = from.Address.ToIpv6();
            Ipv6Address dst = to.Address.ToIpv6();
            var quoted6 = new byte[Ipv6Header.FixedLength + udp.Length];
            Ipv6Packet.Write(quoted6, new Ipv6Header { NextHeader = IpProtocol.Udp, HopLimit = 64, Source = src, Destination = dst, FlowLabel = A.Ipv6FlowLabel(src, dst, IpProtocol.Udp, from.Port, to.Port) }, [], udp);
            (Icmpv6Type type6, byte code6, uint rest) = (type, code) switch
            {
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded) => (Icmpv6Type.PacketTooBig, (byte)0, 1280u),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.PortUnreachable, 0u),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.CommunicationAdministrativelyProhibited) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.AdministrativelyProhibited, 0u),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.NetUnreachable) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.NoRoute, 0u),
                (IcmpType.DestinationUnreachable, _) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.AddressUnreachable, 0u),
                (IcmpType.TimeExceeded, _) => (Icmpv6Type.TimeExceeded, code, 0u),
                _ => (Icmpv6Type.ParameterProblem, (byte)0, 0u),
            };
            var icmp6 = new byte[Icmpv6Header.FixedLength + quoted6.Length];
            int length6 = Icmpv6Message.WriteError(icmp6, reporter.ToIpv6(), src, type6, code6, rest, quoted6);
            var packet6 = new byte[Ipv6Header.FixedLength + length6];
            int n6 = Ipv6Packet.Write(packet6, new Ipv6Header { NextHeader = IpProtocol.Icmpv6, HopLimit = 64, Source = reporter.ToIpv6(), Destination = src }, [], icmp6.AsSpan(0, length6));
            Assert.True(Link.B.TrySend(packet6.AsSpan(0, n6)));
            return;
        }

        var quoted = new byte[Ipv4Header.FixedLength + udp.Length];
        Ipv4Packet.Write(quoted, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Udp, Identification = 7, Source = from.Address.ToIpv4(), Destination = to.Address.ToIpv4() }, [], udp);
        var icmp = new byte[IcmpHeader.FixedLength + quoted.Length];
        int icmpLength = IcmpMessage.WriteError(icmp, type, code, 0, quoted);
        var packet = new byte[Ipv4Header.FixedLength + icmpLength];
        int n = Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Icmp, Identification = 8, Source = reporter.ToIpv4(), Destination = from.Address.ToIpv4() }, [], icmp.AsSpan(0, icmpLength));
        Assert.True(Link.B.TrySend(packet.AsSpan(0, n)));
    }

    /// <summary>Puts a hand-made IPv4 or IPv6 packet (the family of the addresses) from A's side of the link on the wire towards B.</summary>
    public void InjectTowardsB(ReadOnlySpan<byte> udpDatagram, IpAddress? source = null, IpAddress? destination = null)
    {
        IpAddress from = source ?? AddressA;
        IpAddress to = destination ?? AddressB;
        if (from.IsIpv6)
        {
            var packet6 = new byte[Ipv6Header.FixedLength + udpDatagram.Length];
            int n6 = Ipv6Packet.Write(packet6, new Ipv6Header { NextHeader = IpProtocol.Udp, HopLimit = 64, Source = from.ToIpv6(), Destination = to.ToIpv6() }, [], udpDatagram);
            Assert.True(Link.A.TrySend(packet6.AsSpan(0, n6)));
            return;
        }

        var header = new Ipv4Header
        {
            Ttl = 64,
            Protocol = IpProtocol.Udp,
            Identification = 4242,
            Source = from.ToIpv4(),
            Destination = to.ToIpv4(),
        };
        var packet = new byte[Ipv4Header.FixedLength + udpDatagram.Length];
        int n = Ipv4Packet.Write(packet, header, [], udpDatagram);
        Assert.True(Link.A.TrySend(packet.AsSpan(0, n)));
    }
}
