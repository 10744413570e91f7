using System.Buffers.Binary;
using System.Numerics;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Simulation;

public class MemoryNetworkTests
{
    private const int Frames = 5000;

    // Sends `count` numbered frames from a to b, one every `spacing` of virtual time, and collects them at b.
    private static (NetworkSimulator Sim, MemoryLink Link, Collector Received, List<DateTimeOffset> SentAt) Run(int seed, LinkOptions options, int count = Frames, TimeSpan? spacing = null, int length = 100, DeviceMedium medium = DeviceMedium.Ip)
    {
        var sim = new NetworkSimulator(seed);
        MemoryLink link = sim.Network.CreateLink(options, medium: medium);
        Collector received = sim.Register(new Collector(link.B, sim.Clock));
        var sentAt = new List<DateTimeOffset>();
        TimeSpan gap = spacing ?? TimeSpan.FromMilliseconds(1);
        for (int i = 0; i < count; i++)
        {
            Assert.True(link.A.TrySend(TestPackets.Numbered(i, length)));
            sentAt.Add(sim.Now);
            if (gap > TimeSpan.Zero)
            {
                sim.RunFor(gap);
            }
        }

        Assert.True(sim.RunUntilIdle(TimeSpan.FromMinutes(10)));
        return (sim, link, received, sentAt);
    }

    private static void AssertRate(long observed, int trials, double probability)
    {
        // Five standard deviations of a binomial: a seeded run either passes or fails forever,
        // and a correct implementation is far inside.
        double mean = trials * probability;
        double sigma = Math.Sqrt(trials * probability * (1 - probability));
        Assert.InRange(observed, (long)(mean - (5 * sigma)), (long)Math.Ceiling(mean + (5 * sigma)));
    }

    [Fact]
    public void Perfect_link_delivers_everything_in_order_at_once()
    {
        var (sim, link, received, sentAt) = Run(1, LinkOptions.Perfect, count: 100);

        Assert.Equal(Enumerable.Range(0, 100), received.Sequences);
        Assert.Equal(sentAt, received.Frames.Select(f => f.Time));
        LinkStatistics s = link.AToB.Statistics;
        Assert.Equal(100, s.Sent);
        Assert.Equal(100, s.Delivered);
        Assert.Equal(100 * 100, s.BytesDelivered);
        Assert.Equal(0, s.Lost + s.Duplicated + s.Reordered + s.Corrupted + s.QueueDrops + s.MtuDrops + s.OverflowDrops);
        Assert.Equal(0, link.BToA.Statistics.Sent);
        Assert.Equal(100, sim.Network.Deliveries);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void Loss_rate_matches_the_option(double loss)
    {
        var (_, link, received, _) = Run(7, new LinkOptions { Loss = loss });

        LinkStatistics s = link.AToB.Statistics;
        AssertRate(s.Lost, Frames, loss);
        Assert.Equal(Frames - s.Lost, s.Delivered);
        Assert.Equal(s.Delivered, received.Frames.Count);
        Assert.True(received.Sequences.SequenceEqual(received.Sequences.Order()), "loss alone keeps order");
    }

    [Fact]
    public void Duplication_delivers_extra_copies()
    {
        var (_, link, received, _) = Run(8, new LinkOptions { Duplication = 0.05 });

        LinkStatistics s = link.AToB.Statistics;
        AssertRate(s.Duplicated, Frames, 0.05);
        Assert.Equal(Frames + s.Duplicated, s.Delivered);
        int[] sequences = [.. received.Sequences];
        Assert.Equal(s.Duplicated, sequences.Length - sequences.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, Frames), sequences.Distinct());
    }

