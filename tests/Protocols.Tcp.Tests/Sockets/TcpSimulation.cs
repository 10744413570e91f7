using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// Two stacks, A (10.0.0.1) and B (10.0.0.2), on one simulated IP link, with TCP on both.
/// With <c>trace: true</c>, every frame B sends or receives is kept as a tcpdump-style line.
/// </summary>
internal sealed class TcpSimulation
{
    public static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public TcpSimulation(int seed, LinkOptions? link = null, int mtu = 1500, TcpStackOptions? tcpA = null, TcpStackOptions? tcpB = null, bool trace = false, int requestQueueCapacity = 4096, bool tcpOnB = true, Simulation? sim = null, int? interfaceMtuA = null)
    {
        Sim = sim ?? new Simulation(seed);
        Link = Sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        A = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed, Name = $"sim{seed}-a", RequestQueueCapacity = requestQueueCapacity }), s => s.Poll(), s => s.NextDeadline);
        B = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed + 1, Name = $"sim{seed}-b", RequestQueueCapacity = requestQueueCapacity }), s => s.Poll(), s => s.NextDeadline);
        A.AddInterface(Link.A, AddressA, 24, mtu: interfaceMtuA);
        INetworkDevice deviceB = trace ? new TracingDevice(Link.B, line => Lines.Add(line), Sim.Clock) : Link.B;
        B.AddInterface(deviceB, AddressB, 24);
        TcpA = A.UseTcp(tcpA ?? new TcpStackOptions { Seed = seed, Name = $"sim{seed}-a" });
        TcpB = tcpOnB ? B.UseTcp(tcpB ?? new TcpStackOptions { Seed = seed + 1, Name = $"sim{seed}-b" }) : null!;
    }

    public Simulation Sim { get; }

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
    /// and quoting a TCP segment from <paramref name="from"/> (on A) to <paramref name="to"/>.
    /// </summary>
    public void InjectIcmpErrorTowardsA(IcmpType type, byte code, uint restOfHeader, IpEndpoint from, IpEndpoint to, Ipv4Address reporter)
    {
        var tcp = new byte[TcpHeader.FixedLength];
        new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Ack, Window = 100 }.Write(tcp, new TcpFourTuple(from.Address, from.Port, to.Address, to.Port), default, default);
        var quoted = new byte[Ipv4Header.FixedLength + tcp.Length];
        Ipv4Packet.Write(quoted, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Tcp, Identification = 7, Source = from.Address.ToIpv4(), Destination = to.Address.ToIpv4(), DontFragment = true }, [], tcp);
        var icmp = new byte[IcmpHeader.FixedLength + quoted.Length];
        int icmpLength = IcmpMessage.WriteError(icmp, type, code, restOfHeader, quoted);
        var packet = new byte[Ipv4Header.FixedLength + icmpLength];
        int n = Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Icmp, Identification = 8, Source = reporter, Destination = from.Address.ToIpv4() }, [], icmp.AsSpan(0, icmpLength));
        Assert.True(Link.B.TrySend(packet.AsSpan(0, n)));
    }

    /// <summary>Puts a hand-made TCP segment from A's address on the wire towards B.</summary>
    public void InjectTowardsB(ushort sourcePort, ushort destinationPort, TcpOutgoingSegment segment, ReadOnlySpan<byte> payload = default, bool corruptChecksum = false, Ipv4Address? source = null)
    {
        Ipv4Address from = source ?? AddressA;
        var tuple = new TcpFourTuple(from, sourcePort, AddressB, destinationPort);
        var tcp = new byte[segment.HeaderLength + payload.Length];
        int length = segment.Write(tcp, tuple, payload, default);
        if (corruptChecksum)
        {
            tcp[16] ^= 0x5a;
        }

        var header = new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Tcp, Identification = 4242, Source = from, Destination = AddressB };
        var packet = new byte[Ipv4Header.FixedLength + length];
        int n = Ipv4Packet.Write(packet, header, [], tcp.AsSpan(0, length));
        Assert.True(Link.A.TrySend(packet.AsSpan(0, n)));
    }
}
