namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>The states of <see cref="BbrController"/> (draft-cardwell-iccrg-bbr-congestion-control 4.3).</summary>
public enum BbrState
{
    /// <summary>Exponential search for the bottleneck bandwidth (4.3.2).</summary>
    Startup,

    /// <summary>Draining the queue Startup built (4.3.3).</summary>
    Drain,

    /// <summary>Steady state: pacing at the estimated bandwidth, probing for more in cycles (4.3.4).</summary>
    ProbeBw,

    /// <summary>A few packets in flight for 200 ms and a round trip, to measure the propagation delay again (4.3.5).</summary>
    ProbeRtt,
}

/// <summary>The tunables of <see cref="BbrController"/>; the defaults are the draft's.</summary>
public sealed record BbrOptions
{
    /// <summary>The options every connection gets unless told otherwise.</summary>
    public static BbrOptions Default { get; } = new();

    /// <summary>The initial window rule; default <see cref="InitialWindowRule.Rfc6928"/> (IW10, like Linux).</summary>
    public InitialWindowRule InitialWindow { get; init; } = InitialWindowRule.Rfc6928;

    /// <summary>
    /// Seeds the choice of the first ProbeBW gain-cycle phase (draft 4.3.4.3 picks it at random so
    /// that flows do not probe in step). Fixed by default, so that a run is reproducible.
    /// </summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// BBR congestion control, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00): a model of
/// the path, the bottleneck bandwidth (BBR.BtlBw, the windowed maximum of delivery-rate samples over
/// 10 round trips) and the round-trip propagation time (BBR.RTprop, the minimum RTT of the last 10
/// seconds); the sender paces at pacing_gain * BtlBw and keeps at most cwnd_gain * BtlBw * RTprop in
/// flight. Random loss is not read as congestion: the window is not cut by a factor on loss, only
/// held to what is in flight for the first round trip of a recovery (4.2.3.4).
/// </summary>
/// <remarks>
/// <para>The model is fed by <see cref="OnRateSample"/>, which the engine calls after every ACK on
/// a connection that keeps a per-segment log (both sides use SACK). Without SACK there are no rate
/// samples: the controller then grows the window by the bytes acknowledged and halves it on loss
/// (RFC 5681 3.2's reduction), and does not pace.</para>
/// <para>Integer arithmetic on bytes and microseconds; gains are fixed-point fractions of 256
/// (Linux's BBR_UNIT). No allocation after construction.</para>
/// </remarks>
public sealed class BbrController : ICongestionController
{
    /// <summary>The name in <see cref="CongestionControllerRegistry"/>.</summary>
    public const string RegisteredName = "bbr";

    /// <summary>Gains are in units of 1/256.</summary>
    public const int GainUnit = 256;

    /// <summary>BBRHighGain, 2/ln(2) = 2.885: Startup's pacing and cwnd gain (draft 4.3.2), the smallest that doubles the sending rate each round trip.</summary>
    public const int HighGain = (GainUnit * 2885 / 1000) + 1;

    /// <summary>Drain's pacing gain, 1/HighGain (draft 4.3.3).</summary>
    public const int DrainGain = GainUnit * 1000 / 2885;

    /// <summary>
    /// The cwnd gain of ProbeBW (draft 4.3.4) and of Startup and Drain, 2. The draft's Startup uses
    /// HighGain; BBRv3 (draft-ietf-ccwg-bbr 4.3.1, BBRStartupCwndGain) uses 2, which keeps Startup from
    /// putting more than a bandwidth-delay product beyond the pipe into the bottleneck's queue.
    /// </summary>
    public const int CwndGain2 = 2 * GainUnit;

    /// <summary>BBRGainCycleLen: the phases of one ProbeBW cycle (draft 4.3.4.3).</summary>
    public const int GainCycleLength = 8;

    /// <summary>BtlBwFilterLen: the bandwidth filter's window, in round trips (draft 4.1.1.2).</summary>
    public const int BandwidthWindowRounds = 10;

    /// <summary>RTpropFilterLen: the min-RTT filter's window, 10 s (draft 4.1.2.2).</summary>
    public const long MinRttWindowMicros = 10_000_000;

