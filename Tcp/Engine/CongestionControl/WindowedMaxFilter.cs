namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// The maximum of the samples of the last <see cref="Window"/> time units, kept in constant space
/// (Kathleen Nichols' windowed min/max estimator, used by BBR for BBR.BtlBw,
/// draft-cardwell-iccrg-bbr-congestion-control 4.1.1.2): the best, second-best and third-best
/// samples, each younger than the one before, so that when the best one ages out the next best of
/// the window is still known.
/// </summary>
/// <remarks>Time is any monotonic count; BBR uses packet-timed round trips.</remarks>
public struct WindowedMaxFilter
{
    private long _best;
    private long _bestTime;
    private long _second;
    private long _secondTime;
    private long _third;
    private long _thirdTime;

    /// <summary>A filter over <paramref name="window"/> time units, empty.</summary>
    /// <param name="window">How long a sample counts; at least 1.</param>
    public WindowedMaxFilter(long window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        Window = window;
    }

    /// <summary>How long a sample counts.</summary>
    public long Window { get; }

    /// <summary>The maximum of the window; 0 when empty.</summary>
    public readonly long Best => _best;

    /// <summary>Forgets every sample and starts over with <paramref name="value"/> at <paramref name="time"/>.</summary>
    /// <param name="value">The sample.</param>
    /// <param name="time">Its time.</param>
    public void Reset(long value, long time)
    {
        _best = _second = _third = value;
        _bestTime = _secondTime = _thirdTime = time;
    }

    /// <summary>Adds a sample taken at <paramref name="time"/> (not before the previous one's).</summary>
    /// <param name="value">The sample.</param>
    /// <param name="time">Its time.</param>
    public void Update(long value, long time)
    {
        // A new maximum, or nothing left inside the window: the sample is all the filter knows.
        if (value >= _best || time - _thirdTime > Window)
        {
            Reset(value, time);
            return;
        }

        if (value >= _second)
        {
            _second = _third = value;
            _secondTime = _thirdTime = time;
        }
        else if (value >= _third)
        {
            _third = value;
            _thirdTime = time;
        }

        Expire(value, time);
    }

    // The best sample aged out: the younger ones move up. A quarter and a half of a window into the
    // best one's reign, the second and third are refreshed, so that they are not as old as it is.
    private void Expire(long value, long time)
    {
        long age = time - _bestTime;
        if (age > Window)
        {
            _best = _second;
            _bestTime = _secondTime;
            _second = _third;
            _secondTime = _thirdTime;
            _third = value;
            _thirdTime = time;
            if (time - _bestTime > Window)
            {
                _best = _second;
                _bestTime = _secondTime;
                _second = _third;
                _secondTime = _thirdTime;
            }
        }
        else if (_second == _best && age > Window / 4)
        {
            _second = _third = value;
            _secondTime = _thirdTime = time;
        }
        else if (_third == _second && age > Window / 2)
        {
            _third = value;
            _thirdTime = time;
        }
    }
}
