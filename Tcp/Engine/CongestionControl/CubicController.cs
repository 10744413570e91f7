namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>The tunables of <see cref="CubicController"/>; the defaults are RFC 9438's.</summary>
public sealed record CubicOptions
{
    /// <summary>The options every connection gets unless told otherwise.</summary>
    public static CubicOptions Default { get; } = new();

    /// <summary>C (RFC 9438 5.1): the aggressiveness of the cubic growth, in segments per second cubed; 0.4.</summary>
    public double C { get; init; } = 0.4;

    /// <summary>β_cubic (RFC 9438 4.6): the multiplicative decrease factor; 0.7.</summary>
    public double Beta { get; init; } = 0.7;

    /// <summary>Fast convergence (RFC 9438 4.7): release bandwidth faster when a loss comes before the previous W_max; on.</summary>
    public bool FastConvergence { get; init; } = true;

    /// <summary>Leave the initial slow start with HyStart++ (RFC 9406) instead of at the first loss; on.</summary>
    public bool HyStart { get; init; } = true;

    /// <summary>
    /// With <see cref="HyStart"/>, also leave it on the ACK-train test of Linux's HyStart (see
    /// <see cref="HyStartPlusPlus"/>), which catches a bottleneck queue of about one
    /// bandwidth-delay product before it overflows; on.
    /// </summary>
    public bool HyStartAckTrain { get; init; } = true;

    /// <summary>The initial window rule, as for NewReno; default <see cref="InitialWindowRule.Rfc6928"/> (IW10).</summary>
    public InitialWindowRule InitialWindow { get; init; } = InitialWindowRule.Rfc6928;

    /// <summary>L of slow start outside HyStart++ (RFC 3465 2.2), in segments; 2.</summary>
    public int SlowStartByteCountingLimit { get; init; } = 2;

    /// <summary>
    /// What a loss multiplies by β_cubic. RFC 9438 4.6 gives ssthresh = FlightSize * β_cubic and
    /// allows cwnd * β_cubic (Linux, Windows) in an implementation whose window does not grow while
    /// the flight is smaller than it (this controller's RFC 9438 5.8 rule).
    /// <see langword="true"/> (default): the larger of the two. With a window of a few segments the
    /// flight is usually a segment or two short of it when a loss is detected, and the flight-based
    /// reduction compounds (20 MB at 1 Gbit/s, 0.2 ms, 3% loss: 15% less goodput); with SACK and a
    /// longer path the flight has often grown past cwnd by then (segments SACKed during RACK's
    /// reordering window), and the cwnd-based reduction is the deeper one.
    /// <see langword="false"/>: FlightSize * β_cubic.
    /// </summary>
    public bool ReduceFromCongestionWindow { get; init; } = true;

    /// <summary>
    /// The window when fast recovery ends (RFC 6582 3.2 step 5): <see langword="false"/> (default)
    /// option (2), ssthresh, which is also RFC 6675 5's window after a SACK recovery and what
    /// Proportional Rate Reduction brings the flight to (RFC 6937 3); <see langword="true"/>:
    /// option (1), min(ssthresh, max(FlightSize, SMSS) + SMSS).
    /// </summary>
    public bool ExitRecoveryLimitedByFlightSize { get; init; }
}

/// <summary>
/// CUBIC congestion control (RFC 9438): in congestion avoidance the window follows
/// W_cubic(t) = C * (t - K)^3 + W_max, a cubic in the time since the last reduction with its
/// plateau at the window where the loss happened, never below the window Reno would have
/// (W_est, the Reno-friendly region); a loss multiplies the window by β_cubic = 0.7. The initial
/// slow start ends with HyStart++ (<see cref="HyStartPlusPlus"/>).
/// </summary>
/// <remarks>
/// <para>Windows are kept in bytes (RFC 9438 counts segments: every formula is scaled by SMSS).
/// Per ACK in congestion avoidance the window grows by (target - cwnd) / cwnd per segment
/// acknowledged, target = W_cubic(t + RTT) clamped to [cwnd, 1.5 cwnd] (RFC 9438 4.4, 4.5), with
/// RTT the smoothed round-trip time of the samples the ACKs carry.</para>
/// <para>Fast recovery keeps the NewReno mechanics of <see cref="ICongestionController"/> (the window
/// inflated by duplicate ACKs, deflated by partial ACKs), with ssthresh = max(cwnd, FlightSize) * β_cubic (see
/// <see cref="CubicOptions.ReduceFromCongestionWindow"/>), and ends at cwnd = ssthresh.
/// The window does not grow while the sender is not using it (RFC 9438 5.8): an ACK grows it only
/// when the flight before the ACK filled it, and time spent so is left out of t.</para>
/// <para>Integer state plus a few doubles; no allocation after construction.</para>
/// </remarks>
public sealed class CubicController : ICongestionController
{
    /// <summary>The name in <see cref="CongestionControllerRegistry"/>.</summary>
    public const string RegisteredName = "cubic";

