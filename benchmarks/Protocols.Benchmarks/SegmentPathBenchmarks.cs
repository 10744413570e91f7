using BenchmarkDotNet.Attributes;
using Protocols.Wire;
using Protocols.Tcp;
using Protocols.Tcp.Engine;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Benchmarks;

/// <summary>
/// The engine's per-segment work, one control block driven directly (no layer, no IP): an
/// in-order data segment received and read, a pure ACK that frees one segment and lets the next
/// one out, and an ACK carrying three SACK blocks against a scoreboard of 1,000 segments in
/// flight, blocks the receiver already reported (what it repeats on most ACKs): its cost is the
/// blocks', not the segments'. <see cref="SackRecoveryBenchmarks"/> has the ACKs that grow a block.
/// The memory column must read 0.
/// </summary>
[MemoryDiagnoser]
public class SegmentPathBenchmarks
{
    private const int Mss = 1460;
    private const int InFlight = 1000;
    private static readonly Ipv4Address AddressA = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address AddressB = Ipv4Address.Parse("10.0.0.2");

    private readonly byte[] _payload = new byte[Mss];
    private readonly byte[] _sink = new byte[64 * 1024];
    private TcpControlBlock _receiver = null!;
    private SeqNum _receiverNext;
    private long _now;
    private TcpControlBlock _sender = null!;
    private SeqNum _peerSeq;
    private TcpControlBlock _sackSender = null!;
    private TcpOptions _knownBlocks;
    private SeqNum _holeAt;

    [GlobalSetup]
    public void Setup()
    {
        _now = 1_000_000;
        _receiver = Open(out _receiverNext, out _, sack: true, sendBufferSize: 256 * 1024);
        _sender = Open(out _peerSeq, out _, sack: true, sendBufferSize: 256 * 1024);
        (_sackSender, _knownBlocks) = OpenWithScoreboard();

        // Warm up the paths once so the rings and logs are at their steady size.
        for (int i = 0; i < 1000; i++)
        {
            InOrderData();
            PureAck();
            AckWithKnownSackBlocks();
        }
    }

    [Benchmark(Description = "in-order data segment, received and read")]
    public int InOrderData()
    {
        _now += 10;
        var segment = new TcpSegment(_receiverNext, _receiver.SndNxt, TcpFlags.Ack, 65535, default, _payload);
        _receiver.OnSegment(segment, _now);
        _receiverNext += Mss;
        _receiver.TakeEvents();
        return _receiver.Receive(_sink, _now);
    }

    [Benchmark(Description = "pure ACK of one segment, the next one sent")]
    public long PureAck()
    {
        _now += 10;
        _sender.Send(_payload, _now);
        SeqNum ack = _sender.SndUna + Mss;
        _sender.OnSegment(new TcpSegment(_peerSeq, ack, TcpFlags.Ack, 65535, default, default), _now);
        _sender.TakeEvents();
        return _sender.SndMax.Value;
    }

    [Benchmark(Description = "ACK with 3 SACK blocks already known, 1,000 segments in flight")]
    public long AckWithKnownSackBlocks()
    {
        _now += 10;
        _sackSender.OnSegment(new TcpSegment(_peerSeq, _holeAt, TcpFlags.Ack, 65535, _knownBlocks, default), _now);
        _sackSender.TakeEvents();
        return _sackSender.SndMax.Value;
    }

    /// <summary>The peer's next sequence number on the scoreboard connection.</summary>
    internal SeqNum PeerSeq => _peerSeq;

    /// <summary>The current time.</summary>
    internal long Now
    {
        get => _now;
        set => _now = value;
    }

    internal static TcpSackBlock Block(SeqNum left, SeqNum right) => new(left.Value, right.Value);

    /// <summary>A sender with 1,000 segments in flight (a fixed window), nothing acknowledged, and [500, 501), [850, 900) and [950, 990) SACKed.</summary>
    internal (TcpControlBlock Tcb, TcpOptions Known) OpenWithScoreboard()
    {
        TcpControlBlock tcb = Open(out _peerSeq, out _, sack: true, sendBufferSize: 4 << 20, controller: FixedWindow.Name);
        for (int i = 0; i < InFlight + 200; i++)
        {
            tcb.Send(_payload, _now);
        }

        _holeAt = tcb.SndUna;
        var known = default(TcpOptions);
        known.TryAddSackBlock(Block(_holeAt + (950 * Mss), _holeAt + (990 * Mss)));
        known.TryAddSackBlock(Block(_holeAt + (850 * Mss), _holeAt + (900 * Mss)));
        known.TryAddSackBlock(Block(_holeAt + (500 * Mss), _holeAt + (501 * Mss)));
        _now += 10_000;
        tcb.OnSegment(new TcpSegment(_peerSeq, _holeAt, TcpFlags.Ack, 65535, known, default), _now);
        tcb.TakeEvents();
        return (tcb, known);
    }

    // An established connection (10.0.0.1 active) whose peer offered SACK, window scale 14 and no timestamps.
    private TcpControlBlock Open(out SeqNum peerNext, out SeqNum iss, bool sack, int sendBufferSize, string controller = "newreno")
    {
        var env = new TcpEngineEnvironment(new NullOutput(), new IsnGenerator([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), new Random(1))
        {
            Controllers = CongestionControllerRegistry.Default.With(FixedWindow.Name, static () => new FixedWindow()),
        };
        var options = TcpConnectionOptions.Default with { SendBufferSize = sendBufferSize, ReceiveBufferSize = 4 << 20, Timestamps = false, NoDelay = true, CongestionControl = controller };
        var tcb = new TcpControlBlock(new TcpFourTuple(AddressA, 40000, AddressB, 80), options, env);
        tcb.OpenActive(_now);
        iss = tcb.Iss;
        var synAck = new TcpOptions { Mss = Mss, WindowScale = 14, SackPermitted = sack };
        _now += 10_000;
        tcb.OnSegment(new TcpSegment(new SeqNum(5000), iss + 1, TcpFlags.Syn | TcpFlags.Ack, 65535, synAck, default), _now);
        tcb.TakeEvents();
        peerNext = new SeqNum(5001);
        return tcb;
    }

    private sealed class NullOutput : ITcpSegmentOutput
    {
        public void Send(in TcpFourTuple tuple, in TcpOutgoingSegment segment, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2)
        {
        }
    }

    // A window that never changes: 1,000 segments in flight whatever happens.
    private sealed class FixedWindow : ICongestionController
    {
        public const string Name = "fixed";

        public long CongestionWindow => (InFlight + 10) * (long)Mss;

        public long SlowStartThreshold => CongestionWindow;

        public bool InFastRecovery { get; private set; }

        string ICongestionController.Name => Name;

        public void OnConnectionEstablished(int smss, long nowMicros)
        {
        }

        public void OnMssChanged(int newSmss, long nowMicros)
        {
        }

        public void OnAck(in CongestionAck ack)
        {
        }

        public void OnEnterFastRecovery(long flightSize, long nowMicros) => InFastRecovery = true;

        public void OnDuplicateAck(long nowMicros)
        {
        }

        public void OnPartialAck(in CongestionAck ack)
        {
        }

        public void OnExitFastRecovery(in CongestionAck ack) => InFastRecovery = false;

        public void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros) => InFastRecovery = false;

        public void OnRestartAfterIdle(long nowMicros)
        {
        }
    }
}
