using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Relay.Tests;

/// <summary>
/// A client stack (10.0.0.1, default route via 10.0.0.2) and a forwarder stack (10.0.0.2, its
/// interface transparent) on an in-memory link, both loops running in real time, and the
/// forwarder relaying to a <see cref="FakeOutbound"/>. Every wait in the tests is bounded.
/// </summary>
internal sealed class ForwarderRig : IAsyncDisposable
{
    public static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address ForwarderAddress = Ipv4Address.Parse("10.0.0.2");
    public static readonly IpEndpoint Far = IpEndpoint.Parse("198.51.100.7:80");

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public ForwarderRig(ForwarderOptions? options = null, TcpStackOptions? forwarderTcp = null)
    {
        var network = new MemoryNetwork(1, TimeProvider.System);
        MemoryLink link = network.CreateLink();
        Client = new NetworkStack(new NetworkStackOptions { Name = "client" });
        Client.AddInterface(link.A, ClientAddress, 24, gateway: ForwarderAddress);
        Stack = new NetworkStack(new NetworkStackOptions { Name = "forwarder" });
        Stack.AddInterface(link.B, ForwarderAddress, 24).AcceptAnyDestination = true;
        ClientTcp = Client.UseTcp(new TcpStackOptions { Name = "client" });
        ForwarderTcp = Stack.UseTcp(forwarderTcp ?? new TcpStackOptions { Name = "forwarder" });
        Forwarder = new TransparentForwarder(Stack, Outbound, options);
        Forwarder.Start();
        _loops.Add(Task.Run(() => Client.RunAsync(_stop.Token)));
        _loops.Add(Task.Run(() => Stack.RunAsync(_stop.Token)));
        _loops.Add(Task.Run(() => Forwarder.RunAsync(_stop.Token)));
    }

    public static TimeSpan Wait => TimeSpan.FromSeconds(20);

    public NetworkStack Client { get; }

    public NetworkStack Stack { get; }

    public TcpLayer ClientTcp { get; }

    public TcpLayer ForwarderTcp { get; }

    public FakeOutbound Outbound { get; } = new();

    public TransparentForwarder Forwarder { get; }

    public async Task<FakeServer> NextServerAsync() => await Outbound.Servers.Reader.ReadAsync().AsTask().WaitAsync(Wait);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(Wait);
        }
        catch (OperationCanceledException)
        {
        }

        Client.Dispose();
        Stack.Dispose();
    }
}
