namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// Whether BBR's Startup has filled the pipe (draft-cardwell-iccrg-bbr-congestion-control 4.3.2.2):
/// the bandwidth estimate stopped growing by at least 25% for three round trips in a row, counted
/// on round starts whose samples were not application-limited. Also full at once when a round that
/// did not grow the estimate lost more than <see cref="LossThresholdPercent"/>% of what it sent:
/// the queue overflowed (BBRv3's high-loss exit, draft-ietf-ccwg-bbr 4.3.1.3 with BBRLossThresh;
/// asking for the stalled estimate as well keeps random loss early in Startup from ending it).
/// </summary>
public struct BbrFullPipeEstimator
{
    /// <summary>The growth that counts as "still growing": 5/4, the draft's 1.25.</summary>
    public const int GrowthNumerator = 5;

    /// <summary>The denominator of the growth factor.</summary>
    public const int GrowthDenominator = 4;

    /// <summary>Round trips without such growth after which the pipe counts as full.</summary>
    public const int RoundsWithoutGrowth = 3;

    /// <summary>BBRLossThresh: the loss rate of a round that counts as an overflowing queue, 2%.</summary>
    public const int LossThresholdPercent = 2;

    private long _fullBandwidth;
    private int _count;

    /// <summary>Whether the pipe is full (BBR.filled_pipe).</summary>
    public bool FilledPipe { get; private set; }

    /// <summary>Judges one ACK (BBRCheckFullPipe).</summary>
    /// <param name="bandwidth">BBR.BtlBw after the ACK.</param>
    /// <param name="roundStart">Whether the ACK started a new round trip.</param>
    /// <param name="appLimited">Whether its rate sample was application-limited.</param>
    /// <param name="lossyRound">Whether the round trip this ACK ended lost more than <see cref="LossThresholdPercent"/>% of its data.</param>
    public void OnAck(long bandwidth, bool roundStart, bool appLimited, bool lossyRound = false)
    {
        if (FilledPipe || !roundStart || appLimited)
        {
            return;
        }

        if (bandwidth * GrowthDenominator >= _fullBandwidth * GrowthNumerator)
        {
            _fullBandwidth = bandwidth; // still growing: the clock starts again
            _count = 0;
            return;
        }

        if (++_count >= RoundsWithoutGrowth || lossyRound)
        {
            FilledPipe = true;
        }
    }

    /// <summary>Declares the pipe full without waiting (Startup left for another reason).</summary>
    public void MarkFull() => FilledPipe = true;
}