    /// <summary>ProbeRTTDuration: how long ProbeRTT holds the window down, 200 ms (draft 4.3.5).</summary>
    public const long ProbeRttDurationMicros = 200_000;

    /// <summary>BBRMinPipeCwnd: the smallest window, in segments (draft 4.2.3.3).</summary>
    public const int MinPipeSegments = 4;

    /// <summary>
    /// Linux's pacing margin: pace 1% below the estimate, so that a queue the estimate itself built
    /// drains (tcp_bbr.c's bbr_pacing_margin_percent).
    /// </summary>
    public const int PacingMarginPercent = 1;

    // BBR.pacing_gain of each ProbeBW phase: probe up by a quarter, drain it, then cruise (draft 4.3.4.3).
    private static ReadOnlySpan<int> CycleGains => [GainUnit * 5 / 4, GainUnit * 3 / 4, GainUnit, GainUnit, GainUnit, GainUnit, GainUnit, GainUnit];

    private readonly BbrOptions _options;
    private WindowedMaxFilter _bandwidth = new(BandwidthWindowRounds);
    private MinRttFilter _minRtt = new(MinRttWindowMicros);
    private BbrFullPipeEstimator _fullPipe;
    private uint _random;
    private int _smss = NewRenoController.DefaultSmss;
    private long _cwnd;
    private long _priorCwnd;
    private long _pacingRate;
    private int _pacingGain = HighGain;
    private int _cwndGain = CwndGain2;
    private long _roundCount;
    private long _nextRoundDelivered;
    private bool _roundStart;
    private int _cycleIndex;
    private long _cycleStamp;
    private long _probeRttDoneStamp = -1;
    private bool _probeRttRoundDone;
    private bool _idleRestart;
    private bool _packetConservation;
    private bool _enteringRecovery;
    private bool _hasRateSamples;
    private long _totalDelivered;
    private long _roundLost;
    private long _roundAcked;
    private long _fallbackSsthresh = NewRenoController.InitialSlowStartThreshold;

    /// <summary>Creates a controller for one connection.</summary>
    /// <param name="options">The tunables; <see cref="BbrOptions.Default"/> when <see langword="null"/>.</param>
    public BbrController(BbrOptions? options = null)
    {
        _options = options ?? BbrOptions.Default;
        _random = (uint)_options.Seed | 1;
        _cwnd = NewRenoController.ComputeInitialWindow(_options.InitialWindow, _smss);
    }

    /// <inheritdoc />
    public string Name => RegisteredName;

    /// <inheritdoc />
    public long CongestionWindow => _cwnd;

    /// <summary>
    /// BBR keeps no slow-start threshold; the engine's recovery (PRR, RFC 6937) brings what is in
    /// flight towards this value, so it is the window itself: recovery sends what BBR's window allows.
    /// Without rate samples it is the fallback's threshold.
    /// </summary>
    public long SlowStartThreshold => _hasRateSamples ? _cwnd : _fallbackSsthresh;

    /// <inheritdoc />
    public bool InFastRecovery { get; private set; }

    /// <inheritdoc />
    public bool UsesDeliveryRate => true;

    /// <inheritdoc />
    public long PacingRate => _hasRateSamples ? _pacingRate : 0;

    /// <summary>The state machine's state.</summary>
    public BbrState State { get; private set; }

    /// <summary>BBR.BtlBw in bytes per second; 0 before the first sample.</summary>
    public long BottleneckBandwidth => _bandwidth.Best;

    /// <summary>BBR.RTprop in microseconds; <see cref="long.MaxValue"/> before the first sample.</summary>
    public long MinRttMicros => _minRtt.MinRtt;

    /// <summary>BBR.pacing_gain in units of <see cref="GainUnit"/>.</summary>
    public int PacingGain => _pacingGain;

    /// <summary>BBR.cwnd_gain in units of <see cref="GainUnit"/>.</summary>
    public int CwndGain => _cwndGain;

    /// <summary>BBR.round_count: packet-timed round trips so far.</summary>
    public long RoundCount => _roundCount;

