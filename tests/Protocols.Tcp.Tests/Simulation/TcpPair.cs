using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.SimulationTests;

/// <summary>
/// Two stacks with our TCP, A (10.0.0.1 or 2001:db8::1, the client) and B (10.0.0.2 or
/// 2001:db8::2, the server), on one simulated link with the same impairments both ways, all
/// seeded from one number; the family is <see cref="Family.Ipv6"/>'s.
/// </summary>
internal sealed class TcpPair
{
    /// <summary>A's address in the current test's family.</summary>
    public static IpAddress AddressA => Family.Host(1);

    /// <summary>B's address in the current test's family.</summary>
    public static IpAddress AddressB => Family.Host(2);

    public TcpPair(NetworkSimulator sim, LinkOptions link, int mtu = 1500, TcpConnectionOptions? options = null, TcpStackOptions? serverStack = null, Action<string>? trace = null, TcpStackOptions? clientStack = null)
    {
        Sim = sim;
        Link = sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu);
        int seedA = sim.Random.Next();
        int seedB = sim.Random.Next();
        A = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seedA, Name = "a" }));
        B = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seedB, Name = "b" }));
        A.AddInterface(trace is null ? Link.A : new TracingDevice(Link.A, trace, sim.Clock), new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressA, Family.PrefixLength)] });
        B.AddInterface(Link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(AddressB, Family.PrefixLength)] });
        TcpA = A.UseTcp(clientStack ?? new TcpStackOptions { Seed = seedA, Name = "a", Defaults = options ?? new TcpConnectionOptions() });
        TcpB = B.UseTcp(serverStack ?? new TcpStackOptions { Seed = seedB, Name = "b", Defaults = options ?? new TcpConnectionOptions() });
    }

    public NetworkSimulator Sim { get; }

    public MemoryLink Link { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public TcpLayer TcpA { get; }

    public TcpLayer TcpB { get; }

    /// <summary>Deterministic pseudo-random data.</summary>
    public static byte[] Data(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
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

/// <summary>What each side received.</summary>
internal sealed record TransferResult(long BytesAtB, byte[] Sha256AtB, long BytesAtA, byte[] Sha256AtA);
