using Protocols.Ip;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp;

/// <summary>
/// Receive coalescing in the stack (GRO) for devices that do not coalesce themselves: within one
/// device batch of a poll, consecutive in-order data segments of one established connection are
/// merged into one segment before the engine sees them, as Linux's tcp_gro_receive merges them
/// before TCP input. The engine then handles the run as it handles a super-segment from a
/// coalescing device: one pass of input processing, and one ACK for the run, which its
/// delayed-ACK rule (counted in bytes, RFC 9293 3.8.6.3) sends at once when the run holds two
/// full-sized segments or more. Loop-only.
/// </summary>
/// <remarks>
/// <para>
/// A segment joins the run its flow holds when it has the same IP fields
/// (<see cref="IpDatagram.CoalescingKey"/>: IPv4 TOS and ECN, TTL, DF; IPv6 traffic class, flow
/// label, hop limit), starts where the run ends, carries the same acknowledgment number, data
/// offset and option bytes (timestamps included, as Linux compares them), only ACK and possibly
/// PSH, and no more payload than the run's first segment; the merged datagram stays within
/// 64 KiB. A PSH segment or a shorter one joins and then ends the run. Anything else of the flow
/// (another flag, a gap, a pure ACK, a datagram that may not be coalesced) first delivers the run,
/// so the engine sees the flow's segments in arrival order. The checksum of every segment is
/// verified before it is offered.
/// </para>
/// <para>
/// A run starts only at the connection's RCV.NXT with nothing held out of order, in ESTABLISHED:
/// an out-of-order segment or one that fills a hole reaches the engine alone and is acknowledged
/// at once (RFC 5681 4.2, RFC 9293 3.10.7.4); so does a segment that would start a run with PSH.
/// </para>
/// <para>
/// Copies: the device's frame is valid only during its callback, so a held segment's payload is
/// copied into the run's buffer (one 64 KiB buffer per flow held at once, at most
/// <see cref="MaxFlows"/>, made on first use and kept). The engine then copies the run into the
/// connection's receive ring or a waiting read as it copies any segment; what goes into a read
/// is counted in <see cref="TcpCounter.BytesReadDirectFromRuns"/> (two copies, not one).
/// </para>
/// </remarks>
internal sealed class TcpReceiveCoalescer
{
    /// <summary>The most flows holding a run at once (Linux: MAX_GRO_SKBS, 8); a ninth delivers the oldest run.</summary>
    public const int MaxFlows = 8;

    // The merged datagram stays within the largest IP datagram (64 KiB less one byte).
    private const int MaxDatagram = ushort.MaxValue;

    // The bytes at and after the data offset that must match: the data offset with the reserved bits.
    private const int DataOffsetByte = 12;

    private readonly TcpLayer _layer;
    private readonly Run[] _active = new Run[MaxFlows];
    private readonly Run?[] _free = new Run?[MaxFlows];
    private int _activeCount;
    private int _freeCount;
    private int _made;

    /// <summary>A coalescer delivering to the connections of <paramref name="layer"/>.</summary>
    public TcpReceiveCoalescer(TcpLayer layer) => _layer = layer;

    /// <summary>True while a run is held.</summary>
    public bool IsHolding => _activeCount > 0;

    /// <summary>
    /// Offers a received segment whose checksum verified. Returns true when the coalescer took it
    /// (held in a run, or merged and the run delivered); false when the caller must process it,
    /// in which case any run its flow held has been delivered first.
    /// </summary>
    public bool Offer(in IpDatagram datagram, in TcpFourTuple tuple, in TcpHeader.Reader header, in TcpSegment segment)
    {
        int index = Find(in tuple);
        if (datagram.CoalescingKey == 0 || (segment.Flags & ~TcpFlags.Psh) != TcpFlags.Ack || segment.Payload.IsEmpty)
        {
            if (index >= 0)
            {
                Deliver(index);
            }

            return false;
        }

        bool push = (segment.Flags & TcpFlags.Psh) != 0;
        if (index >= 0)
        {
            Run run = _active[index];
            if (run.Key == datagram.CoalescingKey
                && segment.Seq == run.Seq + run.Length
                && segment.Ack == run.Ack
                && header.Bytes[DataOffsetByte] == run.DataOffsetByte
                && segment.Payload.Length <= run.SegmentSize
                && run.HeaderBytes + run.Length + segment.Payload.Length <= MaxDatagram
                && header.Options.SequenceEqual(run.OptionBytes.AsSpan(0, run.OptionLength)))
            {
                // tcp_gro_receive: the merged segment keeps the first header; the latest window
                // and PSH are carried over (RFC 9293 3.10.7.4: a later segment's window is newer).
                segment.Payload.CopyTo(run.Payload.AsSpan(run.Length));
                run.Length += segment.Payload.Length;
                run.Segments++;
                run.Window = segment.Window;
                if (push || segment.Payload.Length < run.SegmentSize || run.Segments >= _layer.Options.CoalescedRunSegments)
                {
                    run.Flags |= segment.Flags & TcpFlags.Psh;
                    Deliver(index);
                }

                return true;
            }

            Deliver(index);
        }

        // A run starts only in order and without holes, so out-of-order and hole-filling segments
        // reach the engine alone; a PSH segment would end its run at once: no copy for it.
        if (push
            || segment.Payload.Length + datagram.Header.Length + header.HeaderLength > MaxDatagram
            || !_layer.TryGetConnection(in tuple, out TcpConnection? connection)
            || !connection.Tcb.AcceptsInOrderRunAt(segment.Seq))
        {
            return false;
        }

        if (_activeCount == MaxFlows)
        {
            Deliver(0);
        }

        Run started = Rent();
        started.Tuple = tuple;
        started.Connection = connection;
        started.Key = datagram.CoalescingKey;
        started.Seq = segment.Seq;
        started.Ack = segment.Ack;
        started.Flags = segment.Flags;
        started.Window = segment.Window;
        started.Options = segment.Options;
        started.DataOffsetByte = header.Bytes[DataOffsetByte];
        started.OptionLength = header.Options.Length;
        header.Options.CopyTo(started.OptionBytes);
        started.SegmentSize = segment.Payload.Length;
        started.HeaderBytes = datagram.Header.Length + header.HeaderLength;
        segment.Payload.CopyTo(started.Payload);
        started.Length = segment.Payload.Length;
        started.Segments = 1;
        _active[_activeCount++] = started;
        return true;
    }

