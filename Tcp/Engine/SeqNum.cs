namespace Protocols.Tcp.Engine;

/// <summary>
/// A TCP sequence number: a point in the 2^32 sequence space, compared modulo 2^32
/// (RFC 9293 3.4). <c>a &lt; b</c> means "b lies less than half the space after a": the
/// signed 32-bit difference <c>(int)(a - b)</c> is negative, as in the BSD and Linux
/// <c>SEQ_LT</c>/<c>before()</c> macros.
/// </summary>
/// <remarks>
/// <para>The comparison is only meaningful for numbers less than 2^31 apart, which TCP
/// guarantees because windows are at most 2^30 (RFC 7323 2.3). At exactly 2^31 apart the
/// signed difference is <see cref="int.MinValue"/> in both directions, so <c>a &lt; b</c> and
/// <c>b &lt; a</c> are both true (and both <c>&gt;</c> are false). RFC 9293 leaves this case
/// undefined; it is kept as is (branch-free, same as the kernels) and callers must not rely
/// on it.</para>
/// <para>The operators are therefore not a total order: <see cref="SeqNum"/> deliberately
/// does not implement <see cref="IComparable{T}"/>, so it cannot be sorted by accident.</para>
/// </remarks>
/// <param name="Value">The raw 32-bit sequence number as carried on the wire.</param>
public readonly record struct SeqNum(uint Value)
{
    /// <summary>Half of the sequence space, 2^31: the distance at which ordering breaks down.</summary>
    public const uint HalfSpace = 1u << 31;

    /// <summary>Wraps a raw sequence number.</summary>
    public static explicit operator SeqNum(uint value) => new(value);

    /// <summary>The raw sequence number.</summary>
    public static explicit operator uint(SeqNum seq) => seq.Value;

    /// <summary>The sequence number <paramref name="count"/> octets later (modulo 2^32).</summary>
    public static SeqNum operator +(SeqNum seq, int count) => new(unchecked(seq.Value + (uint)count));

    /// <summary>The sequence number <paramref name="count"/> octets earlier (modulo 2^32).</summary>
    public static SeqNum operator -(SeqNum seq, int count) => new(unchecked(seq.Value - (uint)count));

    /// <summary>
    /// The signed distance <c>left - right</c>, in (-2^31, 2^31): positive when
    /// <paramref name="left"/> is after <paramref name="right"/>. At exactly 2^31 apart the
    /// result is <see cref="int.MinValue"/>.
    /// </summary>
    public static int operator -(SeqNum left, SeqNum right) => unchecked((int)(left.Value - right.Value));

    /// <summary>RFC 9293 3.4 "&lt;": <paramref name="left"/> comes before <paramref name="right"/>.</summary>
    public static bool operator <(SeqNum left, SeqNum right) => left - right < 0;

    /// <summary>RFC 9293 3.4 "=&lt;".</summary>
    public static bool operator <=(SeqNum left, SeqNum right) => left - right <= 0;

    /// <summary>RFC 9293 3.4 "&gt;": <paramref name="left"/> comes after <paramref name="right"/>.</summary>
    public static bool operator >(SeqNum left, SeqNum right) => left - right > 0;

    /// <summary>RFC 9293 3.4 "&gt;=".</summary>
    public static bool operator >=(SeqNum left, SeqNum right) => left - right >= 0;

    /// <summary>
    /// The forward distance from <paramref name="from"/> to <paramref name="to"/>: how many
    /// octets must be added to <paramref name="from"/> to reach <paramref name="to"/>, in
    /// [0, 2^32). Unlike the signed difference this never goes negative, which suits lengths of
    /// windows and queues that start at <paramref name="from"/>.
    /// </summary>
    public static uint Distance(SeqNum from, SeqNum to) => unchecked(to.Value - from.Value);

    /// <summary>The later of two sequence numbers (modulo comparison).</summary>
    public static SeqNum Max(SeqNum a, SeqNum b) => a >= b ? a : b;

    /// <summary>The earlier of two sequence numbers (modulo comparison).</summary>
    public static SeqNum Min(SeqNum a, SeqNum b) => a <= b ? a : b;

    /// <summary>
    /// Whether this number lies in the half-open window [<paramref name="start"/>,
    /// <paramref name="start"/> + <paramref name="length"/>). An empty window contains nothing.
    /// Exact for any length below 2^32, including across the wrap.
    /// </summary>
    public bool InWindow(SeqNum start, uint length) => Distance(start, this) < length;

    /// <summary>
    /// Whether <paramref name="low"/> =&lt; <paramref name="value"/> =&lt; <paramref name="high"/>,
    /// both ends inclusive, walking forward from <paramref name="low"/>: the shape of RFC 9293
    /// 3.4's "SND.UNA &lt; SEG.ACK =&lt; SND.NXT" once the strict end is moved by one. The range is
    /// taken forward from <paramref name="low"/>, so when <paramref name="high"/> is before
    /// <paramref name="low"/> it is the long way round the space; callers keep ranges below 2^31.
    /// </summary>
    public static bool Between(SeqNum low, SeqNum value, SeqNum high) => Distance(low, value) <= Distance(low, high);

    /// <summary>
    /// RFC 9293 3.10.7.4, first check: whether a segment occupying
    /// [<paramref name="segSeq"/>, <paramref name="segSeq"/> + <paramref name="segLen"/>)
    /// is acceptable for a receive window [<paramref name="rcvNxt"/>,
    /// <paramref name="rcvNxt"/> + <paramref name="rcvWnd"/>).
    /// </summary>
    /// <param name="segSeq">SEG.SEQ, the first sequence number of the segment.</param>
    /// <param name="segLen">SEG.LEN: the data length plus one for SYN and one for FIN.</param>
    /// <param name="rcvNxt">RCV.NXT, the next sequence number expected.</param>
    /// <param name="rcvWnd">RCV.WND, the receive window in octets (already scaled).</param>
    /// <returns>True when some part of the segment (or, for an empty one, its position) lies in the
    /// window. For a segment with data that starts before the window and ends after it this
    /// returns true where the RFC's literal wording says false; see the comment in the body.</returns>
    public static bool IsSegmentAcceptable(SeqNum segSeq, uint segLen, SeqNum rcvNxt, uint rcvWnd)
    {
        if (segLen == 0)
        {
            // RFC 9293 3.10.7.4: length 0, window 0 -> SEG.SEQ = RCV.NXT;
            // length 0, window > 0 -> RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
            return rcvWnd == 0 ? segSeq == rcvNxt : segSeq.InWindow(rcvNxt, rcvWnd);
        }

        // RFC 9293 3.10.7.4: length > 0, window 0 -> not acceptable. (The engine still
        // processes valid ACKs, URGs and RSTs of such segments; that is its concern, not this test's.)
        if (rcvWnd == 0)
        {
            return false;
        }

        // RFC 9293 3.10.7.4: length > 0, window > 0 -> the first or the last octet of the
        // segment lies in the window: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or
        // RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND. Read literally, a segment that starts
        // before the window and ends after it satisfies neither, although it carries the whole
        // window's worth of new data; like Linux (tcp_sequence) we accept any overlap, which is
        // the RFC's two conditions plus that one case: the segment starts in the window, or the
        // window starts (RCV.NXT) inside the segment. The engine then trims it to the window.
        return segSeq.InWindow(rcvNxt, rcvWnd) || rcvNxt.InWindow(segSeq, segLen);
    }

    /// <summary>The decimal value.</summary>
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
