using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Nat.Tests;

/// <summary>
/// A forwarding stack with a NAT between two simulated links whose far ends the test drives by
/// hand: datagrams are injected on the inside or outside wire and whatever the router sends is
/// collected per side, in virtual time.
/// Inside: 10.0.0.1/24 (hosts 10.0.0.10, 10.0.0.11). Outside: 203.0.113.1/24, gateway 203.0.113.254
/// (remotes 198.51.100.7 and .8 are beyond it).
/// </summary>
internal sealed class NatRig
{
    public static readonly Ipv4Address RouterInside = Packets.A("10.0.0.1");
    public static readonly Ipv4Address RouterOutside = Packets.A("203.0.113.1");
    public static readonly Ipv4Address HostA = Packets.A("10.0.0.10");
    public static readonly Ipv4Address HostB = Packets.A("10.0.0.11");
    public static readonly Ipv4Address Remote = Packets.A("198.51.100.7");
    public static readonly Ipv4Address Remote2 = Packets.A("198.51.100.8");

    private readonly MemoryDevice _insideWire;
    private readonly MemoryDevice _outsideWire;

    public NatRig(NatOptions? options = null, int insideMtu = 1500, int outsideMtu = 1500, int seed = 1, bool forwardingOnly = false, bool outsideGateway = true)
    {
        Sim = new NetworkSimulator(seed);
        MemoryLink inside = Sim.Network.CreateLink(mtu: insideMtu, name: "inside");
        MemoryLink outside = Sim.Network.CreateLink(mtu: outsideMtu, name: "outside");
        _insideWire = inside.B;
        _outsideWire = outside.B;
        Router = Sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed, Forwarding = true, Name = "router" }));
        InsideNic = Router.AddInterface(inside.A, RouterInside, 24);
        OutsideNic = Router.AddInterface(outside.A, RouterOutside, 24, gateway: outsideGateway ? Packets.A("203.0.113.254") : null);
        if (!forwardingOnly)
        {
            Nat = new NatGateway(Router, OutsideNic, options ?? new NatOptions { Seed = seed });
        }

        Sim.Register(() => Drain(_insideWire, InsideReceived) + Drain(_outsideWire, OutsideReceived));
    }

    public NetworkSimulator Sim { get; }

    public NetworkStack Router { get; }

    public NatGateway? Nat { get; }

    public NatGateway Gateway => Nat ?? throw new InvalidOperationException("no NAT in this rig");

    public NetworkInterface InsideNic { get; }

    public NetworkInterface OutsideNic { get; }

    public List<byte[]> InsideReceived { get; } = [];

    public List<byte[]> OutsideReceived { get; } = [];

    /// <summary>Sends a datagram from the inside wire and returns what came out on the outside (and clears both lists).</summary>
    public List<byte[]> FromInside(byte[] datagram)
    {
        Clear();
        Assert.True(_insideWire.TrySend(datagram));
        Sim.RunFor(TimeSpan.Zero);
        return [.. OutsideReceived];
    }

    /// <summary>Sends a datagram from the outside wire and returns what came out on the inside (and clears both lists).</summary>
    public List<byte[]> FromOutside(byte[] datagram)
    {
        Clear();
        Assert.True(_outsideWire.TrySend(datagram));
        Sim.RunFor(TimeSpan.Zero);
        return [.. InsideReceived];
    }

    /// <summary>The one datagram that came out of the outside after sending <paramref name="datagram"/> from inside.</summary>
    public byte[] OneOut(byte[] datagram)
    {
        List<byte[]> got = FromInside(datagram);
        Assert.Single(got);
        Packets.AssertChecksums(got[0]);
        return got[0];
    }

    /// <summary>The one datagram that came in on the inside after sending <paramref name="datagram"/> from outside.</summary>
    public byte[] OneIn(byte[] datagram)
    {
        List<byte[]> got = FromOutside(datagram);
        Assert.Single(got);
        Packets.AssertChecksums(got[0]);
        return got[0];
    }

    public void Clear()
    {
        InsideReceived.Clear();
        OutsideReceived.Clear();
    }

    /// <summary>Advances virtual time (timers run).</summary>
    public void Wait(TimeSpan time) => Sim.RunFor(time);

    public IReadOnlyList<NatTableRow> Table => Gateway.GetTable();

    public StackCountersSnapshot Counters => Router.Counters.Snapshot();

    private static int Drain(INetworkDevice device, List<byte[]> into) => device.Receive(frame => into.Add(frame.ToArray()), 64);
}
