namespace Protocols.Tcp.Engine;

/// <summary>
/// The retransmission timeout of one connection (RFC 6298): the smoothed round-trip time
/// (SRTT), its variation (RTTVAR), the resulting RTO and its exponential backoff.
/// </summary>
/// <remarks>
/// <para>
/// Sans-IO: the estimator never reads a clock. Every duration is a <see cref="long"/> count of
/// microseconds; the engine measures round-trip times itself and feeds them in with
/// <see cref="AddSample(long, int)"/>. Arithmetic is integer: each smoothing step truncates
/// towards the previous estimate by less than one microsecond, far below the clock granularity.
/// </para>
/// <para>
/// Which measurements may be fed in is the caller's decision, helped by
/// <see cref="IsSampleUsable(bool, bool)"/> (Karn's rule, RFC 6298 3) and
/// <see cref="TryGetTimestampSample(uint, uint, long, out long)"/> (RFC 7323 4.1).
/// </para>
/// </remarks>
public sealed class RtoEstimator
{
    /// <summary>The RTO before the first measurement, 1 s (RFC 6298 2.1).</summary>
    public const long DefaultInitialRtoMicros = 1_000_000;

    /// <summary>
    /// The default lower bound, 200 ms: Linux's <c>TCP_RTO_MIN</c>. RFC 6298 2.4 asks for 1 s,
    /// which is far above the round-trip time of most paths today; pass
    /// <see cref="Rfc6298MinimumRtoMicros"/> for the RFC's value.
    /// </summary>
    public const long DefaultMinimumRtoMicros = 200_000;

    /// <summary>The lower bound RFC 6298 2.4 recommends, 1 s.</summary>
    public const long Rfc6298MinimumRtoMicros = 1_000_000;

    /// <summary>The default upper bound, 120 s: Linux's <c>TCP_RTO_MAX</c>.</summary>
    public const long DefaultMaximumRtoMicros = 120_000_000;

    /// <summary>The smallest upper bound RFC 6298 2.5 allows, 60 s.</summary>
    public const long SmallestMaximumRtoMicros = 60_000_000;

    /// <summary>The default clock granularity G, 1 ms (RFC 6298 2: "finer clock granularities (&lt;= 100 msec) perform somewhat better").</summary>
    public const long DefaultClockGranularityMicros = 1_000;

    /// <summary>The RTO to restart from after a lost SYN, 3 s (RFC 6298 5.7).</summary>
    public const long SynLossFallbackRtoMicros = 3_000_000;

    // RFC 6298 2.3: alpha = 1/8, beta = 1/4, K = 4. Kept as divisors so the arithmetic stays integer.
    private const int AlphaDivisor = 8;
    private const int BetaDivisor = 4;
    private const int K = 4;

    private long _srtt;
    private long _rttvar;
    private long _rto;