    /// <summary>BBR.filled_pipe: Startup found the bottleneck bandwidth.</summary>
    public bool FilledPipe => _fullPipe.FilledPipe;

    /// <summary>The ProbeBW phase (index into the gain cycle).</summary>
    public int CycleIndex => _cycleIndex;

    /// <summary>C.delivered as of the last rate sample: bytes delivered on the connection.</summary>
    public long DeliveredBytes => _totalDelivered;

    /// <summary>The round-trip time of the last rate sample that carried one, in microseconds; -1 before any.</summary>
    public long LatestRttMicros { get; private set; } = -1;

    /// <summary>Times ProbeRTT was entered.</summary>
    public int ProbeRttCount { get; private set; }

    /// <summary>The estimated bandwidth-delay product, BtlBw * RTprop, in bytes; 0 before both are known.</summary>
    public long EstimatedBdp => _minRtt.HasValue && _bandwidth.Best > 0
        ? (long)((Int128)_bandwidth.Best * _minRtt.MinRtt / 1_000_000)
        : 0;

    // BBR.send_quantum (draft 4.2.2): what the sender may release at once at the current rate.
    private long SendQuantum => _pacingRate < 150_000 ? _smss // below 1.2 Mbit/s
        : _pacingRate < 3_000_000 ? 2L * _smss // below 24 Mbit/s
        : Math.Min(_pacingRate / 1000, 65536);

    private long MinPipeCwnd => MinPipeSegments * (long)_smss;

    /// <inheritdoc />
    public void OnConnectionEstablished(int smss, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(smss, 1);
        _smss = smss;
        _cwnd = NewRenoController.ComputeInitialWindow(_options.InitialWindow, smss);
        _cycleStamp = nowMicros;
        InitPacingRate(0);
        EnterStartup();
    }

    /// <inheritdoc />
    public void OnMssChanged(int newSmss, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(newSmss, 1);
        _cwnd = Math.Max((long)((Int128)_cwnd * newSmss / _smss), 2L * newSmss);
        _priorCwnd = (long)((Int128)_priorCwnd * newSmss / _smss);
        _smss = newSmss;
    }

    /// <summary>
    /// Outside recovery, an ACK of new data. The model grows from <see cref="OnRateSample"/>; this
    /// only serves a connection without rate samples (no SACK): slow start below the fallback
    /// threshold, then one segment per window of bytes acknowledged, like RFC 5681 3.1.
    /// </summary>
    /// <param name="ack">What the ACK acknowledged.</param>
    public void OnAck(in CongestionAck ack)
    {
        if (_hasRateSamples || ack.BytesAcked <= 0 || InFastRecovery)
        {
            return;
        }

        if (ack.RttMicros is long rtt && !_minRtt.HasValue)
        {
            InitPacingRate(rtt);
        }

        _cwnd += _cwnd < _fallbackSsthresh
            ? Math.Min(ack.BytesAcked, 2L * _smss)
            : Math.Max(1, (long)_smss * Math.Min(ack.BytesAcked, _smss) / _cwnd);
    }

    /// <summary>
    /// Loss recovery starts (draft 4.2.3.4): the window is remembered, and on this ACK's rate
    /// sample held to what is in flight plus what the ACK delivered (packet conservation for one
    /// round trip). Without rate samples the fallback halves it.
    /// </summary>
    /// <param name="flightSize">FlightSize.</param>
    /// <param name="nowMicros">The current time.</param>
    public void OnEnterFastRecovery(long flightSize, long nowMicros)
    {
        SaveCwnd();
        InFastRecovery = true;
        if (!_hasRateSamples)
        {
            _fallbackSsthresh = CongestionRules.HalvedSlowStartThreshold(flightSize, _smss);
            _cwnd = _fallbackSsthresh;
            return;
        }

        _enteringRecovery = true; // conservation lasts one round trip from this ACK (OnRateSample)
        _packetConservation = true;
    }

    /// <inheritdoc />
    public void OnDuplicateAck(long nowMicros)
    {
    }

