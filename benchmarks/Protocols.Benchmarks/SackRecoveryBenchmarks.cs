using BenchmarkDotNet.Attributes;
using Protocols.Tcp;
using Protocols.Tcp.Engine;

namespace Protocols.Benchmarks;

/// <summary>
/// ACKs during a recovery with 1,000 segments in flight: each carries three SACK blocks, the first
/// of them one segment longer than on the ACK before (the receiver got one more segment past the
/// hole), so each ACK newly SACKs one segment, runs RACK and lets PRR send. The state is rebuilt
/// before every iteration of 800 ACKs; times are per ACK. The memory column must read 0.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1)]
public class SackRecoveryBenchmarks
{
    private const int Mss = 1460;
    private const int Acks = 800;

    private readonly SegmentPathBenchmarks _factory = new();
    private TcpControlBlock? _tcb;

    [IterationSetup]
    public void Setup()
    {
        // The previous connection gives its rings and logs back to the pools the next one rents from.
        _tcb?.Abort(_factory.Now);
        _factory.Now = 1_000_000;
        (_tcb, _) = _factory.OpenWithScoreboard();
    }

    [Benchmark(OperationsPerInvoke = Acks, Description = "ACK with 3 SACK blocks, the first one a segment longer, 1,000 segments in flight")]
    public long AckGrowingASackBlock()
    {
        TcpControlBlock tcb = _tcb!;
        SeqNum hole = tcb.SndUna;
        SeqNum peerSeq = _factory.PeerSeq;
        long now = _factory.Now;
        long sum = 0;
        for (int i = 1; i <= Acks; i++)
        {
            now += 10;
            var o = default(TcpOptions);
            o.TryAddSackBlock(SegmentPathBenchmarks.Block(hole + Mss, hole + ((1 + i) * Mss)));
            o.TryAddSackBlock(SegmentPathBenchmarks.Block(hole + (850 * Mss), hole + (900 * Mss)));
            o.TryAddSackBlock(SegmentPathBenchmarks.Block(hole + (950 * Mss), hole + (990 * Mss)));
            tcb.OnSegment(new TcpSegment(peerSeq, hole, TcpFlags.Ack, 65535, o, default), now);
            sum += tcb.SndMax.Value;
        }

        tcb.TakeEvents();
        return sum;
    }
}
