namespace Protocols.Tcp.Engine;

/// <summary>
/// The segment sizes of one connection (RFC 9293 3.7.1, RFC 1191, RFC 8201): the MSS we announce,
/// the peer's, the path's, and from them the effective send MSS and the size of a full segment
/// from the peer. IPv6 differs in the header size (60 bytes of IPv6 and TCP header, not 40) and the
/// default MSS (1220, RFC 8200 8.3 and RFC 9293 3.7.1).
/// </summary>
internal sealed class SegmentSizes
{
    /// <summary>RFC 9293 3.7.1: the MSS assumed over IPv4 when the peer sends no MSS option.</summary>
    public const int DefaultPeerMss = 536;

    /// <summary>RFC 9293 3.7.1 / RFC 8200 8.3: the MSS assumed over IPv6 when the peer sends none (1280 - 60).</summary>
    public const int DefaultPeerMssIpv6 = 1220;

    /// <summary>The smallest send MSS accepted from a peer or from ICMP (Linux's tcp_min_snd_mss, 48).</summary>
    public const int MinimumMss = 48;

    private readonly int _headers;
    private readonly int _defaultPeerMss;
    private int _peerMss;
    private int _pathMss = int.MaxValue; // lowered by ICMP fragmentation needed / packet too big (RFC 1191, RFC 8201)
    private int _largestReceived; // Linux's rcv_mss estimate: the peer may send less than we announced

    /// <summary>Sizes for a connection announcing <paramref name="announcedMss"/> (clamped so that timestamps still leave the minimum).</summary>
    /// <param name="announcedMss">The MSS to announce (RFC 9293 3.7.1: the interface MTU minus 40, or 60 over IPv6).</param>
    /// <param name="ipv6">The connection runs over IPv6.</param>
    public SegmentSizes(int announcedMss, bool ipv6 = false)
    {
        Announced = Math.Clamp(announcedMss, MinimumMss + TimestampState.OptionLength, 65495);
        _headers = ipv6 ? 60 : 40;
        _defaultPeerMss = ipv6 ? DefaultPeerMssIpv6 : DefaultPeerMss;
        _peerMss = _defaultPeerMss;
        Send = _defaultPeerMss;
        Receive = _defaultPeerMss;
    }

    /// <summary>The MSS our SYN announces.</summary>
    public int Announced { get; }

    /// <summary>Eff.snd.MSS: payload bytes per segment we send, options excluded.</summary>
    public int Send { get; private set; }

    /// <summary>
    /// The most new data one segment may carry when the route's device cuts super-segments into
    /// segments of <see cref="Send"/> bytes (TSO); 0 when it does not.
    /// </summary>
    public int SegmentationLimit { get; set; }

    /// <summary>
    /// The payload of a segment of new data: a whole number of <see cref="Send"/>-sized wire segments
    /// up to <see cref="SegmentationLimit"/> (a super-segment), or one MSS without TSO. Timers, RTT
    /// samples and congestion control still count bytes; retransmissions stay one MSS.
    /// </summary>
    public int Burst => SegmentationLimit >= 2 * Send ? SegmentationLimit / Send * Send : Send;

    /// <summary>The payload of a full-sized segment from the peer (what we announced, less the timestamp option).</summary>
    public int Receive { get; private set; }

    /// <summary>The peer's SYN announced <paramref name="peerMss"/> (null: none, RFC 9293 3.7.1's 536, or 1220 over IPv6).</summary>
    /// <param name="peerMss">The option's value.</param>
    public void OnPeerMss(int? peerMss) => _peerMss = peerMss is int m ? Math.Max(m, MinimumMss) : _defaultPeerMss;

    /// <summary>
    /// RFC 9293 3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize - IPoptionsize, with the
    /// timestamp option counted in the header (as Linux does).
    /// </summary>
    /// <param name="timestamps">Whether every segment carries timestamps.</param>
    public void Compute(bool timestamps)
    {
        int options = timestamps ? TimestampState.OptionLength : 0;
        Send = Math.Max(Math.Min(Math.Min(_peerMss, Announced), _pathMss) - options, MinimumMss);
        Receive = Math.Max(Announced - options, MinimumMss);
    }

    /// <summary>
    /// RFC 1191 / RFC 5927 7 / RFC 8201: fragmentation needed or packet too big with
    /// <paramref name="nextHopMtu"/> lowers the send MSS to fit; ICMP never raises it.
    /// </summary>
    /// <param name="nextHopMtu">The next-hop MTU (at least 68, RFC 791; 1280 over IPv6, RFC 8200 5).</param>
    /// <param name="timestamps">Whether every segment carries timestamps.</param>
    /// <returns>Whether the send MSS shrank.</returns>
    public bool OnPathMtu(int nextHopMtu, bool timestamps)
    {
        int mss = Math.Max(nextHopMtu - _headers - (timestamps ? TimestampState.OptionLength : 0), MinimumMss);
        _pathMss = Math.Min(_pathMss, nextHopMtu - _headers);
        if (mss >= Send)
        {
            return false;
        }

        Send = mss;
        return true;
    }

    /// <summary>
    /// The size of a full-sized segment from the peer for the delayed-ACK rule (RFC 9293 3.8.6.3:
    /// ACK at least every second one): the announced size, or less when the peer has only ever sent
    /// less (its path MTU may be smaller), but never below the default MSS (536, or 1220 over IPv6).
    /// </summary>
    /// <param name="payloadLength">The payload of the segment just received.</param>
    /// <returns>The full-sized segment's payload.</returns>
    public int FullSizedReceived(int payloadLength)
    {
        _largestReceived = Math.Max(_largestReceived, payloadLength);
        return Math.Min(Receive, Math.Max(_largestReceived, _defaultPeerMss));
    }
}
