using System.Net;
using System.Net.Sockets;
using TcpListener = Protocols.Tcp.TcpListener;
using BenchmarkDotNet.Attributes;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Benchmarks;

/// <summary>
/// The same bytes over one TCP connection, two ways in the same run: through two user-space stacks
/// (both driven on this thread by the simulation harness, a 100 µs virtual RTT, no loss) and through
/// the kernel's loopback TCP (two sockets on 127.0.0.1). The ratio column is stack time over kernel
/// time; the allocation column is the stacks' allocations per transfer (steady state should be close
/// to the fixed per-operation costs, not proportional to the bytes). The receiving application keeps
/// a read waiting, so its TCP copies each segment's payload once, straight into the read's buffer.
/// </summary>
[MemoryDiagnoser]
public class TransferBenchmarks
{
    private const int Chunk = 64 * 1024;
    private static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");

    private readonly byte[] _send = new byte[Chunk];
    private readonly byte[] _receive = new byte[256 * 1024];
    private NetworkSimulator _sim = null!;
    private TcpStream _client = null!;
    private TcpStream _server = null!;
    private Socket _kernelClient = null!;
    private Socket _kernelServer = null!;

    /// <summary>Bytes per transfer.</summary>
    [Params(1 << 20, 16 << 20)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        new Random(42).NextBytes(_send);

        _sim = new NetworkSimulator(42);
        var link = new LinkOptions { Delay = TimeSpan.FromMicroseconds(50), QueueLimitPackets = 100_000, QueueLimitBytes = 64 << 20 };
        MemoryLink wire = _sim.Network.CreateLink(link, link, DeviceMedium.Ip, 1500);
        NetworkStack a = _sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 1, Name = "bench-a", RequestQueueCapacity = 65536 }));
        NetworkStack b = _sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 2, Name = "bench-b", RequestQueueCapacity = 65536 }));
        a.AddInterface(wire.A, AddressA, 24);
        b.AddInterface(wire.B, AddressB, 24);
        TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = 1 });
        TcpLayer tcpB = b.UseTcp(new TcpStackOptions { Seed = 2 });
        TcpListener listener = tcpB.Listen(5001);
        (_client, _server) = _sim.RunUntilCompleted(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream c = await tcpA.ConnectAsync(new IpEndpoint(AddressB, 5001));
            return (c, await accept);
        }, TimeSpan.FromMinutes(1));

        using var kernelListener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        kernelListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        kernelListener.Listen(1);
        _kernelClient = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _kernelClient.Connect(kernelListener.LocalEndPoint!);
        _kernelServer = kernelListener.Accept();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Abort();
        _server.Abort();
        _sim.RunFor(TimeSpan.FromSeconds(1));
        _kernelClient.Dispose();
        _kernelServer.Dispose();
    }

    [Benchmark(Baseline = true, Description = "kernel loopback TCP")]
    public long Kernel()
    {
        Task<long> receive = Task.Run(() =>
        {
            long got = 0;
            while (got < Bytes)
            {
                got += _kernelServer.Receive(_receive);
            }

            return got;
        });
        for (int sent = 0; sent < Bytes; sent += Chunk)
        {
            _kernelClient.Send(_send.AsSpan(0, Math.Min(Chunk, Bytes - sent)));
        }

        return receive.GetAwaiter().GetResult();
    }

    [Benchmark(Description = "two user-space stacks")]
    public long Stacks() => _sim.RunUntilCompleted(async () =>
    {
        Task<long> receive = ReceiveAsync();
        for (int sent = 0; sent < Bytes; sent += Chunk)
        {
            await _client.WriteAsync(_send.AsMemory(0, Math.Min(Chunk, Bytes - sent)));
        }

        return await receive;
    }, TimeSpan.FromHours(1));

    private async Task<long> ReceiveAsync()
    {
        long got = 0;
        while (got < Bytes)
        {
            int n = await _server.ReadAsync(_receive.AsMemory(0, (int)Math.Min(_receive.Length, Bytes - got)));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            got += n;
        }

        return got;
    }
}
