namespace Protocols.Ip;

/// <summary>
/// Identifies one scheduled timer of a <see cref="TimerQueue"/>, for <see cref="TimerQueue.Cancel"/>.
/// The default value identifies no timer; a handle whose timer has fired or been cancelled is stale
/// and cancelling it again does nothing.
/// </summary>
public readonly struct TimerHandle : IEquatable<TimerHandle>
{
    internal TimerHandle(TimerQueue.Entry entry, long id)
    {
        Entry = entry;
        Id = id;
    }

    internal TimerQueue.Entry? Entry { get; }

    internal long Id { get; }

    /// <summary>True for a handle returned by <see cref="TimerQueue.Schedule"/> (stale or not); false for the default value.</summary>
    public bool IsAllocated => Entry is not null;

    /// <inheritdoc/>
    public bool Equals(TimerHandle other) => ReferenceEquals(Entry, other.Entry) && Id == other.Id;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TimerHandle other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Id.GetHashCode();

    /// <summary>Equality.</summary>
    public static bool operator ==(TimerHandle left, TimerHandle right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(TimerHandle left, TimerHandle right) => !left.Equals(right);
}

/// <summary>
/// The stack's timers: a binary min-heap ordered by due time (then by scheduling order), with
/// lazily deleted cancellations. Schedule and the removal of the earliest timer are O(log n);
/// Cancel is O(1) (the entry stays in the heap, marked, until it reaches the top or the heap is
/// compacted when cancelled entries outnumber live ones). Only used on the stack's loop: no locks.
/// </summary>
public sealed class TimerQueue
{
    private const int CompactThreshold = 1024;
    private const int MaxPooledEntries = 4096;

    private readonly NetworkStack _stack;
    private readonly Stack<Entry> _pool = new();
    private Entry[] _heap = new Entry[64];
    private int _heapCount;
    private int _cancelledInHeap;
    private long _nextId = 1;

    internal TimerQueue(NetworkStack stack) => _stack = stack;

    /// <summary>The number of armed timers (scheduled, neither fired nor cancelled).</summary>
    public int Count => _heapCount - _cancelledInHeap;

    /// <summary>The due time of the earliest armed timer, or null when none is armed.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            DropCancelledTop();
            return _heapCount == 0 ? null : new DateTimeOffset(_heap[0].DueTicks, TimeSpan.Zero);
        }
    }

    /// <summary>Arms a timer that runs <paramref name="callback"/> on the loop once the stack's time reaches <paramref name="due"/>.</summary>
    /// <param name="due">When to run; a time already past runs at the next poll.</param>
    /// <param name="callback">What to run; receives the stack.</param>
    /// <returns>A handle for <see cref="Cancel"/>.</returns>
    public TimerHandle Schedule(DateTimeOffset due, Action<NetworkStack> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Entry entry = _pool.Count > 0 ? _pool.Pop() : new Entry();
        entry.DueTicks = due.UtcTicks;
        entry.Id = _nextId++;
        entry.Callback = callback;
        entry.Cancelled = false;
        Push(entry);
        return new TimerHandle(entry, entry.Id);
    }

    /// <summary>Disarms a timer.</summary>
    /// <returns>True when the timer was armed; false for a stale or default handle.</returns>
    public bool Cancel(TimerHandle handle)
    {
        Entry? entry = handle.Entry;
        if (entry is null || entry.Id != handle.Id || entry.Cancelled || entry.HeapIndex < 0)
        {
            return false;
        }

        entry.Cancelled = true;
        entry.Callback = null;
        _cancelledInHeap++;
        if (_cancelledInHeap > CompactThreshold && _cancelledInHeap > _heapCount / 2)
        {
            Compact();
        }

        return true;
    }

    /// <summary>Runs the timers due at or before <paramref name="now"/> that were armed before this call began.</summary>
    /// <returns>The number of callbacks run.</returns>
    internal int RunDue(DateTimeOffset now)
    {
        long nowTicks = now.UtcTicks;

        // Timers armed by the callbacks below (even for a time already past) wait for the next
        // poll, so a callback that re-arms itself at "now" cannot keep this loop going forever.
        long firstNewId = _nextId;
        int ran = 0;
        while (_heapCount > 0)
        {
            Entry top = _heap[0];
            if (top.Cancelled)
            {
                RemoveTop();
                _cancelledInHeap--;
                Recycle(top);
                continue;
            }

            if (top.DueTicks > nowTicks || top.Id >= firstNewId)
            {
                break;
            }

            RemoveTop();
            Action<NetworkStack>? callback = top.Callback;
            Recycle(top);
            ran++;
            _stack.InvokeCallback(callback!);
        }

        return ran;
    }

    private void DropCancelledTop()
    {
        while (_heapCount > 0 && _heap[0].Cancelled)
        {
            Entry top = _heap[0];
            RemoveTop();
            _cancelledInHeap--;
            Recycle(top);
        }
    }

    private void Recycle(Entry entry)
    {
        // A recycled entry gets a new id when reused, so old handles to it stay stale.
        entry.Callback = null;
        entry.Cancelled = false;
        entry.HeapIndex = -1;
        entry.Id = 0;
        if (_pool.Count < MaxPooledEntries)
        {
            _pool.Push(entry);
        }
    }

    private void Compact()
    {
        int kept = 0;
        for (int i = 0; i < _heapCount; i++)
        {
            Entry e = _heap[i];
            if (e.Cancelled)
            {
                Recycle(e);
            }
            else
            {
                _heap[kept] = e;
                e.HeapIndex = kept;
                kept++;
            }
        }

        Array.Clear(_heap, kept, _heapCount - kept);
        _heapCount = kept;
        _cancelledInHeap = 0;
        for (int i = (_heapCount / 2) - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    private void Push(Entry entry)
    {
        if (_heapCount == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
        }

        _heap[_heapCount] = entry;
        entry.HeapIndex = _heapCount;
        _heapCount++;
        SiftUp(_heapCount - 1);
    }

    private void RemoveTop()
    {
        _heap[0].HeapIndex = -1;
        _heapCount--;
        if (_heapCount > 0)
        {
            _heap[0] = _heap[_heapCount];
            _heap[0].HeapIndex = 0;
            _heap[_heapCount] = null!;
            SiftDown(0);
        }
        else
        {
            _heap[0] = null!;
        }
    }

    private static bool Before(Entry a, Entry b) => a.DueTicks < b.DueTicks || (a.DueTicks == b.DueTicks && a.Id < b.Id);

    private void SiftUp(int index)
    {
        Entry item = _heap[index];
        while (index > 0)
        {
            int parent = (index - 1) / 2;
            Entry p = _heap[parent];
            if (!Before(item, p))
            {
                break;
            }

            _heap[index] = p;
            p.HeapIndex = index;
            index = parent;
        }

        _heap[index] = item;
        item.HeapIndex = index;
    }

    private void SiftDown(int index)
    {
        Entry item = _heap[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= _heapCount)
            {
                break;
            }

            if (child + 1 < _heapCount && Before(_heap[child + 1], _heap[child]))
            {
                child++;
            }

            Entry c = _heap[child];
            if (!Before(c, item))
            {
                break;
            }

            _heap[index] = c;
            c.HeapIndex = index;
            index = child;
        }

        _heap[index] = item;
        item.HeapIndex = index;
    }

    internal sealed class Entry
    {
        public long DueTicks;
        public long Id;
        public Action<NetworkStack>? Callback;
        public bool Cancelled;
        public int HeapIndex = -1;
    }
}
