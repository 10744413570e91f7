using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>The TCP trace formatter is registered with the stack that runs TCP, not with the process: two stacks in one process describe the same traffic each by what it runs.</summary>
public class TcpTraceRegistrationTests
{
    private static readonly LinkOptions Lan = new() { Delay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public void A_stack_with_TCP_and_one_without_trace_the_same_SYN_differently_and_do_not_affect_each_other()
    {
        // First the stack with TCP: a process-wide registration would leak into the second.
        var withTcp = new TcpStackPair(seed: 401, Lan, traceB: true);
        using TcpListener listener = withTcp.TcpB.Listen(80);
        withTcp.Run(async () => (await withTcp.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80))).Dispose());

        var withoutTcp = new TcpStackPair(seed: 402, Lan, traceB: true, tcpOnB: false);
        TcpException refused = withoutTcp.Run(() => Assert.ThrowsAsync<TcpException>(() => withoutTcp.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80))));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        string synWithTcp = Assert.Single(withTcp.Lines, l => l.Contains(" In ", StringComparison.Ordinal) && l.Contains("Flags [S]", StringComparison.Ordinal));
        Assert.Contains(".80: Flags [S], seq ", synWithTcp, StringComparison.Ordinal);

        // B without TCP describes the SYN by protocol and length only, as Ip alone can.
        string synWithoutTcp = withoutTcp.Lines.First(l => l.Contains(" In ", StringComparison.Ordinal));
        Assert.DoesNotContain("Flags", string.Concat(withoutTcp.Lines), StringComparison.Ordinal);
        Assert.Matches(@"\.80: tcp \d+$", synWithoutTcp);

        Assert.NotSame(withTcp.B.PacketFormatter, withoutTcp.B.PacketFormatter);
    }

    [Fact]
    public void A_tracer_made_with_its_own_formatter_keeps_it_and_one_without_takes_the_stack_s()
    {
        var sim = new NetworkSimulator(403);
        MemoryLink link = sim.Network.CreateLink();
        var own = new PacketFormatter { ShowLinkLayer = true };
        using var stackA = new NetworkStack();
        using var stackB = new NetworkStack();
        var explicitTracer = new TracingDevice(link.A, _ => { }, formatter: own);
        var defaultTracer = new TracingDevice(link.B, _ => { });
        PacketFormatter before = defaultTracer.Formatter;
        stackA.AddInterface(explicitTracer, new InterfaceConfiguration { Addresses = [new InterfaceAddress(Ipv4Address.Parse("10.0.0.1"), 24)] });
        stackB.AddInterface(defaultTracer, new InterfaceConfiguration { Addresses = [new InterfaceAddress(Ipv4Address.Parse("10.0.0.2"), 24)] });
        Assert.Same(own, explicitTracer.Formatter);
        Assert.NotSame(before, defaultTracer.Formatter);
        Assert.Same(stackB.PacketFormatter, defaultTracer.Formatter);
    }
}