    private const long NoEpoch = long.MinValue;

    private readonly CubicOptions _options;
    private HyStartPlusPlus? _hyStart; // made at the first slow-start ACK, so idle connections do without
    private bool _hyStartEnded;
    private int _smss;
    private double _cwnd; // bytes, fractional growth kept
    private long _ssthresh;
    private double _wMax; // bytes; 0: not set (no congestion event yet, or HyStart++ exit)
    private double _cwndPrior; // bytes: cwnd when ssthresh was last set
    private bool _wMaxFromEpoch; // K = 0 and W_max = cwnd at the epoch start (after a timeout or a HyStart++ exit)
    private long _epochStart = NoEpoch;
    private double _k; // seconds
    private double _wEst; // bytes
    private long _lastAckMicros;
    private long _srttMicros;
    private Snapshot _beforeReduction;
    private bool _undoable;

    /// <summary>Creates a controller for one connection; it has the initial window for a 536-byte SMSS until <see cref="OnConnectionEstablished"/>.</summary>
    /// <param name="options">The tunables; <see cref="CubicOptions.Default"/> when <see langword="null"/>.</param>
    public CubicController(CubicOptions? options = null)
    {
        _options = options ?? CubicOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.C, 0, nameof(options));
        if (!(_options.Beta > 0 && _options.Beta < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.Beta, "β_cubic is between 0 and 1.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(_options.SlowStartByteCountingLimit, 1, nameof(options));
        Restart(NewRenoController.DefaultSmss);
    }

    /// <inheritdoc />
    public string Name => RegisteredName;

    /// <inheritdoc />
    public long CongestionWindow => (long)_cwnd;

    /// <inheritdoc />
    public long SlowStartThreshold => _ssthresh;

    /// <inheritdoc />
    public bool InFastRecovery { get; private set; }

    /// <summary>The SMSS the controller counts in.</summary>
    public int Smss => _smss;

    /// <summary>W_max in bytes: the window at the last congestion event (after fast convergence); 0 before one.</summary>
    public long WMax => (long)_wMax;

    /// <summary>K in seconds: when W_cubic returns to W_max in the current epoch (RFC 9438 4.2 equation (2)); 0 outside one.</summary>
    public double K => _epochStart == NoEpoch ? 0 : _k;

    /// <summary>W_est in bytes: the window Reno would have in the current epoch (RFC 9438 4.3).</summary>
    public long WEst => (long)_wEst;

    /// <summary>The smoothed RTT of the samples seen, in microseconds (0 before one).</summary>
    public long SmoothedRttMicros => _srttMicros;

    /// <summary>The HyStart++ state of the initial slow start (<see langword="null"/> when HyStart++ is off, or before the first ACK).</summary>
    public HyStartPlusPlus? HyStart => _hyStart;

    /// <summary>Whether the next ACK grows cwnd by slow start (cwnd &lt; ssthresh).</summary>
    public bool InSlowStart => _cwnd < _ssthresh;

    /// <summary>
    /// RFC 9438 4.2 equation (1): W_cubic(t) = C * (t - K)^3 + W_max, in bytes, for the current
    /// epoch's K and W_max.
    /// </summary>
    /// <param name="seconds">t: seconds since the epoch began.</param>
    /// <returns>The window in bytes.</returns>
    public double WCubic(double seconds)
    {
        double d = seconds - _k;
        return (_options.C * d * d * d * _smss) + _wMax;
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
        if (newSmss == _smss)
        {
            return;
        }

        // Same number of segments, at least 2 * SMSS (RFC 5681 3.1 equation (4)'s floor).
        double scale = (double)newSmss / _smss;
        long floor = 2L * newSmss;
        _cwnd = Math.Max(_cwnd * scale, floor);
        if (_ssthresh != NewRenoController.InitialSlowStartThreshold)
        {
            _ssthresh = Math.Max((long)(_ssthresh * scale), floor);
        }

        _wMax *= scale;
        _cwndPrior *= scale;
        _wEst *= scale;
        _smss = newSmss;
        _epochStart = NoEpoch; // K is recomputed in the new unit at the next ACK
    }

    /// <inheritdoc />
    public void OnAck(in CongestionAck ack)
    {
        AddRttSample(ack.RttMicros);
        if (ack.BytesAcked <= 0 || InFastRecovery)
        {
            return;
        }

        long now = ack.NowMicros;
        long flightBefore = ack.FlightSize + ack.BytesAcked;
        if (_cwnd < _ssthresh)
        {
            // Slow start grows only while the flight fills at least half the window (Linux's
            // tcp_is_cwnd_limited), so an application-limited sender keeps a window it has used.
            bool limited = 2 * flightBefore >= _cwnd;
            long increase;
            if (!_hyStartEnded)
            {
                HyStartPlusPlus hy = _hyStart ??= new HyStartPlusPlus(ackTrain: _options.HyStartAckTrain);
                increase = hy.OnAck(ack, _smss, (long)_cwnd, out bool enterAvoidance);
                if (enterAvoidance)
                {
                    _hyStartEnded = true;
                    // RFC 9406 4.2 + RFC 9438 4.10: ssthresh = cwnd; W_max is undefined, so the first
                    // epoch starts with K = 0 and W_max = cwnd.
                    _ssthresh = Math.Max((long)_cwnd, 2L * _smss);
                    _cwndPrior = _cwnd;
                    _wMaxFromEpoch = true;
                    _epochStart = NoEpoch;
                }
            }
            else
            {
                // RFC 5681 3.1 equation (2) with RFC 3465 2.2's limit L.
                increase = Math.Min(ack.BytesAcked, (long)_options.SlowStartByteCountingLimit * _smss);
            }

            if (limited && _cwnd < _ssthresh)
            {
                _cwnd = Math.Min(_cwnd + increase, _ssthresh);
            }

            _lastAckMicros = now;
            return;
        }

        if (flightBefore + _smss < (long)_cwnd)
        {
            // RFC 9438 5.8: an application-limited flow does not grow its window, and the time it
            // spends so does not count in t.
            if (_epochStart != NoEpoch)
            {
                _epochStart += now - _lastAckMicros;
            }

            _lastAckMicros = now;
            return;
        }

        GrowInCongestionAvoidance(ack.BytesAcked, now);
        _lastAckMicros = now;
    }

    /// <inheritdoc />
    public void OnEnterFastRecovery(long flightSize, long nowMicros)
    {
        ReduceOnCongestion(flightSize);
        // RFC 5681 3.2 step 3 (RFC 9438 leaves fast recovery to RFC 6582 / 6675): inflate by the
        // three segments the duplicate ACKs say have left.
        _cwnd = _ssthresh + (CongestionRules.DuplicateAckThreshold * (long)_smss);
        InFastRecovery = true;
    }

    /// <inheritdoc />
    public void OnDuplicateAck(long nowMicros)
    {
        if (InFastRecovery)
        {
            _cwnd += _smss; // RFC 5681 3.2 step 4
        }
    }

    /// <inheritdoc />
    public void OnPartialAck(in CongestionAck ack)
    {
        AddRttSample(ack.RttMicros);
        if (!InFastRecovery || ack.BytesAcked <= 0)
        {
            return;
        }

        // RFC 6582 3.2 step 5 (partial): deflate by the bytes acknowledged, add back one SMSS
        // when at least one was acknowledged; never below one segment.
        double deflated = _cwnd - ack.BytesAcked;
        if (ack.BytesAcked >= _smss)
        {
            deflated += _smss;
        }

        _cwnd = Math.Max(deflated, _smss);
    }

    /// <inheritdoc />
    public void OnExitFastRecovery(in CongestionAck ack)
    {
        AddRttSample(ack.RttMicros);
        if (!InFastRecovery)
        {
            return;
        }

        // RFC 6582 3.2 step 5 (full): option (2) ssthresh (RFC 6675 5 and RFC 6937 3 for a SACK
        // recovery, whose PRR has brought the flight there), or option (1) min(ssthresh, max(FlightSize, SMSS) + SMSS).
        _cwnd = _options.ExitRecoveryLimitedByFlightSize
            ? Math.Min(_ssthresh, Math.Max(ack.FlightSize, _smss) + _smss)
            : _ssthresh;
        InFastRecovery = false;
        _epochStart = NoEpoch; // congestion avoidance starts at the next ACK
        _lastAckMicros = ack.NowMicros;
    }

    /// <inheritdoc />
    public void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros)
    {
        // RFC 9438 4.8: reduce like Reno (cwnd = 1 SMSS) but set ssthresh with β_cubic; RFC 5681 3.1
        // holds ssthresh for later timer resends of the same segment.
        if (!segmentAlreadyRetransmittedByTimer)
        {
            RememberForUndo();
            _ssthresh = Math.Max((long)(flightSize * _options.Beta), 2L * _smss);
        }

        EndHyStart();
        // RFC 9438 4.8: the first congestion avoidance stage after a timeout uses K = 0 and
        // W_max = cwnd at its start, and W_est starts there too.
        _wMaxFromEpoch = true;
        _cwndPrior = 0;
        _epochStart = NoEpoch;
        _cwnd = _smss;
        InFastRecovery = false;
    }

