namespace Protocols.Tcp.Engine.CongestionControl;

/// <summary>
/// What one ACK delivered, as the delivery-rate estimator measured it
/// (draft-cheng-iccrg-delivery-rate-estimation 2 and 3.3): the data delivered between the
/// transmission of the newest segment this ACK covered and this ACK, over the longer of the send
/// and ACK intervals.
/// </summary>
/// <param name="DeliveryRate">rs.delivery_rate in bytes per second; 0 when the sample is not valid (<see cref="IsValid"/>).</param>
/// <param name="Delivered">rs.delivered: bytes delivered over the sample's interval.</param>
/// <param name="IntervalMicros">rs.interval: max(send_elapsed, ack_elapsed).</param>
/// <param name="PriorDelivered">rs.prior_delivered: C.delivered when the newest segment this ACK covered was sent (BBR counts round trips with it).</param>
/// <param name="TotalDelivered">C.delivered after this ACK: every byte delivered on the connection so far.</param>
/// <param name="IsAppLimited">rs.is_app_limited: the sample was taken while the application, not the network, limited the sending.</param>
/// <param name="NewlyAcked">Bytes this ACK delivered, cumulatively or by SACK.</param>
/// <param name="NewlyLost">Bytes this ACK's processing newly marked lost.</param>
/// <param name="PriorInFlight">The bytes in flight (RFC 6675 pipe) before this ACK.</param>
/// <param name="InFlight">The bytes in flight after it.</param>
/// <param name="RttMicros">The round-trip time of the newest segment this ACK delivered that was never resent; -1 when none.</param>
/// <param name="NowMicros">The current time.</param>
public readonly record struct RateSample(
    long DeliveryRate,
    long Delivered,
    long IntervalMicros,
    long PriorDelivered,
    long TotalDelivered,
    bool IsAppLimited,
    long NewlyAcked,
    long NewlyLost,
    long PriorInFlight,
    long InFlight,
    long RttMicros,
    long NowMicros)
{
    /// <summary>Whether the sample measured a rate (a segment was delivered, and its interval was at least the minimum RTT).</summary>
    public bool IsValid => DeliveryRate > 0;
}
