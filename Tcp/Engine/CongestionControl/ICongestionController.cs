namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// A congestion control algorithm (RFC 5681 and its successors): owns the congestion window
/// (cwnd) and the slow start threshold (ssthresh) of one connection and changes them on the
/// events the connection engine reports.
/// </summary>
/// <remarks>
/// <para>
/// Division of labour: the engine detects the events — it counts duplicate ACKs against
/// <see cref="CongestionRules.DuplicateAckThreshold"/>, keeps RFC 6582's <c>recover</c>
/// sequence number and decides whether an ACK is partial or full, runs the retransmission timer
/// and notices idle periods. The controller only decides how many bytes may be in flight. The
/// engine may send while FlightSize &lt; <see cref="CongestionWindow"/> (RFC 5681 3.1, plus
/// RFC 3042 limited transmit, which is also the engine's).
/// </para>
/// <para>
/// Sans-IO: time is a <see cref="long"/> count of microseconds passed in with each event, on
/// the same clock as the rest of the engine; a controller never reads a clock, never blocks and
/// does not allocate after construction. All sizes are bytes.
/// </para>
/// <para>
/// Event order for one loss episode with NewReno: <see cref="OnEnterFastRecovery"/> at the third
/// duplicate ACK, <see cref="OnDuplicateAck"/> for each further one, <see cref="OnPartialAck"/>
/// for each ACK that advances SND.UNA but not beyond <c>recover</c>, then
/// <see cref="OnExitFastRecovery"/> at the first ACK beyond it. Outside recovery, each ACK
/// that advances SND.UNA is an <see cref="OnAck"/>.
/// </para>
/// <para>
/// With SACK the engine's recovery (RFC 6675 with RACK-TLP) brackets an episode with
/// <see cref="OnEnterFastRecovery"/> (which sets ssthresh) and <see cref="OnExitFastRecovery"/>;
/// inside it the engine paces sending with Proportional Rate Reduction (RFC 6937) towards
/// <see cref="SlowStartThreshold"/> and reports no duplicate or partial ACKs. A reduction the
/// engine later finds spurious (D-SACK, RFC 2883; Eifel, RFC 3522) is reported with
/// <see cref="OnReductionUndone"/>.
/// </para>
/// </remarks>
public interface ICongestionController
{
    /// <summary>The name the controller is registered under, e.g. <c>newreno</c>.</summary>
    string Name { get; }

    /// <summary>cwnd: the most bytes the sender may have in flight (RFC 5681 2).</summary>
    long CongestionWindow { get; }

    /// <summary>ssthresh: below it the sender is in slow start, above it in congestion avoidance (RFC 5681 3.1).</summary>
    long SlowStartThreshold { get; }

    /// <summary>Whether <see cref="OnEnterFastRecovery"/> ran and neither <see cref="OnExitFastRecovery"/> nor <see cref="OnRetransmissionTimeout"/> has since.</summary>
    bool InFastRecovery { get; }

    /// <summary>
    /// The connection is synchronized and SMSS is known: set the initial window (RFC 5681 3.1).
    /// Called once per connection; a later SMSS change is <see cref="OnMssChanged"/>.
    /// </summary>
    /// <param name="smss">The sender maximum segment size in bytes (RFC 5681 2): the largest segment the sender may transmit, excluding headers and options.</param>
    /// <param name="nowMicros">The current time.</param>
    void OnConnectionEstablished(int smss, long nowMicros);

    /// <summary>
    /// SMSS changed on a synchronized connection (path MTU discovery, RFC 1191 / RFC 8201): count
    /// in the new size without forgetting what the connection learned. cwnd and ssthresh keep the
    /// same number of segments (Linux's <c>tcp_sync_mss</c> keeps <c>snd_cwnd</c> in packets), but
    /// never less than 2 * SMSS (RFC 5681 3.1 equation (4)); an unset (infinite) ssthresh stays
    /// unset, and fast recovery is neither entered nor left.
    /// </summary>
    /// <param name="newSmss">The new sender maximum segment size in bytes.</param>
    /// <param name="nowMicros">The current time.</param>
    void OnMssChanged(int newSmss, long nowMicros);

    /// <summary>An ACK acknowledged new data outside fast recovery: grow cwnd (RFC 5681 3.1).</summary>
    /// <param name="ack">What the ACK acknowledged.</param>
    void OnAck(in CongestionAck ack);

