namespace Protocols.Ip.Simulation;

/// <summary>
/// A <see cref="TimeProvider"/> whose time moves only when told to: tests advance it, and timers
/// created through it fire synchronously, in due order, on the thread that advances it. With it,
/// <c>Task.Delay(t, clock)</c>, <c>new CancellationTokenSource(t, clock)</c> and every protocol
/// timer run under virtual time, exactly and repeatably.
/// </summary>
/// <remarks>
/// Timers follow <see cref="Timer"/>: a due time of <see cref="Timeout.InfiniteTimeSpan"/> disables
/// the timer, a period of zero or <see cref="Timeout.InfiniteTimeSpan"/> makes it one-shot, and
/// <see cref="ITimer.Change"/> re-arms it relative to the current virtual time. A timer due now
/// fires at the next <see cref="Advance"/>, <see cref="AdvanceTo"/> or <see cref="FireDueTimers"/>,
/// never inside <see cref="CreateTimer"/>. When several timers share a due time they fire in the
/// order they were armed. Advancing is for one thread at a time and not from inside a timer
/// callback; creating, changing and disposing timers is safe from any thread. An exception thrown
/// by a callback propagates out of the advancing call, with time left at that timer's due time.
/// </remarks>
public sealed class VirtualClock : TimeProvider
{
    /// <summary>The time a clock starts at unless told otherwise: 2000-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset DefaultStart = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Armed timers ordered by (due, arming sequence); a timer knows its own key so it can leave.
    private readonly SortedSet<VirtualTimer> _armed = new(DueOrder.Instance);
    private readonly Lock _lock = new();
    private DateTimeOffset _now;
    private long _sequence;
    private int _advancing;

    /// <summary>Creates a clock at <paramref name="start"/> (default <see cref="DefaultStart"/>).</summary>
    /// <param name="start">The initial virtual time; converted to UTC.</param>
    public VirtualClock(DateTimeOffset? start = null)
    {
        _now = (start ?? DefaultStart).ToUniversalTime();
        Start = _now;
    }

    /// <summary>The time the clock started at.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>The current virtual time (UTC).</summary>
    public DateTimeOffset Now
    {
        get
        {
            lock (_lock)
            {
                return _now;
            }
        }
    }

    /// <summary>Virtual time elapsed since <see cref="Start"/>.</summary>
    public TimeSpan Elapsed => Now - Start;

    /// <summary>The due time of the earliest armed timer, or null when none is armed.</summary>
    public DateTimeOffset? NextTimerDue
    {
        get
        {
            lock (_lock)
            {
                return _armed.Count == 0 ? null : new DateTimeOffset(_armed.Min!.DueTicks, TimeSpan.Zero);
            }
        }
    }

    /// <summary>The number of armed timers.</summary>
    public int ArmedTimerCount
    {
        get
        {
            lock (_lock)
            {
                return _armed.Count;
            }
        }
    }

    /// <inheritdoc/>
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Timestamps count 100 ns ticks of virtual time.</summary>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow() => Now;

