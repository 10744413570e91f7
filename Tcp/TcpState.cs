namespace Protocols.Tcp;

/// <summary>The states of a TCP connection (RFC 9293 3.3.2, figure 5).</summary>
public enum TcpState
{
    /// <summary>No connection: before an open, or after the connection ended.</summary>
    Closed,

    /// <summary>Waiting for a connection request (a listener).</summary>
    Listen,

    /// <summary>A SYN was sent; waiting for the matching SYN (active open).</summary>
    SynSent,

    /// <summary>A SYN was received and answered; waiting for the ACK of our SYN.</summary>
    SynReceived,

    /// <summary>An open connection: data flows both ways.</summary>
    Established,

    /// <summary>We sent FIN; waiting for its ACK or the peer's FIN.</summary>
    FinWait1,

    /// <summary>Our FIN was acknowledged; waiting for the peer's FIN.</summary>
    FinWait2,

    /// <summary>The peer sent FIN; waiting for the local application to close.</summary>
    CloseWait,

    /// <summary>Both sides sent FIN at once; waiting for the ACK of ours.</summary>
    Closing,

    /// <summary>We sent FIN after the peer's; waiting for its ACK.</summary>
    LastAck,

    /// <summary>Both FINs acknowledged; waiting 2 x MSL so that delayed segments die out.</summary>
    TimeWait,
}
