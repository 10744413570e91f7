namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>Why the initial slow start ended.</summary>
public enum SlowStartExit
{
    /// <summary>It has not ended.</summary>
    None,

    /// <summary>RFC 9406 4.2: CSS ran <see cref="HyStartPlusPlus.CssRounds"/> rounds after the RTT rose.</summary>
    ConservativeSlowStartRounds,

    /// <summary>The ACK train of a round spanned half the minimum RTT: the window reached the path's capacity (Linux's HyStart).</summary>
    AckTrain,

    /// <summary>A loss or a timeout.</summary>
    Congestion,
}

/// <summary>Where HyStart++ (RFC 9406) is in the initial slow start.</summary>
public enum HyStartPhase
{
    /// <summary>Standard slow start, watching the round-trip time for a rise (RFC 9406 4.2).</summary>
    SlowStart,

    /// <summary>Conservative slow start (CSS): growth divided by <see cref="HyStartPlusPlus.CssGrowthDivisor"/> while the rise is confirmed or refuted.</summary>
    ConservativeSlowStart,

    /// <summary>Slow start is over: CSS ran its rounds, or a loss ended it.</summary>
    Done,
}

/// <summary>
/// HyStart++ (RFC 9406): leaves the initial slow start when the round-trip time rises — a queue
/// is building — instead of when the queue overflows. After the rise it grows a quarter as fast
/// (conservative slow start, CSS) for <see cref="CssRounds"/> rounds and then hands over to
/// congestion avoidance; if the round-trip time falls back below where CSS began, the rise was
/// jitter and standard slow start resumes.
/// </summary>
/// <remarks>
/// <para>A round is one window of data: it ends when the bytes acknowledged reach what was
/// outstanding when it began (RFC 9406's <c>windowEnd = SND.NXT</c>, counted in bytes acknowledged
/// so the controller needs no sequence numbers). Each round keeps the smallest round-trip sample;
/// a rise is judged once <see cref="RttSamplesPerRound"/> samples were taken in the round.</para>
/// <para>The rise is judged on each round's smallest sample, which comes from the data sent at
/// the start of the round before: with a doubling window the queue a round builds shows one round
/// later. Into a bottleneck queue of about one bandwidth-delay product the window has then doubled
/// past what the path and the queue hold, and the queue overflows before the rise is seen. So,
/// optionally (<c>ackTrain</c>), the ACK-train test of the original HyStart (Ha and Rhee; Linux's
/// CUBIC uses it) ends slow start as well: when the closely spaced ACKs of one round (gaps of at
/// most <see cref="AckTrainSpacingMicros"/>, summed over the clumps an unpaced slow start sends in,
/// where Linux requires one unbroken train) span more than half the minimum RTT, the previous
/// round's window kept the bottleneck busy for half the round trip, and congestion avoidance
/// starts at once with ssthresh = cwnd. RFC 9406 left the test out because ACK compression can
/// distort a train; compressed ACKs count less time, so they only end slow start later.</para>
/// <para>It runs in the initial slow start only (RFC 9406 4.3: after a retransmission timeout
/// standard slow start is used); <see cref="OnCongestion"/> ends it. Sans-IO, no allocation.</para>
/// </remarks>
public sealed class HyStartPlusPlus
{
    /// <summary>RFC 9406 4.3 MIN_RTT_THRESH: the smallest rise that counts, 4 ms.</summary>
    public const long MinRttThresholdMicros = 4_000;

    /// <summary>RFC 9406 4.3 MAX_RTT_THRESH: the rise that always counts, 16 ms.</summary>
    public const long MaxRttThresholdMicros = 16_000;

    /// <summary>RFC 9406 4.3 MIN_RTT_DIVISOR: the rise threshold is the last round's minimum RTT divided by 8, within the two bounds.</summary>
    public const int MinRttDivisor = 8;

    /// <summary>RFC 9406 4.3 N_RTT_SAMPLE: samples a round needs before it is judged.</summary>
    public const int RttSamplesPerRound = 8;

    /// <summary>RFC 9406 4.3 CSS_GROWTH_DIVISOR: CSS grows this many times slower than slow start.</summary>
    public const int CssGrowthDivisor = 4;

    /// <summary>RFC 9406 4.3 CSS_ROUNDS: rounds of CSS before congestion avoidance.</summary>
    public const int CssRounds = 5;

    /// <summary>RFC 9406 4.3 L for a sender that does not pace: one ACK grows cwnd by at most 8 SMSS.</summary>
    public const int NonPacedGrowthLimit = 8;

    /// <summary>ACKs at most this far apart belong to one train (Linux's hystart_ack_delta_us, 2 ms).</summary>
    public const long AckTrainSpacingMicros = 2_000;

