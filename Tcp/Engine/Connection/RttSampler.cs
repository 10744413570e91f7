namespace Protocols.Tcp.Engine;

/// <summary>
/// Takes round-trip measurements for one connection and feeds them to its <see cref="RtoEstimator"/>
/// (RFC 6298 3, RFC 7323 4): which ACKs may be measured is decided here.
/// </summary>
/// <remarks>
/// <para>With timestamps every ACK of new data is measured from its echo (RFC 7323 4.1), except an
/// echo older than our latest retransmission: it may be the receiver's TS.Recent from an earlier
/// copy, held while it answered a later duplicate (RFC 7323 4.3), and the sample would include a
/// whole RTO and inflate the RTO ever further under heavy loss. Such echoes are skipped, in the
/// spirit of Karn's rule.</para>
/// <para>Without timestamps one segment at a time is timed (RFC 6298 3), and Karn's rule drops the
/// timing when that segment, or one before it, is retransmitted.</para>
/// <para>The handshake gives the first sample: from the echo of our SYN's timestamp, or else from
/// the SYN's send time when it was never retransmitted.</para>
/// </remarks>
internal sealed class RttSampler
{
    private readonly RtoEstimator _rto;
    private readonly TimestampState _timestamps;

    private bool _timing;
    private SeqNum _timedEnd;
    private Micros _timingStart;
    private uint _lastRetransmitTsVal;
    private bool _hasRetransmitted;
    private Micros _synSent;
    private bool _synRetransmitted;

    /// <summary>A sampler feeding <paramref name="rto"/>.</summary>
    /// <param name="rto">The estimator.</param>
    /// <param name="timestamps">The connection's timestamp state (for echoes and our clock).</param>
    public RttSampler(RtoEstimator rto, TimestampState timestamps)
    {
        _rto = rto;
        _timestamps = timestamps;
    }

    /// <summary>Whether a SYN or SYN-ACK had to be retransmitted (RFC 6298 5.7).</summary>
    public bool SynRetransmitted => _synRetransmitted;

    /// <summary>Our first SYN (or SYN-ACK) went out.</summary>
    /// <param name="now">The current time.</param>
    public void OnSynSent(Micros now) => _synSent = now;

    /// <summary>The SYN (or SYN-ACK) was retransmitted: its ACK can no longer be timed from the send time.</summary>
    public void OnSynRetransmitted() => _synRetransmitted = true;

    /// <summary>The ACK of our SYN arrived: the first sample, from its timestamp echo or the SYN's send time (Karn: only when never retransmitted).</summary>
    /// <param name="seg">The segment acknowledging the SYN.</param>
    /// <param name="now">The current time.</param>
    public void OnSynAcknowledged(in TcpSegment seg, Micros now)
    {
        if (_timestamps.Enabled && seg.Options.Timestamps is TcpTimestamps ts && ts.TsEcr != 0
            && _timestamps.TryMeasure(ts.TsEcr, now, out Micros rtt))
        {
            _rto.AddSample(rtt.Value);
        }
        else if (!_synRetransmitted)
        {
            _rto.AddSample((now - _synSent).Value);
        }
    }

    /// <summary>A segment went out: start timing it (no timestamps), or apply Karn's rule to a retransmission.</summary>
    /// <param name="seq">Its first sequence number.</param>
    /// <param name="end">One past its last sequence number.</param>
    /// <param name="dataLength">Its data bytes.</param>
    /// <param name="retransmission">Whether it was sent before.</param>
    /// <param name="now">The current time.</param>
    public void OnTransmit(SeqNum seq, SeqNum end, int dataLength, bool retransmission, Micros now)
    {
        if (retransmission)
        {
            _lastRetransmitTsVal = _timestamps.Now(now);
            _hasRetransmitted = true;
            if (_timing && _timedEnd > seq)
            {
                _timing = false; // RFC 6298 3: Karn's rule
            }
        }
        else if (!_timing && !_timestamps.Enabled && dataLength > 0)
        {
            _timing = true;
            _timedEnd = end;
            _timingStart = now;
        }
    }

    /// <summary>Stops timing the current segment (a loss was detected: its ACK may answer a retransmission).</summary>
    public void CancelTiming() => _timing = false;

    /// <summary>
    /// An ACK acknowledged new data: takes a measurement when one is allowed (see remarks) and feeds
    /// it to the estimator, weighted for one sample per ACK with timestamps (RFC 7323 Appendix G).
    /// </summary>
    /// <param name="seg">The ACK.</param>
    /// <param name="flight">The bytes still in flight after it.</param>
    /// <param name="mss">The send MSS.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The measurement, or null.</returns>
    public Micros? OnNewDataAcknowledged(in TcpSegment seg, long flight, int mss, Micros now)
    {
        if (_timestamps.Enabled && seg.Options.Timestamps is TcpTimestamps ts && ts.TsEcr != 0)
        {
            if (_hasRetransmitted && TimestampState.Before(ts.TsEcr, _lastRetransmitTsVal))
            {
                return null;
            }

            if (_timestamps.TryMeasure(ts.TsEcr, now, out Micros rtt))
            {
                _rto.AddSample(rtt.Value, RtoEstimator.ExpectedSamplesPerWindow(flight + mss, mss));
                return rtt;
            }

            return null;
        }

        if (_timing && seg.Ack >= _timedEnd)
        {
            _timing = false;
            Micros rtt = now - _timingStart;
            _rto.AddSample(rtt.Value);
            return rtt;
        }

        return null;
    }
}
