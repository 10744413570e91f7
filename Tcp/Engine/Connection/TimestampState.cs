namespace Protocols.Tcp.Engine;

/// <summary>
/// The timestamp option of one connection (RFC 7323 3-5): whether it was negotiated, our clock
/// (1 ms ticks plus a random per-connection offset, RFC 7323 5.4 and 7.1), TS.Recent with the
/// time it was last updated, and the PAWS test.
/// </summary>
internal sealed class TimestampState
{
    /// <summary>The bytes the option takes in every segment once negotiated: NOP, NOP, TS (RFC 7323 3.2, Linux's layout).</summary>
    public const int OptionLength = 12;

    /// <summary>The period of the timestamp clock: 1 ms (RFC 7323 5.4 allows 1 ms to 1 s).</summary>
    public const long MicrosPerTick = 1000;

    // RFC 7323 5.5: TS.Recent is no longer trusted after 24 days without an update.
    private static readonly Micros PawsIdleLimit = Micros.FromTimeSpan(TimeSpan.FromDays(24));

    private uint _offset;
    private Micros _recentTime;

    /// <summary>Whether both sides use timestamps.</summary>
    public bool Enabled { get; private set; }

    /// <summary>TS.Recent: the timestamp to echo (RFC 7323 4.3).</summary>
    public uint Recent { get; private set; }

    /// <summary>When <see cref="Recent"/> was last updated (RFC 7323 5.5 ages it out after 24 days).</summary>
    public Micros RecentTime => _recentTime;

    /// <summary>The random offset of this connection's timestamp clock (RFC 7323 5.4).</summary>
    public uint Offset => _offset;

    /// <summary>How long TS.Recent stays trusted without an update (RFC 7323 5.5: 24 days).</summary>
    public static Micros IdleLimit => PawsIdleLimit;

    /// <summary>The timestamp clock before the per-connection offset; SYN-cookie SYN-ACKs use it too, so a connection rebuilt from a cookie continues their clock.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The clock in 1 ms ticks, modulo 2^32.</returns>
    public static uint Clock(Micros now) => unchecked((uint)(now.Value / MicrosPerTick));

    /// <summary>Whether <paramref name="a"/> is before <paramref name="b"/> modulo 2^32 (RFC 7323 5.2).</summary>
    /// <param name="a">One timestamp.</param>
    /// <param name="b">The other.</param>
    /// <returns>True when a &lt; b.</returns>
    public static bool Before(uint a, uint b) => unchecked((int)(a - b)) < 0;

    /// <summary>Whether <paramref name="a"/> is after <paramref name="b"/> modulo 2^32.</summary>
    /// <param name="a">One timestamp.</param>
    /// <param name="b">The other.</param>
    /// <returns>True when a &gt; b.</returns>
    public static bool After(uint a, uint b) => unchecked((int)(a - b)) > 0;

    /// <summary>Picks a random clock offset for a new connection (RFC 7323 7.1).</summary>
    /// <param name="random">The stack's randomness.</param>
    public void ChooseOffset(Random random) => _offset = (uint)random.NextInt64(0, 1L << 32);

    /// <summary>
    /// Continues the clock a SYN-cookie SYN-ACK used (its TSval came from <see cref="Clock"/> plus the
    /// layer's offset), so that our TSvals never go backwards for the peer's PAWS.
    /// </summary>
    /// <param name="echoedTsVal">The TSecr of the ACK that returned the cookie.</param>
    /// <param name="now">The current time.</param>
    public void ContinueCookieClock(uint echoedTsVal, Micros now) => _offset = unchecked(echoedTsVal - Clock(now));

    /// <summary>Timestamps are in use (both SYNs carried them): TS.Recent starts at the peer's TSval.</summary>
    /// <param name="peerTsVal">The TSval of the peer's SYN (or of the cookie ACK).</param>
    /// <param name="now">The current time.</param>
    public void Enable(uint peerTsVal, Micros now)
    {
        Enabled = true;
        Recent = peerTsVal;
        _recentTime = now;
    }

    /// <summary>The TSval a segment sent now carries.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>Our clock plus the offset.</returns>
    public uint Now(Micros now) => unchecked(Clock(now) + _offset);

    /// <summary>
    /// RFC 7323 5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent is an old duplicate,
    /// unless TS.Recent has not been updated for 24 days (RFC 7323 5.5).
    /// </summary>
    /// <param name="tsVal">The segment's TSval.</param>
    /// <param name="now">The current time.</param>
    /// <returns>True when the segment must be dropped.</returns>
    public bool IsOldDuplicate(uint tsVal, Micros now) =>
        Enabled && Before(tsVal, Recent) && now - _recentTime < PawsIdleLimit;

    /// <summary>
    /// RFC 7323 4.3: TS.Recent follows the TSval of an accepted segment that covers Last.ACK.sent
    /// (SEG.SEQ &lt;= Last.ACK.sent) and is not older than TS.Recent.
    /// </summary>
    /// <param name="tsVal">The segment's TSval.</param>
    /// <param name="seq">SEG.SEQ.</param>
    /// <param name="lastAckSent">The ACK number we last sent.</param>
    /// <param name="now">The current time.</param>
    public void OnAcceptableSegment(uint tsVal, SeqNum seq, SeqNum lastAckSent, Micros now)
    {
        if (Enabled && !Before(tsVal, Recent) && seq <= lastAckSent)
        {
            Recent = tsVal;
            _recentTime = now;
        }
    }

    /// <summary>The option a segment sent now carries: our clock and TS.Recent (RFC 7323 3.2).</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The values.</returns>
    public TcpTimestamps Option(Micros now) => new(Now(now), Recent);

    /// <summary>RFC 6191 2: a SYN may reopen a TIME-WAIT connection when its timestamp is newer than the old one's.</summary>
    /// <param name="tsVal">The SYN's TSval.</param>
    /// <returns>True when it is newer than TS.Recent.</returns>
    public bool IsNewer(uint tsVal) => After(tsVal, Recent);

    /// <summary>
    /// An RTT measurement from an echoed timestamp (RFC 7323 4.1): our clock now minus TSecr; none
    /// when the echo lies in the future (corrupt or forged).
    /// </summary>
    /// <param name="tsEcr">The TSecr of an acknowledgment.</param>
    /// <param name="now">The current time.</param>
    /// <param name="rtt">The measurement.</param>
    /// <returns>Whether one was produced.</returns>
    public bool TryMeasure(uint tsEcr, Micros now, out Micros rtt)
    {
        bool ok = RtoEstimator.TryGetTimestampSample(Now(now), tsEcr, MicrosPerTick, out long micros);
        rtt = micros;
        return ok;
    }
}
