namespace Protocols.Tcp.Engine;

/// <summary>
/// The send side's byte queue (RFC 9293 3.3.1, the "send sequence space"): the bytes the application
/// wrote that the peer has not acknowledged yet, addressed by sequence number, plus the FIN marker.
/// </summary>
/// <remarks>
/// <para>
/// Layout in sequence space, from <see cref="SndUna"/>:
/// <c>[SND.UNA .. SND.MAX)</c> sent and unacknowledged (<see cref="InFlight"/>), then the unsent
/// data (<see cref="Unsent"/>), then, once <see cref="CompleteWrites"/> was called, the FIN, which
/// occupies one sequence number after the last data byte (RFC 9293 3.4). SND.MAX is the highest
/// sequence number ever sent (as reported by <see cref="MarkSent"/>); the engine keeps its own
/// SND.NXT, which may go back to SND.UNA on a retransmission timeout.
/// </para>
/// <para>
/// The bytes sit in one ring, rented from <see cref="PooledRing.Pool"/> on the
/// first write so that idle connections cost no buffer; it starts at <see cref="InitialRingSize"/>
/// bytes and doubles (copying once per doubling, returning the old ring) up to the capacity, and
/// <see cref="Release"/> returns it when the connection no longer sends. Nothing else allocates: reads hand out at most two spans of the
/// ring (<see cref="GetSegment"/>) or copy (<see cref="CopyTo"/>). Sans-IO: no clock, no locks;
/// the owning loop calls it. Sequence numbers are <see cref="SeqNum"/>s compared modulo 2^32
/// (RFC 9293 3.4), which is valid because the buffered span is far below 2^31.
/// </para>
/// </remarks>
internal sealed class SendBuffer
{
    /// <summary>The default capacity: 256 KiB.</summary>
    public const int DefaultCapacity = 256 * 1024;

    /// <summary>The largest capacity: sequence comparisons modulo 2^32 need spans below 2^30 to stay unambiguous.</summary>
    public const int MaxCapacity = 1 << 30;

    /// <summary>The size of the ring when it is first allocated (or the capacity, when smaller).</summary>
    public const int InitialRingSize = PooledRing.InitialSize;

    private int _capacity;
    private byte[]? _ring; // rented from PooledRing.Pool; may be longer than _size
    private int _size; // the ring's logical length: all index arithmetic uses it, never _ring.Length
    private int _head;   // ring index of the byte at SND.UNA
    private int _length; // data bytes held, starting at SND.UNA
    private SeqNum _sndUna;
    private SeqNum _sndMax;
    private bool _finQueued;
    private bool _finAcked;

    /// <summary>Creates an empty buffer whose first data byte will carry <paramref name="initialSequence"/>.</summary>
    /// <param name="initialSequence">The sequence number of the first data byte: ISS + 1 (the SYN takes ISS).</param>
    /// <param name="capacity">The most data bytes held at once (1 .. <see cref="MaxCapacity"/>).</param>
    public SendBuffer(SeqNum initialSequence, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        _capacity = capacity;
        Reset(initialSequence);
    }

    /// <summary>The most data bytes the buffer holds. Autotuning may raise it (<see cref="Grow"/>).</summary>
    public int Capacity => _capacity;

    /// <summary>Raises <see cref="Capacity"/> to <paramref name="capacity"/> (never lowers it). The ring itself grows only as data is written.</summary>
    /// <param name="capacity">The new capacity, at most <see cref="MaxCapacity"/>.</param>
    /// <returns>Whether the capacity grew.</returns>
    public bool Grow(int capacity)
    {
        if (capacity <= _capacity)
        {
            return false;
        }

        _capacity = Math.Min(capacity, MaxCapacity);
        return true;
    }

    /// <summary>Bytes of ring allocated now (0 before the first write and after <see cref="Release"/>).</summary>
    public int AllocatedBytes => _size;

    /// <summary>SND.UNA: the oldest unacknowledged sequence number (RFC 9293 3.3.1).</summary>
    public SeqNum SndUna => _sndUna;

    /// <summary>SND.MAX: one past the highest sequence number sent so far.</summary>
    public SeqNum SndMax => _sndMax;

    /// <summary>Data bytes held: sent-but-unacknowledged plus unsent (the FIN is not counted).</summary>
    public int Buffered => _length;

    /// <summary>Room for more application bytes; <see cref="Write"/> accepts at most this many.</summary>
    public int Free => _finQueued ? 0 : _capacity - _length;

