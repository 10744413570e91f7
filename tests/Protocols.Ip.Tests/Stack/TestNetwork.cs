using System.Collections.Concurrent;
using Protocols.Ip.Devices;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

/// <summary>A manual clock for the stack tests: time moves only when a test advances it.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// A test-only in-memory device: frames sent go to the peer's inbox (if linked) and to
/// <see cref="Sent"/>; tests inject frames with <see cref="Inject"/>. Thread-safe enough for the
/// RunAsync tests (concurrent queue, a wake-up signal).
/// </summary>
internal sealed class TestDevice : INetworkDevice
{
    private readonly ConcurrentQueue<byte[]> _inbox = new();
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TestDevice(string name, DeviceMedium medium, MacAddress mac, int mtu = 1500)
    {
        Name = name;
        Medium = medium;
        HardwareAddress = mac;
        Mtu = mtu;
    }

    public string Name { get; }

    public DeviceMedium Medium { get; }

    public int Mtu { get; }

    public MacAddress HardwareAddress { get; }

    public DeviceCapabilities Capabilities { get; set; }

    /// <summary>What <see cref="INetworkDevice.OffloadStatus"/> reports (none unless a test sets it).</summary>
    public DeviceOffloadStatus Offloads { get; set; } = DeviceOffloadStatus.None;

    DeviceOffloadStatus INetworkDevice.OffloadStatus => Offloads;

    /// <summary>The offload of every frame sent, in order (the default value for an ordinary frame).</summary>
    public ConcurrentQueue<PacketOffload> SentOffloads { get; } = new();

    public TestDevice? Peer { get; set; }

    /// <summary>Every frame sent, in order.</summary>
    public ConcurrentQueue<byte[]> Sent { get; } = new();

    /// <summary>When set, TrySend refuses frames (a full device queue).</summary>
    public bool Refuse { get; set; }

    public int Pending => _inbox.Count;

    public static (TestDevice A, TestDevice B) Pair(DeviceMedium medium, int mtu = 1500)
    {
        var a = new TestDevice("a", medium, MacAddress.Create(2, 0, 0, 0, 0, 0xa), mtu);
        var b = new TestDevice("b", medium, MacAddress.Create(2, 0, 0, 0, 0, 0xb), mtu);
        a.Peer = b;
        b.Peer = a;
        return (a, b);
    }

    public void Inject(ReadOnlySpan<byte> frame)
    {
        _inbox.Enqueue(frame.ToArray());
        Interlocked.Exchange(ref _ready, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public int Receive(FrameHandler handler, int maxFrames)
    {
        int n = 0;
        while (n < maxFrames && _inbox.TryDequeue(out byte[]? frame))
        {
            handler(frame);
            n++;
        }

        return n;
    }

    public bool TrySend(ReadOnlySpan<byte> frame) => TrySend(frame, default);

    public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        if (Refuse || (!offload.IsNone && (Capabilities & (DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TransmitChecksumOffload)) == 0))
        {
            return false;
        }

        SentOffloads.Enqueue(offload);
        Sent.Enqueue(frame.ToArray());
        Peer?.Inject(frame);
        return true;
    }

    public void Flush()
    {
    }

    public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken)
    {
        Task ready = Volatile.Read(ref _ready).Task;
        return _inbox.IsEmpty ? new ValueTask(ready.WaitAsync(cancellationToken)) : ValueTask.CompletedTask;
    }

    public void Dispose()
    {
    }

    /// <summary>Takes every frame sent so far.</summary>
    public List<byte[]> TakeSent()
    {
        var list = new List<byte[]>();
        while (Sent.TryDequeue(out byte[]? f))
        {
            list.Add(f);
        }

        return list;
    }
}

/// <summary>A transport that records what it is given.</summary>
internal sealed class RecordingTransport(IpProtocol protocol) : IIpTransport
{
    public IpProtocol Protocol { get; } = protocol;

    public List<(IpAddress Source, IpAddress Destination, byte[] Payload, bool Broadcast)> Datagrams { get; } = [];

    public List<(IcmpType Type, byte Code, ushort Mtu, IpAddress ReportedBy, IpAddress QuotedSource, IpAddress QuotedDestination, byte[] Quoted)> Errors { get; } = [];

    /// <summary>When set, every datagram is answered with this unreachable code.</summary>
    public IcmpUnreachableCode? Reject { get; set; }

    public List<bool> RejectResults { get; } = [];

    public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
    {
        Datagrams.Add((datagram.Source, datagram.Destination, datagram.Payload.ToArray(), datagram.IsBroadcast));
        if (Reject is { } code)
        {
            RejectResults.Add(stack.SendIcmpDestinationUnreachable(in datagram, code));
        }
    }

