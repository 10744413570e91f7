namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>How the initial window (IW) is chosen from SMSS.</summary>
public enum InitialWindowRule
{
    /// <summary>
    /// RFC 5681 3.1 equation (1): 2 segments when SMSS &gt; 2190, 3 when SMSS &gt; 1095, else 4
    /// (the segment form of RFC 3390's min(4 * SMSS, max(2 * SMSS, 4380))).
    /// </summary>
    Rfc5681,

    /// <summary>RFC 6928 2: IW = min(10 * SMSS, max(2 * SMSS, 14600)); ten 1460-byte segments, as Linux sends.</summary>
    Rfc6928,
}

/// <summary>The tunables of <see cref="NewRenoController"/>; the defaults follow Linux where the RFCs leave a choice.</summary>
public sealed record NewRenoOptions
{
    /// <summary>The options every connection gets unless told otherwise.</summary>
    public static NewRenoOptions Default { get; } = new();

    /// <summary>The initial window rule; default <see cref="InitialWindowRule.Rfc6928"/> (IW10, like Linux).</summary>
    public InitialWindowRule InitialWindow { get; init; } = InitialWindowRule.Rfc6928;

    /// <summary>
    /// L of appropriate byte counting in slow start (RFC 3465 2.2), in segments: one ACK grows
    /// cwnd by at most L * SMSS. Default 2, RFC 3465's recommendation, so slow start still doubles
    /// cwnd per round trip when the receiver acknowledges every second segment; 1 is RFC 5681 3.1
    /// equation (2) exactly.
    /// </summary>
    public int SlowStartByteCountingLimit { get; init; } = 2;

    /// <summary>
    /// How congestion avoidance grows cwnd. <see langword="true"/> (default): byte counting
    /// (RFC 3465 2.1, allowed by RFC 5681 3.1): cwnd += SMSS once a full cwnd of bytes has been
    /// acknowledged. <see langword="false"/>: RFC 5681 3.1 equation (3), cwnd += SMSS * SMSS / cwnd
    /// per ACK, at least 1 byte.
    /// </summary>
    public bool CongestionAvoidanceByteCounting { get; init; } = true;

    /// <summary>
    /// The window after a full acknowledgment ends fast recovery (RFC 6582 3.2 step 5).
    /// <see langword="true"/> (default): option (1), min(ssthresh, max(FlightSize, SMSS) + SMSS),
    /// which avoids a burst when little is outstanding. <see langword="false"/>: option (2), ssthresh.
    /// </summary>
    public bool ExitRecoveryLimitedByFlightSize { get; init; } = true;
}

/// <summary>
/// NewReno congestion control: RFC 5681 slow start, congestion avoidance, fast retransmit and
/// fast recovery, with RFC 6582's handling of partial acknowledgments so that several losses in
/// one window are repaired in one recovery episode.
/// </summary>
/// <remarks>
/// Integer arithmetic on bytes; no allocation after construction. See
/// <see cref="ICongestionController"/> for which events the engine reports and when.
/// </remarks>
public sealed class NewRenoController : ICongestionController
{
    /// <summary>The name in <see cref="CongestionControllerRegistry"/>.</summary>
    public const string RegisteredName = "newreno";

    /// <summary>
    /// The initial ssthresh: RFC 5681 3.1 says it "SHOULD be set arbitrarily high"; this is
    /// Linux's <c>TCP_INFINITE_SSTHRESH</c>.
    /// </summary>
    public const long InitialSlowStartThreshold = int.MaxValue;

    /// <summary>The SMSS assumed before <see cref="OnConnectionEstablished"/>: the RFC 9293 3.7.1 default, 536.</summary>
    public const int DefaultSmss = 536;

    private readonly NewRenoOptions _options;
    private int _smss;
    private long _cwnd;
    private long _ssthresh;
    private long _bytesAckedInAvoidance;
    private long _priorCwnd;
    private long _priorSsthresh;
    private bool _undoable;

