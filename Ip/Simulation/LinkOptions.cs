namespace Protocols.Ip.Simulation;

/// <summary>
/// The behaviour of one direction of a simulated link. The default is a perfect wire: no loss,
/// no delay, unlimited rate. Probabilities are per frame, in 0..1, drawn from the direction's own
/// seeded <see cref="Random"/>.
/// </summary>
/// <remarks>
/// A frame offered to the link goes through, in order: the MTU check; the transmit queue when
/// <see cref="RateBitsPerSecond"/> is set (drop-tail at <see cref="QueueLimitPackets"/> or
/// <see cref="QueueLimitBytes"/>; the frame leaves it after its serialisation time); loss;
/// corruption; propagation <see cref="Delay"/> plus a uniform <see cref="Jitter"/>; reordering
/// (extra <see cref="ReorderDelay"/>, so later frames overtake it); duplication (a second copy
/// arriving with the first). Jitter alone may also reorder frames, as with netem.
/// </remarks>
public sealed record LinkOptions
{
    /// <summary>The longest <see cref="Delay"/>, <see cref="Jitter"/> or <see cref="ReorderDelay"/> (365 days), so arrival times stay representable.</summary>
    public static readonly TimeSpan MaxTime = TimeSpan.FromDays(365);

    /// <summary>A perfect link: no impairment, no delay, unlimited rate.</summary>
    public static LinkOptions Perfect { get; } = new();

    /// <summary>Probability that a frame is lost on the wire.</summary>
    public double Loss { get; init; }

    /// <summary>Probability that a frame is delivered twice.</summary>
    public double Duplication { get; init; }

    /// <summary>Probability that a frame is held back by <see cref="ReorderDelay"/>, letting later frames pass it.</summary>
    public double Reordering { get; init; }

    /// <summary>The extra delay of a reordered frame (default 1 ms).</summary>
    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Propagation delay added to every frame.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Upper bound of a uniformly distributed extra delay per frame (0..Jitter).</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>The link rate in bits per second; 0 means unlimited (no serialisation time, no queue).</summary>
    public long RateBitsPerSecond { get; init; }

    /// <summary>Drop-tail bound of the transmit queue in bytes (frames waiting or being sent), when rate limited.</summary>
    public int QueueLimitBytes { get; init; } = 256 * 1024;

    /// <summary>Drop-tail bound of the transmit queue in frames, when rate limited.</summary>
    public int QueueLimitPackets { get; init; } = 1000;

    /// <summary>Probability that a frame has bits flipped.</summary>
    public double Corruption { get; init; }

    /// <summary>How many random bits a corrupted frame has flipped (1..64, default 1).</summary>
    public int CorruptionBits { get; init; } = 1;

    /// <summary>The link MTU in IP bytes (excluding an Ethernet header); larger frames are dropped and counted. Null: the link's own MTU.</summary>
    public int? Mtu { get; init; }

    /// <summary>The most frames on the wire at once (propagating, not yet received); beyond it frames are dropped and counted.</summary>
    public int MaxFramesInFlight { get; init; } = 100_000;

    /// <summary>Checks every value is in range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A probability outside 0..1, a time outside 0..<see cref="MaxTime"/>, a negative rate or a bound below 1.</exception>
    public void Validate()
    {
        CheckProbability(Loss, nameof(Loss));
        CheckProbability(Duplication, nameof(Duplication));
        CheckProbability(Reordering, nameof(Reordering));
        CheckProbability(Corruption, nameof(Corruption));
        CheckTime(ReorderDelay, nameof(ReorderDelay));
        CheckTime(Delay, nameof(Delay));
        CheckTime(Jitter, nameof(Jitter));
        ArgumentOutOfRangeException.ThrowIfNegative(RateBitsPerSecond, nameof(RateBitsPerSecond));
        ArgumentOutOfRangeException.ThrowIfLessThan(QueueLimitBytes, 1, nameof(QueueLimitBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(QueueLimitPackets, 1, nameof(QueueLimitPackets));
        ArgumentOutOfRangeException.ThrowIfLessThan(CorruptionBits, 1, nameof(CorruptionBits));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CorruptionBits, 64, nameof(CorruptionBits));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFramesInFlight, 1, nameof(MaxFramesInFlight));
        if (Mtu is int mtu)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68, nameof(Mtu)); // RFC 791: every host handles 68
            ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, ushort.MaxValue, nameof(Mtu));
        }
    }

    private static void CheckTime(TimeSpan value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxTime, name);
    }

    private static void CheckProbability(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
        {
            throw new ArgumentOutOfRangeException(name, value, "A probability is between 0 and 1.");
        }
    }
}

/// <summary>What happened to the frames offered to one direction of a simulated link (a snapshot).</summary>
/// <param name="Sent">Frames offered by the sending device.</param>
/// <param name="BytesSent">Bytes offered.</param>
/// <param name="Delivered">Frames handed to the receiving device (duplicates included).</param>
/// <param name="BytesDelivered">Bytes handed to the receiving device.</param>
/// <param name="Lost">Frames lost on the wire.</param>
/// <param name="Duplicated">Extra copies made.</param>
/// <param name="Reordered">Frames held back so later ones could pass.</param>
/// <param name="Corrupted">Frames with flipped bits.</param>
/// <param name="QueueDrops">Frames dropped by the full transmit queue (drop-tail).</param>
/// <param name="MtuDrops">Frames larger than the link MTU.</param>
/// <param name="OverflowDrops">Frames dropped because <see cref="LinkOptions.MaxFramesInFlight"/> were already on the wire, or the receiver was closed.</param>
/// <param name="InFlight">Frames on the wire now (sent, not yet received).</param>
public readonly record struct LinkStatistics(
    long Sent,
    long BytesSent,
    long Delivered,
    long BytesDelivered,
    long Lost,
    long Duplicated,
    long Reordered,
    long Corrupted,
    long QueueDrops,
    long MtuDrops,
    long OverflowDrops,
    int InFlight);