    /// <summary>Delivers the run <paramref name="tuple"/> holds, if any (before anything else of that flow is processed).</summary>
    public void Flush(in TcpFourTuple tuple)
    {
        int index = Find(in tuple);
        if (index >= 0)
        {
            Deliver(index);
        }
    }

    /// <summary>Delivers every run held, oldest first: the end of a device's batch.</summary>
    public void FlushAll()
    {
        while (_activeCount > 0)
        {
            Deliver(0);
        }
    }

    private int Find(in TcpFourTuple tuple)
    {
        for (int i = 0; i < _activeCount; i++)
        {
            if (_active[i].Tuple.Equals(tuple))
            {
                return i;
            }
        }

        return -1;
    }

    private Run Rent()
    {
        if (_freeCount > 0)
        {
            Run run = _free[--_freeCount]!;
            _free[_freeCount] = null;
            return run;
        }

        _made++;
        return new Run();
    }

    private void Deliver(int index)
    {
        Run run = _active[index];
        Array.Copy(_active, index + 1, _active, index, _activeCount - index - 1);
        _active[--_activeCount] = null!;

        TcpCounters counters = _layer.Counters;
        if (run.Segments > 1)
        {
            counters.Add(TcpCounter.CoalescedRuns);
            counters.Add(TcpCounter.CoalescedSegments, run.Segments);

            // The engine counts one segment per call; the others were received too (Linux's InSegs
            // counts a GRO packet's wire segments).
            counters.Add(TcpCounter.SegmentsReceived, run.Segments - 1);
        }

        TcpConnection connection = run.Connection!;
        run.Connection = null;
        var segment = new TcpSegment(run.Seq, run.Ack, run.Flags, run.Window, run.Options, run.Payload.AsSpan(0, run.Length));
        try
        {
            // The connection was established when the run started, and only this flow's own
            // segments could have changed it since, each of which delivers the run first.
            if (_layer.TryGetConnection(in run.Tuple, out TcpConnection? current) && ReferenceEquals(current, connection))
            {
                // What goes from the run into a waiting read took two copies, not one.
                long direct = counters.BytesReadDirect;
                _layer.DeliverToConnection(connection, in segment, _layer.NowMicros);
                counters.Add(TcpCounter.BytesReadDirectFromRuns, counters.BytesReadDirect - direct);
            }
        }
        finally
        {
            _free[_freeCount++] = run;
        }
    }

    /// <summary>The number of run buffers made so far (at most <see cref="MaxFlows"/>; tests check they are reused).</summary>
    internal int BuffersMade => _made;

    /// <summary>One flow's held run: the first segment's header fields and the merged payload.</summary>
    private sealed class Run
    {
        public readonly byte[] Payload = new byte[MaxDatagram];
        public readonly byte[] OptionBytes = new byte[TcpOptions.MaxLength];
        public TcpFourTuple Tuple;
        public TcpConnection? Connection;
        public ulong Key;
        public SeqNum Seq;
        public SeqNum Ack;
        public TcpFlags Flags;
        public ushort Window;
        public TcpOptions Options;
        public byte DataOffsetByte;
        public int OptionLength;
        public int SegmentSize;
        public int HeaderBytes;
        public int Length;
        public int Segments;
    }
}
