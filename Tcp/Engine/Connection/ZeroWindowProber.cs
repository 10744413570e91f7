namespace Protocols.Tcp.Engine;

/// <summary>
/// The persist state of one connection (RFC 9293 3.8.6.1): how long to wait before the next
/// zero-window probe, and how many probes went unanswered. The persist timer itself is
/// <see cref="TcpTimer.Persist"/>; the control block sends the probes.
/// </summary>
/// <remarks>
/// Probes go out at the RTO, then at twice the previous interval up to 60 s (RFC 9293 3.8.6.1
/// asks for exponential backoff; Linux's TCP_RTO_MAX caps it at 120 s, we at 60 s). A peer that
/// keeps answering with a zero window is probed forever; one that answers nothing is given up
/// after as many probes as data retransmissions (Linux's tcp_probe_timer with tcp_retries2).
/// </remarks>
internal sealed class ZeroWindowProber
{
    /// <summary>The longest interval between probes.</summary>
    public static readonly Micros MaxInterval = Micros.FromTimeSpan(TimeSpan.FromSeconds(60));

    private int _backoff;
    private int _unanswered;

    /// <summary>Probes sent since the window was last open (the backoff exponent).</summary>
    public int Backoff => _backoff;

    /// <summary>The wait before the next probe: the RTO doubled once per probe sent, at most <see cref="MaxInterval"/>.</summary>
    /// <param name="rto">The current RTO.</param>
    /// <returns>The interval.</returns>
    public Micros Interval(Micros rto)
    {
        Micros interval = rto;
        for (int i = 0; i < _backoff && interval < MaxInterval; i++)
        {
            interval *= 2;
        }

        return Micros.Min(interval, MaxInterval);
    }

    /// <summary>Whether the peer left <paramref name="maxUnanswered"/> probes in a row unanswered: the connection times out.</summary>
    /// <param name="maxUnanswered">The limit (the connection's MaxRetransmissions).</param>
    /// <returns>True when it should be given up.</returns>
    public bool ShouldGiveUp(int maxUnanswered) => _unanswered >= maxUnanswered;

    /// <summary>A probe went out.</summary>
    public void OnProbeSent()
    {
        _backoff++;
        _unanswered++;
    }

    /// <summary>The peer sent something acceptable: it is alive.</summary>
    public void OnPeerHeard() => _unanswered = 0;

    /// <summary>New data was acknowledged or the window opened: the backoff starts over.</summary>
    public void OnProgress() => _backoff = 0;
}