    /// <summary>
    /// The duplicate ACK threshold was reached and the engine retransmits the first unacknowledged
    /// segment (RFC 5681 3.2 steps 2-3; RFC 6582 3.2 steps 2-3). The engine calls this only when
    /// the ACK does not fall inside a previous recovery episode (RFC 6582 3.2 step 2's
    /// <c>recover</c> test).
    /// </summary>
    /// <param name="flightSize">FlightSize (RFC 5681 2): the bytes sent but not yet cumulatively acknowledged.</param>
    /// <param name="nowMicros">The current time.</param>
    void OnEnterFastRecovery(long flightSize, long nowMicros);

    /// <summary>
    /// A further duplicate ACK arrived during fast recovery: a segment has left the network
    /// (RFC 5681 3.2 step 4). Ignored outside fast recovery.
    /// </summary>
    /// <param name="nowMicros">The current time.</param>
    void OnDuplicateAck(long nowMicros);

    /// <summary>
    /// During fast recovery, an ACK advanced SND.UNA but not beyond <c>recover</c> (RFC 6582 3.2
    /// step 5, partial acknowledgment); the engine retransmits the next unacknowledged segment.
    /// Ignored outside fast recovery.
    /// </summary>
    /// <param name="ack">What the ACK acknowledged.</param>
    void OnPartialAck(in CongestionAck ack);

    /// <summary>
    /// During fast recovery, an ACK acknowledged everything up to <c>recover</c> (RFC 6582 3.2
    /// step 5, full acknowledgment): deflate the window and leave fast recovery.
    /// Ignored outside fast recovery.
    /// </summary>
    /// <param name="ack">What the ACK acknowledged; its <see cref="CongestionAck.FlightSize"/> is what remains outstanding.</param>
    void OnExitFastRecovery(in CongestionAck ack);

    /// <summary>
    /// The retransmission timer expired (RFC 5681 3.1): reduce ssthresh and fall back to the loss
    /// window. Leaves fast recovery.
    /// </summary>
    /// <param name="flightSize">FlightSize when the timer expired.</param>
    /// <param name="segmentAlreadyRetransmittedByTimer">
    /// Whether the segment being resent was already resent by the timer; RFC 5681 3.1 then holds
    /// ssthresh rather than halving it again.
    /// </param>
    /// <param name="nowMicros">The current time.</param>
    void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros);

    /// <summary>
    /// The last window reduction (<see cref="OnEnterFastRecovery"/> or the first
    /// <see cref="OnRetransmissionTimeout"/> of a series) was spurious: the data was not lost
    /// (RFC 3522 Eifel detection, or every retransmission of the episode reported as a duplicate by
    /// D-SACK, RFC 2883). A controller restores what it had before the reduction and leaves fast
    /// recovery. The default keeps the reduced window, which is safe.
    /// </summary>
    /// <param name="nowMicros">The current time.</param>
    void OnReductionUndone(long nowMicros)
    {
    }

    /// <summary>
    /// The sender is about to transmit after an idle period longer than the RTO (RFC 5681 4.1;
    /// see <see cref="CongestionRules.IsRestartAfterIdle"/>): cwnd no longer reflects the path.
    /// </summary>
    /// <param name="nowMicros">The current time.</param>
    void OnRestartAfterIdle(long nowMicros);

    /// <summary>
    /// Whether the controller is model-based: it takes <see cref="OnRateSample"/> and may set a
    /// <see cref="PacingRate"/>. Read once per connection; when false (the default) the engine
    /// neither builds rate samples nor consults the pacer.
    /// </summary>
    bool UsesDeliveryRate => false;

    /// <summary>
    /// The rate at which the sender should release data, in bytes per second; 0 (the default) when
    /// the controller does not pace and the sender sends whatever the window allows at once. A
    /// model-based controller (<see cref="BbrController"/>) sets it from its bandwidth estimate.
    /// </summary>
    long PacingRate => 0;

    /// <summary>
    /// A delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation 3.3): after each ACK on a
    /// connection whose sender keeps a per-segment log (both sides use SACK), whether or not the
    /// engine is in recovery, after the engine's loss detection ran for that ACK. The default
    /// ignores it; loss-based controllers grow with <see cref="OnAck"/>.
    /// </summary>
    /// <param name="sample">What the ACK delivered and at what rate.</param>
    void OnRateSample(in RateSample sample)
    {
    }
}

/// <summary>What one acknowledgment did, as a congestion controller sees it.</summary>
/// <param name="BytesAcked">The bytes newly acknowledged: how far SND.UNA advanced.</param>
/// <param name="FlightSize">FlightSize after the ACK: the bytes still outstanding.</param>
/// <param name="RttMicros">A round-trip measurement this ACK produced (Karn's rule already applied), or <see langword="null"/>.</param>
/// <param name="NowMicros">The current time.</param>
public readonly record struct CongestionAck(long BytesAcked, long FlightSize, long? RttMicros, long NowMicros);

