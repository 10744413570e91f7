namespace Protocols.Tcp.Engine;

/// <summary>
/// Spaces the sender's segments at the congestion controller's pacing rate: a token bucket that
/// fills at the rate and holds at most one burst quantum, like Linux's internal pacing with TSO
/// autosizing (tcp_tso_autosize): max(2 segments, 1 ms at the rate), at most 64 KiB, and never less
/// than one whole super-segment when the device cuts them (TSO). Releasing a quantum at a time keeps
/// a real-time loop whose timers fire a millisecond late from being starved.
/// </summary>
/// <remarks>
/// Credit is kept in byte-microseconds (bytes * 10^6), so that no fraction of a byte is lost between
/// refills. A segment may go out while the credit is positive and may overdraw it; the next one waits
/// until it is positive again. O(1), no allocation.
/// </remarks>
internal sealed class Pacer
{
    /// <summary>The largest quantum, 64 KiB (Linux's GSO limit).</summary>
    public const int MaxQuantum = 65536;

    private const long MicrosPerSecond = 1_000_000;

    private long _credit; // byte-microseconds
    private Micros _last;
    private bool _started;

    /// <summary>The burst quantum at <paramref name="rate"/>: max(2 * MSS, 1 ms of the rate, one super-segment), at most 64 KiB unless a super-segment is larger.</summary>
    /// <param name="rate">The pacing rate in bytes per second.</param>
    /// <param name="mss">The send MSS.</param>
    /// <param name="superSegment">The largest segment the sender hands the device at once.</param>
    /// <returns>The quantum in bytes.</returns>
    public static long Quantum(long rate, int mss, int superSegment) =>
        Math.Max(Math.Min(Math.Max(2L * mss, rate / 1000), MaxQuantum), superSegment);

    /// <summary>Whether a segment may go out now at <paramref name="rate"/>.</summary>
    /// <param name="rate">The pacing rate in bytes per second, positive.</param>
    /// <param name="quantum">The burst quantum (<see cref="Quantum"/>).</param>
    /// <param name="now">The current time.</param>
    /// <returns>True when the credit is positive.</returns>
    public bool MaySend(long rate, long quantum, Micros now)
    {
        Refill(rate, quantum, now);
        return _credit > 0;
    }

    /// <summary>When the credit will be positive again (after <see cref="MaySend"/> said no).</summary>
    /// <param name="rate">The pacing rate in bytes per second, positive.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The release time.</returns>
    public Micros ReleaseTime(long rate, Micros now) => now + Math.Max(((-_credit) / rate) + 1, 1);

    /// <summary><paramref name="bytes"/> went out.</summary>
    /// <param name="bytes">The segment's length in sequence numbers.</param>
    public void OnSent(int bytes) => _credit -= bytes * MicrosPerSecond;

    private void Refill(long rate, long quantum, Micros now)
    {
        long cap = quantum * MicrosPerSecond;
        if (!_started)
        {
            _started = true;
            _credit = cap; // the first quantum goes at once
        }
        else
        {
            long elapsed = Math.Clamp((now - _last).Value, 0, MicrosPerSecond);
            _credit = Math.Min(_credit + (elapsed * rate), cap);
        }

        _last = now;
    }
}
