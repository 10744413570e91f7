using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Tls.Tests.Security;

/// <summary>
/// Two stacks (client 10.0.0.1, server 10.0.0.2) on an in-process link, each running its own loop
/// in real time. TLS runs on the thread pool (SslStream's continuations), which a virtual clock
/// cannot hold still, so these tests use the system clock; the link's randomness is still seeded.
/// </summary>
internal sealed class StackPair : IAsyncDisposable
{
    public static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.0.0.2");

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _clientLoop;
    private readonly Task _serverLoop;

    public StackPair(int seed, LinkOptions? link = null)
    {
        var network = new MemoryNetwork(seed, TimeProvider.System);
        Link = network.CreateLink(link ?? new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, medium: DeviceMedium.Ip);
        Client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = seed });
        Server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = seed + 1 });
        Client.AddInterface(Link.A, ClientAddress, 24);
        Server.AddInterface(Link.B, ServerAddress, 24);
        ClientTcp = Client.UseTcp(new TcpStackOptions { Seed = seed });
        ServerTcp = Server.UseTcp(new TcpStackOptions { Seed = seed + 1 });
        _clientLoop = Client.RunAsync(_stop.Token);
        _serverLoop = Server.RunAsync(_stop.Token);
    }

    public MemoryLink Link { get; }

    public NetworkStack Client { get; }

    public NetworkStack Server { get; }

    public TcpLayer ClientTcp { get; }

    public TcpLayer ServerTcp { get; }

    public IpEndpoint ServerEndpoint(ushort port) => new(ServerAddress, port);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Task loop in new[] { _clientLoop, _serverLoop })
        {
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        Client.Dispose();
        Server.Dispose();
        Link.A.Dispose();
        Link.B.Dispose();
        _stop.Dispose();
    }
}
