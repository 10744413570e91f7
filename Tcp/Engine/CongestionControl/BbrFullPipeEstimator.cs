namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// Whether BBR's Startup has filled the pipe (draft-cardwell-iccrg-bbr-congestion-control 4.3.2.2):
/// the bandwidth estimate stopped growing by at least 25% for three round trips in a row, counted
/// on round starts whose samples were not application-limited.
/// </summary>
public struct BbrFullPipeEstimator
{
    /// <summary>The growth that counts as "still growing": 5/4, the draft's 1.25.</summary>
    public const int GrowthNumerator = 5;

    /// <summary>The denominator of the growth factor.</summary>
    public const int GrowthDenominator = 4;

    /// <summary>Round trips without such growth after which the pipe counts as full.</summary>
    public const int RoundsWithoutGrowth = 3;

    private long _fullBandwidth;
    private int _count;

    /// <summary>Whether the pipe is full (BBR.filled_pipe).</summary>
    public bool FilledPipe { get; private set; }

    /// <summary>Judges one ACK (BBRCheckFullPipe).</summary>
    /// <param name="bandwidth">BBR.BtlBw after the ACK.</param>
    /// <param name="roundStart">Whether the ACK started a new round trip.</param>
    /// <param name="appLimited">Whether its rate sample was application-limited.</param>
    public void OnAck(long bandwidth, bool roundStart, bool appLimited)
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

        if (++_count >= RoundsWithoutGrowth)
        {
            FilledPipe = true;
        }
    }

    /// <summary>Declares the pipe full without waiting (Startup left for another reason).</summary>
    public void MarkFull() => FilledPipe = true;
}
