namespace Protocols.Tcp.Engine;

/// <summary>What a segment arriving in TIME-WAIT calls for (<see cref="TimeWaitRecord.OnSegment"/>).</summary>
internal enum TimeWaitAction : byte
{
    /// <summary>Drop it silently.</summary>
    None,

    /// <summary>Answer with the TIME-WAIT acknowledgment (<see cref="TimeWaitRecord.Ack"/>).</summary>
    Ack,

    /// <summary>Answer with the acknowledgment if the stack-wide challenge-ACK limit allows (RFC 5961 7).</summary>
    ChallengeAck,
}

/// <summary>
/// A connection in TIME-WAIT once its control block is gone: what RFC 9293 3.10.7.4 and 3.6 still
/// need to answer the peer (the sequence numbers, the window last offered, the timestamp state of
/// RFC 7323 for PAWS and the echo, SACK for a D-SACK) and the 2 MSL deadline. The layer keeps
/// these in a table by 4-tuple, in place of the whole control block, as Linux keeps a
/// tcp_timewait_sock; segments for the 4-tuple come here and get the answers the control block
/// would give in TIME-WAIT, segment for segment.
/// </summary>
internal struct TimeWaitRecord
{
    /// <summary>SND.NXT (all sent is acknowledged: SND.UNA = SND.NXT, the FIN included).</summary>
    public SeqNum SndNxt;

    /// <summary>SND.UNA minus MAX.SND.WND: the oldest acknowledgment number still acceptable (RFC 5961 5.2).</summary>
    public SeqNum OldestAcceptableAck;

    /// <summary>RCV.NXT, past the peer's FIN.</summary>
    public SeqNum RcvNxt;

    /// <summary>The ACK number we last sent (RFC 7323 4.3's Last.ACK.sent).</summary>
    public SeqNum LastAckSent;

    /// <summary>The receive window, in bytes, the acceptability test uses now (the one last advertised).</summary>
    public int AcceptWindow;

    /// <summary>The window, in bytes, once an acknowledgment has advertised <see cref="AckWindow"/>.</summary>
    public int WindowAfterAck;

    /// <summary>The window field of the acknowledgment (already scaled, RFC 7323 2.3).</summary>
    public ushort AckWindow;

    /// <summary>Whether SACK was negotiated (a duplicate gets a D-SACK block, RFC 2883 4).</summary>
    public bool Sack;

    /// <summary>Whether timestamps were negotiated (RFC 7323).</summary>
    public bool Timestamps;

    /// <summary>TS.Recent.</summary>
    public uint TsRecent;

    /// <summary>When TS.Recent was last updated.</summary>
    public Micros TsRecentTime;

    /// <summary>The offset of our timestamp clock.</summary>
    public uint TsOffset;

    /// <summary>When TIME-WAIT ends.</summary>
    public Micros Deadline;

    /// <summary>2 MSL of this connection: the deadline restarts to now plus this on a retransmitted FIN.</summary>
    public Micros Duration;

    /// <summary>A number unique to this record, matching it with its entry in the layer's expiry queue.</summary>
    public long Serial;

    /// <summary>The effective send MSS the connection had, shown in its connection-table row.</summary>
    public int Mss;

    /// <summary>
    /// The control block whose stream the application still held when TIME-WAIT was handed over, or
    /// null when the stream was already closed (then nothing keeps the control block alive). The
    /// layer tells it when the record's deadline moves or the record goes early, so that the held
    /// stream's <see cref="TcpStream.State"/> reads TIME-WAIT exactly as long as the record lasts.
    /// </summary>
    public TcpControlBlock? Held;

