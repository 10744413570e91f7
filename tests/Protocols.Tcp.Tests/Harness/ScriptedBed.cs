using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// A real <see cref="NetworkStack"/> (10.0.0.2 or 2001:db8::2, by <see cref="Family"/>) on one
/// end of a simulated IP link, the <see cref="ScriptedPeer"/> (10.0.0.1 or 2001:db8::1) on the other, under one <see cref="NetworkSimulator"/>'s
/// virtual clock. The link is a perfect wire with no delay unless told otherwise, so the times
/// the peer sees are exactly the stack's timer deadlines.
/// </summary>
internal class ScriptedBed
{
    public static IpAddress PeerAddress => Family.Host(1);

    public static IpAddress StackAddress => Family.Host(2);

    public ScriptedBed(ITestOutputHelper? output, int seed = 1, int mtu = 1500, LinkOptions? link = null, Action<NetworkStack>? configure = null, bool receiveCoalescing = true)
    {
        Output = output;
        Sim = new NetworkSimulator(seed);
        Link = Sim.Network.CreateLink(link, link, DeviceMedium.Ip, mtu, name: "wire");
        Stack = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed, Name = "dut", ReceiveCoalescing = receiveCoalescing }));
        Stack.AddInterface(Link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(StackAddress, Family.PrefixLength)] });
        configure?.Invoke(Stack);
        Peer = Sim.Register(new ScriptedPeer(Sim, Link.A, PeerAddress, StackAddress, output));
    }

    public ITestOutputHelper? Output { get; }

    public NetworkSimulator Sim { get; }

    public MemoryLink Link { get; }

    /// <summary>The stack under test.</summary>
    public NetworkStack Stack { get; }

    /// <summary>The test's side of the wire.</summary>
    public ScriptedPeer Peer { get; }

    /// <summary>Virtual time since the start.</summary>
    public TimeSpan Now => Sim.Elapsed;

    /// <summary>Runs everything due now without moving time (e.g. to let the stack process what the peer sent).</summary>
    public void RunPending() => Sim.RunPending();

    /// <summary>Moves virtual time forward by exactly <paramref name="duration"/>, running what falls due.</summary>
    public void RunFor(TimeSpan duration) => Sim.RunFor(duration);

    /// <summary>Starts application code (awaits continue inside the simulation) without running it.</summary>
    public Task Start(Func<Task> operation) => Sim.Start(operation);

    /// <summary>Starts application code returning a value.</summary>
    public Task<T> Start<T>(Func<Task<T>> operation) => Sim.Start(operation);

    /// <summary>Runs until <paramref name="task"/> completes (or fails the test after <paramref name="limit"/> of virtual time) and returns its result.</summary>
    public T Complete<T>(Task<T> task, TimeSpan? limit = null) => Sim.RunUntilCompleted(task, limit ?? TimeSpan.FromSeconds(5));

    /// <summary>Runs until <paramref name="task"/> completes (or fails the test after <paramref name="limit"/>).</summary>
    public void Complete(Task task, TimeSpan? limit = null) => Sim.RunUntilCompleted(task, limit ?? TimeSpan.FromSeconds(5));
}
