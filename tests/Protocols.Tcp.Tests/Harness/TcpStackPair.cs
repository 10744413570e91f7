using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// The two-stack fixture: two <see cref="NetworkStack"/>s with our TCP, A (10.0.0.1 or
/// 2001:db8::1, the client) and B (10.0.0.2 or 2001:db8::2, the server), on one simulated IP link
/// whose impairments (loss, duplication, reordering, delay, jitter, rate, queue, corruption) are
/// the <see cref="LinkOptions"/> given, the same both ways, all seeded. The family is
/// <see cref="Family.Ipv6"/>'s.
/// </summary>
/// <remarks>
/// Built from a seed, the pair owns a new simulation seeded with it and seeds its stacks with
/// <c>seed</c> and <c>seed + 1</c>; built on an existing simulation, it draws both stacks' seeds
/// from the simulation's random. <c>traceA</c> receives a tcpdump-style line for every frame A's
/// device sends or receives; with <c>traceB: true</c> B's lines are kept in <see cref="Lines"/>.
/// For exact segments against one stack use <see cref="TcpBed"/>; for one engine without a stack,
/// <see cref="EngineRecorder"/>.
/// </remarks>
internal sealed class TcpStackPair
{
    /// <summary>How long <see cref="Run(Func{Task}, TimeSpan?)"/> lets a scenario take in virtual time unless told otherwise.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>A new simulation seeded with <paramref name="seed"/> (or <paramref name="sim"/>), with stacks seeded <paramref name="seed"/> and <paramref name="seed"/> + 1.</summary>
    public TcpStackPair(int seed, LinkOptions? link = null, int mtu = 1500, TcpStackOptions? tcpA = null, TcpStackOptions? tcpB = null, bool traceB = false, int requestQueueCapacity = 4096, bool tcpOnB = true, NetworkSimulator? sim = null, int? interfaceMtuA = null, TcpConnectionOptions? options = null, Action<string>? traceA = null, bool receiveCoalescing = true)
        : this(sim ?? new NetworkSimulator(seed), link, mtu, seed, seed + 1, $"sim{seed}-a", $"sim{seed}-b", tcpA, tcpB, options, traceA, traceB, requestQueueCapacity, tcpOnB, interfaceMtuA, receiveCoalescing)
    {
    }

    /// <summary>Two stacks on <paramref name="sim"/>, seeded from its random and named "a" and "b".</summary>
    public TcpStackPair(NetworkSimulator sim, LinkOptions? link, int mtu = 1500, TcpConnectionOptions? options = null, TcpStackOptions? tcpB = null, Action<string>? traceA = null, TcpStackOptions? tcpA = null, bool traceB = false)
        : this(sim, link, mtu, sim.Random.Next(), sim.Random.Next(), "a", "b", tcpA, tcpB, options, traceA, traceB, 4096, true, null)
    {
    }