    [Fact]
    public void Reordering_lets_later_frames_overtake()
    {
        // Frames 100 µs apart; a reordered one waits 1 ms more, so about ten frames pass it.
        var options = new LinkOptions { Reordering = 0.1, ReorderDelay = TimeSpan.FromMilliseconds(1) };
        var (_, link, received, _) = Run(9, options, spacing: TimeSpan.FromMicroseconds(100));

        LinkStatistics s = link.AToB.Statistics;
        AssertRate(s.Reordered, Frames, 0.1);
        int[] sequences = [.. received.Sequences];
        Assert.Equal(Enumerable.Range(0, Frames), sequences.Order());
        int descents = sequences.Zip(sequences.Skip(1)).Count(p => p.Second < p.First);
        Assert.InRange(descents, s.Reordered / 2, s.Reordered);
    }

    [Fact]
    public void Delay_and_jitter_stay_within_their_bounds()
    {
        var options = new LinkOptions { Delay = TimeSpan.FromMilliseconds(10), Jitter = TimeSpan.FromMilliseconds(5) };
        var (_, _, received, sentAt) = Run(10, options);

        TimeSpan[] latencies = [.. received.Frames.Select(f => f.Time - sentAt[BinaryPrimitives.ReadInt32BigEndian(f.Frame)])];
        Assert.Equal(Frames, latencies.Length);
        Assert.All(latencies, l => Assert.InRange(l, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(15)));
        Assert.True(latencies.Min() < TimeSpan.FromMilliseconds(10.05));
        Assert.True(latencies.Max() > TimeSpan.FromMilliseconds(14.95));
        double mean = latencies.Average(l => l.TotalMilliseconds);
        Assert.InRange(mean, 12.4, 12.6); // uniform 0..5 ms: mean 2.5, sd of the mean 0.02
    }

