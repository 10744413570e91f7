namespace Protocols.Tcp.Engine;

/// <summary>What the keepalive timer asks the control block to do.</summary>
internal enum KeepAliveAction
{
    /// <summary>Nothing now; the timer was re-armed or keepalive does not apply.</summary>
    None,

    /// <summary>Send a probe (RFC 9293 3.8.4: SEG.SEQ = SND.NXT - 1, no data).</summary>
    Probe,

    /// <summary>The peer is dead (RFC 1122 4.2.3.6): reset the connection and report TimedOut.</summary>
    GiveUp,
}

/// <summary>
/// Keepalive of one connection (RFC 9293 3.8.4, RFC 1122 4.2.3.6; Linux's tcp_keepalive_time,
/// _intvl and _probes): after <see cref="TcpKeepAliveOptions.Idle"/> without a segment from the
/// peer, probes every <see cref="TcpKeepAliveOptions.Interval"/>, and gives up after
/// <see cref="TcpKeepAliveOptions.ProbeCount"/> unanswered ones. The timer is <see cref="TcpTimer.KeepAlive"/>.
/// </summary>
internal sealed class KeepAlive
{
    private readonly TcpKeepAliveOptions? _options;
    private int _probes;

    /// <summary>Keepalive with <paramref name="options"/>; off when null.</summary>
    /// <param name="options">The settings.</param>
    public KeepAlive(TcpKeepAliveOptions? options) => _options = options;

    /// <summary>Whether keepalive is on.</summary>
    public bool Enabled => _options is not null;

    /// <summary>When the first probe is due if the peer stays silent from <paramref name="now"/>; <see cref="Micros.Never"/> when off.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The deadline.</returns>
    public Micros IdleDeadline(Micros now) => _options is null ? Micros.Never : now + Micros.FromTimeSpan(_options.Idle);

    /// <summary>The peer sent an acceptable segment: unanswered probes are forgotten.</summary>
    public void OnPeerHeard() => _probes = 0;

    /// <summary>The timer fired on an idle connection: probe, or give up after the last unanswered probe.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="next">The deadline to re-arm with (<see cref="Micros.Never"/> on give-up).</param>
    /// <returns>What to do.</returns>
    public KeepAliveAction OnIdleTimeout(Micros now, out Micros next)
    {
        next = Micros.Never;
        if (_options is null)
        {
            return KeepAliveAction.None;
        }

        if (_probes >= _options.ProbeCount)
        {
            return KeepAliveAction.GiveUp;
        }

        _probes++;
        next = now + Micros.FromTimeSpan(_options.Interval);
        return KeepAliveAction.Probe;
    }
}