    /// <summary>Creates an estimator with no measurement yet, so <see cref="Rto"/> is the initial RTO.</summary>
    /// <param name="clockGranularityMicros">G, the granularity of the clock that measures RTTs (RFC 6298 2); at least 1.</param>
    /// <param name="initialRtoMicros">The RTO before the first measurement (RFC 6298 2.1); between the bounds.</param>
    /// <param name="minimumRtoMicros">The lower bound (RFC 6298 2.4); at least 1.</param>
    /// <param name="maximumRtoMicros">The upper bound (RFC 6298 2.5); at least 60 s.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range described above.</exception>
    public RtoEstimator(
        long clockGranularityMicros = DefaultClockGranularityMicros,
        long initialRtoMicros = DefaultInitialRtoMicros,
        long minimumRtoMicros = DefaultMinimumRtoMicros,
        long maximumRtoMicros = DefaultMaximumRtoMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clockGranularityMicros, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumRtoMicros, 1);
        // RFC 6298 2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumRtoMicros, SmallestMaximumRtoMicros);
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumRtoMicros, minimumRtoMicros);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialRtoMicros, minimumRtoMicros);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialRtoMicros, maximumRtoMicros);

        ClockGranularityMicros = clockGranularityMicros;
        InitialRtoMicros = initialRtoMicros;
        MinimumRtoMicros = minimumRtoMicros;
        MaximumRtoMicros = maximumRtoMicros;
        _rto = initialRtoMicros;
    }

    /// <summary>G, the clock granularity in microseconds.</summary>
    public long ClockGranularityMicros { get; }

    /// <summary>The RTO used before the first measurement, in microseconds.</summary>
    public long InitialRtoMicros { get; }

    /// <summary>The lower bound on <see cref="Rto"/>, in microseconds.</summary>
    public long MinimumRtoMicros { get; }

    /// <summary>The upper bound on <see cref="Rto"/>, in microseconds.</summary>
    public long MaximumRtoMicros { get; }

    /// <summary>Whether at least one RTT measurement has been taken (RFC 6298 2.2).</summary>
    public bool HasSample { get; private set; }

    /// <summary>SRTT in microseconds; 0 until <see cref="HasSample"/>.</summary>
    public long SmoothedRtt => _srtt;

    /// <summary>RTTVAR in microseconds; 0 until <see cref="HasSample"/>.</summary>
    public long RttVariation => _rttvar;

    /// <summary>The most recent measurement fed in, in microseconds; 0 until <see cref="HasSample"/>.</summary>
    public long LatestRtt { get; private set; }

    /// <summary>The smallest measurement seen so far, in microseconds; 0 until <see cref="HasSample"/>.</summary>
    public long MinimumRtt { get; private set; }

    /// <summary>
    /// The current retransmission timeout in microseconds: the computed RTO, doubled once per
    /// <see cref="BackOff"/> since the last measurement, always within the bounds.
    /// </summary>
    public long Rto => _rto;

    /// <summary>How many times <see cref="BackOff"/> ran since the last measurement (RFC 6298 5.5).</summary>
    public int BackoffCount { get; private set; }

    /// <summary>
    /// Karn's rule (RFC 6298 3): a measurement from a segment that was retransmitted is
    /// ambiguous, because the ACK may answer either transmission, so it must not be taken —
    /// unless it comes from the timestamp option, whose echo names the transmission it answers
    /// (RFC 7323 4.1).
    /// </summary>
    /// <param name="segmentWasRetransmitted">Whether the measured segment was sent more than once.</param>
    /// <param name="fromTimestamps">Whether the measurement comes from an echoed timestamp (TSecr).</param>
    /// <returns><see langword="true"/> when the measurement may be passed to <see cref="AddSample(long, int)"/>.</returns>
    public static bool IsSampleUsable(bool segmentWasRetransmitted, bool fromTimestamps) =>
        fromTimestamps || !segmentWasRetransmitted;

    /// <summary>
    /// An RTT measurement from an echoed timestamp (RFC 7323 4.1): the current value of the
    /// sender's timestamp clock minus the TSecr of an ACK that acknowledges new data.
    /// Differences are taken modulo 2^32, so the clock may wrap.
    /// </summary>
    /// <param name="timestampClockNow">The sender's timestamp clock now (the value a TSval sent now would carry).</param>
    /// <param name="tsEcr">The TSecr of the acknowledgment.</param>
    /// <param name="microsPerTick">The period of the timestamp clock in microseconds (1000 for a 1 ms clock).</param>
    /// <param name="rttMicros">The measurement in microseconds, when one was produced.</param>
    /// <returns>
    /// <see langword="false"/> when TSecr lies in the future of the clock (a corrupt or forged
    /// echo), which yields no measurement.
    /// </returns>
    public static bool TryGetTimestampSample(uint timestampClockNow, uint tsEcr, long microsPerTick, out long rttMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(microsPerTick, 1);
        int ticks = unchecked((int)(timestampClockNow - tsEcr));
        if (ticks < 0)
        {
            rttMicros = 0;
            return false;
        }

        rttMicros = ticks * microsPerTick;
        return true;
    }

    /// <summary>
    /// The number of measurements expected per window of data when every ACK yields one (RFC 7323
    /// Appendix G): <c>ceiling(FlightSize / (2 * SMSS))</c>, at least 1, assuming an ACK for every
    /// second segment.
    /// </summary>
    /// <param name="flightSize">The bytes in flight when the measurement was taken.</param>
    /// <param name="smss">The sender maximum segment size.</param>
    /// <returns>The divisor to pass to <see cref="AddSample(long, int)"/>.</returns>
    public static int ExpectedSamplesPerWindow(long flightSize, int smss)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(smss, 1);
        long perAck = 2L * smss;
        long samples = (flightSize + perAck - 1) / perAck;
        return (int)Math.Clamp(samples, 1, int.MaxValue);
    }

    /// <summary>
    /// Takes one RTT measurement R (RFC 6298 2.2, 2.3) and recomputes the RTO, ending any backoff
    /// (RFC 6298 5.5 doubles the timer only until a new measurement arrives; Karn's algorithm,
    /// RFC 6298 3).
    /// </summary>
    /// <param name="rttMicros">R in microseconds; negative values are treated as 0.</param>
    /// <param name="expectedSamplesPerWindow">
    /// 1 for the RFC 6298 gains. When measurements come from every ACK (timestamps), RFC 7323
    /// Appendix G divides alpha and beta by the number of measurements per window so the estimate
    /// still reacts over about one window; pass <see cref="ExpectedSamplesPerWindow(long, int)"/> then.
    /// </param>
    public void AddSample(long rttMicros, int expectedSamplesPerWindow = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedSamplesPerWindow, 1);
        long r = Math.Max(rttMicros, 0);
        LatestRtt = r;

        if (!HasSample)
        {
            // RFC 6298 2.2: the first measurement R sets SRTT <- R, RTTVAR <- R/2.
            _srtt = r;
            _rttvar = r / 2;
            MinimumRtt = r;
            HasSample = true;
        }
        else
        {
            // RFC 6298 2.3, in this order (RTTVAR uses the SRTT before the update):
            //   RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
            //   SRTT   <- (1 - alpha) * SRTT + alpha * R'
            // written as a step towards the new value; RFC 7323 G: alpha' = alpha / n, beta' = beta / n.
            long n = expectedSamplesPerWindow;
            long deviation = Math.Abs(_srtt - r);
            _rttvar += (deviation - _rttvar) / (BetaDivisor * n);
            _srtt += (r - _srtt) / (AlphaDivisor * n);
            MinimumRtt = Math.Min(MinimumRtt, r);
        }

        // RFC 6298 2.2/2.3: RTO <- SRTT + max(G, K * RTTVAR), then 2.4/2.5's bounds.
        long rto = _srtt + Math.Max(ClockGranularityMicros, K * _rttvar);
        _rto = Math.Clamp(rto, MinimumRtoMicros, MaximumRtoMicros);
        BackoffCount = 0;
    }

    /// <summary>
    /// The retransmission timer expired (RFC 6298 5.5): RTO &lt;- RTO * 2, held at the upper
    /// bound (RFC 6298 2.5). The doubled value stays until the next measurement.
    /// </summary>
    public void BackOff()
    {
        _rto = _rto >= MaximumRtoMicros / 2 ? MaximumRtoMicros : _rto * 2;
        if (BackoffCount < int.MaxValue)
        {
            BackoffCount++;
        }
    }

    /// <summary>
    /// The handshake completed after a SYN (or SYN-ACK) had to be retransmitted (RFC 6298 5.7):
    /// when no measurement was possible, data transmission starts with an RTO of at least 3 s
    /// rather than the initial 1 s that already proved too short. A measurement already taken
    /// (from timestamps) is kept.
    /// </summary>
    public void OnHandshakeCompletedAfterSynLoss()
    {
        if (HasSample)
        {
            return;
        }

        _rto = Math.Clamp(SynLossFallbackRtoMicros, MinimumRtoMicros, MaximumRtoMicros);
        BackoffCount = 0;
    }

    /// <summary>Returns SRTT, RTTVAR, RTO and backoff, e.g. <c>srtt=100000us rttvar=25000us rto=200000us backoff=0</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"srtt={_srtt}us rttvar={_rttvar}us rto={_rto}us backoff={BackoffCount}");
}
