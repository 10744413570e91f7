namespace Protocols.Tcp.Engine.Recovery;

/// <summary>
/// Proportional Rate Reduction (RFC 6937): during a recovery episode, how much may be sent on each
/// ACK so that the data in flight falls smoothly from where it was to ssthresh, instead of a
/// halving in one step (a silence) or the window inflation of RFC 5681 (bursts).
/// </summary>
/// <remarks>
/// While pipe is above ssthresh, sending follows the delivery rate scaled by ssthresh / RecoverFS
/// (proportional part); once pipe is at or below ssthresh, the slow-start reduction bound
/// (PRR-SSRB) lets it grow back towards ssthresh by at most one segment more than was delivered.
/// All counts are bytes.
/// </remarks>
internal sealed class ProportionalRateReduction
{
    private long _delivered;
    private long _out;
    private long _recoverFs;
    private long _quota;

    /// <summary>Bytes that may be sent now (RFC 6937's sndcnt less what was sent since).</summary>
    public long Quota => _quota;

    /// <summary>RFC 6937 3: the episode starts with <paramref name="flightSize"/> bytes outstanding (RecoverFS).</summary>
    /// <param name="flightSize">snd.nxt - snd.una when recovery starts.</param>
    public void Start(long flightSize)
    {
        _delivered = 0;
        _out = 0;
        _recoverFs = Math.Max(flightSize, 1);
        _quota = 0;
    }

    /// <summary>RFC 6937 3, on every ACK during recovery: recomputes how much may be sent.</summary>
    /// <param name="deliveredData">Bytes this ACK newly acknowledged or SACKed (DeliveredData).</param>
    /// <param name="pipe">The data in flight after it (RFC 6675 pipe).</param>
    /// <param name="ssthresh">The target the congestion controller set.</param>
    /// <param name="mss">The send MSS.</param>
    public void OnAck(long deliveredData, long pipe, long ssthresh, int mss)
    {
        _delivered += deliveredData;
        long sendCount;
        if (pipe > ssthresh)
        {
            // Proportional rate reduction: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            long target = (long)(((Int128)_delivered * ssthresh + _recoverFs - 1) / _recoverFs);
            sendCount = target - _out;
        }
        else
        {
            // Slow-start reduction bound: MAX(prr_delivered - prr_out, DeliveredData) + MSS.
            long limit = Math.Max(_delivered - _out, deliveredData) + mss;
            sendCount = Math.Min(ssthresh - pipe, limit);
        }

        _quota = Math.Max(sendCount, 0);
    }

    /// <summary>Lets at least <paramref name="bytes"/> out now (the fast retransmit on entering recovery).</summary>
    /// <param name="bytes">The bytes.</param>
    public void AllowAtLeast(long bytes) => _quota = Math.Max(_quota, bytes);

    /// <summary>Bytes went out during recovery (prr_out).</summary>
    /// <param name="bytes">The segment's length.</param>
    public void OnSent(long bytes)
    {
        _out += bytes;
        _quota = Math.Max(_quota - bytes, 0);
    }
}
