using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Ip.Tests.Simulation;

/// <summary>Two NetworkStacks pinging each other under the harness.</summary>
public class StackSimulationTests
{
    /// <summary>A ping client: sends echo requests, records the replies.</summary>
    private sealed class Pinger : IIpTransport
    {
        public IpProtocol Protocol => IpProtocol.Icmp;

        public HashSet<ushort> Replies { get; } = [];

        public int Expected { get; init; } = int.MaxValue;

        public TaskCompletionSource AllReplied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int ReplyBytes { get; private set; }

        public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
        {
            if (IcmpEchoHeader.TryRead(datagram.Payload, out IcmpEchoHeader.Reader echo, out _) && echo.Type == IcmpType.EchoReply && echo.Identifier == 77)
            {
                Replies.Add(echo.SequenceNumber);
                ReplyBytes = datagram.Payload.Length;
                if (Replies.Count >= Expected)
                {
                    AllReplied.TrySetResult();
                }
            }
        }

        public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error)
        {
        }

        public static IpSendResult Ping(NetworkStack stack, Ipv4Address destination, ushort seq, int dataLength)
        {
            byte[] message = new byte[IcmpEchoHeader.FixedLength + dataLength];
            IcmpMessage.WriteEcho(message, IcmpType.EchoRequest, 77, seq, new byte[dataLength]);
            return stack.SendDatagram(new IpSendRequest(destination, IpProtocol.Icmp), message);
        }
    }

    private sealed record Outcome(int Replies, TimeSpan Elapsed, LinkStatistics AToB, StackCountersSnapshot Client, StackCountersSnapshot Server);

    // A pings B once every 100 ms, `count` times, over an Ethernet link (so ARP runs too).
    private static Outcome PingScenario(NetworkSimulator sim, LinkOptions options, int count, int dataLength, Action<string>? trace = null, string? pcap = null)
    {
        MemoryLink link = sim.Network.CreateLink(options, medium: DeviceMedium.Ethernet);
        INetworkDevice deviceA = link.A;
        if (pcap is not null)
        {
            deviceA = PcapTap.Create(deviceA, pcap, sim.Clock);
        }

        if (trace is not null)
        {
            deviceA = new TracingDevice(deviceA, trace, sim.Clock);
        }

        NetworkStack a = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = sim.Random.Next() }));
        NetworkStack b = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = sim.Random.Next() }));
        a.AddInterface(deviceA, TestPackets.A, 24);
        b.AddInterface(link.B, TestPackets.B, 24);
        var pinger = new Pinger();
        a.RegisterTransport(pinger);

        for (ushort seq = 1; seq <= count; seq++)
        {
            IpSendResult result = Pinger.Ping(a, TestPackets.B, seq, dataLength);
            Assert.True(result is IpSendResult.Sent or IpSendResult.Queued, result.ToString());
            sim.RunFor(TimeSpan.FromMilliseconds(100));
        }

        sim.RunFor(TimeSpan.FromSeconds(1));
        foreach (ushort seq in pinger.Replies)
        {
            sim.Trace($"reply {seq}");
        }

        if (pcap is not null)
        {
            deviceA.Dispose(); // flush the capture
        }

        if (pinger.Replies.Count > 0)
        {
            Assert.Equal(IcmpEchoHeader.FixedLength + dataLength, pinger.ReplyBytes);
        }

        return new Outcome(pinger.Replies.Count, sim.Elapsed, link.AToB.Statistics, a.Counters.Snapshot(), b.Counters.Snapshot());
    }

    [Fact]
    public void Two_stacks_ping_over_a_perfect_link()
    {
        var sim = new NetworkSimulator(1);
        var lines = new List<string>();
        string pcap = Path.Combine(Path.GetTempPath(), $"protocols-sim-ping-{Environment.ProcessId}-{Guid.NewGuid():n}.pcap");
        Outcome outcome;
        try
        {
            outcome = PingScenario(sim, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, count: 5, dataLength: 56, trace: lines.Add, pcap: pcap);
            using CaptureReader capture = CaptureFile.Open(pcap);
            Assert.Equal(2 + 10, capture.Count()); // ARP both ways, then each request and reply
        }
        finally
        {
            File.Delete(pcap);
        }

        Assert.Equal(5, outcome.Replies);
        Assert.Equal(5, outcome.Server.IcmpOutOf(IcmpType.EchoReply));
        Assert.Equal(
            [
                "00:00:00.000000 link1.a Out ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
                "00:00:00.002000 link1.a In  ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28",
                "00:00:00.002000 link1.a Out IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 77, seq 1, length 64",
                "00:00:00.004000 link1.a In  IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 77, seq 1, length 64",
                "00:00:00.100000 link1.a Out IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 77, seq 2, length 64",
            ],
            lines.Take(5));
        Assert.Equal(4 + (2 * 4), lines.Count);
    }

    [Fact]
    public void Two_stacks_ping_through_a_lossy_link()
    {
        var options = new LinkOptions { Loss = 0.1, Delay = TimeSpan.FromMilliseconds(5), Jitter = TimeSpan.FromMilliseconds(2) };
        Outcome outcome = PingScenario(new NetworkSimulator(2024), options, count: 500, dataLength: 56);

        // A reply needs both directions: P = 0.81 (ARP losses cost a little more at the start).
        Assert.InRange(outcome.Replies, 370, 440);
        Assert.True(outcome.AToB.Lost > 0);
        Assert.Equal(outcome.Replies, (int)outcome.Client.IcmpInOf(IcmpType.EchoReply));
        Assert.Equal(outcome.Server.IcmpInOf(IcmpType.EchoRequest), outcome.Server.IcmpOutOf(IcmpType.EchoReply));
    }

    [Fact]
    public void Large_pings_are_fragmented_and_reassembled_both_ways()
    {
        var lines = new List<string>();
        string pcap = Path.Combine(Path.GetTempPath(), $"protocols-sim-ping-{Environment.ProcessId}-{Guid.NewGuid():n}.pcap");
        try
        {
            Outcome outcome = PingScenario(new NetworkSimulator(3), new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, count: 3, dataLength: 3000, trace: lines.Add, pcap: pcap);

            Assert.Equal(3, outcome.Replies);
            Assert.Equal(9, outcome.Client.FragmentsSent); // 3008 ICMP bytes: 1480 + 1480 + 48
            Assert.Equal(3, outcome.Server.Reassembled);
            Assert.Equal(3, outcome.Client.Reassembled);

            using CaptureReader capture = CaptureFile.Open(pcap);
            Assert.Equal(2 + 18, capture.Count()); // ARP both ways, then 3 fragments each way per ping
        }
        finally
        {
            File.Delete(pcap);
        }

        Assert.Matches(@"^00:00:00\.002000 link1\.a Out IP 10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request, id 77, seq 1, length 1480 \(frag \d+:1480@0\+\)$", lines[2]);
        Assert.Matches(@"^00:00:00\.002000 link1\.a Out IP 10\.0\.0\.1 > 10\.0\.0\.2: icmp \(frag \d+:1480@1480\+\)$", lines[3]);
        Assert.Matches(@"^00:00:00\.002000 link1\.a Out IP 10\.0\.0\.1 > 10\.0\.0\.2: icmp \(frag \d+:48@2960\)$", lines[4]);
    }

    [Fact]
    public void Stack_scenarios_are_deterministic()
    {
        var options = new LinkOptions { Loss = 0.2, Duplication = 0.02, Reordering = 0.05, Delay = TimeSpan.FromMilliseconds(3), Jitter = TimeSpan.FromMilliseconds(3), Corruption = 0.02 };
        ulong first = NetworkSimulator.VerifyDeterminism(7, sim => PingScenario(sim, options, count: 100, dataLength: 2000));
        ulong other = NetworkSimulator.VerifyDeterminism(8, sim => PingScenario(sim, options, count: 100, dataLength: 2000));
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Three_stacks_share_an_ethernet_segment()
    {
        var sim = new NetworkSimulator(11);
        MemorySegment segment = sim.Network.CreateSegment(new LinkOptions { Delay = TimeSpan.FromMicroseconds(50) });
        NetworkStack[] stacks = new NetworkStack[3];
        for (int i = 0; i < stacks.Length; i++)
        {
            stacks[i] = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = sim.Random.Next() }));
            stacks[i].AddInterface(segment.Attach(), Ipv4Address.Create(10, 0, 0, (byte)(i + 1)), 24);
        }

        var pinger = new Pinger();
        stacks[0].RegisterTransport(pinger);
        Pinger.Ping(stacks[0], Ipv4Address.Create(10, 0, 0, 2), 1, 32);
        Pinger.Ping(stacks[0], Ipv4Address.Create(10, 0, 0, 3), 2, 32);
        sim.RunUntil(() => pinger.Replies.Count == 2, TimeSpan.FromSeconds(1));

        // Each ARP request was broadcast to both other stacks; the echo exchanges were switched.
        Assert.Equal(2, stacks[1].Counters.Snapshot().ArpReceived);
        Assert.Equal(2, stacks[2].Counters.Snapshot().ArpReceived);
        Assert.Equal(1, stacks[1].Counters.Snapshot().IcmpInOf(IcmpType.EchoRequest));
        Assert.Equal(1, stacks[2].Counters.Snapshot().IcmpInOf(IcmpType.EchoRequest));
        Assert.Equal(TimeSpan.FromMicroseconds(200), sim.Elapsed); // ARP there and back, echo there and back
    }

    [Fact]
    public async Task Memory_links_also_carry_stacks_running_on_their_own_loops_in_real_time()
    {
        // Not the harness: RunAsync loops on the thread pool, woken by WaitForReceiveAsync.
        var net = new MemoryNetwork(5, TimeProvider.System);
        var (da, db) = net.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        using var a = new NetworkStack(new NetworkStackOptions { TimeProvider = TimeProvider.System, Seed = 1 });
        using var b = new NetworkStack(new NetworkStackOptions { TimeProvider = TimeProvider.System, Seed = 2 });
        a.AddInterface(da, TestPackets.A, 24);
        b.AddInterface(db, TestPackets.B, 24);
        var pinger = new Pinger { Expected = 20 };
        a.RegisterTransport(pinger);
        using var stop = new CancellationTokenSource();
        Task loopA = a.RunAsync(stop.Token);
        Task loopB = b.RunAsync(stop.Token);

        for (ushort seq = 1; seq <= 20; seq++)
        {
            ushort s = seq;
            a.Post(stack => Pinger.Ping(stack, TestPackets.B, s, 56));
        }

        await pinger.AllReplied.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Task.WhenAll(loopA, loopB).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(20, net.Directions[0].Statistics.Delivered);
        Assert.Equal(20, net.Directions[1].Statistics.Delivered);
    }

    [Fact]
    public void The_harness_refuses_a_stack_on_another_clock()
    {
        var sim = new NetworkSimulator(1);
        Assert.Throws<ArgumentException>(() => sim.AddStack(_ => new NetworkStack(new NetworkStackOptions { TimeProvider = new VirtualClock() })));
    }
}