    /// <summary>The ACK-train test starts at this window, in segments (Linux's hystart_low_window, 16).</summary>
    public const int AckTrainLowWindow = 16;

    private const long Infinite = long.MaxValue;

    private readonly int _growthLimit;
    private readonly bool _ackTrain;
    private long _minRtt = Infinite;
    private long _trainMicros;
    private long _lastTrainAckMicros;
    private long _acknowledged;
    private long _windowEnd;
    private bool _roundStarted;
    private long _lastRoundMinRtt = Infinite;
    private long _currentRoundMinRtt = Infinite;
    private int _rttSamples;
    private long _cssBaselineMinRtt = Infinite;
    private int _cssRoundsDone;

    /// <summary>HyStart++ for one connection's initial slow start.</summary>
    /// <param name="growthLimit">L in segments (RFC 9406 4.2): the most one ACK grows cwnd in slow start; <see cref="NonPacedGrowthLimit"/> by default.</param>
    /// <param name="ackTrain">Also end slow start on the ACK-train test (see remarks); off by default, as in RFC 9406.</param>
    public HyStartPlusPlus(int growthLimit = NonPacedGrowthLimit, bool ackTrain = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(growthLimit, 1);
        _growthLimit = growthLimit;
        _ackTrain = ackTrain;
    }

    /// <summary>The current phase.</summary>
    public HyStartPhase Phase { get; private set; }

    /// <summary>Why slow start ended (<see cref="SlowStartExit.None"/> while it runs).</summary>
    public SlowStartExit Exit { get; private set; }

    /// <summary>The window (bytes) when slow start ended through HyStart++ or the ACK train; 0 otherwise.</summary>
    public long ExitWindow { get; private set; }

    /// <summary>The minimum RTT of the round under way, in microseconds (<see cref="long.MaxValue"/> before a sample).</summary>
    public long CurrentRoundMinRttMicros => _currentRoundMinRtt;

    /// <summary>The minimum RTT of the previous round, in microseconds (<see cref="long.MaxValue"/> before one ended).</summary>
    public long LastRoundMinRttMicros => _lastRoundMinRtt;

    /// <summary>Times CSS was left for slow start again because the RTT fell back (a spurious exit).</summary>
    public int SpuriousExits { get; private set; }

    /// <summary>Completed rounds since the connection started.</summary>
    public int Rounds { get; private set; }

    /// <summary>
    /// The RTT rise that ends slow start after a round whose minimum was
    /// <paramref name="lastRoundMinRttMicros"/> (RFC 9406 4.2):
    /// max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
    /// </summary>
    /// <param name="lastRoundMinRttMicros">The previous round's minimum RTT.</param>
    /// <returns>The threshold in microseconds.</returns>
    public static long RttThreshold(long lastRoundMinRttMicros) =>
        Math.Max(MinRttThresholdMicros, Math.Min(lastRoundMinRttMicros / MinRttDivisor, MaxRttThresholdMicros));