/// <summary>Constants and rules shared by every congestion controller, and the registry of controllers by name.</summary>
public static class CongestionRules
{
    /// <summary>
    /// The number of duplicate ACKs that signals a loss and starts fast retransmit (RFC 5681 3.2:
    /// "the arrival of 3 duplicate ACKs").
    /// </summary>
    public const int DuplicateAckThreshold = 3;

    /// <summary>The name of the default controller, <see cref="CubicController"/> (as in Linux).</summary>
    public const string DefaultName = CubicController.RegisteredName;

    /// <summary>
    /// RFC 5681 4.1: "if the TCP has not sent data in an interval exceeding the retransmission
    /// timeout", cwnd is reduced before the next transmission.
    /// </summary>
    /// <param name="lastSendMicros">When data was last sent.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <param name="rtoMicros">The current retransmission timeout.</param>
    /// <returns>Whether the engine should call <see cref="ICongestionController.OnRestartAfterIdle"/> before sending.</returns>
    public static bool IsRestartAfterIdle(long lastSendMicros, long nowMicros, long rtoMicros) =>
        nowMicros - lastSendMicros > rtoMicros;

    /// <summary>
    /// The loss threshold of RFC 5681 3.1 equation (4): ssthresh = max(FlightSize / 2, 2 * SMSS).
    /// </summary>
    /// <param name="flightSize">FlightSize when the loss was detected.</param>
    /// <param name="smss">The sender maximum segment size.</param>
    /// <returns>The new ssthresh.</returns>
    public static long HalvedSlowStartThreshold(long flightSize, int smss) =>
        Math.Max(flightSize / 2, 2L * smss);
}

/// <summary>
/// The congestion controllers an application may choose by name in the connection options,
/// like Linux's <c>net.ipv4.tcp_congestion_control</c>. Immutable: <see cref="With"/> returns
/// a new registry, so one may be shared by every connection of a stack without locks.
/// </summary>
public sealed class CongestionControllerRegistry
{
    private readonly Dictionary<string, Func<ICongestionController>> _factories;

    private CongestionControllerRegistry(Dictionary<string, Func<ICongestionController>> factories)
    {
        _factories = factories;
    }

    /// <summary>The built-in controllers with their default options: <c>cubic</c> (the default), <c>newreno</c> and <c>bbr</c>.</summary>
    public static CongestionControllerRegistry Default { get; } = new(
        new Dictionary<string, Func<ICongestionController>>(StringComparer.OrdinalIgnoreCase)
        {
            [CubicController.RegisteredName] = static () => new CubicController(),
            [NewRenoController.RegisteredName] = static () => new NewRenoController(),
            [BbrController.RegisteredName] = static () => new BbrController(),
        });

    /// <summary>The registered names, sorted ordinally.</summary>
    public IReadOnlyList<string> Names => [.. _factories.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Returns a registry that also holds (or replaces) <paramref name="name"/>.</summary>
    /// <param name="name">The name, matched without regard to case.</param>
    /// <param name="factory">Creates one controller per connection.</param>
    /// <returns>The new registry; this one is unchanged.</returns>
    public CongestionControllerRegistry With(string name, Func<ICongestionController> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        var copy = new Dictionary<string, Func<ICongestionController>>(_factories, StringComparer.OrdinalIgnoreCase)
        {
            [name] = factory,
        };
        return new CongestionControllerRegistry(copy);
    }

    /// <summary>Creates a controller for a new connection.</summary>
    /// <param name="name">The registered name, matched without regard to case.</param>
    /// <param name="controller">The new controller, when the name is known.</param>
    /// <returns>Whether the name is registered.</returns>
    public bool TryCreate(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ICongestionController? controller)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_factories.TryGetValue(name, out Func<ICongestionController>? factory))
        {
            controller = factory();
            return true;
        }

        controller = null;
        return false;
    }

    /// <summary>Creates a controller for a new connection.</summary>
    /// <param name="name">The registered name, matched without regard to case.</param>
    /// <returns>The new controller.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not registered.</exception>
    public ICongestionController Create(string name) =>
        TryCreate(name, out ICongestionController? controller)
            ? controller
            : throw new ArgumentException(
                $"Unknown congestion controller '{name}'; known: {string.Join(", ", Names)}.", nameof(name));
}