    /// <summary>Sequence numbers sent and not acknowledged yet (SND.MAX - SND.UNA), including a sent FIN.</summary>
    public int InFlight => _sndMax - _sndUna;

    /// <summary>Data bytes never sent yet (after SND.MAX).</summary>
    public int Unsent => _length - Math.Min(InFlight, _length);

    /// <summary>Whether the application finished writing (<see cref="CompleteWrites"/>): a FIN follows the data.</summary>
    public bool IsWriteCompleted => _finQueued;

    /// <summary>The sequence number the FIN occupies; meaningful once <see cref="IsWriteCompleted"/>.</summary>
    public SeqNum FinSequence => _finAcked ? _sndUna - 1 : _sndUna + _length;

    /// <summary>Whether the FIN was sent (SND.MAX went past it).</summary>
    public bool IsFinSent => _finQueued && (_finAcked || InFlight > _length);

    /// <summary>Whether the peer acknowledged the FIN (RFC 9293 3.10.7.4: FIN-WAIT-1 -> FIN-WAIT-2, CLOSING -> TIME-WAIT, LAST-ACK -> CLOSED).</summary>
    public bool IsFinAcknowledged => _finAcked;

    /// <summary>One past the last sequence number the buffer can send: the data end, plus one for a queued FIN.</summary>
    public SeqNum SequenceEnd => _sndUna + _length + (_finQueued && !_finAcked ? 1 : 0);

    /// <summary>Empties the buffer and restarts it at <paramref name="initialSequence"/> (ISS + 1). Keeps the ring.</summary>
    /// <param name="initialSequence">The sequence number of the next data byte.</param>
    public void Reset(SeqNum initialSequence)
    {
        _head = 0;
        _length = 0;
        _sndUna = initialSequence;
        _sndMax = initialSequence;
        _finQueued = false;
        _finAcked = false;
    }

    /// <summary>
    /// Appends application bytes after the existing ones; returns how many fit (0 when full: the
    /// writer waits for <see cref="Acknowledge"/> to free space).
    /// </summary>
    /// <param name="data">The bytes to send.</param>
    /// <returns>The number of bytes accepted, a prefix of <paramref name="data"/>.</returns>
    /// <exception cref="InvalidOperationException">After <see cref="CompleteWrites"/>: nothing may follow the FIN.</exception>
    public int Write(ReadOnlySpan<byte> data)
    {
        if (_finQueued)
        {
            throw new InvalidOperationException("Writes were completed: no data may follow the FIN.");
        }

        int count = Math.Min(data.Length, _capacity - _length);
        if (count == 0)
        {
            return 0;
        }

        EnsureRing(_length + count);
        int tail = Wrap(_head + _length);
        int first = Math.Min(count, _size - tail);
        data[..first].CopyTo(_ring.AsSpan(tail));
        data[first..count].CopyTo(_ring);
        _length += count;
        return count;
    }

    /// <summary>
    /// Queues the FIN after the data written so far (the application's CLOSE or half-close,
    /// RFC 9293 3.10.4); the FIN takes sequence number <see cref="FinSequence"/>. Idempotent.
    /// </summary>
    public void CompleteWrites() => _finQueued = true;

    /// <summary>
    /// Records that everything before <paramref name="sndNxt"/> has been sent, moving SND.MAX
    /// forward. Sending again below SND.MAX (a retransmission) leaves it unchanged.
    /// </summary>
    /// <param name="sndNxt">The sequence number following the last one sent.</param>
    /// <exception cref="ArgumentOutOfRangeException">Beyond <see cref="SequenceEnd"/> or before SND.UNA: the engine sent what the buffer does not hold.</exception>
    public void MarkSent(SeqNum sndNxt)
    {
        int offset = sndNxt - _sndUna;
        int end = SequenceEnd - _sndUna;
        if (offset < 0 || offset > end)
        {
            throw new ArgumentOutOfRangeException(nameof(sndNxt), sndNxt.Value, $"Outside [SND.UNA {_sndUna}, end {SequenceEnd}].");
        }

        if (offset > InFlight)
        {
            _sndMax = sndNxt;
        }
    }