    /// <summary>
    /// RFC 9293 3.10.7.4 for a segment arriving in TIME-WAIT, in the control block's order: PAWS
    /// (RFC 7323 5.3), the sequence number, SYN (RFC 5961 4.2), ACK (RFC 5961 5.2). The text and FIN
    /// of an acceptable segment need nothing: the peer's FIN was received. A RST is ignored.
    /// </summary>
    /// <remarks>
    /// RST: RFC 1337 3's fix TW1, "ignore RST segments in TIME-WAIT state". An old duplicate RST, or
    /// one answering an old duplicate ACK, would otherwise end TIME-WAIT early and let old segments
    /// reach a new incarnation of the 4-tuple (TIME-WAIT assassination). Every RST, acceptable or
    /// not, is dropped without an answer and without touching the record (no challenge ACK, no
    /// TS.Recent update, the deadline unchanged). Linux does this only with net.ipv4.tcp_rfc1337 = 1;
    /// its default (0) lets a RST at RCV.NXT end TIME-WAIT, as RFC 9293 3.10.7.4 reads. The control
    /// block in TIME-WAIT does the same as the record.
    /// </remarks>
    /// <param name="seg">The segment.</param>
    /// <param name="now">The current time.</param>
    /// <param name="counters">The stack's counters.</param>
    /// <param name="dsack">The D-SACK block the acknowledgment carries (RFC 2883 4), or an empty block.</param>
    /// <returns>What to do.</returns>
    public TimeWaitAction OnSegment(in TcpSegment seg, Micros now, TcpCounters counters, out TcpSackBlock dsack)
    {
        dsack = default;
        if (seg.Has(TcpFlags.Rst))
        {
            return TimeWaitAction.None; // RFC 1337 3 (TW1): see the remarks
        }

        bool syn = seg.Has(TcpFlags.Syn);

        // RFC 7323 5.3 R1 (PAWS), unless TS.Recent is older than 24 days (RFC 7323 5.5).
        if (Timestamps && seg.Options.Timestamps is TcpTimestamps paws
            && TimestampState.Before(paws.TsVal, TsRecent) && now - TsRecentTime < TimestampState.IdleLimit)
        {
            counters.Add(TcpCounter.PawsRejected);
            return seg.SegmentLength > 0 || syn ? TimeWaitAction.Ack : TimeWaitAction.None;
        }

        int segLen = seg.SegmentLength;
        bool acceptable = seg.Seq == RcvNxt || SeqNum.IsSegmentAcceptable(seg.Seq, (uint)segLen, RcvNxt, (uint)AcceptWindow);
        if (!acceptable)
        {
            if (seg.Has(TcpFlags.Fin) && seg.Seq + segLen == RcvNxt)
            {
                Deadline = now + Duration; // RFC 9293 3.10.7.4: a retransmitted FIN restarts the 2 MSL timeout
            }

            counters.Add(TcpCounter.OutOfWindowSegments);
            int length = seg.Payload.Length;
            if (Sack && length > 0 && seg.Seq + length <= RcvNxt && seg.Seq < RcvNxt)
            {
                dsack = new TcpSackBlock(seg.Seq.Value, (seg.Seq + length).Value); // RFC 2883 4: data that came twice
            }

            return TimeWaitAction.Ack;
        }

        if (Timestamps && seg.Options.Timestamps is TcpTimestamps ts && !TimestampState.Before(ts.TsVal, TsRecent) && seg.Seq <= LastAckSent)
        {
            TsRecent = ts.TsVal; // RFC 7323 4.3
            TsRecentTime = now;
        }

        if (syn)
        {
            return TimeWaitAction.ChallengeAck; // RFC 5961 4.2 (the layer first offers it to RFC 6191's test)
        }

        if (!seg.Has(TcpFlags.Ack))
        {
            return TimeWaitAction.None;
        }

        if (seg.Ack > SndNxt || seg.Ack < OldestAcceptableAck)
        {
            counters.Add(TcpCounter.OutOfWindowAcksDropped);
            return TimeWaitAction.ChallengeAck; // RFC 5961 5.2
        }

        return TimeWaitAction.None;
    }

    /// <summary>
    /// Whether a SYN may end TIME-WAIT and open a new connection on the 4-tuple (RFC 6191 2): its
    /// timestamp is newer than TS.Recent when both sides use timestamps, else its sequence number
    /// lies beyond RCV.NXT (RFC 9293 3.10.7.4, RFC 1122 4.2.2.13).
    /// </summary>
    /// <param name="syn">The segment.</param>
    /// <returns>Whether the layer may drop the record and give the SYN to the listener.</returns>
    public readonly bool CanBeReplacedBySyn(in TcpSegment syn)
    {
        if ((syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn)
        {
            return false;
        }

        if (Timestamps && syn.Options.Timestamps is TcpTimestamps ts)
        {
            return TimestampState.After(ts.TsVal, TsRecent);
        }

        return syn.Seq > RcvNxt;
    }

    /// <summary>
    /// The TIME-WAIT acknowledgment, &lt;SEQ=SND.NXT&gt;&lt;ACK=RCV.NXT&gt;&lt;CTL=ACK&gt;, with
    /// the window, the timestamps (RFC 7323 3.2) and a D-SACK block when one is given; it records
    /// the acknowledgment as sent.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="dsack">A D-SACK block from <see cref="OnSegment"/>, or an empty block.</param>
    /// <returns>The segment.</returns>
    public TcpOutgoingSegment Ack(Micros now, TcpSackBlock dsack)
    {
        var o = new TcpOutgoingSegment { Seq = SndNxt, Ack = RcvNxt, Flags = TcpFlags.Ack, Window = AckWindow };
        if (Timestamps)
        {
            o.Options.Timestamps = new TcpTimestamps(unchecked(TimestampState.Clock(now) + TsOffset), TsRecent);
        }

        if (dsack.LeftEdge != dsack.RightEdge)
        {
            o.Options.ClearSackBlocks();
            o.Options.TryAddSackBlock(dsack);
        }

        AcceptWindow = WindowAfterAck;
        LastAckSent = RcvNxt;
        return o;
    }
}
