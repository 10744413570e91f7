using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>
/// Loss recovery from duplicate ACKs alone, for peers without SACK: RFC 5681 3.2 fast retransmit
/// and fast recovery with RFC 6582's NewReno handling of partial acknowledgments, and RFC 3042
/// limited transmit.
/// </summary>
/// <remarks>
/// <para>The third duplicate ACK starts an episode: the first unacknowledged segment is resent and
/// <c>recover</c> is set to the highest sequence number sent (RFC 6582 3.2 step 2). Each partial
/// ACK (one below <c>recover</c>) resends the next hole; the first ACK at or beyond <c>recover</c>
/// ends the episode. A new episode may start only once SND.UNA passed the previous
/// <c>recover</c>, so that duplicate ACKs from an old window do not halve the window twice.</para>
/// <para>Each of the first two duplicate ACKs lets one new segment out beyond the congestion
/// window (RFC 3042: FlightSize &lt;= cwnd + 2 * SMSS), so that a small window still collects three.</para>
/// </remarks>
internal sealed class NewRenoRecovery : ILossRecovery
{
    private readonly ICongestionController _cc;
    private readonly SegmentSizes _sizes;
    private int _dupAcks;
    private long _limitedTransmit;
    private SeqNum _recover;
    private bool _recoverValid;
    private bool _inRecovery;

    /// <summary>Recovery reporting its episodes to <paramref name="cc"/>.</summary>
    /// <param name="cc">The connection's congestion controller.</param>
    /// <param name="sizes">The connection's segment sizes (limited transmit counts in send MSS).</param>
    public NewRenoRecovery(ICongestionController cc, SegmentSizes sizes)
    {
        _cc = cc;
        _sizes = sizes;
    }

    /// <inheritdoc/>
    public bool InRecovery => _inRecovery;

    /// <inheritdoc/>
    public long LimitedTransmitAllowance => _inRecovery ? 0 : _limitedTransmit;

    /// <summary>Duplicate ACKs since SND.UNA last advanced.</summary>
    public int DuplicateAcks => _dupAcks;

    /// <inheritdoc/>
    public void Reset(SeqNum iss)
    {
        _recover = iss;
        _recoverValid = false;
        _dupAcks = 0;
        _limitedTransmit = 0;
        _inRecovery = false;
    }

    /// <inheritdoc/>
    public RecoveryAction OnAck(in AckEvent ack)
    {
        if (ack.BytesAcked > 0)
        {
            return OnAckAdvanced(ack.ForCongestionControl, ack.SndUna);
        }

        return ack.IsDuplicate ? OnDuplicateAck(ack.SndUna, ack.SndMax, ack.Now) : RecoveryAction.None;
    }

    /// <summary>An ACK advanced SND.UNA.</summary>
    /// <param name="ack">What it acknowledged, for the congestion controller.</param>
    /// <param name="segAck">SEG.ACK (the new SND.UNA).</param>
    /// <returns>What to resend.</returns>
    private RecoveryAction OnAckAdvanced(in CongestionAck ack, SeqNum segAck)
    {
        RecoveryAction action = RecoveryAction.None;
        if (_inRecovery)
        {
            if (segAck >= _recover)
            {
                _cc.OnExitFastRecovery(ack); // RFC 6582 3.2 step 5, full acknowledgment
                _inRecovery = false;
            }
            else
            {
                // RFC 6582 3.2 step 5, partial acknowledgment: resend the next hole (the control
                // block restarts the retransmission timer, as for every ACK of new data).
                _cc.OnPartialAck(ack);
                action = RecoveryAction.RetransmitFirstUnacknowledged;
            }
        }
        else
        {
            _cc.OnAck(ack);
        }

        _dupAcks = 0;
        _limitedTransmit = 0;
        return action;
    }

    // A duplicate ACK (RFC 5681 2): SEG.ACK = SND.UNA.
    private RecoveryAction OnDuplicateAck(SeqNum sndUna, SeqNum sndMax, Micros now)
    {
        _dupAcks++;
        if (_inRecovery)
        {
            _cc.OnDuplicateAck(now.Value); // RFC 5681 3.2 step 4
            return RecoveryAction.None;
        }

        if (_dupAcks < CongestionRules.DuplicateAckThreshold)
        {
            _limitedTransmit = _dupAcks * (long)_sizes.Send; // RFC 3042
            return RecoveryAction.None;
        }

        if (_dupAcks == CongestionRules.DuplicateAckThreshold && (!_recoverValid || sndUna >= _recover))
        {
            // RFC 5681 3.2 steps 2-3, RFC 6582 3.2 step 2: fast retransmit, enter fast recovery.
            _limitedTransmit = 0;
            _recover = sndMax;
            _recoverValid = true;
            _cc.OnEnterFastRecovery(sndMax - sndUna, now.Value);
            _inRecovery = true;
            return RecoveryAction.FastRetransmit;
        }

        return RecoveryAction.None;
    }

    /// <inheritdoc/>
    public void OnRetransmissionTimeout(long flight, bool alreadyRetransmittedByTimer, SeqNum sndMax, Micros now)
    {
        _cc.OnRetransmissionTimeout(flight, alreadyRetransmittedByTimer, now.Value);
        _inRecovery = false;
        _recover = sndMax; // RFC 6582 4: after a timeout, recover = the highest sequence number sent
        _recoverValid = true;
        _dupAcks = 0;
        _limitedTransmit = 0;
    }

    /// <inheritdoc/>
    public void OnFlightResent(SeqNum sndMax)
    {
        _recover = sndMax;
        _recoverValid = true;
    }
}