    /// <summary>
    /// Processes SEG.ACK (RFC 9293 3.10.7.4, ESTABLISHED "If SND.UNA &lt; SEG.ACK =&lt; SND.NXT, then
    /// set SND.UNA &lt;- SEG.ACK"): frees the acknowledged bytes and notes an acknowledged FIN.
    /// </summary>
    /// <param name="segAck">The segment's acknowledgment number.</param>
    /// <param name="freedBytes">Data bytes released (the FIN not counted); 0 for a duplicate or old ACK.</param>
    /// <returns>
    /// <see langword="false"/> when SEG.ACK acknowledges something not yet sent (beyond SND.MAX): the
    /// RFC says to send an ACK and drop the segment; the buffer is unchanged. <see langword="true"/>
    /// otherwise, including duplicates (SEG.ACK =&lt; SND.UNA), which change nothing.
    /// </returns>
    public bool Acknowledge(SeqNum segAck, out int freedBytes)
    {
        freedBytes = 0;
        int offset = segAck - _sndUna;
        if (offset <= 0)
        {
            return true; // RFC 9293 3.10.7.4: a duplicate ACK can be ignored here (congestion control counts it)
        }

        if (offset > InFlight)
        {
            return false;
        }

        int data = Math.Min(offset, _length);
        _head = data == 0 ? _head : Wrap(_head + data);
        _length -= data;
        if (_length == 0)
        {
            _head = 0; // keeps the next writes contiguous
        }

        if (offset > data)
        {
            _finAcked = true; // the only sequence number after the data is the FIN's
        }

        _sndUna = segAck;
        freedBytes = data;
        return true;
    }

    /// <summary>
    /// Copies the data starting at sequence number <paramref name="from"/> into
    /// <paramref name="destination"/>, for a first transmission or a retransmission.
    /// </summary>
    /// <param name="from">A sequence number in [SND.UNA, SND.UNA + <see cref="Buffered"/>].</param>
    /// <param name="destination">Where to copy; its length bounds the copy.</param>
    /// <returns>The bytes copied: the smaller of the destination and the data held from <paramref name="from"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> is not inside the held data.</exception>
    public int CopyTo(SeqNum from, Span<byte> destination)
    {
        int count = GetSegment(from, destination.Length, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
        first.CopyTo(destination);
        second.CopyTo(destination[first.Length..]);
        return count;
    }

    /// <summary>
    /// The data starting at sequence number <paramref name="from"/>, at most
    /// <paramref name="maxLength"/> bytes, as one or two spans of the ring (two when the range wraps
    /// around the end of the ring). Zero-copy; the spans stay valid until the next
    /// <see cref="Write"/>, <see cref="Acknowledge"/> or <see cref="Reset"/>.
    /// </summary>
    /// <param name="from">A sequence number in [SND.UNA, SND.UNA + <see cref="Buffered"/>].</param>
    /// <param name="maxLength">The most bytes wanted (e.g. the effective MSS or the usable window).</param>
    /// <param name="first">The first part, in sequence order.</param>
    /// <param name="second">The continuation, empty unless the range wraps.</param>
    /// <returns>The total length of the two spans.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> is not inside the held data, or <paramref name="maxLength"/> is negative.</exception>
    public int GetSegment(SeqNum from, int maxLength, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        int offset = from - _sndUna;
        if (offset < 0 || offset > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, $"Outside the held data [{_sndUna}, {_sndUna + _length}].");
        }

        int count = Math.Min(maxLength, _length - offset);
        if (count == 0)
        {
            first = default;
            second = default;
            return 0;
        }

        int start = Wrap(_head + offset);
        int firstLength = Math.Min(count, _size - start);
        first = _ring.AsSpan(start, firstLength);
        second = _ring.AsSpan(0, count - firstLength);
        return count;
    }

    /// <summary>
    /// Drops the ring and any data still held (the connection will send nothing more: TIME-WAIT
    /// or CLOSED); the sequence numbers stay. A later <see cref="Write"/> would allocate again.
    /// </summary>
    public void Release()
    {
        ReturnRing();
        _head = 0;
        _length = 0;
        if (InFlight > 0 && !_finAcked)
        {
            _sndMax = _sndUna;
        }
    }

    // Grows the ring (doubling, up to the capacity) so that it holds `needed` bytes; copies the held bytes to its start.
    private void EnsureRing(int needed)
    {
        if (PooledRing.Grow(ref _ring, ref _size, needed, _capacity, _head, _ring is null ? 0 : _length))
        {
            _head = 0;
        }
    }

    // Gives the ring back to the pool (a released buffer holds nothing; DESIGN.md: pooled buffers).
    private void ReturnRing() => PooledRing.Return(ref _ring, ref _size);

    private int Wrap(int index) => index >= _size ? index - _size : index;
}