    /// <summary>
    /// The last reduction (a loss episode, or the first timeout of a series) was spurious (the
    /// engine's D-SACK or Eifel detection): RFC 9438 4.9 restores what the window, ssthresh,
    /// W_max, cwnd_prior, K, the epoch and W_est were before it (and a slow start the reduction
    /// ended resumes, HyStart++ with it), and leaves fast recovery.
    /// </summary>
    /// <param name="nowMicros">The current time.</param>
    public void OnReductionUndone(long nowMicros)
    {
        if (!_undoable)
        {
            return;
        }

        Snapshot s = _beforeReduction;
        _cwnd = Math.Max(_cwnd, s.Cwnd);
        _ssthresh = Math.Max(_ssthresh, s.Ssthresh);
        _wMax = s.WMax;
        _cwndPrior = s.CwndPrior;
        _wMaxFromEpoch = s.WMaxFromEpoch;
        _k = s.K;
        _epochStart = s.EpochStart;
        _wEst = s.WEst;
        if (!s.HyStartEnded && _hyStartEnded)
        {
            // The reduction ended slow start: it goes on, and HyStart++ with it.
            _hyStartEnded = false;
            _hyStart?.OnCongestionUndone(s.HyStartPhase);
        }

        InFastRecovery = false;
        _undoable = false;
    }