    /// <inheritdoc />
    public void OnPartialAck(in CongestionAck ack)
    {
    }

    /// <summary>Recovery ended (draft 4.2.3.4): the window goes back to at least what it was before.</summary>
    /// <param name="ack">The ACK that ended it.</param>
    public void OnExitFastRecovery(in CongestionAck ack)
    {
        if (!InFastRecovery)
        {
            return;
        }

        InFastRecovery = false;
        _packetConservation = false;
        _enteringRecovery = false;
        if (_hasRateSamples)
        {
            RestoreCwnd();
        }
    }

    /// <summary>
    /// The retransmission timer expired (draft 4.2.3.4): the window falls to one segment, as RFC 5681
    /// 3.1 asks, and grows back by what is delivered; the model is kept.
    /// </summary>
    /// <param name="flightSize">FlightSize.</param>
    /// <param name="segmentAlreadyRetransmittedByTimer">Whether this is a later timeout of a series.</param>
    /// <param name="nowMicros">The current time.</param>
    public void OnRetransmissionTimeout(long flightSize, bool segmentAlreadyRetransmittedByTimer, long nowMicros)
    {
        if (!segmentAlreadyRetransmittedByTimer)
        {
            SaveCwnd();
            if (!_hasRateSamples)
            {
                _fallbackSsthresh = CongestionRules.HalvedSlowStartThreshold(flightSize, _smss);
            }
        }

        InFastRecovery = false;
        _packetConservation = false;
        _enteringRecovery = false;
        _cwnd = _smss;
    }

    /// <summary>The reduction was spurious: the window goes back to what it was.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void OnReductionUndone(long nowMicros)
    {
        InFastRecovery = false;
        _packetConservation = false;
        _enteringRecovery = false;
        RestoreCwnd();
    }

    /// <summary>
    /// Sending resumes after an idle period (draft 4.3.4.4): the window is kept (the model still
    /// holds), and in ProbeBW the pacing rate falls back to the estimate itself, so that the restart
    /// is not a burst.
    /// </summary>
    /// <param name="nowMicros">The current time.</param>
    public void OnRestartAfterIdle(long nowMicros)
    {
        _idleRestart = true;
        if (State == BbrState.ProbeBw && _bandwidth.Best > 0)
        {
            SetPacingRateWithGain(GainUnit);
        }
    }

    /// <summary>
    /// One ACK's delivery-rate sample: BBRUpdateOnACK (draft 4): the model (bandwidth with round
    /// counting, gain cycling, Startup's end, Drain, RTprop, ProbeRTT), then the control parameters
    /// (pacing rate and window).
    /// </summary>
    /// <param name="sample">The sample.</param>
    public void OnRateSample(in RateSample sample)
    {
        if (!_hasRateSamples)
        {
            _hasRateSamples = true;
            _nextRoundDelivered = sample.TotalDelivered - sample.NewlyAcked;
        }

        _totalDelivered = sample.TotalDelivered;
        if (sample.RttMicros >= 0)
        {
            LatestRttMicros = sample.RttMicros;
        }

        if (_enteringRecovery)
        {
            _nextRoundDelivered = sample.TotalDelivered; // 4.2.3.4: a round trip starts with the recovery
        }

        if (sample.RttMicros >= 0 && !_minRtt.HasValue)
        {
            InitPacingRate(sample.RttMicros);
        }

        UpdateBandwidth(sample);
        CheckCyclePhase(sample);
        _roundLost += sample.NewlyLost;
        _roundAcked += sample.NewlyAcked;
        bool lossyRound = false;
        if (_roundStart)
        {
            lossyRound = _roundLost * 100 > (_roundLost + _roundAcked) * BbrFullPipeEstimator.LossThresholdPercent;
            _roundLost = 0;
            _roundAcked = 0;
        }

        _fullPipe.OnAck(_bandwidth.Best, _roundStart, sample.IsAppLimited, lossyRound);
        CheckDrain(sample);
        _minRtt.Update(sample.RttMicros, sample.NowMicros);
        CheckProbeRtt(sample);
        SetPacingRateWithGain(_pacingGain);
        SetCwnd(sample);
    }

