using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Tcp.Tests;

/// <summary>The README's C# example, kept compiling and passing (keep the two in step).</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void The_readme_echo_example_runs()
    {
        var sim = new NetworkSimulator(seed: 1);
        var link = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(5), Loss = 0.02 });
        NetworkStack server = sim.AddStack(clock => new NetworkStack(new() { TimeProvider = clock, Seed = 1 }));
        NetworkStack client = sim.AddStack(clock => new NetworkStack(new() { TimeProvider = clock, Seed = 2 }));
        server.AddInterface(link.A, Ipv4Address.Parse("10.0.0.2"), 24);
        client.AddInterface(link.B, Ipv4Address.Parse("10.0.0.1"), 24);
        TcpListener listener = server.UseTcp().Listen(7, backlog: 16);
        TcpLayer tcp = client.UseTcp();

        byte[] echoed = sim.RunUntilCompleted(async () =>
        {
            Task<TcpStream> accepted = listener.AcceptAsync(CancellationToken.None);
            await using TcpStream c = await tcp.ConnectAsync(IpEndpoint.Parse("10.0.0.2:7"));
            await using TcpStream s = await accepted;
            await c.WriteAsync("hello"u8.ToArray());
            c.CompleteWrites();                                   // FIN: half-close
            var buffer = new byte[5];
            await s.ReadExactlyAsync(buffer);
            return buffer;
        }, TimeSpan.FromSeconds(30));

        Assert.Equal("hello"u8.ToArray(), echoed);
    }
}
