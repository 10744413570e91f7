using System.Buffers;
using Protocols.Ip.Devices;

namespace Protocols.Ip.Simulation;

/// <summary>
/// One direction of a simulated link (or the egress port of a simulated segment towards one
/// device): the frames on the wire, their impairments, and the counters. Frames in flight are
/// copies in buffers from the direction's own free list, returned to it once the receiver has
/// seen them or they are dropped, so a steady transfer allocates nothing per frame however many
/// frames are in flight (the shared <see cref="ArrayPool{T}"/> keeps only a few dozen arrays of a
/// size and allocates past that: ~900 bytes per segment on a link with a full window in flight).
/// </summary>
/// <remarks>
/// Thread-safe: a sender and a receiver on different threads may use one direction; under the
/// <see cref="NetworkSimulator"/> harness everything runs on one thread. The receiving device pulls
/// frames whose delivery time has come (the network's clock at or past it).
/// </remarks>
public sealed class LinkDirection
{
    private const int EthernetHeaderLength = 14;

    // The most spare frame buffers a direction keeps (about 100 MB of 1500-byte frames at most).
    private const int MaxRetainedBuffers = 65_536;

    private readonly MemoryNetwork _network;
    private readonly Random _random;
    private readonly bool _ethernet;
    private readonly int _linkMtu;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<InFlightFrame, (long Arrival, long Sequence)> _wire = new();

    // The transmit queue of a rate-limited link: when each queued frame finishes serialising, and its size.
    private readonly Queue<(long DoneTicks, int Bytes)> _transmitQueue = new();

    // Buffers of frames no longer in flight, for reuse; bounded by the most ever in flight (and MaxRetainedBuffers).
    private readonly Stack<byte[]> _free = new();
    private int _queuedBytes;
    private long _busyUntilTicks;
    private long _busyRemainder; // sub-tick remainder of serialisation time, in (bits * ticks/s) mod rate
    private long _sequence;
    private LinkOptions _options;
    private bool _receiverClosed;
    private TaskCompletionSource? _waiter;
    private ITimer? _waiterTimer;

    private long _sent;
    private long _bytesSent;
    private long _delivered;
    private long _bytesDelivered;
    private long _lost;
    private long _duplicated;
    private long _reordered;
    private long _corrupted;
    private long _queueDrops;
    private long _mtuDrops;
    private long _overflowDrops;

    internal LinkDirection(MemoryNetwork network, int id, string name, LinkOptions options, bool ethernet, int linkMtu, Random random)
    {
        options.Validate();
        _network = network;
        Id = id;
        Name = name;
        _options = options;
        _ethernet = ethernet;
        _linkMtu = linkMtu;
        _random = random;
    }

    /// <summary>The direction's number in its network (creation order), part of the trace hash.</summary>
    public int Id { get; }

    /// <summary>A name for traces, e.g. <c>link1.a-&gt;b</c>.</summary>
    public string Name { get; }

