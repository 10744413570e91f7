namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// BBR.RTprop: the smallest round-trip time seen in the last <see cref="WindowMicros"/>
/// (draft-cardwell-iccrg-bbr-congestion-control 4.1.2.2-4.1.2.3). A sample replaces the estimate
/// when it is no larger, or when the estimate is older than the window; an expired estimate is what
/// sends BBR into ProbeRTT to measure it again.
/// </summary>
public struct MinRttFilter
{
    private long _minRtt;
    private long _stamp;
    private bool _expired;

    /// <summary>An empty filter over <paramref name="windowMicros"/>.</summary>
    /// <param name="windowMicros">How long an estimate holds; the draft's RTpropFilterLen is 10 s.</param>
    public MinRttFilter(long windowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowMicros, 1);
        WindowMicros = windowMicros;
        _minRtt = long.MaxValue;
    }

    /// <summary>How long an estimate holds.</summary>
    public long WindowMicros { get; }

    /// <summary>The estimate in microseconds; <see cref="long.MaxValue"/> before the first sample.</summary>
    public readonly long MinRtt => _minRtt;

    /// <summary>Whether a sample was taken.</summary>
    public readonly bool HasValue => _minRtt != long.MaxValue;

    /// <summary>When the estimate was last set.</summary>
    public readonly long Stamp => _stamp;

    /// <summary>Whether the last <see cref="Update"/> found the estimate older than the window (BBR.rtprop_expired).</summary>
    public readonly bool Expired => _expired;

    /// <summary>Takes a sample (draft 4.1.2.3, BBRUpdateRTprop).</summary>
    /// <param name="rttMicros">The round-trip time; negative when the ACK gave none.</param>
    /// <param name="nowMicros">The current time.</param>
    public void Update(long rttMicros, long nowMicros)
    {
        _expired = HasValue && nowMicros - _stamp > WindowMicros;
        if (rttMicros >= 0 && (rttMicros <= _minRtt || _expired))
        {
            _minRtt = rttMicros;
            _stamp = nowMicros;
        }
    }

    /// <summary>Keeps the estimate but counts its age from <paramref name="nowMicros"/> (after ProbeRTT measured it).</summary>
    /// <param name="nowMicros">The current time.</param>
    public void Refresh(long nowMicros)
    {
        _stamp = nowMicros;
        _expired = false;
    }
}
