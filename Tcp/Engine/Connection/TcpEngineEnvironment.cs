using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine;

/// <summary>
/// The stack-wide services every connection of one TCP layer shares: the segment output, the ISN
/// generator, the congestion controllers, randomness, counters, the challenge-ACK limiter and the
/// optional per-segment trace. Loop only.
/// </summary>
internal sealed class TcpEngineEnvironment
{
    /// <summary>An environment; optional parts get their defaults.</summary>
    /// <param name="output">Where segments go.</param>
    /// <param name="isn">ISN generator (RFC 6528); a random one when null.</param>
    /// <param name="random">Randomness for timestamp offsets; a fresh one when null (tests pass a seeded one).</param>
    public TcpEngineEnvironment(ITcpSegmentOutput output, IsnGenerator? isn = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        Output = output;
        Isn = isn ?? IsnGenerator.CreateRandom();
        Random = random ?? new Random();
    }

    /// <summary>Where segments go.</summary>
    public ITcpSegmentOutput Output { get; }

    /// <summary>The ISN generator (RFC 6528).</summary>
    public IsnGenerator Isn { get; }

    /// <summary>The congestion controllers by name.</summary>
    public CongestionControllerRegistry Controllers { get; init; } = CongestionControllerRegistry.Default;

    /// <summary>Randomness for per-connection timestamp offsets (RFC 7323 5.4).</summary>
    public Random Random { get; }

    /// <summary>The counters the engine increments.</summary>
    public TcpCounters Counters { get; init; } = new();

    /// <summary>RFC 5961 7: the stack-wide challenge-ACK budget.</summary>
    public ChallengeAckLimiter ChallengeAckLimiter { get; init; } = new();

    /// <summary>The MSS announced when <see cref="TcpConnectionOptions.Mss"/> is null: 1460 (an Ethernet MTU minus 40).</summary>
    public int DefaultMss { get; init; } = 1460;

    /// <summary>Lower bound on the RTO (Linux's 200 ms by default).</summary>
    public long MinimumRtoMicros { get; init; } = RtoEstimator.DefaultMinimumRtoMicros;

    /// <summary>An optional hook that sees every segment sent and received.</summary>
    public Action<TcpTraceEvent>? Trace { get; set; }
}

/// <summary>
/// RFC 5961 7: a stack-wide limit on challenge ACKs per second (Linux's tcp_challenge_ack_limit),
/// so an attacker cannot use them to learn whether a guessed 4-tuple exists or to amplify.
/// </summary>
internal sealed class ChallengeAckLimiter
{
    private long _windowStart = long.MinValue / 2; // far in the past, without overflowing the subtraction
    private int _sent;

    /// <summary>A limiter allowing <paramref name="perSecond"/> challenge ACKs per second.</summary>
    /// <param name="perSecond">The budget per one-second window (default 1000); 0 disables challenge ACKs.</param>
    public ChallengeAckLimiter(int perSecond = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perSecond);
        PerSecond = perSecond;
    }

    /// <summary>The budget per second.</summary>
    public int PerSecond { get; }

    /// <summary>Takes one challenge ACK from the budget of the second containing <paramref name="nowMicros"/>.</summary>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>Whether the challenge ACK may be sent.</returns>
    public bool TryAcquire(long nowMicros)
    {
        if (nowMicros - _windowStart >= 1_000_000 || nowMicros < _windowStart)
        {
            _windowStart = nowMicros;
            _sent = 0;
        }

        if (_sent >= PerSecond)
        {
            return false;
        }

        _sent++;
        return true;
    }
}

/// <summary>What happened on a connection since the layer last asked (<see cref="TcpControlBlock.TakeEvents"/>).</summary>
[Flags]
internal enum TcpEvents
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>The handshake completed (ESTABLISHED, or further when data and FIN came at once).</summary>
    Established = 1,

    /// <summary>Bytes became readable (or the FIN arrived).</summary>
    Readable = 2,

    /// <summary>Send buffer space was freed.</summary>
    Writable = 4,

    /// <summary>The peer's FIN was reached (reads return 0 once the buffered bytes are read).</summary>
    ReceiveCompleted = 8,

    /// <summary>The connection reached CLOSED.</summary>
    Closed = 16,

    /// <summary><see cref="TcpControlBlock.Error"/> was set (refused, reset, timed out, aborted, unreachable).</summary>
    Error = 32,

    /// <summary>The connection entered TIME-WAIT.</summary>
    TimeWaitEntered = 64,
}

/// <summary>One segment seen by the engine, for <see cref="TcpEngineEnvironment.Trace"/>.</summary>
/// <param name="Tuple">The connection.</param>
/// <param name="Outgoing">True for a segment sent, false for one received.</param>
/// <param name="Seq">SEG.SEQ.</param>
/// <param name="Ack">SEG.ACK.</param>
/// <param name="Flags">The control bits.</param>
/// <param name="Window">The window field as carried.</param>
/// <param name="PayloadLength">Payload bytes.</param>
/// <param name="State">The connection's state after the segment (for a received segment: when its first reply went out, or after it was processed; it is reported before those replies).</param>
/// <param name="NowMicros">The time.</param>
internal readonly record struct TcpTraceEvent(TcpFourTuple Tuple, bool Outgoing, SeqNum Seq, SeqNum Ack, TcpFlags Flags, ushort Window, int PayloadLength, TcpState State, long NowMicros);
