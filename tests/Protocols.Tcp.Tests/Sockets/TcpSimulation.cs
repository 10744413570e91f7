using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// Two stacks, A (10.0.0.1 or 2001:db8::1) and B (10.0.0.2 or 2001:db8::2), on one simulated IP
/// link, with TCP on both; the family is <see cref="Family.Ipv6"/>'s. With <c>trace: true</c>,
/// every frame B sends or receives is kept as a tcpdump-style line.
/// </summary>
internal sealed class TcpSimulation
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>A's address in the current test's family.</summary>
    public static IpAddress AddressA => Family.Host(1);

    /// <summary>B's address in the current test's family.</summary>
    public static IpAddress AddressB => Family.Host(2);

    public TcpSimulation(int seed, LinkOptions? link = null, int mtu = 1500, TcpStackOptions? tcpA = null, TcpStackOptions? tcpB = null, bool trace = false, int requestQueueCapacity = 4096, bool tcpOnB = true, NetworkSimulator? sim = null, int? interfaceMtuA = null)
    {
        Sim = sim ?? new NetworkSimulator(seed);
        Link = Sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        A = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed, Name = $"sim{seed}-a", RequestQueueCapacity = requestQueueCapacity }), s => s.Poll(), s => s.NextDeadline);
        B = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed + 1, Name = $"sim{seed}-b", RequestQueueCapacity = requestQueueCapacity }), s => s.Poll(), s => s.NextDeadline);
        A.AddInterface(Link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressA, Family.PrefixLength)], Mtu = interfaceMtuA });
        INetworkDevice deviceB = trace ? new TracingDevice(Link.B, line => Lines.Add(line), Sim.Clock) : Link.B;
        B.AddInterface(deviceB, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressB, Family.PrefixLength)] });
        TcpA = A.UseTcp(tcpA ?? new TcpStackOptions { Seed = seed, Name = $"sim{seed}-a" });
        TcpB = tcpOnB ? B.UseTcp(tcpB ?? new TcpStackOptions { Seed = seed + 1, Name = $"sim{seed}-b" }) : null!;
    }

    public NetworkSimulator Sim { get; }

    public MemoryLink Link { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public TcpLayer TcpA { get; }

    public TcpLayer TcpB { get; }

    /// <summary>Trace lines of B's device (with <c>trace: true</c>).</summary>
    public List<string> Lines { get; } = new();

    public void Run(Func<Task> scenario, TimeSpan? limit = null) => Sim.RunUntilCompleted(scenario, limit ?? Limit);

    public T Run<T>(Func<Task<T>> scenario, TimeSpan? limit = null) => Sim.RunUntilCompleted(scenario, limit ?? Limit);

    /// <summary>Runs until nothing is in flight and no timer is armed (or the limit).</summary>
    public void Settle(TimeSpan? limit = null) => Sim.RunUntilIdle(limit ?? TimeSpan.FromSeconds(5));

    /// <summary>Connects A to B:<paramref name="port"/> and accepts on B; returns (client on A, server on B).</summary>
    public (TcpStream Client, TcpStream Server) Connect(TcpListener listener, TcpConnectionOptions? options = null) =>
        Run(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream client = await TcpA.ConnectAsync(new IpEndpoint(AddressB, listener.LocalEndPoint.Port), options, null);
            TcpStream server = await accept;
            return (client, server);
        });

    /// <summary>
    /// Puts an ICMP error on the wire from B's side towards A, reported by <paramref name="reporter"/>
    /// and quoting a TCP segment from <paramref name="from"/> (on A) to <paramref name="to"/>. Over
    /// IPv6 the equivalent ICMPv6 error (fragmentation needed is packet too big, host unreachable is
    /// address unreachable, port unreachable is port unreachable) quotes a packet carrying the flow
    /// label A gives that flow, as a real router's would.
    /// </summary>
    public void InjectIcmpErrorTowardsA(IcmpType type, byte code, uint restOfHeader, IpEndpoint from, IpEndpoint to, IpAddress reporter)
    {
        var tcp = new byte[TcpHeader.FixedLength];
        new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Ack, Window = 100 }.Write(tcp, new TcpFourTuple(from.Address, from.Port, to.Address, to.Port), default, default);
        if (from.Address.IsIpv6)
        {
            Ipv6Address src = from.Address.ToIpv6();
            Ipv6Address dst = to.Address.ToIpv6();
            var quoted6 = new byte[Ipv6Header.FixedLength + tcp.Length];
            Ipv6Packet.Write(quoted6, new Ipv6Header { NextHeader = IpProtocol.Tcp, HopLimit = 64, Source = src, Destination = dst, FlowLabel = A.Ipv6FlowLabel(src, dst, IpProtocol.Tcp, from.Port, to.Port) }, [], tcp);
            (Icmpv6Type type6, byte code6) = (type, code) switch
            {
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded) => (Icmpv6Type.PacketTooBig, (byte)0),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.PortUnreachable),
                (IcmpType.DestinationUnreachable, _) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.AddressUnreachable),
                (IcmpType.TimeExceeded, _) => (Icmpv6Type.TimeExceeded, code),
                _ => (Icmpv6Type.ParameterProblem, (byte)0),
            };
            var icmp6 = new byte[Icmpv6Header.FixedLength + quoted6.Length];
            int length6 = Icmpv6Message.WriteError(icmp6, reporter.ToIpv6(), src, type6, code6, type6 == Icmpv6Type.PacketTooBig ? Math.Max(restOfHeader, 1280) : restOfHeader, quoted6);
            var packet6 = new byte[Ipv6Header.FixedLength + length6];
            int n6 = Ipv6Packet.Write(packet6, new Ipv6Header { NextHeader = IpProtocol.Icmpv6, HopLimit = 64, Source = reporter.ToIpv6(), Destination = src }, [], icmp6.AsSpan(0, length6));
            Assert.True(Link.B.TrySend(packet6.AsSpan(0, n6)));
            return;
        }

        var quoted = new byte[Ipv4Header.FixedLength + tcp.Length];
        Ipv4Packet.Write(quoted, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Tcp, Identification = 7, Source = from.Address.ToIpv4(), Destination = to.Address.ToIpv4(), DontFragment = true }, [], tcp);
        var icmp = new byte[IcmpHeader.FixedLength + quoted.Length];
        int icmpLength = IcmpMessage.WriteError(icmp, type, code, restOfHeader, quoted);
        var packet = new byte[Ipv4Header.FixedLength + icmpLength];
        int n = Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Icmp, Identification = 8, Source = reporter.ToIpv4(), Destination = from.Address.ToIpv4() }, [], icmp.AsSpan(0, icmpLength));
        Assert.True(Link.B.TrySend(packet.AsSpan(0, n)));
    }

    /// <summary>Puts a hand-made TCP segment from A's address (or <paramref name="source"/>) on the wire towards B, in the test's family.</summary>
    public void InjectTowardsB(ushort sourcePort, ushort destinationPort, TcpOutgoingSegment segment, ReadOnlySpan<byte> payload = default, bool corruptChecksum = false, IpAddress? source = null)
    {
        IpAddress from = source ?? AddressA;
        var tuple = new TcpFourTuple(from, sourcePort, AddressB, destinationPort);
        var tcp = new byte[segment.HeaderLength + payload.Length];
        int length = segment.Write(tcp, tuple, payload, default);
        if (corruptChecksum)
        {
            tcp[16] ^= 0x5a;
        }

        byte[] packet = Packet(from, AddressB, tcp.AsSpan(0, length));
        Assert.True(Link.A.TrySend(packet));
    }

    /// <summary>A TCP packet of either family from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static byte[] Packet(IpAddress from, IpAddress to, ReadOnlySpan<byte> tcp)
    {
        if (from.IsIpv6)
        {
            var packet6 = new byte[Ipv6Header.FixedLength + tcp.Length];
            Ipv6Packet.Write(packet6, new Ipv6Header { NextHeader = IpProtocol.Tcp, HopLimit = 64, Source = from.ToIpv6(), Destination = to.ToIpv6() }, [], tcp);
            return packet6;
        }

        var header = new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Tcp, Identification = 4242, Source = from.ToIpv4(), Destination = to.ToIpv4() };
        var packet = new byte[Ipv4Header.FixedLength + tcp.Length];
        int n = Ipv4Packet.Write(packet, header, [], tcp);
        return packet[..n];
    }
}