    /// <summary>Creates a controller for one connection; it has the initial window for a 536-byte SMSS until <see cref="OnConnectionEstablished"/>.</summary>
    /// <param name="options">The tunables; <see cref="NewRenoOptions.Default"/> when <see langword="null"/>.</param>
    public NewRenoController(NewRenoOptions? options = null)
    {
        _options = options ?? NewRenoOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.SlowStartByteCountingLimit, 1, nameof(options));
        Restart(DefaultSmss);
    }

    /// <inheritdoc />
    public string Name => RegisteredName;

    /// <inheritdoc />
    public long CongestionWindow => _cwnd;

    /// <inheritdoc />
    public long SlowStartThreshold => _ssthresh;

    /// <inheritdoc />
    public bool InFastRecovery { get; private set; }

    /// <summary>The SMSS the controller counts in.</summary>
    public int Smss => _smss;

    /// <summary>IW for the current SMSS under the configured rule.</summary>
    public long InitialWindow => ComputeInitialWindow(_options.InitialWindow, _smss);

    /// <summary>Whether the next ACK grows cwnd by slow start (cwnd &lt; ssthresh, RFC 5681 3.1).</summary>
    public bool InSlowStart => _cwnd < _ssthresh;

    /// <summary>IW for an SMSS under a rule (RFC 5681 3.1 equation (1); RFC 6928 2).</summary>
    /// <param name="rule">The rule.</param>
    /// <param name="smss">The sender maximum segment size.</param>
    /// <returns>IW in bytes.</returns>
    public static long ComputeInitialWindow(InitialWindowRule rule, int smss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(smss, 1);
        return rule switch
        {
            InitialWindowRule.Rfc5681 => smss > 2190 ? 2L * smss : smss > 1095 ? 3L * smss : 4L * smss,
            InitialWindowRule.Rfc6928 => Math.Min(10L * smss, Math.Max(2L * smss, 14600)),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, null),
        };
    }

    /// <inheritdoc />
    public void OnConnectionEstablished(int smss, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(smss, 1);
        Restart(smss);
    }

    /// <inheritdoc />
    public void OnMssChanged(int newSmss, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(newSmss, 1);
        int oldSmss = _smss;
        if (newSmss == oldSmss)
        {
            return;
        }

        // Same number of segments, at least 2 * SMSS (RFC 5681 3.1 equation (4)'s floor).
        long floor = 2L * newSmss;
        _cwnd = Math.Max(Rescale(_cwnd, oldSmss, newSmss), floor);
        if (_ssthresh != InitialSlowStartThreshold)
        {
            _ssthresh = Math.Max(Rescale(_ssthresh, oldSmss, newSmss), floor);
        }

        _bytesAckedInAvoidance = Rescale(_bytesAckedInAvoidance, oldSmss, newSmss);
        _smss = newSmss;
    }

    /// <inheritdoc />
    public void OnAck(in CongestionAck ack)
    {
        if (ack.BytesAcked <= 0 || InFastRecovery)
        {
            return;
        }

        if (_cwnd < _ssthresh)
        {
            // RFC 5681 3.1 equation (2) with RFC 3465 2.2's limit L: cwnd += min(N, L * SMSS).
            // Growth stops at ssthresh; the rest of this ACK is not carried into avoidance.
            long increase = Math.Min(ack.BytesAcked, (long)_options.SlowStartByteCountingLimit * _smss);
            _cwnd = Math.Min(_cwnd + increase, _ssthresh);
            return;
        }

        if (_options.CongestionAvoidanceByteCounting)
        {
            // RFC 3465 2.1 / RFC 5681 3.1: count acknowledged bytes; each full cwnd of them is
            // one round trip's worth and grows cwnd by one SMSS.
            _bytesAckedInAvoidance += ack.BytesAcked;
            if (_bytesAckedInAvoidance >= _cwnd)
            {
                _bytesAckedInAvoidance -= _cwnd;
                _cwnd += _smss;
            }
        }
        else
        {
            // RFC 5681 3.1 equation (3): cwnd += SMSS * SMSS / cwnd, and at least 1 byte when
            // the division rounds to 0.
            _cwnd += Math.Max(1, (long)_smss * _smss / _cwnd);
        }
    }

    /// <inheritdoc />
    public void OnEnterFastRecovery(long flightSize, long nowMicros)
    {
        RememberForUndo();
        // RFC 6582 3.2 step 2 / RFC 5681 3.2 step 2: ssthresh = max(FlightSize / 2, 2 * SMSS).
        _ssthresh = CongestionRules.HalvedSlowStartThreshold(flightSize, _smss);
        // RFC 5681 3.2 step 3: inflate by the three segments the duplicate ACKs say have left.
        _cwnd = _ssthresh + (CongestionRules.DuplicateAckThreshold * (long)_smss);
        _bytesAckedInAvoidance = 0;
        InFastRecovery = true;
    }

    /// <inheritdoc />
    public void OnDuplicateAck(long nowMicros)
    {
        if (!InFastRecovery)
        {
            return;
        }

        // RFC 5681 3.2 step 4: one more segment has left the network.
        _cwnd += _smss;
    }

    /// <inheritdoc />
    public void OnPartialAck(in CongestionAck ack)
    {
        if (!InFastRecovery || ack.BytesAcked <= 0)
        {
            return;
        }

        // RFC 6582 3.2 step 5 (partial): deflate by the newly acknowledged bytes; if at least one
        // SMSS was acknowledged, add one SMSS back, so about ssthresh stays in flight once
        // recovery ends. Never below one segment (a guard, not an RFC rule).
        long deflated = _cwnd - ack.BytesAcked;
        if (ack.BytesAcked >= _smss)
        {
            deflated += _smss;
        }

        _cwnd = Math.Max(deflated, _smss);
    }

    /// <inheritdoc />
    public void OnExitFastRecovery(in CongestionAck ack)
    {
        if (!InFastRecovery)
        {
            return;
        }

        // RFC 6582 3.2 step 5 (full): option (1) min(ssthresh, max(FlightSize, SMSS) + SMSS) or (2) ssthresh.
        _cwnd = _options.ExitRecoveryLimitedByFlightSize
            ? Math.Min(_ssthresh, Math.Max(ack.FlightSize, _smss) + _smss)
            : _ssthresh;
        _bytesAckedInAvoidance = 0;
        InFastRecovery = false;
    }

    /// <inheritdoc />
    public void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros)
    {
        // RFC 5681 3.1: equation (4) only for the first timer-driven resend of a segment;
        // ssthresh is held for later ones.
        if (!segmentAlreadyRetransmittedByTimer)
        {
            RememberForUndo();
            _ssthresh = CongestionRules.HalvedSlowStartThreshold(flightSize, _smss);
        }

        // RFC 5681 3.1: cwnd = the loss window, one SMSS. Recovery ends (RFC 6582 3.2 step 4 is
        // then the engine's: recover = the highest sequence number sent).
        _cwnd = _smss;
        _bytesAckedInAvoidance = 0;
        InFastRecovery = false;
    }

    /// <inheritdoc />
    public void OnReductionUndone(long nowMicros)
    {
        if (!_undoable)
        {
            return;
        }

        // Like Linux's tcp_undo_cwnd_reduction with Reno's undo: back to at least the window and
        // threshold held before the reduction.
        _cwnd = Math.Max(_cwnd, _priorCwnd);
        _ssthresh = Math.Max(_ssthresh, _priorSsthresh);
        _bytesAckedInAvoidance = 0;
        InFastRecovery = false;
        _undoable = false;
    }

    /// <inheritdoc />
    public void OnRestartAfterIdle(long nowMicros)
    {
        // RFC 5681 4.1: cwnd = RW = min(IW, cwnd). ssthresh is kept.
        _cwnd = Math.Min(InitialWindow, _cwnd);
        _bytesAckedInAvoidance = 0;
    }

    /// <summary>Returns the state, e.g. <c>newreno cwnd=14600 ssthresh=2147483647 smss=1460</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{RegisteredName} cwnd={_cwnd} ssthresh={_ssthresh} smss={_smss}{(InFastRecovery ? " recovery" : string.Empty)}");

    // bytes * newSmss / oldSmss without overflow (bytes is at most about 2^31 * 2^16 here).
    private static long Rescale(long bytes, int oldSmss, int newSmss) =>
        (long)((Int128)bytes * newSmss / oldSmss);

    private void RememberForUndo()
    {
        _priorCwnd = _cwnd;
        _priorSsthresh = _ssthresh;
        _undoable = true;
    }

    private void Restart(int smss)
    {
        _smss = smss;
        _cwnd = ComputeInitialWindow(_options.InitialWindow, smss);
        _ssthresh = InitialSlowStartThreshold;
        _bytesAckedInAvoidance = 0;
        InFastRecovery = false;
    }
}
