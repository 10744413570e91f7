using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Engine.Recovery;

/// <summary>
/// The connection's delivery state at one transmission, kept with the segment
/// (draft-cheng-iccrg-delivery-rate-estimation 3.1: P.delivered, P.delivered_time,
/// P.first_sent_time, P.is_app_limited; P.sent_time is the segment's <see cref="SentSegment.SentAt"/>).
/// </summary>
internal struct DeliveryStamp
{
    /// <summary>P.delivered: C.delivered when the segment was sent.</summary>
    public long Delivered;

    /// <summary>P.delivered_time: C.delivered_time when the segment was sent.</summary>
    public Micros DeliveredTime;

    /// <summary>P.first_sent_time: C.first_sent_time when the segment was sent.</summary>
    public Micros FirstSentTime;

    /// <summary>P.is_app_limited: whether an application-limited period was under way.</summary>
    public bool AppLimited;
}

/// <summary>
/// Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation): stamps each
/// (re)transmission with the connection's delivery state, and from the segments one ACK delivers
/// builds a <see cref="RateSample"/>: bytes delivered since the newest of them was sent, over the
/// longer of its send interval and its ACK interval, so that neither ACK compression nor a burst
/// of sends inflates the rate.
/// </summary>
/// <remarks>
/// Constant memory per connection; the per-segment stamps live in the <see cref="SentSegments"/>
/// log's rate ring (made only for a controller that takes samples). Every call is O(1) and
/// allocates nothing.
/// </remarks>
internal sealed class DeliveryRateSampler
{
    private long _delivered; // C.delivered
    private Micros _deliveredTime; // C.delivered_time
    private Micros _firstSentTime; // C.first_sent_time
    private long _appLimitedUntil; // C.app_limited: 0 when not application-limited

    // The sample being built from one ACK (rs.*), from its newest delivered segment.
    private bool _hasData;
    private long _newestOrder;
    private long _priorDelivered;
    private Micros _sendElapsed;
    private Micros _ackElapsed;
    private bool _sampleAppLimited;
    private long _newlyAcked;
    private long _rtt = -1;

    /// <summary>C.delivered: bytes delivered (cumulatively acknowledged or SACKed) so far.</summary>
    public long Delivered => _delivered;

    /// <summary>Whether an application-limited period is under way (C.app_limited != 0).</summary>
    public bool IsAppLimited => _appLimitedUntil != 0;

    /// <summary>
    /// The state a transmission carries (draft-cheng-iccrg-delivery-rate-estimation 3.1): when
    /// nothing is in flight the send and delivery clocks restart at <paramref name="now"/>, so an
    /// idle gap does not count in the next sample's interval.
    /// </summary>
    /// <param name="pipe">The bytes in flight before this transmission.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The stamp to keep with the segment.</returns>
    public DeliveryStamp OnTransmit(long pipe, Micros now)
    {
        if (pipe <= 0)
        {
            _firstSentTime = now;
            _deliveredTime = now;
        }

        return new DeliveryStamp
        {
            Delivered = _delivered,
            DeliveredTime = _deliveredTime,
            FirstSentTime = _firstSentTime,
            AppLimited = _appLimitedUntil != 0,
        };
    }

    /// <summary>
    /// The sender has no more data to send and the window is not full (draft-cheng-iccrg-delivery-rate-estimation
    /// 3.4): samples until what is in flight now is delivered are application-limited.
    /// </summary>
    /// <param name="pipe">The bytes in flight.</param>
    public void OnApplicationLimited(long pipe) => _appLimitedUntil = Math.Max(_delivered + pipe, 1);

    /// <summary>
    /// A segment was delivered by this ACK, cumulatively or by SACK, and not before
    /// (draft-cheng-iccrg-delivery-rate-estimation 3.2, UpdateRateSample).
    /// </summary>
    /// <param name="segment">The segment.</param>
    /// <param name="rate">The stamp it was last (re)transmitted with.</param>
    /// <param name="now">The current time.</param>
    public void OnDelivered(in SentSegment segment, in DeliveryStamp rate, Micros now)
    {
        int length = segment.Length;
        _delivered += length;
        _newlyAcked += length;
        _deliveredTime = now;

        // The newest transmission this ACK covered gives the sample (its sending order, not its
        // sequence numbers: a retransmission is newer than the data sent before it).
        if (!_hasData || segment.Order > _newestOrder)
        {
            _hasData = true;
            _newestOrder = segment.Order;
            _priorDelivered = rate.Delivered;
            _sampleAppLimited = rate.AppLimited;
            _sendElapsed = segment.SentAt - rate.FirstSentTime;
            _ackElapsed = _deliveredTime - rate.DeliveredTime;
            _firstSentTime = segment.SentAt;
            _rtt = segment.Is(SentSegmentState.Retransmitted) ? _rtt : (now - segment.SentAt).Value;
        }
    }

    /// <summary>
    /// Ends the ACK: the sample from what it delivered (draft-cheng-iccrg-delivery-rate-estimation
    /// 3.3, GenerateRateSample), then a fresh one for the next ACK.
    /// </summary>
    /// <param name="minRtt">The connection's minimum RTT: a shorter interval cannot be measured reliably and gives no rate.</param>
    /// <param name="newlyLost">Bytes this ACK marked lost.</param>
    /// <param name="priorInFlight">Pipe before the ACK.</param>
    /// <param name="inFlight">Pipe after it.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The sample; its rate is 0 when the ACK delivered nothing or its interval was too short.</returns>
    public RateSample TakeSample(Micros minRtt, long newlyLost, long priorInFlight, long inFlight, Micros now)
    {
        if (_appLimitedUntil != 0 && _delivered > _appLimitedUntil)
        {
            _appLimitedUntil = 0; // the application-limited data has all been delivered
        }

        long rate = 0;
        long delivered = 0;
        long interval = 0;
        if (_hasData)
        {
            interval = Math.Max(_sendElapsed.Value, _ackElapsed.Value);
            delivered = _delivered - _priorDelivered;
            if (interval > 0 && interval >= minRtt.Value && delivered > 0)
            {
                rate = (long)((Int128)delivered * 1_000_000 / interval);
            }
        }

        var sample = new RateSample(
            rate,
            delivered,
            interval,
            _hasData ? _priorDelivered : _delivered,
            _delivered,
            _sampleAppLimited,
            _newlyAcked,
            newlyLost,
            priorInFlight,
            inFlight,
            _hasData ? _rtt : -1,
            now.Value);
        _hasData = false;
        _newlyAcked = 0;
        _rtt = -1;
        return sample;
    }

    /// <summary>Forgets everything (a connection starting over).</summary>
    public void Reset()
    {
        _delivered = 0;
        _deliveredTime = Micros.Zero;
        _firstSentTime = Micros.Zero;
        _appLimitedUntil = 0;
        _hasData = false;
        _newlyAcked = 0;
        _rtt = -1;
    }
}
