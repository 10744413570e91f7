using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tls.Tests.Security;

/// <summary>
/// Two stacks (client 10.0.0.1, server 10.0.0.2; 2001:db8::1 and ::2 when <see cref="Family.Ipv6"/>) on an in-process link, each running its own loop
/// in real time. TLS runs on the thread pool (SslStream's continuations), which a virtual clock
/// cannot hold still, so these tests use the system clock; the link's randomness is still seeded.
/// </summary>
internal sealed class StackPair : IAsyncDisposable
{
    public static IpAddress ClientAddress => Family.Host(1);

    public static IpAddress ServerAddress => Family.Host(2);

    /// <summary>The server's address as a URL host: 10.0.0.2 or [2001:db8::2].</summary>
    public static string UrlHost => Family.Ipv6 ? $"[{ServerAddress}]" : ServerAddress.ToString();

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _clientLoop;
    private readonly Task _serverLoop;

    public StackPair(int seed, LinkOptions? link = null)
    {
        var network = new MemoryNetwork(seed, TimeProvider.System);
        Link = network.CreateLink(link ?? new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, medium: DeviceMedium.Ip);
        Client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = seed });
        Server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = seed + 1 });
        Client.AddInterface(Link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ClientAddress, Family.PrefixLength)] });
        Server.AddInterface(Link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ServerAddress, Family.PrefixLength)] });
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
