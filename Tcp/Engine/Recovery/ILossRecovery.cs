using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>What a loss-recovery algorithm asks the control block to send after an ACK.</summary>
internal enum RecoveryAction
{
    /// <summary>Nothing beyond the normal output.</summary>
    None,

    /// <summary>A loss was detected: fast retransmit of the first unacknowledged segment (RFC 5681 3.2 step 2).</summary>
    FastRetransmit,

    /// <summary>A partial acknowledgment during recovery: resend the first unacknowledged segment (RFC 6582 3.2 step 5).</summary>
    RetransmitFirstUnacknowledged,
}

/// <summary>
/// One connection's loss detection and recovery: from the ACKs it sees, it decides when a segment
/// is lost, which to resend, and how recovery episodes begin and end; it reports the episodes to
/// the congestion controller, which alone sizes the window.
/// </summary>
/// <remarks>
/// The control block classifies each acceptable ACK (RFC 9293 3.10.7.4 fifth check) as advancing
/// SND.UNA or as a duplicate (RFC 5681 2), calls the matching method and carries out the returned
/// <see cref="RecoveryAction"/>. The retransmission timer stays the control block's; it reports the
/// timeout here so the algorithm can reset its episode.
/// </remarks>
internal interface ILossRecovery
{
    /// <summary>Whether a recovery episode is under way.</summary>
    bool InRecovery { get; }

    /// <summary>
    /// Bytes of new data that may go out beyond the congestion window now (RFC 3042 limited
    /// transmit); 0 during recovery.
    /// </summary>
    long LimitedTransmitAllowance { get; }

    /// <summary>The connection starts sending from <paramref name="iss"/>: no episode, no duplicate ACKs.</summary>
    /// <param name="iss">The initial send sequence number.</param>
    void Reset(SeqNum iss);

    /// <summary>An ACK advanced SND.UNA.</summary>
    /// <param name="ack">What it acknowledged, for the congestion controller.</param>
    /// <param name="segAck">SEG.ACK (the new SND.UNA).</param>
    /// <returns>What to resend.</returns>
    RecoveryAction OnAckAdvanced(in CongestionAck ack, SeqNum segAck);

    /// <summary>A duplicate ACK arrived (RFC 5681 2).</summary>
    /// <param name="segAck">SEG.ACK (= SND.UNA).</param>
    /// <param name="sndUna">SND.UNA.</param>
    /// <param name="sndMax">The highest sequence number sent.</param>
    /// <param name="mss">The send MSS.</param>
    /// <param name="now">The current time.</param>
    /// <returns>What to resend.</returns>
    RecoveryAction OnDuplicateAck(SeqNum segAck, SeqNum sndUna, SeqNum sndMax, int mss, Micros now);

    /// <summary>
    /// The retransmission timer expired on data (RFC 5681 3.1, RFC 6582 4): the episode ends, the
    /// congestion controller takes the loss window, and later duplicate ACKs for what was in flight
    /// must not start another episode.
    /// </summary>
    /// <param name="flight">The bytes in flight when it expired.</param>
    /// <param name="alreadyRetransmittedByTimer">Whether the first unacknowledged segment had already been resent by the timer.</param>
    /// <param name="sndMax">The highest sequence number sent.</param>
    /// <param name="now">The current time.</param>
    void OnRetransmissionTimeout(long flight, bool alreadyRetransmittedByTimer, SeqNum sndMax, Micros now);

    /// <summary>
    /// The send MSS shrank and everything in flight is resent in the new size (RFC 1191): the
    /// duplicate ACKs that resend causes must not start fast retransmit (RFC 6582 3.2 step 2's test).
    /// </summary>
    /// <param name="sndMax">The highest sequence number sent.</param>
    void OnFlightResent(SeqNum sndMax);
}
