using Protocols.Ip.Simulation;

namespace Protocols.Ip.Tests.Simulation;

public class VirtualClockTests
{
    private static readonly DateTimeOffset Start = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Starts_at_the_fixed_epoch_and_moves_only_when_advanced()
    {
        var clock = new VirtualClock();
        Assert.Equal(Start, clock.GetUtcNow());
        Assert.Equal(Start, clock.Now);
        long t0 = clock.GetTimestamp();

        clock.Advance(TimeSpan.FromMilliseconds(1500));
        clock.AdvanceTo(Start + TimeSpan.FromSeconds(2));

        Assert.Equal(Start + TimeSpan.FromSeconds(2), clock.GetUtcNow());
        Assert.Equal(TimeSpan.FromSeconds(2), clock.GetElapsedTime(t0));
        Assert.Equal(TimeSpan.FromSeconds(2), clock.Elapsed);
        Assert.Equal(TimeSpan.TicksPerSecond, clock.TimestampFrequency);
    }

    [Fact]
    public void Time_never_goes_backwards()
    {
        var clock = new VirtualClock();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(TimeSpan.FromTicks(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.AdvanceTo(Start));
        Assert.Equal(Start + TimeSpan.FromSeconds(1), clock.Now);
    }

    [Fact]
    public void Timers_fire_in_due_order_at_their_due_time()
    {
        var clock = new VirtualClock();
        var fired = new List<(string Name, DateTimeOffset At)>();
        using var late = clock.CreateTimer(_ => fired.Add(("late", clock.Now)), null, TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);
        using var early = clock.CreateTimer(_ => fired.Add(("early", clock.Now)), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        using var tieA = clock.CreateTimer(_ => fired.Add(("tieA", clock.Now)), null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);
        using var tieB = clock.CreateTimer(_ => fired.Add(("tieB", clock.Now)), null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);
        Assert.Equal(Start + TimeSpan.FromSeconds(1), clock.NextTimerDue);

        clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(
            [("early", Start.AddSeconds(1)), ("tieA", Start.AddSeconds(2)), ("tieB", Start.AddSeconds(2)), ("late", Start.AddSeconds(3))],
            fired);
        Assert.Equal(Start.AddSeconds(10), clock.Now);
        Assert.Null(clock.NextTimerDue);
        Assert.Equal(0, clock.ArmedTimerCount);
    }

    [Fact]
    public void PeriodicTimer_fires_once_per_period_passed()
    {
        var clock = new VirtualClock();
        var fired = new List<TimeSpan>();
        using var timer = clock.CreateTimer(_ => fired.Add(clock.Elapsed), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));

        clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal([1, 3, 5, 7, 9], fired.Select(t => (int)t.TotalSeconds));
        Assert.Equal(Start.AddSeconds(11), clock.NextTimerDue);
    }

    [Fact]
    public void Change_and_dispose_follow_system_threading_timer()
    {
        var clock = new VirtualClock();
        int count = 0;
        ITimer timer = clock.CreateTimer(_ => count++, null, TimeSpan.FromSeconds(5), Timeout.InfiniteTimeSpan);

        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.True(timer.Change(TimeSpan.FromSeconds(5), Timeout.InfiniteTimeSpan)); // now due at 9 s
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(0, count);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, count);

        Assert.True(timer.Change(TimeSpan.FromSeconds(1), TimeSpan.Zero)); // period zero: one-shot
        Assert.True(timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan)); // disabled
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, count);

        Assert.True(timer.Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan));
        timer.Dispose();
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, count);
        Assert.False(timer.Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.CreateTimer(_ => { }, null, TimeSpan.FromSeconds(-2), Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void Timer_due_now_fires_on_the_next_advance_not_inside_create()
    {
        var clock = new VirtualClock();
        int count = 0;
        using var timer = clock.CreateTimer(_ => count++, null, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        Assert.Equal(0, count);
        Assert.Equal(1, clock.FireDueTimers());
        Assert.Equal(1, count);
        Assert.Equal(0, clock.FireDueTimers());
    }

    [Fact]
    public void Timers_armed_by_callbacks_fire_in_the_same_advance()
    {
        var clock = new VirtualClock();
        var fired = new List<TimeSpan>();
        ITimer? second = null;
        using var first = clock.CreateTimer(
            _ =>
            {
                fired.Add(clock.Elapsed);
                second = clock.CreateTimer(_ => fired.Add(clock.Elapsed), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
            },
            null,
            TimeSpan.FromSeconds(1),
            Timeout.InfiniteTimeSpan);

        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], fired);
        second!.Dispose();
    }

    [Fact]
    public void Advancing_from_a_callback_is_refused()
    {
        var clock = new VirtualClock();
        Exception? caught = null;
        using var timer = clock.CreateTimer(
            _ =>
            {
                try
                {
                    clock.Advance(TimeSpan.FromSeconds(1));
                }
                catch (InvalidOperationException e)
                {
                    caught = e;
                }
            },
            null,
            TimeSpan.FromSeconds(1),
            Timeout.InfiniteTimeSpan);

        clock.Advance(TimeSpan.FromSeconds(2));

        Assert.NotNull(caught);
        Assert.Equal(Start.AddSeconds(2), clock.Now);
    }

    [Fact]
    public void Task_delay_completes_exactly_at_its_virtual_due_time()
    {
        var clock = new VirtualClock();
        Task delay = Task.Delay(TimeSpan.FromSeconds(5), clock);

        clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(delay.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(delay.IsCompletedSuccessfully);
    }

    [Fact]
    public void CancellationTokenSource_cancels_at_its_virtual_due_time()
    {
        var clock = new VirtualClock();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3), clock);
        Task waiting = Task.Delay(TimeSpan.FromSeconds(10), clock, cts.Token);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(cts.IsCancellationRequested);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(cts.IsCancellationRequested);
        Assert.True(waiting.IsCanceled);
    }

    [Fact]
    public async Task PeriodicTimer_works_under_virtual_time()
    {
        var clock = new VirtualClock();
        using var periodic = new PeriodicTimer(TimeSpan.FromMilliseconds(100), clock);
        int ticks = 0;
        for (int i = 0; i < 5; i++)
        {
            ValueTask<bool> tick = periodic.WaitForNextTickAsync();
            Assert.False(tick.IsCompleted);
            clock.Advance(TimeSpan.FromMilliseconds(100));
            Assert.True(tick.IsCompletedSuccessfully);
            Assert.True(await tick); // already complete: no waiting
            ticks++;
        }

        Assert.Equal(5, ticks);
        Assert.Equal(TimeSpan.FromMilliseconds(500), clock.Elapsed);
    }
}