    /// <inheritdoc />
    public void OnRestartAfterIdle(long nowMicros)
    {
        // RFC 5681 4.1: cwnd = min(IW, cwnd); the cubic epoch starts again from there (RFC 9438 5.8).
        _cwnd = Math.Min(NewRenoController.ComputeInitialWindow(_options.InitialWindow, _smss), _cwnd);
        _epochStart = NoEpoch;
    }

    /// <summary>Returns the state, e.g. <c>cubic cwnd=14600 ssthresh=2147483647 wmax=0 smss=1460</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{RegisteredName} cwnd={CongestionWindow} ssthresh={_ssthresh} wmax={WMax} smss={_smss}{(InFastRecovery ? " recovery" : string.Empty)}");

    // What RFC 9438 4.9 restores after a spurious reduction.
    private void RememberForUndo()
    {
        _beforeReduction = new Snapshot(_cwnd, _ssthresh, _wMax, _cwndPrior, _wMaxFromEpoch, _k, _epochStart, _wEst, _hyStartEnded, _hyStart?.Phase ?? HyStartPhase.SlowStart);
        _undoable = true;
    }

    // RFC 9438 4.6 and 4.7: a congestion event detected by loss.
    private void ReduceOnCongestion(long flightSize)
    {
        RememberForUndo();
        EndHyStart();
        if (_options.FastConvergence && _cwnd < _wMax)
        {
            _wMax = _cwnd * (1 + _options.Beta) / 2; // RFC 9438 4.7: release some bandwidth to new flows
        }
        else
        {
            _wMax = _cwnd;
        }

        _wMaxFromEpoch = false;
        _cwndPrior = _cwnd;
        // RFC 9438 4.6: ssthresh = flight_size * β_cubic, or cwnd * β_cubic where the window cannot
        // grow while the flight is below it (OnAck's RFC 9438 5.8 rule): the larger; at least 2 SMSS.
        double reduced = _options.ReduceFromCongestionWindow ? Math.Max(_cwnd, flightSize) : flightSize;
        _ssthresh = Math.Max((long)(reduced * _options.Beta), 2L * _smss);
        _epochStart = NoEpoch;
    }