    /// <summary>The virtual time in ticks (100 ns), consistent with <see cref="GetUtcNow"/>.</summary>
    public override long GetTimestamp() => Now.UtcTicks;

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time forward by <paramref name="delta"/>, firing every timer that falls due on the way.</summary>
    /// <param name="delta">How far to move; zero fires the timers due now.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Called from a timer callback or while another thread advances.</exception>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        AdvanceTo(Now + delta);
    }

    /// <summary>
    /// Moves time forward to <paramref name="target"/>. Timers fire in due order; while each callback
    /// runs, <see cref="Now"/> equals that timer's due time. Periodic timers fire once per period passed.
    /// </summary>
    /// <param name="target">The new time; not earlier than <see cref="Now"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is in the past.</exception>
    /// <exception cref="InvalidOperationException">Called from a timer callback or while another thread advances.</exception>
    public void AdvanceTo(DateTimeOffset target)
    {
        long targetTicks = target.UtcTicks;
        if (Interlocked.CompareExchange(ref _advancing, 1, 0) != 0)
        {
            throw new InvalidOperationException("VirtualClock is already advancing: advance it from one thread, and not from inside a timer callback.");
        }

        try
        {
            lock (_lock)
            {
                if (targetTicks < _now.UtcTicks)
                {
                    throw new ArgumentOutOfRangeException(nameof(target), target, $"Virtual time does not go backwards (now {_now:O}).");
                }
            }

            while (TryTakeDue(targetTicks, out _, out TimerCallback? callback, out object? state))
            {
                callback(state);
            }

            lock (_lock)
            {
                _now = new DateTimeOffset(targetTicks, TimeSpan.Zero);
            }
        }
        finally
        {
            Volatile.Write(ref _advancing, 0);
        }
    }

    /// <summary>Fires the timers due at the current time without moving it.</summary>
    /// <returns>The number of callbacks run.</returns>
    public int FireDueTimers()
    {
        if (Interlocked.CompareExchange(ref _advancing, 1, 0) != 0)
        {
            throw new InvalidOperationException("VirtualClock is already advancing: advance it from one thread, and not from inside a timer callback.");
        }

        try
        {
            int fired = 0;
            long nowTicks = Now.UtcTicks;
            while (TryTakeDue(nowTicks, out _, out TimerCallback? callback, out object? state))
            {
                callback(state);
                fired++;
            }

            return fired;
        }
        finally
        {
            Volatile.Write(ref _advancing, 0);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"VirtualClock {Now:O} (+{Elapsed})";

    // Takes the earliest timer due at or before limitTicks, moves time to its due time, and re-arms
    // it when periodic. Runs under the lock; the caller invokes the callback outside it.
    private bool TryTakeDue(long limitTicks, out VirtualTimer? timer, out TimerCallback callback, out object? state)
    {
        lock (_lock)
        {
            timer = _armed.Count == 0 ? null : _armed.Min;
            if (timer is null || timer.DueTicks > limitTicks)
            {
                timer = null;
                callback = null!;
                state = null;
                return false;
            }

            _armed.Remove(timer);
            if (timer.DueTicks > _now.UtcTicks)
            {
                _now = new DateTimeOffset(timer.DueTicks, TimeSpan.Zero);
            }

            if (timer.PeriodTicks > 0)
            {
                timer.DueTicks += timer.PeriodTicks;
                timer.Sequence = ++_sequence;
                _armed.Add(timer);
            }
            else
            {
                timer.IsArmed = false;
            }

            callback = timer.Callback;
            state = timer.State;
            return true;
        }
    }

    private static long ToTicks(TimeSpan value, string name, bool allowZeroForever)
    {
        if (value == Timeout.InfiniteTimeSpan)
        {
            return -1;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero, name);
        return allowZeroForever && value == TimeSpan.Zero ? -1 : value.Ticks;
    }

    private bool Change(VirtualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        long due = ToTicks(dueTime, nameof(dueTime), allowZeroForever: false);
        long every = ToTicks(period, nameof(period), allowZeroForever: true);
        lock (_lock)
        {
            if (timer.IsDisposed)
            {
                return false;
            }

            if (timer.IsArmed)
            {
                _armed.Remove(timer);
                timer.IsArmed = false;
            }

            if (due >= 0)
            {
                // Saturate instead of overflowing for absurd due times (TimeSpan.MaxValue).
                long now = _now.UtcTicks;
                timer.DueTicks = due > DateTimeOffset.MaxValue.UtcTicks - now ? DateTimeOffset.MaxValue.UtcTicks : now + due;
                timer.PeriodTicks = every;
                timer.Sequence = ++_sequence;
                timer.IsArmed = true;
                _armed.Add(timer);
            }

            return true;
        }
    }

    private void Dispose(VirtualTimer timer)
    {
        lock (_lock)
        {
            if (timer.IsArmed)
            {
                _armed.Remove(timer);
                timer.IsArmed = false;
            }

            timer.IsDisposed = true;
        }
    }

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public long DueTicks { get; set; }

        public long PeriodTicks { get; set; }

        public long Sequence { get; set; }

        public bool IsArmed { get; set; }

        public bool IsDisposed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period) => clock.Change(this, dueTime, period);

        public void Dispose() => clock.Dispose(this);

        public ValueTask DisposeAsync()
        {
            clock.Dispose(this);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class DueOrder : IComparer<VirtualTimer>
    {
        public static readonly DueOrder Instance = new();

        public int Compare(VirtualTimer? x, VirtualTimer? y)
        {
            int byDue = x!.DueTicks.CompareTo(y!.DueTicks);
            return byDue != 0 ? byDue : x.Sequence.CompareTo(y.Sequence);
        }
    }
}
