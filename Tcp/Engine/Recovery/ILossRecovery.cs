using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>What a loss-recovery algorithm asks the sender to resend at once after an ACK.</summary>
internal enum RecoveryAction
{
    /// <summary>Nothing beyond the normal output.</summary>
    None,

    /// <summary>A loss was detected: fast retransmit of the first unacknowledged segment (RFC 5681 3.2 step 2).</summary>
    FastRetransmit,

    /// <summary>A partial acknowledgment during recovery: resend the first unacknowledged segment (RFC 6582 3.2 step 5).</summary>
    RetransmitFirstUnacknowledged,
}

/// <summary>One acceptable ACK as loss recovery sees it (RFC 9293 3.10.7.4 fifth check), after SND.UNA moved.</summary>
internal readonly ref struct AckEvent
{
    /// <summary>An ACK event.</summary>
    /// <param name="segAck">SEG.ACK.</param>
    /// <param name="previousUna">SND.UNA before the ACK.</param>
    /// <param name="sndUna">SND.UNA after it (SEG.ACK when it advanced).</param>
    /// <param name="sndMax">The highest sequence number sent.</param>
    /// <param name="maxWindow">The largest window the peer offered.</param>
    /// <param name="duplicate">Whether it is a duplicate ACK (RFC 5681 2).</param>
    /// <param name="rtt">The RTT sample it gave, if any.</param>
    /// <param name="sackBlocks">Its SACK blocks.</param>
    /// <param name="timestamps">Its timestamps, if any.</param>
    /// <param name="now">The current time.</param>
    public AckEvent(SeqNum segAck, SeqNum previousUna, SeqNum sndUna, SeqNum sndMax, long maxWindow, bool duplicate, Micros? rtt, ReadOnlySpan<TcpSackBlock> sackBlocks, TcpTimestamps? timestamps, Micros now)
    {
        SegmentAck = segAck;
        PreviousUna = previousUna;
        SndUna = sndUna;
        SndMax = sndMax;
        MaxWindow = maxWindow;
        IsDuplicate = duplicate;
        Rtt = rtt;
        SackBlocks = sackBlocks;
        Timestamps = timestamps;
        Now = now;
    }

    /// <summary>SEG.ACK: below SND.UNA when the ACK arrived after a later one.</summary>
    public SeqNum SegmentAck { get; }

    /// <summary>SND.UNA before the ACK.</summary>
    public SeqNum PreviousUna { get; }

    /// <summary>SND.UNA after it.</summary>
    public SeqNum SndUna { get; }

    /// <summary>The highest sequence number sent.</summary>
    public SeqNum SndMax { get; }

    /// <summary>The largest window the peer offered (MAX.SND.WND).</summary>
    public long MaxWindow { get; }

    /// <summary>Whether it is a duplicate ACK (RFC 5681 2).</summary>
    public bool IsDuplicate { get; }

    /// <summary>The RTT sample it gave (Karn's rule applied), if any.</summary>
    public Micros? Rtt { get; }

    /// <summary>Its SACK blocks as received.</summary>
    public ReadOnlySpan<TcpSackBlock> SackBlocks { get; }

    /// <summary>Its timestamps, if any.</summary>
    public TcpTimestamps? Timestamps { get; }

    /// <summary>The current time.</summary>
    public Micros Now { get; }

    /// <summary>Bytes newly acknowledged cumulatively.</summary>
    public long BytesAcked => SndUna - PreviousUna;

    /// <summary>The bytes still outstanding.</summary>
    public long FlightSize => SndMax - SndUna;

    /// <summary>The view a congestion controller gets.</summary>
    public CongestionAck ForCongestionControl => new(BytesAcked, FlightSize, Rtt?.Value, Now.Value);
}

/// <summary>
/// One connection's loss detection and recovery: from the ACKs it sees, it decides when a segment
/// is lost, which to resend, and how recovery episodes begin and end; it reports the episodes to
/// the congestion controller, which alone sizes the window outside them.
/// </summary>
/// <remarks>
/// <para>Two implementations: <see cref="NewRenoRecovery"/> for peers without SACK (duplicate-ACK
/// counting, RFC 6582, RFC 3042; go-back-N after a timeout) and <see cref="SackRecovery"/> when
/// both sides use SACK (RACK-TLP loss detection, RFC 6675 recovery, PRR, spurious-loss undo).</para>
/// <para>The sender classifies each acceptable ACK, calls <see cref="OnAck"/> and carries out the
/// returned <see cref="RecoveryAction"/>. The retransmission timer stays the sender's; it reports
/// the timeout here so the algorithm can start its episode.</para>
/// </remarks>
internal interface ILossRecovery
{
    /// <summary>Whether a recovery episode (after duplicate ACKs, losses found by RACK, or a timeout) is under way.</summary>
    bool InRecovery { get; }

    /// <summary>
    /// Bytes of new data that may go out beyond the congestion window now (RFC 3042 limited
    /// transmit); 0 during recovery.
    /// </summary>
    long LimitedTransmitAllowance { get; }

    /// <summary>The connection starts sending from <paramref name="iss"/>: no episode, nothing in flight.</summary>
    /// <param name="iss">The initial send sequence number.</param>
    void Reset(SeqNum iss);

    /// <summary>An acceptable ACK arrived.</summary>
    /// <param name="ack">What it said.</param>
    /// <returns>What to resend at once.</returns>
    RecoveryAction OnAck(in AckEvent ack);

    /// <summary>
    /// The retransmission timer expired on data (RFC 5681 3.1, RFC 6582 4, RFC 8985 6.3): the
    /// congestion controller takes the loss window and a timeout episode starts.
    /// </summary>
    /// <param name="flight">The bytes in flight when it expired.</param>
    /// <param name="alreadyRetransmittedByTimer">Whether the first unacknowledged segment had already been resent by the timer.</param>
    /// <param name="sndMax">The highest sequence number sent.</param>
    /// <param name="now">The current time.</param>
    void OnRetransmissionTimeout(long flight, bool alreadyRetransmittedByTimer, SeqNum sndMax, Micros now);

    /// <summary>
    /// The send MSS shrank and everything in flight is to be resent in the new size (RFC 1191): the
    /// duplicate ACKs that resend causes must not start another episode.
    /// </summary>
    /// <param name="sndMax">The highest sequence number sent.</param>
    void OnFlightResent(SeqNum sndMax);
}