    // RFC 9438 4.2-4.5, per ACK of `bytesAcked` in congestion avoidance.
    private void GrowInCongestionAvoidance(long bytesAcked, long now)
    {
        if (_epochStart == NoEpoch)
        {
            // A new epoch: the start of this congestion avoidance stage.
            _epochStart = now;
            if (_wMaxFromEpoch || _wMax <= _cwnd)
            {
                // RFC 9438 4.8 / 4.10 (and a window already at or beyond W_max): K = 0, W_max = cwnd.
                _wMax = _cwnd;
                _wMaxFromEpoch = false;
                _k = 0;
            }
            else
            {
                // RFC 9438 4.2 equation (2): K = cubic_root((W_max - cwnd_epoch) / C), in segments.
                _k = Math.Cbrt((_wMax - _cwnd) / _smss / _options.C);
            }

            if (_cwndPrior <= 0)
            {
                _cwndPrior = _cwnd;
            }

            _wEst = _cwnd; // RFC 9438 4.3: W_est starts at cwnd_epoch
        }

        double t = (now - _epochStart) / 1e6;
        double rtt = _srttMicros / 1e6;

        // RFC 9438 4.3 equation (4): W_est += α_cubic * segments_acked / cwnd (in segments), with
        // α_cubic = 3 (1 - β) / (1 + β), and 1 once W_est reached cwnd_prior.
        double alpha = _wEst >= _cwndPrior ? 1.0 : 3 * (1 - _options.Beta) / (1 + _options.Beta); // equation (3)
        _wEst += alpha * bytesAcked * _smss / _cwnd;

        if (WCubic(t) < _wEst)
        {
            _cwnd = Math.Max(_cwnd, _wEst); // RFC 9438 4.3: the Reno-friendly region
            return;
        }

        // RFC 9438 4.4 / 4.5: target = W_cubic(t + RTT), within [cwnd, 1.5 cwnd];
        // cwnd += (target - cwnd) / cwnd for each segment acknowledged.
        double target = Math.Clamp(WCubic(t + rtt), _cwnd, 1.5 * _cwnd);
        _cwnd += (target - _cwnd) * bytesAcked / _cwnd;
    }

    // The smoothed RTT of RFC 6298 2.3 (α = 1/8) over the samples the ACKs carry.
    private void AddRttSample(long? rttMicros)
    {
        if (rttMicros is not long rtt || rtt <= 0)
        {
            return;
        }

        _srttMicros = _srttMicros == 0 ? rtt : _srttMicros + ((rtt - _srttMicros) / 8);
    }

    private void Restart(int smss)
    {
        _smss = smss;
        _cwnd = NewRenoController.ComputeInitialWindow(_options.InitialWindow, smss);
        _ssthresh = NewRenoController.InitialSlowStartThreshold;
        _wMax = 0;
        _cwndPrior = 0;
        _wMaxFromEpoch = true;
        _epochStart = NoEpoch;
        _k = 0;
        _wEst = 0;
        _hyStart?.Reset();
        _hyStartEnded = !_options.HyStart;
        _undoable = false;
        InFastRecovery = false;
    }

    private void EndHyStart()
    {
        _hyStart?.OnCongestion();
        _hyStartEnded = true;
    }

    private readonly record struct Snapshot(double Cwnd, long Ssthresh, double WMax, double CwndPrior, bool WMaxFromEpoch, double K, long EpochStart, double WEst, bool HyStartEnded, HyStartPhase HyStartPhase);
}