    /// <summary>The impairments; may be changed at any time (e.g. <c>Loss = 1</c> to partition the link) and applies to frames sent afterwards.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An invalid option (see <see cref="LinkOptions.Validate"/>).</exception>
    public LinkOptions Options
    {
        get
        {
            lock (_lock)
            {
                return _options;
            }
        }

        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            lock (_lock)
            {
                _options = value;
            }
        }
    }

    /// <summary>The MTU frames are checked against: <see cref="LinkOptions.Mtu"/> or the link's own.</summary>
    public int Mtu => Options.Mtu ?? _linkMtu;

    /// <summary>When the next frame on the wire arrives, or null when none is in flight.</summary>
    public DateTimeOffset? NextDeliveryDue
    {
        get
        {
            lock (_lock)
            {
                return _wire.TryPeek(out _, out var key) ? new DateTimeOffset(key.Arrival, TimeSpan.Zero) : null;
            }
        }
    }

    /// <summary>The earliest arrival strictly after <paramref name="ticks"/>, or null.</summary>
    internal long? NextArrivalAfter(long ticks)
    {
        lock (_lock)
        {
            if (!_wire.TryPeek(out _, out var head))
            {
                return null;
            }

            if (head.Arrival > ticks)
            {
                return head.Arrival;
            }

            // Frames already due wait for their receiver; look past them (rare: nobody polls this end).
            long? earliest = null;
            foreach (var (_, key) in _wire.UnorderedItems)
            {
                if (key.Arrival > ticks && (earliest is null || key.Arrival < earliest))
                {
                    earliest = key.Arrival;
                }
            }

            return earliest;
        }
    }

    /// <summary>A snapshot of the counters.</summary>
    public LinkStatistics Statistics
    {
        get
        {
            lock (_lock)
            {
                return new LinkStatistics(_sent, _bytesSent, _delivered, _bytesDelivered, _lost, _duplicated, _reordered, _corrupted, _queueDrops, _mtuDrops, _overflowDrops, _wire.Count);
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Statistics}";

    /// <summary>Puts a copy of <paramref name="frame"/> on the wire, applying the impairments. Never fails for the sender: drops are counted.</summary>
    internal void Send(ReadOnlySpan<byte> frame)
    {
        long now = _network.Clock.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            LinkOptions o = _options;
            _sent++;
            _bytesSent += frame.Length;

            if (_receiverClosed)
            {
                _overflowDrops++;
                return;
            }

            int ipLength = _ethernet ? frame.Length - EthernetHeaderLength : frame.Length;
            if (ipLength > (o.Mtu ?? _linkMtu))
            {
                _mtuDrops++;
                return;
            }

            // The transmit queue of a rate-limited link: drop-tail, then serialise at the rate.
            long leaveTicks = now;
            if (o.RateBitsPerSecond > 0)
            {
                while (_transmitQueue.TryPeek(out var head) && head.DoneTicks <= now)
                {
                    _transmitQueue.Dequeue();
                    _queuedBytes -= head.Bytes;
                }

                if (_transmitQueue.Count >= o.QueueLimitPackets || _queuedBytes + frame.Length > o.QueueLimitBytes)
                {
                    _queueDrops++;
                    return;
                }

                if (_busyUntilTicks <= now)
                {
                    _busyUntilTicks = now;
                    _busyRemainder = 0;
                }

                // Exact serialisation: bits * ticks-per-second / rate, carrying the remainder so a
                // long run of frames drifts by less than one tick in total.
                long numerator = (frame.Length * 8L * TimeSpan.TicksPerSecond) + _busyRemainder;
                _busyUntilTicks += numerator / o.RateBitsPerSecond;
                _busyRemainder = numerator % o.RateBitsPerSecond;
                leaveTicks = _busyUntilTicks;
                _transmitQueue.Enqueue((leaveTicks, frame.Length));
                _queuedBytes += frame.Length;
            }

            // One draw per impairment for every frame, so enabling one does not shift the others' pattern.
            bool lose = _random.NextDouble() < o.Loss;
            bool corrupt = _random.NextDouble() < o.Corruption;
            bool reorder = _random.NextDouble() < o.Reordering;
            bool duplicate = _random.NextDouble() < o.Duplication;
            long jitter = o.Jitter > TimeSpan.Zero ? _random.NextInt64(0, o.Jitter.Ticks + 1) : 0;

            if (lose)
            {
                _lost++;
                return;
            }

            long arrival = leaveTicks + o.Delay.Ticks + jitter;
            if (reorder)
            {
                _reordered++;
                arrival += o.ReorderDelay.Ticks;
            }

            if (!Enqueue(frame, arrival, o, out InFlightFrame original))
            {
                return;
            }

            if (corrupt && frame.Length > 0)
            {
                _corrupted++;
                Span<byte> bytes = original.Buffer.AsSpan(0, original.Length);
                for (int i = 0; i < o.CorruptionBits; i++)
                {
                    int bit = _random.Next(bytes.Length * 8);
                    bytes[bit >> 3] ^= (byte)(0x80 >> (bit & 7));
                }
            }

            if (duplicate)
            {
                _duplicated++;
                Enqueue(original.Buffer.AsSpan(0, original.Length), arrival, o, out _);
            }
        }

        WakeReceiver();
    }

    private bool Enqueue(ReadOnlySpan<byte> frame, long arrival, LinkOptions o, out InFlightFrame queued)
    {
        if (_wire.Count >= o.MaxFramesInFlight)
        {
            _overflowDrops++;
            queued = default;
            return false;
        }

        byte[] buffer = RentBuffer(frame.Length);
        frame.CopyTo(buffer);
        queued = new InFlightFrame(buffer, frame.Length);
        _wire.Enqueue(queued, (arrival, ++_sequence));
        return true;
    }

    /// <summary>Hands the receiver up to <paramref name="maxFrames"/> frames whose time has come.</summary>
    internal int Receive(FrameHandler handler, int maxFrames)
    {
        int delivered = 0;
        byte[]? spent = null; // the last frame's buffer, back to the free list under the next frame's lock
        try
        {
            while (delivered < maxFrames)
            {
                long now = _network.Clock.GetUtcNow().UtcTicks;
                InFlightFrame frame;
                long arrival;
                lock (_lock)
                {
                    if (spent is not null)
                    {
                        ReturnBuffer(spent);
                        spent = null;
                    }

                    if (!_wire.TryPeek(out _, out var key) || key.Arrival > now)
                    {
                        break;
                    }

                    frame = _wire.Dequeue();
                    arrival = key.Arrival;
                    _delivered++;
                    _bytesDelivered += frame.Length;
                }

                spent = frame.Buffer;
                delivered++;
                ReadOnlySpan<byte> bytes = frame.Buffer.AsSpan(0, frame.Length);
                _network.Record(Id, arrival, bytes);
                handler(bytes);
            }
        }
        finally
        {
            if (spent is not null)
            {
                lock (_lock)
                {
                    ReturnBuffer(spent);
                }
            }
        }

        return delivered;
    }

    /// <summary>Completes when a frame is due for the receiver, when one is put on the wire, when the receiver closes, or on cancellation.</summary>
    internal ValueTask WaitForDeliveryAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_receiverClosed || cancellationToken.IsCancellationRequested)
            {
                return cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled(cancellationToken) : ValueTask.CompletedTask;
            }

            if (_wire.TryPeek(out _, out var key) && key.Arrival <= _network.Clock.GetUtcNow().UtcTicks)
            {
                return ValueTask.CompletedTask;
            }

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = _waiter;
            if (_wire.TryPeek(out _, out key) && _waiterTimer is null)
            {
                // Wake at the earliest arrival, in the clock's own time (virtual or real).
                TimeSpan wait = new DateTimeOffset(key.Arrival, TimeSpan.Zero) - _network.Clock.GetUtcNow();
                _waiterTimer = _network.Clock.CreateTimer(static s => ((LinkDirection)s!).WakeReceiver(), this, wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan);
            }
        }

        return new ValueTask(cancellationToken.CanBeCanceled ? waiter.Task.WaitAsync(cancellationToken) : waiter.Task);
    }

    /// <summary>The receiver closed: frames on the wire are discarded, later ones dropped and counted.</summary>
    internal void CloseReceiver()
    {
        lock (_lock)
        {
            _receiverClosed = true;
            while (_wire.TryDequeue(out InFlightFrame frame, out _))
            {
                _overflowDrops++;
            }

            _free.Clear();
        }

        WakeReceiver();
    }

    // Under _lock. Buffers are at least a full frame of the link's MTU, so one fits any frame the MTU check lets through.
    private byte[] RentBuffer(int length)
    {
        while (_free.TryPop(out byte[]? buffer))
        {
            if (buffer.Length >= length)
            {
                return buffer;
            }
        }

        return new byte[Math.Max(length, _linkMtu + EthernetHeaderLength)];
    }

    // Under _lock.
    private void ReturnBuffer(byte[] buffer)
    {
        if (!_receiverClosed && _free.Count < MaxRetainedBuffers)
        {
            _free.Push(buffer);
        }
    }

    private void WakeReceiver()
    {
        TaskCompletionSource? waiter;
        ITimer? timer;
        lock (_lock)
        {
            waiter = _waiter;
            timer = _waiterTimer;
            _waiter = null;
            _waiterTimer = null;
        }

        timer?.Dispose();
        waiter?.TrySetResult();
    }

    private readonly record struct InFlightFrame(byte[] Buffer, int Length);
}