    public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error) =>
        Errors.Add((error.Type, error.Code, error.NextHopMtu, error.ReportedBy, error.QuotedSource, error.QuotedDestination, error.QuotedTransportHeader.ToArray()));
}

/// <summary>Two stacks joined by a test link, and helpers to build packets.</summary>
internal sealed class TwoStacks
{
    public static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    public static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");

    public TwoStacks(DeviceMedium medium = DeviceMedium.Ip, NetworkStackOptions? options = null, int mtu = 1500)
    {
        Clock = new ManualClock();
        (DeviceA, DeviceB) = TestDevice.Pair(medium, mtu);
        A = new NetworkStack(With(options, Clock, 1));
        B = new NetworkStack(With(options, Clock, 2));
        NicA = A.AddInterface(DeviceA, AddressA, 24);
        NicB = B.AddInterface(DeviceB, AddressB, 24);
    }

    public ManualClock Clock { get; }

    public TestDevice DeviceA { get; }

    public TestDevice DeviceB { get; }

    public NetworkStack A { get; }

    public NetworkStack B { get; }

    public NetworkInterface NicA { get; }

    public NetworkInterface NicB { get; }

    /// <summary>Polls both stacks until neither has work (bounded).</summary>
    public void Pump()
    {
        for (int i = 0; i < 1000; i++)
        {
            if (A.Poll() + B.Poll() == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("the stacks never went idle");
    }

    /// <summary>Advances the clock in steps, polling, until <paramref name="span"/> has passed.</summary>
    public void RunFor(TimeSpan span, TimeSpan? step = null)
    {
        TimeSpan s = step ?? TimeSpan.FromMilliseconds(100);
        for (TimeSpan t = TimeSpan.Zero; t < span; t += s)
        {
            Clock.Advance(s);
            Pump();
        }
    }

    private static NetworkStackOptions With(NetworkStackOptions? o, TimeProvider clock, int seed)
    {
        o ??= new NetworkStackOptions();
        return new NetworkStackOptions
        {
            TimeProvider = clock,
            Seed = seed,
            RequestQueueCapacity = o.RequestQueueCapacity,
            ArpPendingPerAddress = o.ArpPendingPerAddress,
            ArpPendingTotal = o.ArpPendingTotal,
            ArpCacheCapacity = o.ArpCacheCapacity,
            IcmpErrorsPerSecond = o.IcmpErrorsPerSecond,
            IcmpErrorBurst = o.IcmpErrorBurst,
        };
    }
}

/// <summary>Packet builders for the tests.</summary>
internal static class Packets
{
    public static byte[] Ip(Ipv4Address source, Ipv4Address destination, IpProtocol protocol, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> options = default, ushort fragmentOffset = 0, bool moreFragments = false, ushort id = 1) =>
        Ipv4Packets.Datagram(protocol, payload, source, destination, id: id, moreFragments: moreFragments, fragmentOffsetUnits: fragmentOffset, options: options);

    public static byte[] Echo(IcmpType type, ushort id, ushort seq, ReadOnlySpan<byte> data) => Ipv4Packets.EchoMessage(type, id, seq, data);

    /// <summary>A UDP-like payload: source port, destination port, length, zero checksum, data.</summary>
    public static byte[] Ports(ushort sourcePort, ushort destinationPort, int dataLength = 4)
    {
        var b = new byte[8 + dataLength];
        b[0] = (byte)(sourcePort >> 8);
        b[1] = (byte)sourcePort;
        b[2] = (byte)(destinationPort >> 8);
        b[3] = (byte)destinationPort;
        b[4] = (byte)(b.Length >> 8);
        b[5] = (byte)b.Length;
        return b;
    }

    public static byte[] Ethernet(MacAddress destination, MacAddress source, EtherType type, ReadOnlySpan<byte> payload) =>
        Ipv4Packets.Ethernet(destination, source, type, payload);

    public static byte[] Arp(ArpOperation op, MacAddress senderMac, Ipv4Address senderIp, MacAddress targetMac, Ipv4Address targetIp)
    {
        var b = new byte[ArpPacket.FixedLength];
        new ArpPacket
        {
            Operation = op,
            SenderHardwareAddress = senderMac,
            SenderProtocolAddress = senderIp,
            TargetHardwareAddress = targetMac,
            TargetProtocolAddress = targetIp,
        }.WriteTo(b);
        return b;
    }

    /// <summary>Parses an IP-medium frame (or the payload of an Ethernet one) for assertions.</summary>
    public static Ipv4Header.Reader ReadIp(byte[] packet)
    {
        Assert.True(Ipv4Header.TryRead(packet, out Ipv4Header.Reader r, out WireError e), e.ToString());
        Assert.True(r.VerifyChecksum());
        return r;
    }
}