    /// <summary>Returns the state, e.g. <c>bbr probe_bw cwnd=... bw=... minrtt=...</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{RegisteredName} {State} cwnd={_cwnd} bw={_bandwidth.Best}B/s minrtt={(_minRtt.HasValue ? _minRtt.MinRtt : -1)}us pacing={_pacingRate}B/s{(InFastRecovery ? " recovery" : string.Empty)}");

    // 4.1.1.3 and 4.1.1.5: a round trip ends when a segment sent after its start is delivered; the
    // filter takes every sample that is not application-limited, or that beats the estimate anyway.
    private void UpdateBandwidth(in RateSample sample)
    {
        _roundStart = false;
        if (sample.NewlyAcked > 0 && sample.PriorDelivered >= _nextRoundDelivered)
        {
            _nextRoundDelivered = sample.TotalDelivered;
            _roundCount++;
            _roundStart = true;
            _packetConservation = false; // 4.2.3.4: one round trip of conservation
        }

        if (sample.IsValid && (sample.DeliveryRate >= _bandwidth.Best || !sample.IsAppLimited))
        {
            _bandwidth.Update(sample.DeliveryRate, _roundCount);
        }
    }

    // 4.3.4.3: BBRCheckCyclePhase / BBRIsNextCyclePhase.
    private void CheckCyclePhase(in RateSample sample)
    {
        if (State != BbrState.ProbeBw || !_minRtt.HasValue)
        {
            return;
        }

        bool fullLength = sample.NowMicros - _cycleStamp > _minRtt.MinRtt;
        bool next = _pacingGain == GainUnit
            ? fullLength
            : _pacingGain > GainUnit
                ? fullLength && (sample.NewlyLost > 0 || sample.PriorInFlight >= Inflight(_pacingGain))
                : fullLength || sample.PriorInFlight <= Inflight(GainUnit);
        if (next)
        {
            _cycleIndex = (_cycleIndex + 1) % GainCycleLength;
            _cycleStamp = sample.NowMicros;
            _pacingGain = CycleGains[_cycleIndex];
        }
    }

    // 4.3.3: Startup filled the pipe: Drain; Drain emptied the queue: ProbeBW.
    private void CheckDrain(in RateSample sample)
    {
        if (State == BbrState.Startup && _fullPipe.FilledPipe)
        {
            State = BbrState.Drain;
            _pacingGain = DrainGain;
            _cwndGain = CwndGain2;
        }

        if (State == BbrState.Drain && sample.InFlight <= Inflight(GainUnit))
        {
            EnterProbeBw(sample.NowMicros);
        }
    }

    // 4.3.5: every RTpropFilterLen without a lower RTT, hold the window at BBRMinPipeCwnd for
    // ProbeRTTDuration and one round trip, so that the queue empties and RTprop is measured again.
    private void CheckProbeRtt(in RateSample sample)
    {
        if (State != BbrState.ProbeRtt && _minRtt.Expired && !_idleRestart)
        {
            State = BbrState.ProbeRtt;
            ProbeRttCount++;
            _pacingGain = GainUnit;
            _cwndGain = GainUnit;
            SaveCwnd();
            _probeRttDoneStamp = -1;
        }

        if (State == BbrState.ProbeRtt)
        {
            HandleProbeRtt(sample);
        }

        _idleRestart = false;
    }

    private void HandleProbeRtt(in RateSample sample)
    {
        if (_probeRttDoneStamp < 0 && sample.InFlight <= MinPipeCwnd)
        {
            _probeRttDoneStamp = sample.NowMicros + ProbeRttDurationMicros;
            _probeRttRoundDone = false;
            _nextRoundDelivered = sample.TotalDelivered;
        }
        else if (_probeRttDoneStamp >= 0)
        {
            if (_roundStart)
            {
                _probeRttRoundDone = true;
            }

            if (_probeRttRoundDone && sample.NowMicros > _probeRttDoneStamp)
            {
                _minRtt.Refresh(sample.NowMicros);
                RestoreCwnd();
                if (_fullPipe.FilledPipe)
                {
                    EnterProbeBw(sample.NowMicros);
                }
                else
                {
                    EnterStartup();
                }
            }
        }
    }

