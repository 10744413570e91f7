using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.AspNetCore.Tests;

/// <summary>
/// Two stacks on an in-memory link (real-time clock: Kestrel's own timers and thread pool run
/// beside it), each running its loop: 10.7.0.1 the client, 10.7.0.2 the server.
/// </summary>
internal sealed class StackPair : IAsyncDisposable
{
    public static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.7.0.1");
    public static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.7.0.2");

    /// <summary>The bound of every wait in these tests.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loops;

    public StackPair(int seed = 1, LinkOptions? link = null)
    {
        var network = new MemoryNetwork(seed, TimeProvider.System);
        Link = network.CreateLink(link ?? new LinkOptions { Delay = TimeSpan.FromMilliseconds(0.2) }, null, DeviceMedium.Ip, 1500);
        Client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = seed });
        Server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = seed + 1 });
        Client.AddInterface(Link.A, ClientAddress, 24);
        Server.AddInterface(Link.B, ServerAddress, 24);
        ClientTcp = Client.UseTcp();
        ServerTcp = Server.UseTcp();
        _loops = Task.WhenAll(Client.RunAsync(_stop.Token), Server.RunAsync(_stop.Token));
    }

    public MemoryLink Link { get; }

    public NetworkStack Client { get; }

    public NetworkStack Server { get; }

    public TcpLayer ClientTcp { get; }

    public TcpLayer ServerTcp { get; }

    /// <summary>The server's connection table (read on its loop).</summary>
    public async Task<IReadOnlyList<TcpConnectionInfo>> ServerConnectionsAsync() => await ServerTcp.GetConnectionsAsync();

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds.</summary>
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
        _stop.Cancel();
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
    }
}
