namespace Protocols.Tcp;

/// <summary>
/// Per-connection TCP settings. Defaults follow Linux where the RFCs leave a choice. Immutable:
/// derive variations with <c>with { ... }</c>.
/// </summary>
public sealed record TcpConnectionOptions
{
    /// <summary>The options every connection gets unless told otherwise.</summary>
    public static TcpConnectionOptions Default { get; } = new();

    /// <summary>The most application bytes queued for sending (unacknowledged plus unsent); default 256 KiB.</summary>
    public int SendBufferSize { get; init; } = 256 * 1024;

    /// <summary>The most received bytes held (unread plus out of order); it bounds the advertised window. Default 256 KiB.</summary>
    public int ReceiveBufferSize { get; init; } = 256 * 1024;

    /// <summary>Disables Nagle's algorithm (RFC 9293 3.7.4) when true: small segments go out at once. Default false.</summary>
    public bool NoDelay { get; init; }

    /// <summary>Keepalive probing (RFC 9293 3.8.4, RFC 1122 4.2.3.6); null (the default) turns it off.</summary>
    public TcpKeepAliveOptions? KeepAlive { get; init; }

    /// <summary>
    /// RFC 5482 user timeout: how long sent data may stay unacknowledged before the connection is
    /// ended with <see cref="System.Net.Sockets.SocketError.TimedOut"/>; null (default) = only <see cref="MaxRetransmissions"/> applies.
    /// </summary>
    public TimeSpan? UserTimeout { get; init; }

    /// <summary>
    /// The longest an active open waits for the handshake before failing with TimedOut (default 75 s).
    /// The SYN is also given up after <see cref="SynRetries"/> retransmissions, whichever comes first.
    /// </summary>
    public TimeSpan? ConnectTimeout { get; init; } = TimeSpan.FromSeconds(75);

    /// <summary>SYN retransmissions before an active open fails (Linux's tcp_syn_retries, 6: about 127 s with backoff).</summary>
    public int SynRetries { get; init; } = 6;

    /// <summary>SYN-ACK retransmissions before a half-open connection is dropped (Linux's tcp_synack_retries, 5).</summary>
    public int SynAckRetries { get; init; } = 5;

    /// <summary>Retransmissions of the same data before the connection fails with TimedOut (Linux's tcp_retries2, 15).</summary>
    public int MaxRetransmissions { get; init; } = 15;

    /// <summary>The maximum segment lifetime; TIME_WAIT lasts twice this (RFC 9293 3.4.2). Default 30 s (60 s TIME_WAIT, like Linux).</summary>
    public TimeSpan Msl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long FIN_WAIT_2 waits for the peer's FIN once the application closed (Linux's tcp_fin_timeout, 60 s).</summary>
    public TimeSpan FinWait2Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The delayed-ACK timer (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2: at most 500 ms; clamped here to at most 200 ms). Default 40 ms, Linux's minimum.</summary>
    public TimeSpan DelayedAckTimeout { get; init; } = TimeSpan.FromMilliseconds(40);

    /// <summary>The congestion controller's registered name (default <c>newreno</c>).</summary>
    public string CongestionControl { get; init; } = "newreno";

    /// <summary>Offer window scaling (RFC 7323 2) on the SYN; default true.</summary>
    public bool WindowScaling { get; init; } = true;

    /// <summary>Offer timestamps (RFC 7323 3) on the SYN; default true.</summary>
    public bool Timestamps { get; init; } = true;

    /// <summary>Offer SACK (RFC 2018) on the SYN. False: the engine has no SACK scoreboard yet.</summary>
    public bool SackPermitted { get; init; }

    /// <summary>
    /// The MSS to announce (RFC 9293 3.7.1: the interface MTU minus 40). Null: the layer fills in
    /// the route's MTU - 40; when it is still null the engine announces 1460.
    /// </summary>
    public int? Mss { get; init; }

    /// <summary>
    /// The most new data one segment may carry when the route's device cuts super-segments (TSO):
    /// set by the layer from the route, 0 without. Segments on the wire stay at the MSS.
    /// </summary>
    internal int SegmentationLimit { get; init; }
}

/// <summary>Keepalive settings (RFC 9293 3.8.4; Linux's tcp_keepalive_time/intvl/probes).</summary>
public sealed record TcpKeepAliveOptions
{
    /// <summary>Idle time before the first probe (RFC 1122 4.2.3.6: at least two hours by default).</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Time between unanswered probes (default 75 s).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(75);

    /// <summary>Unanswered probes before the connection fails with TimedOut (default 9).</summary>
    public int ProbeCount { get; init; } = 9;
}
