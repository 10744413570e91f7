namespace Protocols.Tcp;

/// <summary>When a listener answers a SYN with a SYN cookie (RFC 4987 3.6) instead of keeping a half-open connection.</summary>
public enum TcpSynCookieMode
{
    /// <summary>Only when the listener's SYN queue is full (Linux's tcp_syncookies = 1, the default).</summary>
    Auto,

    /// <summary>For every SYN (Linux's tcp_syncookies = 2; for tests and under attack).</summary>
    Always,

    /// <summary>Never: a SYN that finds the SYN queue full is dropped (tcp_syncookies = 0).</summary>
    Never,
}

/// <summary>Settings of a stack's TCP layer (<see cref="TcpStackExtensions.UseTcp"/>).</summary>
public sealed class TcpStackOptions
{
    /// <summary>Options of connections opened or accepted without their own (buffer sizes, timeouts, Nagle...).</summary>
    public TcpConnectionOptions Defaults { get; init; } = new();

    /// <summary>
    /// The most half-open connections (SYN-RECEIVED) one listener keeps; past it, SYN cookies
    /// (<see cref="SynCookies"/>). Linux's tcp_max_syn_backlog is 128 to 1024 depending on memory; 256 here.
    /// </summary>
    public int SynQueueLength { get; init; } = 256;

    /// <summary>When listeners answer with SYN cookies.</summary>
    public TcpSynCookieMode SynCookies { get; init; } = TcpSynCookieMode.Auto;

    /// <summary>First port of the ephemeral range: Linux's default 32768 (ip_local_port_range).</summary>
    public ushort EphemeralPortFirst { get; init; } = 32768;

    /// <summary>Last port of the ephemeral range (inclusive): Linux's default 60999.</summary>
    public ushort EphemeralPortLast { get; init; } = 60999;

    /// <summary>
    /// Seeds the layer's secrets and randomness (ISN and SYN cookie secrets, ephemeral port
    /// selection, timestamp offsets) so simulations repeat exactly; null for secrets from the
    /// operating system's CSPRNG (RFC 6528, RFC 6056), which is what a real network needs.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>RFC 5961 7: the most challenge ACKs the whole stack sends per second (Linux's tcp_challenge_ack_limit is 1000).</summary>
    public int ChallengeAckLimitPerSecond { get; init; } = 1000;

    /// <summary>
    /// How long a SYN held by a deferring catch-all listener waits for the application's decision
    /// (<see cref="TcpConnectionRequest"/>) before it is dropped silently.
    /// </summary>
    public TimeSpan ConnectionRequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The most <see cref="TcpListener.AcceptAsync"/> calls waiting at once on one listener.</summary>
    public int MaxPendingAccepts { get; init; } = 1024;

    /// <summary>
    /// The most connections held in TIME-WAIT (Linux's <c>net.ipv4.tcp_max_tw_buckets</c>, 262,144 by
    /// default here): past it a connection that would enter TIME-WAIT closes at once. A record costs
    /// about 250 bytes (its table entry and its place in the expiry queue).
    /// </summary>
    public int MaxTimeWait { get; init; } = 262_144;

    /// <summary>
    /// A per-segment trace of the connection engine, one line per segment sent or received with
    /// the connection's state after it, e.g.
    /// <c>12:00:00.001000 tcp 10.0.0.1:40000 &gt; 10.0.0.2:80 out [S] seq 1 ack 0 win 65535 len 0 SynSent</c>.
    /// Null (the default) costs nothing; lines are built only when it is set. Runs on the loop.
    /// </summary>
    public Action<string>? SegmentTrace { get; init; }

    /// <summary>
    /// The congestion controllers connections may name in <see cref="TcpConnectionOptions.CongestionControl"/>:
    /// <c>cubic</c> and <c>newreno</c> by default; add others (or variants with other tunables) with
    /// <see cref="Engine.CongestionControl.CongestionControllerRegistry.With"/>.
    /// </summary>
    public Engine.CongestionControl.CongestionControllerRegistry CongestionControllers { get; init; } = Engine.CongestionControl.CongestionControllerRegistry.Default;

    /// <summary>
    /// Receive coalescing (for devices that do not coalesce, <c>NetworkStackOptions.ReceiveCoalescing</c>):
    /// the most wire segments merged into one run before it goes to the connection (2 to 64).
    /// Each run draws at most one ACK, so this bounds the segments one ACK covers. The default, 2,
    /// keeps RFC 5681 4.2's ACK for every second full-sized segment; larger runs send stretch ACKs
    /// as Linux's GRO does, which saves CPU per byte but slows the slow start of a sender that
    /// counts growth per ACK (RFC 3465 2.3), as this stack's own senders do.
    /// </summary>
    public int CoalescedRunSegments { get; init; } = 2;

    /// <summary>The <c>protocols.stack</c> tag of this layer's metrics; null for the stack's name.</summary>
    public string? Name { get; init; }
}