    [Fact]
    public void Rate_limit_serialises_frames_exactly()
    {
        // 10 Mbit/s, 1250-byte frames: one per millisecond; 5 ms of propagation on top.
        var options = new LinkOptions { RateBitsPerSecond = 10_000_000, Delay = TimeSpan.FromMilliseconds(5) };
        var (sim, link, received, _) = Run(11, options, count: 100, spacing: TimeSpan.Zero, length: 1250);

        Assert.Equal(100, received.Frames.Count);
        for (int k = 0; k < 100; k++)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(5 + k + 1), received.Frames[k].Time - VirtualClock.DefaultStart);
        }

        Assert.Equal(0, link.AToB.Statistics.QueueDrops);
        Assert.Equal(TimeSpan.FromMilliseconds(105), sim.Elapsed);
    }

    [Fact]
    public void Rate_limit_carries_sub_tick_remainders_without_drift()
    {
        // 3 Mbit/s, 1000-byte frames: 2.666... ms each, not a whole number of 100 ns ticks.
        var options = new LinkOptions { RateBitsPerSecond = 3_000_000 };
        var (_, _, received, _) = Run(12, options, count: 200, spacing: TimeSpan.Zero, length: 1000);

        for (int k = 0; k < 200; k++)
        {
            long exactTicks = (k + 1) * 8000L * TimeSpan.TicksPerSecond / 3_000_000;
            Assert.Equal(exactTicks, (received.Frames[k].Time - VirtualClock.DefaultStart).Ticks);
        }
    }

    [Fact]
    public void Full_transmit_queue_drops_the_tail()
    {
        var sim = new NetworkSimulator(13);
        var options = new LinkOptions { RateBitsPerSecond = 1_000_000, QueueLimitPackets = 10 };
        var (a, b) = sim.Network.CreateLink(options);
        Collector received = sim.Register(new Collector(b, sim.Clock));

        for (int i = 0; i < 50; i++)
        {
            Assert.True(a.TrySend(TestPackets.Numbered(i, 1000)));
        }

        Assert.Equal(40, a.Outbound!.Statistics.QueueDrops);
        sim.RunUntilIdle();
        Assert.Equal(Enumerable.Range(0, 10), received.Sequences);

        // The queue drained: it takes frames again; the byte bound applies too.
        a.Outbound.Options = options with { QueueLimitPackets = 1000, QueueLimitBytes = 5000 };
        for (int i = 0; i < 10; i++)
        {
            a.TrySend(TestPackets.Numbered(100 + i, 1000));
        }

        Assert.Equal(45, a.Outbound.Statistics.QueueDrops);
        sim.RunUntilIdle();
        Assert.Equal(15, received.Frames.Count);
    }

    [Fact]
    public void Corruption_flips_the_configured_number_of_bits()
    {
        var random = new Random(14);
        var sim = new NetworkSimulator(14);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Corruption = 1 });
        Collector received = sim.Register(new Collector(b, sim.Clock));
        var sent = new List<byte[]>();
        for (int i = 0; i < 1000; i++)
        {
            byte[] frame = new byte[64 + random.Next(1400)];
            random.NextBytes(frame);
            sent.Add(frame);
            a.TrySend(frame);
        }

        sim.RunUntilIdle();
        Assert.Equal(1000, a.Outbound!.Statistics.Corrupted);
        Assert.All(sent.Zip(received.Frames), p => Assert.Equal(1, BitsDiffering(p.First, p.Second.Frame)));

        a.Outbound.Options = new LinkOptions { Corruption = 0.2, CorruptionBits = 3 };
        received.Frames.Clear();
        foreach (byte[] frame in sent)
        {
            a.TrySend(frame);
        }

        sim.RunUntilIdle();
        long corrupted = a.Outbound.Statistics.Corrupted - 1000;
        AssertRate(corrupted, 1000, 0.2);
        int[] differing = [.. sent.Zip(received.Frames).Select(p => BitsDiffering(p.First, p.Second.Frame))];
        Assert.Equal(corrupted, differing.Count(d => d > 0));
        Assert.All(differing, d => Assert.True(d is 0 or 1 or 3, $"{d} bits differ")); // a bit flipped twice cancels
    }

    private static int BitsDiffering(byte[] x, byte[] y)
    {
        Assert.Equal(x.Length, y.Length);
        return x.Zip(y).Sum(p => BitOperations.PopCount((uint)(p.First ^ p.Second)));
    }

    [Fact]
    public void Frames_over_the_link_MTU_are_dropped_and_counted()
    {
        var sim = new NetworkSimulator(15);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Mtu = 1000 });
        var (ea, eb) = sim.Network.CreateLink(medium: DeviceMedium.Ethernet, mtu: 1500);
        Collector ip = sim.Register(new Collector(b, sim.Clock));
        Collector ethernet = sim.Register(new Collector(eb, sim.Clock));

        a.TrySend(TestPackets.Numbered(1, 1000));
        a.TrySend(TestPackets.Numbered(2, 1001));
        ea.TrySend(TestPackets.Numbered(3, 14 + 1500));
        ea.TrySend(TestPackets.Numbered(4, 14 + 1501));
        sim.RunUntilIdle();

        Assert.Equal([1], ip.Sequences);
        Assert.Equal([3], ethernet.Sequences);
        Assert.Equal(1, a.Outbound!.Statistics.MtuDrops);
        Assert.Equal(1, ea.Outbound!.Statistics.MtuDrops);
        Assert.Equal(1000, a.Outbound.Mtu);
        Assert.Equal(1500, b.Mtu);
    }

    [Fact]
    public void Same_seed_same_deliveries_different_seed_different()
    {
        var options = new LinkOptions { Loss = 0.2, Duplication = 0.05, Reordering = 0.1, Jitter = TimeSpan.FromMilliseconds(3), Corruption = 0.05 };
        List<(DateTimeOffset, byte[])> Deliveries(int seed) => Run(seed, options, count: 1000).Received.Frames;
        string Text(List<(DateTimeOffset Time, byte[] Frame)> frames) =>
            string.Join(";", frames.Select(f => $"{f.Time.Ticks}:{Convert.ToHexString(f.Frame)}"));

        string first = Text(Deliveries(42));
        Assert.Equal(first, Text(Deliveries(42)));
        Assert.NotEqual(first, Text(Deliveries(43)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Counters_account_for_every_frame_whatever_the_options(int seed)
    {
        var random = new Random(seed);
        var sim = new NetworkSimulator(seed);
        LinkOptions RandomOptions() => new()
        {
            Loss = random.NextDouble() * 0.5,
            Duplication = random.NextDouble() * 0.3,
            Reordering = random.NextDouble() * 0.3,
            Corruption = random.NextDouble() * 0.3,
            Delay = TimeSpan.FromMicroseconds(random.Next(0, 5000)),
            Jitter = TimeSpan.FromMicroseconds(random.Next(0, 5000)),
            RateBitsPerSecond = random.Next(2) == 0 ? 0 : random.Next(100_000, 100_000_000),
            QueueLimitPackets = random.Next(1, 50),
            QueueLimitBytes = random.Next(1500, 100_000),
            Mtu = random.Next(68, 1500),
            MaxFramesInFlight = random.Next(1, 200),
        };
        var (a, b) = sim.Network.CreateLink(RandomOptions(), medium: DeviceMedium.Ethernet);
        int received = 0;
        sim.Register(() => b.Receive(_ => received++, random.Next(1, 8)));
        for (int i = 0; i < 3000; i++)
        {
            a.TrySend(TestPackets.Numbered(i, random.Next(1, 1600)));
            if (random.Next(100) == 0)
            {
                a.Outbound!.Options = RandomOptions();
            }

            sim.RunFor(TimeSpan.FromMicroseconds(random.Next(0, 300)));
        }

        LinkStatistics s = a.Outbound!.Statistics;
        Assert.Equal(s.Sent + s.Duplicated, s.Delivered + s.Lost + s.QueueDrops + s.MtuDrops + s.OverflowDrops + s.InFlight);
        sim.RunUntilIdle();
        s = a.Outbound.Statistics;
        Assert.Equal(0, s.InFlight);
        Assert.Equal(s.Sent + s.Duplicated, s.Delivered + s.Lost + s.QueueDrops + s.MtuDrops + s.OverflowDrops);
        Assert.Equal(s.Delivered, received);
        Assert.Equal(3000, s.Sent);
    }

    [Fact]
    public void Frames_on_the_wire_are_bounded_and_copied()
    {
        var sim = new NetworkSimulator(16);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromSeconds(1), MaxFramesInFlight = 100 });
        Collector received = sim.Register(new Collector(b, sim.Clock));
        byte[] frame = TestPackets.Numbered(7);
        for (int i = 0; i < 150; i++)
        {
            a.TrySend(frame);
        }

        frame[0] = 0xff; // the sender reuses its buffer: what is on the wire must not change
        Assert.Equal(100, a.Outbound!.Statistics.InFlight);
        Assert.Equal(50, a.Outbound.Statistics.OverflowDrops);
        sim.RunUntilIdle();
        Assert.Equal(100, received.Frames.Count);
        Assert.All(received.Sequences, s => Assert.Equal(7, s));
        Assert.Equal(0, a.Outbound.Statistics.InFlight);
    }

    [Fact]
    public void Frames_arrive_only_when_the_clock_reaches_them()
    {
        var clock = new VirtualClock();
        var net = new MemoryNetwork(17, clock);
        var (a, b) = net.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(10) });
        a.TrySend(TestPackets.Numbered(1));
        Assert.Equal(clock.Now + TimeSpan.FromMilliseconds(10), net.NextDeliveryDue);

        clock.Advance(TimeSpan.FromMilliseconds(10) - TimeSpan.FromTicks(1));
        Assert.Equal(0, b.Receive(_ => { }, 10));
        clock.Advance(TimeSpan.FromTicks(1));
        int seen = 0;
        Assert.Equal(1, b.Receive(f => seen = BinaryPrimitives.ReadInt32BigEndian(f), 10));
        Assert.Equal(1, seen);
        Assert.Null(net.NextDeliveryDue);
    }

    [Fact]
    public void Wait_for_receive_completes_when_a_frame_arrives_in_virtual_time()
    {
        var clock = new VirtualClock();
        var net = new MemoryNetwork(18, clock);
        var (a, b) = net.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(10) });

        ValueTask idle = b.WaitForReceiveAsync(CancellationToken.None);
        Assert.False(idle.IsCompleted);
        a.TrySend(TestPackets.Numbered(1)); // something was put on the wire: a wake-up
        Assert.True(idle.IsCompleted);

        ValueTask waiting = b.WaitForReceiveAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True(waiting.IsCompleted);
        Assert.Equal(1, b.Receive(_ => { }, 10));

        using var cts = new CancellationTokenSource();
        ValueTask cancelled = b.WaitForReceiveAsync(cts.Token);
        cts.Cancel();
        Assert.True(cancelled.IsCanceled);
    }

    [Fact]
    public void Closed_devices_refuse_to_send_and_drop_what_is_sent_to_them()
    {
        var sim = new NetworkSimulator(19);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        a.TrySend(TestPackets.Numbered(1));
        b.Dispose();
        a.TrySend(TestPackets.Numbered(2));

        Assert.False(b.TrySend(TestPackets.Numbered(3)));
        Assert.False(a.TrySend([]));
        Assert.Equal(0, b.Receive(_ => { }, 10));
        Assert.True(b.WaitForReceiveAsync(CancellationToken.None).IsCompleted);
        Assert.Equal(2, a.Outbound!.Statistics.OverflowDrops);
        Assert.Equal(0, a.Outbound.Statistics.InFlight);
    }

    [Fact]
    public void Ethernet_ends_get_distinct_locally_administered_addresses()
    {
        var net = new MemoryNetwork(20, new VirtualClock());
        var (a, b) = net.CreateLink(medium: DeviceMedium.Ethernet);
        var (c, _) = net.CreateLink(medium: DeviceMedium.Ethernet, name: "uplink");
        var (ip, _) = net.CreateLink();

        Assert.Equal(3, new[] { a.HardwareAddress, b.HardwareAddress, c.HardwareAddress }.Distinct().Count());
        Assert.All(new[] { a, b, c }, d =>
        {
            Assert.Equal(0x02, d.HardwareAddress[0] & 0x03); // locally administered, unicast
            Assert.Equal(DeviceMedium.Ethernet, d.Medium);
        });
        Assert.Equal(default, ip.HardwareAddress);
        Assert.Equal("uplink.a", c.Name);
        Assert.Equal("link1.a", a.Name);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(new LinkOptions { Loss = 1.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(mtu: 67));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(new LinkOptions { Delay = TimeSpan.MaxValue }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(new LinkOptions { Jitter = TimeSpan.FromTicks(-1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(new LinkOptions { QueueLimitPackets = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.CreateLink(new LinkOptions { Corruption = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Outbound!.Options = new LinkOptions { Loss = -0.1 });
    }

    [Fact]
    public void Segment_floods_broadcasts_and_switches_unicast()
    {
        var sim = new NetworkSimulator(21);
        MemorySegment segment = sim.Network.CreateSegment();
        MemoryDevice[] devices = [segment.Attach(), segment.Attach(), segment.Attach(name: "third")];
        Collector[] collectors = [.. devices.Select(d => sim.Register(new Collector(d, sim.Clock)))];

        devices[0].TrySend(TestPackets.ArpRequest(devices[0].HardwareAddress, TestPackets.A, TestPackets.B));
        devices[1].TrySend(TestPackets.Ethernet(devices[2].HardwareAddress, devices[1].HardwareAddress, EtherType.Ipv4, TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 8)));
        devices[1].TrySend(TestPackets.Ethernet(MacAddress.Create(0x02, 9, 9, 9, 9, 9), devices[1].HardwareAddress, EtherType.Ipv4, TestPackets.Echo(IcmpType.EchoRequest, 1, 2, 8)));
        devices[2].TrySend(new byte[10]);
        sim.RunUntilIdle();

        Assert.Empty(collectors[0].Frames);
        Assert.Single(collectors[1].Frames); // the broadcast
        Assert.Equal(2, collectors[2].Frames.Count); // the broadcast and its unicast
        Assert.Equal(1, segment.RuntDrops);
        Assert.Equal("third", devices[2].Name);
        Assert.Equal(3, segment.Devices.Count);
    }
}