    /// <summary>
    /// An ACK arrived while cwnd is below ssthresh (RFC 9406 4.2): tracks rounds and RTT, moves
    /// between slow start and CSS, and says how much cwnd grows.
    /// </summary>
    /// <param name="ack">What the ACK acknowledged (its RTT sample, if any, is used).</param>
    /// <param name="smss">The sender maximum segment size.</param>
    /// <param name="cwnd">The congestion window before this ACK.</param>
    /// <param name="enterCongestionAvoidance">
    /// Set when slow start ends with this ACK (CSS completed its rounds, or the ACK train): the
    /// caller sets ssthresh to cwnd and continues in congestion avoidance (RFC 9406 4.2).
    /// </param>
    /// <returns>The bytes to add to cwnd: min(N, L * SMSS), divided by <see cref="CssGrowthDivisor"/> in CSS; 0 once <see cref="HyStartPhase.Done"/>.</returns>
    public long OnAck(in CongestionAck ack, int smss, long cwnd, out bool enterCongestionAvoidance)
    {
        enterCongestionAvoidance = false;
        if (Phase == HyStartPhase.Done || ack.BytesAcked <= 0)
        {
            return 0;
        }

        _acknowledged += ack.BytesAcked;
        if (!_roundStarted || _acknowledged >= _windowEnd)
        {
            if (_roundStarted)
            {
                Rounds++;
                if (Phase == HyStartPhase.ConservativeSlowStart && ++_cssRoundsDone >= CssRounds)
                {
                    // RFC 9406 4.2: CSS_ROUNDS rounds of CSS: congestion avoidance with ssthresh = cwnd.
                    enterCongestionAvoidance = true;
                    End(SlowStartExit.ConservativeSlowStartRounds, cwnd);
                    return 0;
                }
            }

            // A new round: windowEnd = SND.NXT, i.e. everything outstanding now.
            _roundStarted = true;
            _windowEnd = _acknowledged + ack.FlightSize;
            _lastRoundMinRtt = _currentRoundMinRtt;
            _currentRoundMinRtt = Infinite;
            _rttSamples = 0;
            _trainMicros = 0;
            _lastTrainAckMicros = ack.NowMicros;
        }

        if (ack.RttMicros is long rtt && rtt > 0)
        {
            _currentRoundMinRtt = Math.Min(_currentRoundMinRtt, rtt);
            _minRtt = Math.Min(_minRtt, rtt);
            _rttSamples++;
        }

        if (_ackTrain && Phase == HyStartPhase.SlowStart)
        {
            // The ACK train: the time over which this round's ACKs arrived closely spaced, that is
            // at the bottleneck's pace, summed over the clumps slow start sends in. Longer than half
            // the minimum RTT: the previous round's window kept the bottleneck busy for half the
            // path's round trip, and this round's, twice as large, fills it.
            long gap = ack.NowMicros - _lastTrainAckMicros;
            _lastTrainAckMicros = ack.NowMicros;
            if (gap <= AckTrainSpacingMicros)
            {
                _trainMicros += gap;
            }

            if (_trainMicros > _minRtt / 2 && cwnd >= (long)AckTrainLowWindow * smss && _minRtt != Infinite)
            {
                enterCongestionAvoidance = true;
                End(SlowStartExit.AckTrain, cwnd);
                return 0;
            }
        }

        bool judged = _rttSamples >= RttSamplesPerRound && _currentRoundMinRtt != Infinite && _lastRoundMinRtt != Infinite;
        if (Phase == HyStartPhase.SlowStart)
        {
            if (judged && _currentRoundMinRtt >= _lastRoundMinRtt + RttThreshold(_lastRoundMinRtt))
            {
                // RFC 9406 4.2: the delay rose: conservative slow start from this baseline.
                _cssBaselineMinRtt = _currentRoundMinRtt;
                _cssRoundsDone = 0;
                Phase = HyStartPhase.ConservativeSlowStart;
            }
        }
        else if (_rttSamples >= RttSamplesPerRound && _currentRoundMinRtt < _cssBaselineMinRtt)
        {
            // RFC 9406 4.2: the RTT fell below the baseline: the exit was spurious, slow start resumes.
            _cssBaselineMinRtt = Infinite;
            Phase = HyStartPhase.SlowStart;
            SpuriousExits++;
        }

        long increase = Math.Min(ack.BytesAcked, (long)_growthLimit * smss);
        return Phase == HyStartPhase.ConservativeSlowStart ? increase / CssGrowthDivisor : increase;
    }

    /// <summary>Starts over for a new connection: standard slow start, no rounds, no samples.</summary>
    public void Reset()
    {
        Phase = HyStartPhase.SlowStart;
        Exit = SlowStartExit.None;
        ExitWindow = 0;
        _minRtt = Infinite;
        _trainMicros = 0;
        _lastTrainAckMicros = 0;
        _acknowledged = 0;
        _windowEnd = 0;
        _roundStarted = false;
        _lastRoundMinRtt = Infinite;
        _currentRoundMinRtt = Infinite;
        _rttSamples = 0;
        _cssBaselineMinRtt = Infinite;
        _cssRoundsDone = 0;
        SpuriousExits = 0;
        Rounds = 0;
    }

    /// <summary>A loss or timeout ended slow start (RFC 9406 4.2); HyStart++ is done for this connection.</summary>
    public void OnCongestion()
    {
        if (Phase != HyStartPhase.Done)
        {
            Phase = HyStartPhase.Done;
            Exit = SlowStartExit.Congestion;
        }
    }

    /// <summary>
    /// The congestion event that ended slow start was found spurious and undone (RFC 9438 4.9
    /// restores the state before it): HyStart++ resumes in the phase it was in, so that the slow
    /// start that continues still ends on delay.
    /// </summary>
    /// <param name="phase">The phase before the congestion event.</param>
    public void OnCongestionUndone(HyStartPhase phase)
    {
        if (Exit == SlowStartExit.Congestion && phase != HyStartPhase.Done)
        {
            Phase = phase;
            Exit = SlowStartExit.None;
        }
    }

    private void End(SlowStartExit reason, long cwnd)
    {
        Phase = HyStartPhase.Done;
        Exit = reason;
        ExitWindow = cwnd;
    }
}
