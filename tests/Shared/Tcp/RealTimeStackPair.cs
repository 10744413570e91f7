using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Tests.Shared;

/// <summary>
/// Two stacks with TCP (client 10.0.0.1, server 10.0.0.2; 2001:db8::1 and ::2 when
/// <see cref="Family.Ipv6"/>) on an in-process link, each running its own loop in real time.
/// For what a virtual clock cannot hold still: SslStream's continuations on the thread pool,
/// Kestrel's own timers. The link's randomness and the stacks are still seeded. Every wait is
/// bounded by <see cref="Limit"/>. Protocol behaviour belongs in the virtual-time fixtures
/// (tests/Protocols.Tcp.Tests/Harness).
/// </summary>
internal sealed class RealTimeStackPair : IAsyncDisposable
{
    /// <summary>The bound of every wait on the pair.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loops;

    /// <summary>Starts both loops; the link has a 1 ms delay each way unless <paramref name="link"/> says otherwise.</summary>
    public RealTimeStackPair(int seed = 1, LinkOptions? link = null)
    {
        var network = new MemoryNetwork(seed, TimeProvider.System);
        Link = network.CreateLink(link ?? new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, medium: DeviceMedium.Ip);
        Client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = seed });
        Server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = seed + 1 });
        Client.AddInterface(Link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ClientAddress, Family.PrefixLength)] });
        Server.AddInterface(Link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ServerAddress, Family.PrefixLength)] });
        ClientTcp = Client.UseTcp(new TcpStackOptions { Seed = seed });
        ServerTcp = Server.UseTcp(new TcpStackOptions { Seed = seed + 1 });
        _loops = Task.WhenAll(Client.RunAsync(_stop.Token), Server.RunAsync(_stop.Token));
    }

    public static IpAddress ClientAddress => Family.Host(1);

    public static IpAddress ServerAddress => Family.Host(2);

    /// <summary>The server's address as a URL host: 10.0.0.2 or [2001:db8::2].</summary>
    public static string UrlHost => Family.Ipv6 ? $"[{ServerAddress}]" : ServerAddress.ToString();

    public MemoryLink Link { get; }

    public NetworkStack Client { get; }

    public NetworkStack Server { get; }

    public TcpLayer ClientTcp { get; }

    public TcpLayer ServerTcp { get; }

    public IpEndpoint ServerEndpoint(ushort port) => new(ServerAddress, port);

    /// <summary>The server's connection table (read on its loop).</summary>
    public async Task<IReadOnlyList<TcpConnectionInfo>> ServerConnectionsAsync() => await ServerTcp.GetConnectionsAsync();

    /// <summary>Waits (bounded by <see cref="Limit"/>) until <paramref name="condition"/> holds.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    /// <summary>Waits (bounded by <see cref="Limit"/>) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        DateTime giveUp = DateTime.UtcNow + Limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > giveUp)
            {
                throw new TimeoutException($"not within {Limit.TotalSeconds} s: {what}");
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loops.WaitAsync(Limit);
        }
        catch (OperationCanceledException)
        {
        }

        Client.Dispose();
        Server.Dispose();
        Link.A.Dispose();
        Link.B.Dispose();
        _stop.Dispose();
    }
}
