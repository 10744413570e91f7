using System.Globalization;
using Protocols.Ip;

namespace Protocols.Tcp;

/// <summary>One row of the connection table, like a line of <c>ss -tani</c>.</summary>
/// <remarks>
/// A connection in TIME-WAIT whose control block has gone (the stack keeps a compact record for
/// the rest of 2 MSL, as Linux keeps a tcp_timewait_sock) shows its addresses, state, timer,
/// <see cref="Mss"/> and <see cref="ReceiveWindow"/>; the rest read zero. TIME-WAIT sends nothing
/// but ACKs, so no RTO, RTT or congestion state applies, and nothing is queued (as <c>ss</c> shows
/// no TCP information for timewait sockets). A connection whose control block still holds
/// TIME-WAIT (unread data, say) shows the values the control block last had.
/// </remarks>
public sealed record TcpConnectionInfo
{
    /// <summary>This stack's address and port.</summary>
    public IpEndpoint Local { get; init; }

    /// <summary>The peer's address and port (any:0 for a listener).</summary>
    public IpEndpoint Remote { get; init; }

    /// <summary>The connection's state.</summary>
    public TcpState State { get; init; }

    /// <summary>Bytes queued for sending: unacknowledged plus unsent (for a listener: the backlog).</summary>
    public int SendQueue { get; init; }

    /// <summary>Bytes received and not read yet (for a listener: connections waiting in the accept queue).</summary>
    public int ReceiveQueue { get; init; }

    /// <summary>SRTT (RFC 6298); zero before the first measurement.</summary>
    public TimeSpan SmoothedRtt { get; init; }

    /// <summary>RTTVAR (RFC 6298).</summary>
    public TimeSpan RttVariation { get; init; }

    /// <summary>The current retransmission timeout, backoff included.</summary>
    public TimeSpan Rto { get; init; }

    /// <summary>cwnd in bytes.</summary>
    public long CongestionWindow { get; init; }

    /// <summary>ssthresh in bytes.</summary>
    public long SlowStartThreshold { get; init; }

    /// <summary>The effective send MSS (payload bytes per segment).</summary>
    public int Mss { get; init; }

    /// <summary>Segments retransmitted over the connection's life.</summary>
    public long Retransmissions { get; init; }

    /// <summary>The timer that fires next (<c>retrans</c>, <c>persist</c>, <c>keepalive</c>, <c>delack</c>, <c>timewait</c>, <c>finwait2</c>, <c>user</c>, <c>connect</c>), or null.</summary>
    public string? ActiveTimer { get; init; }

    /// <summary>Time until <see cref="ActiveTimer"/> fires.</summary>
    public TimeSpan ActiveTimerRemaining { get; init; }

    /// <summary>Application bytes sent (first transmissions only).</summary>
    public long BytesSent { get; init; }

    /// <summary>Application bytes received in order.</summary>
    public long BytesReceived { get; init; }

    /// <summary>The receive buffer's current size: it bounds the advertised window and grows with autotuning.</summary>
    public int ReceiveBufferSize { get; init; }

    /// <summary>The send buffer's current size: the most bytes queued for sending; it grows with autotuning.</summary>
    public int SendBufferSize { get; init; }

    /// <summary>The window last advertised to the peer, in bytes.</summary>
    public int ReceiveWindow { get; init; }

    /// <summary>
    /// One line in the style of <c>ss -tani</c>, e.g.
    /// <c>ESTAB 0 0 10.0.0.1:80 10.0.0.2:40000 timer:(delack,35ms) rto:200 rtt:1.5/0.75 mss:1448 cwnd:14480 ssthresh:- retrans:0 bytes_sent:10 bytes_received:20</c>.
    /// </summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        string state = State switch
        {
            TcpState.Established => "ESTAB",
            TcpState.SynSent => "SYN-SENT",
            TcpState.SynReceived => "SYN-RECV",
            TcpState.FinWait1 => "FIN-WAIT-1",
            TcpState.FinWait2 => "FIN-WAIT-2",
            TcpState.CloseWait => "CLOSE-WAIT",
            TcpState.Closing => "CLOSING",
            TcpState.LastAck => "LAST-ACK",
            TcpState.TimeWait => "TIME-WAIT",
            TcpState.Listen => "LISTEN",
            _ => "CLOSED",
        };
        string timer = ActiveTimer is null ? "" : string.Create(inv, $" timer:({ActiveTimer},{(long)ActiveTimerRemaining.TotalMilliseconds}ms)");
        string ssthresh = SlowStartThreshold >= int.MaxValue ? "-" : SlowStartThreshold.ToString(inv);
        return string.Create(
            inv,
            $"{state} {ReceiveQueue} {SendQueue} {Local} {Remote}{timer} rto:{Rto.TotalMilliseconds:0.###} rtt:{SmoothedRtt.TotalMilliseconds:0.###}/{RttVariation.TotalMilliseconds:0.###} mss:{Mss} cwnd:{CongestionWindow} ssthresh:{ssthresh} retrans:{Retransmissions} bytes_sent:{BytesSent} bytes_received:{BytesReceived}");
    }
}
