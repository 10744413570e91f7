namespace Protocols.Tcp.Engine;

/// <summary>
/// The options a connection negotiates in its handshake: MSS (RFC 9293 3.7.1), window scaling
/// (RFC 7323 2.2: both SYNs or neither), timestamps (RFC 7323 3.2: both or neither), SACK
/// (RFC 2018 2: SACK-permitted on both SYNs); what our SYN and SYN-ACK offer, and what the peer's
/// SYN (or a SYN cookie) settled.
/// </summary>
internal sealed class OptionNegotiation
{
    private readonly TcpConnectionOptions _options;
    private readonly SegmentSizes _sizes;
    private readonly TimestampState _timestamps;

    /// <summary>Negotiation for a connection with <paramref name="options"/>.</summary>
    /// <param name="options">What this side offers.</param>
    /// <param name="sizes">The connection's segment sizes (set from the peer's MSS).</param>
    /// <param name="timestamps">The connection's timestamp state (enabled when both offer it).</param>
    public OptionNegotiation(TcpConnectionOptions options, SegmentSizes sizes, TimestampState timestamps)
    {
        _options = options;
        _sizes = sizes;
        _timestamps = timestamps;
    }

    /// <summary>Whether both sides use window scaling.</summary>
    public bool WindowScaling { get; private set; }

    /// <summary>Whether both sides allow SACK (RFC 2018 2).</summary>
    public bool Sack { get; private set; }

    /// <summary>The peer's shift: how far to scale the windows it sends (0 without scaling).</summary>
    public int SendShift { get; private set; }

    /// <summary>Our shift: how far we scale down the windows we send (0 without scaling).</summary>
    public int ReceiveShift { get; private set; }

    /// <summary>
    /// The window scale shift this side announces for a receive buffer (RFC 7323 2.3): the smallest
    /// that fits the buffer in the 16-bit field, at most 14.
    /// </summary>
    /// <param name="receiveBufferSize">The receive buffer size in bytes.</param>
    /// <returns>The shift count.</returns>
    public static int ChooseWindowScale(int receiveBufferSize)
    {
        int shift = 0;
        while (shift < TcpOption.MaxWindowScaleShift && (receiveBufferSize >> shift) > ushort.MaxValue)
        {
            shift++;
        }

        return shift;
    }

    /// <summary>The peer's SYN (or SYN-ACK) carried <paramref name="peer"/>: settle MSS, window scaling and timestamps.</summary>
    /// <param name="peer">Its options.</param>
    /// <param name="now">The current time.</param>
    public void OnPeerSyn(in TcpOptions peer, Micros now)
    {
        _sizes.OnPeerMss(peer.Mss);
        if (peer.WindowScale.HasValue && _options.WindowScaling)
        {
            EnableWindowScaling(peer.WindowScaleShift); // clamped to 14 (RFC 7323 2.3)
        }

        if (peer.Timestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _timestamps.Enable(ts.TsVal, now);
        }

        Sack = peer.SackPermitted && _options.SackPermitted;
        _sizes.Compute(_timestamps.Enabled);
    }

    /// <summary>
    /// The connection is rebuilt from a SYN cookie (RFC 4987 3.6): the MSS and the peer's window
    /// scale come from the cookie, and the timestamps of the returning ACK continue the clock the
    /// cookie SYN-ACK used.
    /// </summary>
    /// <param name="mss">The peer's MSS decoded from the cookie.</param>
    /// <param name="peerWindowScale">The peer's window scale, when its SYN had one.</param>
    /// <param name="peerSackPermitted">Whether the peer's SYN allowed SACK (decoded from the cookie's timestamp).</param>
    /// <param name="ackTimestamps">The timestamps of the ACK that returned the cookie, if any.</param>
    /// <param name="random">Randomness for a fresh clock offset when there are no timestamps.</param>
    /// <param name="now">The current time.</param>
    public void OnCookie(ushort mss, byte? peerWindowScale, bool peerSackPermitted, TcpTimestamps? ackTimestamps, Random random, Micros now)
    {
        Sack = peerSackPermitted && _options.SackPermitted;
        _sizes.OnPeerMss(mss);
        if (peerWindowScale is byte ws && _options.WindowScaling)
        {
            EnableWindowScaling(Math.Min(ws, TcpOption.MaxWindowScaleShift));
        }

        if (ackTimestamps is TcpTimestamps ts && _options.Timestamps)
        {
            _timestamps.Enable(ts.TsVal, now);
            _timestamps.ContinueCookieClock(ts.TsEcr, now);
        }
        else
        {
            _timestamps.ChooseOffset(random);
        }

        _sizes.Compute(_timestamps.Enabled);
    }

    /// <summary>The options of our SYN: everything this side offers.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The options.</returns>
    public TcpOptions SynOptions(Micros now)
    {
        var o = new TcpOptions { Mss = (ushort)_sizes.Announced, SackPermitted = _options.SackPermitted };
        if (_options.WindowScaling)
        {
            o.WindowScale = (byte)ChooseWindowScale(_options.ReceiveBufferCap);
        }

        if (_options.Timestamps)
        {
            o.Timestamps = new TcpTimestamps(_timestamps.Now(now), 0);
        }

        return o;
    }

    /// <summary>The options of our SYN-ACK: what the peer's SYN offered and we accept.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The options.</returns>
    public TcpOptions SynAckOptions(Micros now)
    {
        var o = new TcpOptions { Mss = (ushort)_sizes.Announced, SackPermitted = Sack };
        if (WindowScaling)
        {
            o.WindowScale = (byte)ReceiveShift;
        }

        if (_timestamps.Enabled)
        {
            o.Timestamps = _timestamps.Option(now);
        }

        return o;
    }

    private void EnableWindowScaling(int peerShift)
    {
        WindowScaling = true;
        SendShift = peerShift;
        ReceiveShift = ChooseWindowScale(_options.ReceiveBufferCap);
    }
}