    private void EnterStartup()
    {
        State = BbrState.Startup;
        _pacingGain = HighGain;
        _cwndGain = CwndGain2;
    }

    // 4.3.4.3: start the cycle at a random phase other than the draining one (index 1).
    private void EnterProbeBw(long nowMicros)
    {
        State = BbrState.ProbeBw;
        _pacingGain = GainUnit;
        _cwndGain = CwndGain2;
        _random = (_random * 1103515245) + 12345;
        _cycleIndex = GainCycleLength - 1 - (int)((_random >> 16) % (GainCycleLength - 1));
        _cycleStamp = nowMicros;
        _pacingGain = CycleGains[_cycleIndex];
    }

    // 4.2.1 BBRInitPacingRate: the initial window over the first RTT (1 ms before one is known), at HighGain.
    private void InitPacingRate(long rttMicros)
    {
        long rtt = rttMicros > 0 ? rttMicros : 1000;
        _pacingRate = (long)((Int128)_cwnd * 1_000_000 * HighGain / GainUnit / rtt);
    }

    // 4.2.1 BBRSetPacingRateWithGain: never lower in Startup, before the pipe is full.
    private void SetPacingRateWithGain(int gain)
    {
        long rate = _bandwidth.Best * gain / GainUnit * (100 - PacingMarginPercent) / 100;
        if (rate > 0 && (_fullPipe.FilledPipe || rate > _pacingRate))
        {
            _pacingRate = rate;
        }
    }

    // 4.2.3.2 BBRInflight: gain * BDP plus three send quanta for the sender's and receiver's batching.
    private long Inflight(int gain)
    {
        if (!_minRtt.HasValue)
        {
            return NewRenoController.ComputeInitialWindow(_options.InitialWindow, _smss);
        }

        // Startup leaves the quanta out: with its cwnd gain of 2 the window is then exactly the pipe
        // plus a one-BDP queue, so the search does not overflow such a queue by the quanta each round.
        long bdp = EstimatedBdp;
        long quanta = State == BbrState.Startup ? 0 : 3 * SendQuantum;
        return (long)((Int128)bdp * gain / GainUnit) + quanta;
    }

    // 4.2.3.6 BBRSetCwnd, with 4.2.3.4 (recovery) and 4.2.3.5 (ProbeRTT).
    private void SetCwnd(in RateSample sample)
    {
        long acked = sample.NewlyAcked;
        long target = Inflight(_cwndGain);
        if (_enteringRecovery)
        {
            // 4.2.3.4: on entering recovery, what is in flight plus what this ACK delivered.
            _enteringRecovery = false;
            _cwnd = sample.InFlight + Math.Max(acked, _smss);
        }
        else if (InFastRecovery && sample.NewlyLost > 0)
        {
            _cwnd = Math.Max(_cwnd - sample.NewlyLost, _smss); // 4.2.3.4: losses leave the window
        }

        if (_packetConservation)
        {
            _cwnd = Math.Max(_cwnd, sample.InFlight + acked);
        }
        else if (_fullPipe.FilledPipe)
        {
            _cwnd = Math.Min(_cwnd + acked, target);
        }
        else if (_cwnd < target || _totalDelivered < NewRenoController.ComputeInitialWindow(_options.InitialWindow, _smss))
        {
            _cwnd += acked;
        }

        _cwnd = Math.Max(_cwnd, MinPipeCwnd);
        if (State == BbrState.ProbeRtt)
        {
            _cwnd = Math.Min(_cwnd, MinPipeCwnd);
        }
    }

    // 4.2.3.4 BBRSaveCwnd: the window to come back to after recovery or ProbeRTT.
    private void SaveCwnd() =>
        _priorCwnd = !InFastRecovery && State != BbrState.ProbeRtt ? _cwnd : Math.Max(_priorCwnd, _cwnd);

    private void RestoreCwnd() => _cwnd = Math.Max(_cwnd, _priorCwnd);
}
