namespace Protocols.Tcp.Engine;

/// <summary>
/// Receive-buffer autotuning by dynamic right-sizing, as Linux's <c>tcp_rcv_space_adjust</c> does
/// it: once per round trip, the bytes the application read in that round trip measure what the
/// path delivers (its bandwidth-delay product, as far as the application keeps up); the buffer,
/// and with it the advertised window, grows to twice that, more while the rate is still climbing,
/// up to a cap. A reader that leaves data behind gets twice what it drains per round trip.
/// </summary>
/// <remarks>
/// <para>The round trip is the receiver's own estimate (Linux's <c>rcv_rtt_est</c>): with
/// timestamps, from the echo in full-sized data segments (RFC 7323 4: our TSval comes back in
/// their TSecr), smoothed by 1/8 and taken once per echoed value; without them, the time one
/// advertised window of data takes to arrive, keeping the smallest. A sender that is not limited
/// by our window fills it in about one round trip, so the second is an upper bound on the RTT.</para>
/// <para>The buffer only grows (the window is never shrunk, RFC 9293 3.8.6); its ring still
/// grows only as data is held (<see cref="ReceiveBuffer"/>), so the cap bounds memory, not the
/// window alone. Sans-IO; no allocation after construction.</para>
/// </remarks>
internal sealed class ReceiveAutoTuner
{
    /// <summary>Segments of slack in the target beyond twice the bytes per round trip (Linux adds 16 MSS).</summary>
    public const int SlackSegments = 16;

    private readonly int _cap;
    private long _rttMicros;
    private uint _lastTsEcr;
    private bool _haveTsEcr;
    private bool _windowTiming;
    private SeqNum _windowEnd;
    private Micros _windowStart;
    private long _read;
    private long _readAtStart;
    private Micros _measureStart;
    private bool _measuring;
    private bool _measured;
    private bool _readerBehind;
    private long _space;

    /// <summary>A tuner growing a buffer up to <paramref name="cap"/> bytes.</summary>
    /// <param name="cap">The most the buffer may grow to.</param>
    /// <param name="initialSpace">The bytes per round trip assumed before a measurement (Linux: the initial window, 10 segments).</param>
    public ReceiveAutoTuner(int cap, int initialSpace)
    {
        _cap = cap;
        _space = Math.Max(initialSpace, 1);
    }

    /// <summary>The receiver's round-trip estimate in microseconds; 0 before one.</summary>
    public long RttMicros => _rttMicros;

    /// <summary>The bytes the application read in the last measured round trip.</summary>
    public long BytesPerRoundTrip => _space;

    /// <summary>
    /// In-order data arrived: updates the round-trip estimate, from the timestamp echo when
    /// <paramref name="echoRtt"/> is given, else by timing one window.
    /// </summary>
    /// <param name="length">The segment's data bytes.</param>
    /// <param name="fullSized">The size of a full segment from the peer.</param>
    /// <param name="tsEcr">The segment's TSecr, when it carried timestamps.</param>
    /// <param name="echoRtt">The time since we sent the TSval it echoes, when timestamps are in use.</param>
    /// <param name="rcvNxt">RCV.NXT after the segment.</param>
    /// <param name="window">The window we advertise now.</param>
    /// <param name="now">The current time.</param>
    public void OnData(int length, int fullSized, uint? tsEcr, Micros? echoRtt, SeqNum rcvNxt, int window, Micros now)
    {
        if (tsEcr is uint echo && echoRtt is Micros rtt)
        {
            // Linux's tcp_rcv_rtt_measure_ts: full-sized segments, each echoed value once.
            if (length >= fullSized && (!_haveTsEcr || echo != _lastTsEcr) && rtt.Value > 0)
            {
                _haveTsEcr = true;
                _lastTsEcr = echo;
                _rttMicros = _rttMicros == 0 ? rtt.Value : _rttMicros + ((rtt.Value - _rttMicros) / 8);
            }

            return;
        }

        // Linux's tcp_rcv_rtt_measure: the time one advertised window takes to arrive, the smallest kept.
        if (_windowTiming && rcvNxt >= _windowEnd)
        {
            long sample = (now - _windowStart).Value;
            if (sample > 0)
            {
                _rttMicros = _rttMicros == 0 ? sample : Math.Min(_rttMicros, sample);
            }

            _windowTiming = false;
        }

        if (!_windowTiming)
        {
            _windowTiming = true;
            _windowEnd = rcvNxt + Math.Max(window, 1);
            _windowStart = now;
        }
    }

    /// <summary>
    /// The application read <paramref name="bytes"/>: once a round trip has passed since the last
    /// measurement, returns the buffer size the reads ask for (0 when it should not grow).
    /// </summary>
    /// <param name="bytes">Bytes just read.</param>
    /// <param name="drained">Whether the read took everything readable (else the application, not the path, sets the pace).</param>
    /// <param name="mss">The size of a full segment from the peer.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The new buffer size wanted, at most the cap; 0: leave it.</returns>
    public int OnRead(int bytes, bool drained, int mss, Micros now)
    {
        _read += bytes;
        _readerBehind |= !drained;
        if (_rttMicros == 0)
        {
            return 0;
        }

        if (!_measuring)
        {
            _measuring = true;
            _measureStart = now;
            _readAtStart = _read - bytes;
            return 0;
        }

        long elapsed = (now - _measureStart).Value;
        if (elapsed < _rttMicros)
        {
            return 0;
        }

        // The bytes read per round trip: what was read since the last measurement, scaled to one
        // RTT (reads come in lumps, and a measurement may span a lump more than a round trip).
        long copied = (long)((Int128)(_read - _readAtStart) * _rttMicros / elapsed);
        long previous = _space;
        bool first = !_measured;
        bool readerBehind = _readerBehind;
        _measured = true;
        _readerBehind = false;
        _measureStart = now;
        _readAtStart = _read;
        if (copied <= previous)
        {
            return 0;
        }

        // Twice the bytes per round trip (the sender's window may double in slow start before the
        // next measurement), plus slack; and up to twice that again in proportion to how fast the
        // rate grew since the last measurement (three times while it doubles per round trip, as in
        // slow start). Not when the rise may be the application's own: at the first measurement
        // (only the initial guess to compare with), or when a read left data behind (the reader
        // sets the pace, and its pace is what the buffer must cover).
        long target = (2 * copied) + ((long)SlackSegments * mss);
        if (!first && !readerBehind)
        {
            target += 2 * target * Math.Min(copied - previous, previous) / previous;
        }

        _space = copied;
        return (int)Math.Min(target, _cap);
    }
}
