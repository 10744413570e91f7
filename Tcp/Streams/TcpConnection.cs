using Protocols.Ip;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp;

/// <summary>Where a connection stands between its listener and the application.</summary>
internal enum TcpConnectionQueue : byte
{
    /// <summary>Opened actively, or handed to the application.</summary>
    None,

    /// <summary>Half-open (SYN-RECEIVED), counted in its listener's SYN queue.</summary>
    SynQueue,

    /// <summary>Established, waiting in its listener's accept queue.</summary>
    AcceptQueue,
}

/// <summary>
/// The layer's side of one connection: its control block, its timer in the stack's timer queue,
/// the listener it came from, and the stream the application holds. Only the loop touches it.
/// </summary>
internal sealed class TcpConnection
{
    public TcpConnection(TcpLayer layer, TcpControlBlock tcb, TcpListener? listener)
    {
        Layer = layer;
        Tcb = tcb;
        Listener = listener;
        TimerCallback = OnTimer;
    }

    public TcpLayer Layer { get; }

    public TcpControlBlock Tcb { get; }

    public TcpFourTuple Tuple => Tcb.Tuple;

    /// <summary>The listener that made this connection (passive open), or null.</summary>
    public TcpListener? Listener { get; set; }

    public TcpConnectionQueue Queue { get; set; }

    /// <summary>Neighbours in the listener's SYN queue (an intrusive list: O(1) removal, arrival order, no hashing).</summary>
    public TcpConnection? SynPrevious { get; set; }

    /// <summary>See <see cref="SynPrevious"/>.</summary>
    public TcpConnection? SynNext { get; set; }

    /// <summary>Whether the connection is linked in its listener's SYN queue.</summary>
    public bool InSynQueue { get; set; }

    /// <summary>The application's stream, once connected or accepted; null before and after it is disposed.</summary>
    public TcpStream? Stream { get; set; }

    /// <summary>The held SYN this connection was accepted from (a deferring catch-all listener); it gets the stream instead of the accept queue.</summary>
    public TcpConnectionRequest? Request { get; set; }

    /// <summary>A pending <see cref="TcpLayer.ConnectAsync(IpEndpoint, CancellationToken)"/>, until established or failed.</summary>
    public TcpLayer.ConnectAttempt? Connect { get; set; }

    /// <summary>Whether the demultiplexing table holds this connection.</summary>
    public bool InTable { get; set; }

    /// <summary>The armed timer, and the time (microseconds) it is armed for; <see cref="long.MaxValue"/> when none.</summary>
    public TimerHandle Timer { get; set; }

    public long TimerDueMicros { get; set; } = long.MaxValue;

    /// <summary>An MTU learnt from a send IP refused as too big (DF set), delivered to the control block after the call that sent it.</summary>
    public int PendingPathMtu { get; set; }

    /// <summary>Whether this connection was ever established (for the counters).</summary>
    public bool WasEstablished { get; set; }

    public Action<NetworkStack> TimerCallback { get; }

    private void OnTimer(NetworkStack stack) => Layer.OnConnectionTimer(this);

    public override string ToString() => $"{Tuple} {Tcb.State}";
}
