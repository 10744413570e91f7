namespace Protocols.Tcp.Engine.Recovery;

/// <summary>What an ACK says about an outstanding tail loss probe (RFC 8985 7.4.2).</summary>
internal enum ProbeOutcome
{
    /// <summary>Nothing yet, or no probe outstanding.</summary>
    None,

    /// <summary>The probe's episode is over and nothing was lost (new data, or both copies arrived).</summary>
    NoLoss,

    /// <summary>The probe repaired a lost segment: the sender must reduce its window as for a loss.</summary>
    LossRepaired,
}

/// <summary>
/// TLP, the probe half of RACK-TLP (RFC 8985 7): when a flight's tail is lost, no ACK comes back to
/// let RACK see it; after a probe timeout (PTO) of about two RTTs the sender sends one segment
/// (new data if it may, else the last segment again) so that the receiver's ACK, with its SACK
/// blocks, lets RACK find the loss instead of waiting for the retransmission timeout.
/// </summary>
/// <remarks>
/// <para>The PTO (7.2) is 2 x SRTT, plus the worst-case delayed-ACK time when only one segment is in
/// flight (its ACK may be delayed) and 2 ms otherwise, 1 s before any RTT sample, and never after the retransmission
/// timer would fire. One probe episode is judged at a time (TLP.end_seq, 7.4); it is armed after new
/// data is sent or an ACK advances SND.UNA, outside recovery. <see cref="SackRecovery"/> also sends
/// a second probe at twice the PTO when the first brought no ACK, and probes during a fast
/// recovery whose ACKs stopped. The timer is <see cref="TcpTimer.LossProbe"/>.</para>
/// </remarks>
internal sealed class TailLossProbe
{
    /// <summary>RFC 8985 7.2: WCDelAckT, the worst-case delayed-ACK time assumed of the receiver, 200 ms.</summary>
    public static readonly Micros WorstCaseDelayedAck = Micros.FromMilliseconds(200);

    /// <summary>The PTO before any RTT sample (RFC 8985 7.2), 1 s.</summary>
    public static readonly Micros InitialPto = Micros.FromMilliseconds(1000);

    /// <summary>
    /// What the PTO adds to 2 x SRTT with more than one segment in flight, 2 ms, as Linux's
    /// tcp_schedule_loss_probe (TCP_TIMEOUT_MIN, two jiffies): on a path with an RTT near 0 a probe
    /// would otherwise follow every flight at once, and a floor of 10 ms (Linux before 4.14) would
    /// leave a silence of fifty round trips on a path of 0.2 ms.
    /// </summary>
    public static readonly Micros PtoSlack = Micros.FromMilliseconds(2);

    private SeqNum _endSeq;
    private bool _outstanding;
    private bool _isRetransmission;

    /// <summary>Whether a probe is outstanding (TLP.end_seq is set).</summary>
    public bool Outstanding => _outstanding;

    /// <summary>Whether the outstanding probe resent data (TLP.is_retrans).</summary>
    public bool IsRetransmission => _isRetransmission;

    /// <summary>TLP.end_seq: SND.NXT when the outstanding probe was sent.</summary>
    public SeqNum EndSeq => _endSeq;

    /// <summary>RFC 8985 7.2: the probe timeout.</summary>
    /// <param name="srtt">SRTT, or null before the first sample.</param>
    /// <param name="flight">Bytes in flight.</param>
    /// <param name="mss">The send MSS.</param>
    /// <param name="now">The current time.</param>
    /// <param name="rtoDeadline">When the retransmission timer fires.</param>
    /// <param name="delayedAckPossible">Whether the receiver may delay its ACK of a lone segment (false while it holds out-of-order data).</param>
    /// <param name="backoff">Probes already sent unanswered: the PTO doubles for each (RFC 9002 6.2.1).</param>
    /// <returns>When the probe is due.</returns>
    public static Micros Deadline(Micros? srtt, long flight, int mss, Micros now, Micros rtoDeadline, bool delayedAckPossible = true, int backoff = 0)
    {
        Micros pto = InitialPto;
        if (srtt is Micros s)
        {
            pto = s * 2;
            pto += flight <= mss && delayedAckPossible ? WorstCaseDelayedAck : PtoSlack;
        }

        return Micros.Min(now + (pto * (1 << Math.Clamp(backoff, 0, 8))), rtoDeadline);
    }

    /// <summary>A probe went out (RFC 8985 7.3).</summary>
    /// <param name="sndNxt">SND.NXT after it.</param>
    /// <param name="retransmission">Whether it resent data.</param>
    public void OnSent(SeqNum sndNxt, bool retransmission)
    {
        _endSeq = sndNxt;
        _outstanding = true;
        _isRetransmission = retransmission;
    }

    /// <summary>Forgets the outstanding probe (a timeout, or a recovery, took over).</summary>
    public void Clear() => _outstanding = false;

    /// <summary>RFC 8985 7.4.2: what an ACK says about the outstanding probe.</summary>
    /// <param name="ack">SEG.ACK.</param>
    /// <param name="dsackEnd">The end of the ACK's D-SACK block, if it had one.</param>
    /// <param name="hasSack">Whether the ACK carried SACK blocks.</param>
    /// <param name="duplicate">Whether the ACK is a duplicate (RFC 5681 2).</param>
    /// <returns>The outcome; the probe is forgotten unless it is <see cref="ProbeOutcome.None"/>.</returns>
    public ProbeOutcome OnAck(SeqNum ack, SeqNum? dsackEnd, bool hasSack, bool duplicate)
    {
        if (!_outstanding || ack < _endSeq)
        {
            return ProbeOutcome.None;
        }

        if (!_isRetransmission || dsackEnd == _endSeq || (ack == _endSeq && duplicate && !hasSack))
        {
            _outstanding = false; // new data probed, or the D-SACK shows both copies arrived
            return ProbeOutcome.NoLoss;
        }

        if (ack > _endSeq)
        {
            _outstanding = false; // only one copy arrived: the probe repaired a loss
            return ProbeOutcome.LossRepaired;
        }

        return ProbeOutcome.None; // SEG.ACK == TLP.end_seq: wait for a D-SACK or further ACKs
    }
}