    private TcpStackPair(NetworkSimulator sim, LinkOptions? link, int mtu, int seedA, int seedB, string nameA, string nameB, TcpStackOptions? tcpA, TcpStackOptions? tcpB, TcpConnectionOptions? options, Action<string>? traceA, bool traceB, int requestQueueCapacity, bool tcpOnB, int? interfaceMtuA, bool receiveCoalescing = true)
    {
        Sim = sim;
        Link = sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        A = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seedA, Name = nameA, RequestQueueCapacity = requestQueueCapacity, ReceiveCoalescing = receiveCoalescing }));
        B = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seedB, Name = nameB, RequestQueueCapacity = requestQueueCapacity, ReceiveCoalescing = receiveCoalescing }));
        INetworkDevice deviceA = traceA is null ? Link.A : new TracingDevice(Link.A, traceA, sim.Clock);
        INetworkDevice deviceB = traceB ? new TracingDevice(Link.B, line => Lines.Add(line), sim.Clock) : Link.B;
        A.AddInterface(deviceA, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressA, Family.PrefixLength)], Mtu = interfaceMtuA });
        B.AddInterface(deviceB, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressB, Family.PrefixLength)] });
        TcpA = A.UseTcp(tcpA ?? new TcpStackOptions { Seed = seedA, Name = nameA, Defaults = options ?? new TcpConnectionOptions() });
        TcpB = tcpOnB ? B.UseTcp(tcpB ?? new TcpStackOptions { Seed = seedB, Name = nameB, Defaults = options ?? new TcpConnectionOptions() }) : null!;
    }

    /// <summary>A's address in the current test's family.</summary>
    public static IpAddress AddressA => Family.Host(1);

    /// <summary>B's address in the current test's family.</summary>
    public static IpAddress AddressB => Family.Host(2);

    public NetworkSimulator Sim { get; }

    public MemoryLink Link { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public TcpLayer TcpA { get; }

    /// <summary>B's TCP (null with <c>tcpOnB: false</c>, when a test drives B's IP layer itself).</summary>
    public TcpLayer TcpB { get; }

    /// <summary>Trace lines of B's device (with <c>traceB: true</c>).</summary>
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

    /// <summary>Writes <paramref name="data"/> in chunks of up to 64 KiB, then half-closes.</summary>
    public static async Task SendAll(TcpStream stream, byte[] data, int chunk = 64 * 1024)
    {
        for (int offset = 0; offset < data.Length; offset += chunk)
        {
            await stream.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
        }

        stream.CompleteWrites();
    }

    /// <summary>Reads to the end of the stream; returns the byte count and the SHA-256 of what was read.</summary>
    public static async Task<(long Bytes, byte[] Sha256)> ReceiveAll(TcpStream stream)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        while (true)
        {
            int n = await stream.ReadAsync(buffer);
            if (n == 0)
            {
                return (total, sha.GetHashAndReset());
            }

            sha.AppendData(buffer, 0, n);
            total += n;
        }
    }

    /// <summary>
    /// Runs <see cref="StartTransfer"/> to its end within <paramref name="limit"/> of virtual time
    /// and checks that each side received exactly what the other sent (byte count and SHA-256);
    /// returns what was received and how long it took.
    /// </summary>
    public TransferResult Transfer(byte[] aToB, byte[] bToA, TimeSpan limit)
    {
        Task<TransferResult> transfer = StartTransfer(aToB, bToA);
        TimeSpan took = Sim.RunUntil(() => transfer.IsCompleted, limit);
        TransferResult result = Sim.RunUntilCompleted(transfer, TimeSpan.Zero) with { Took = took };
        Assert.Equal(aToB.Length, result.BytesAtB);
        Assert.Equal(SHA256.HashData(aToB), result.Sha256AtB);
        Assert.Equal(bToA.Length, result.BytesAtA);
        Assert.Equal(SHA256.HashData(bToA), result.Sha256AtA);
        return result;
    }

    /// <summary>
    /// Connects A to B, sends <paramref name="aToB"/> and <paramref name="bToA"/> at the same time,
    /// each side half-closing when done and reading to the other's FIN; returns the hashes received.
    /// </summary>
    public Task<TransferResult> StartTransfer(byte[] aToB, byte[] bToA, ushort port = 5001)
    {
        TcpListener listener = TcpB.Listen(port, 16);
        Task<(long, byte[])> server = Sim.Start(async () =>
        {
            using TcpStream s = await listener.AcceptAsync(CancellationToken.None);
            Task send = SendAll(s, bToA);
            (long, byte[]) got = await ReceiveAll(s);
            await send;
            return got;
        });
        Task<(long, byte[])> client = Sim.Start(async () =>
        {
            using TcpStream c = await TcpA.ConnectAsync(new IpEndpoint(AddressB, port), CancellationToken.None);
            Task send = SendAll(c, aToB);
            (long, byte[]) got = await ReceiveAll(c);
            await send;
            return got;
        });
        return Sim.Start(async () =>
        {
            (long bytesAtB, byte[] shaAtB) = await server;
            (long bytesAtA, byte[] shaAtA) = await client;
            listener.Dispose();
            return new TransferResult(bytesAtB, shaAtB, bytesAtA, shaAtA);
        });
    }
}

/// <summary>What each side received (and, from <see cref="TcpStackPair.Transfer"/>, how long the transfer took in virtual time).</summary>
internal sealed record TransferResult(long BytesAtB, byte[] Sha256AtB, long BytesAtA, byte[] Sha256AtA)
{
    /// <summary>Virtual time from the start of the transfer to its end.</summary>
    public TimeSpan Took { get; init; }
}
