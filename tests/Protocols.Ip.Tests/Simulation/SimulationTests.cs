using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;

namespace Protocols.Ip.Tests.Simulation;

public class SimulationTests
{
    /// <summary>
    /// A stop-and-wait sender: sends frame n, resends it every <see cref="Rto"/> until the echo
    /// of n comes back, then sends n+1. Exercises deadlines, link events and polling together.
    /// </summary>
    private sealed class StopAndWaitSender(INetworkDevice device, TimeProvider clock, int count) : IPollDriven
    {
        public static readonly TimeSpan Rto = TimeSpan.FromMilliseconds(50);

        private int _next;
        private DateTimeOffset? _retransmitAt;

        public int Retransmissions { get; private set; }

        public bool Done => _next == count;

        public DateTimeOffset? NextDeadline => _retransmitAt;

        public int Poll()
        {
            int work = device.Receive(
                frame =>
                {
                    if (BinaryPrimitives.ReadInt32BigEndian(frame) == _next)
                    {
                        _next++;
                        _retransmitAt = null;
                    }
                },
                16);
            DateTimeOffset now = clock.GetUtcNow();
            if (!Done && (_retransmitAt is null || now >= _retransmitAt))
            {
                if (_retransmitAt is not null)
                {
                    Retransmissions++;
                }

                device.TrySend(TestPackets.Numbered(_next));
                _retransmitAt = now + Rto;
                work++;
            }

            return work;
        }
    }

    /// <summary>Sends every frame back.</summary>
    private sealed class Echo(INetworkDevice device) : IPollDriven
    {
        public DateTimeOffset? NextDeadline => null;

        public int Poll() => device.Receive(frame => device.TrySend(frame), 16);
    }

    private static (StopAndWaitSender Sender, TimeSpan Took) StopAndWait(NetworkSimulator sim, double loss, int count = 200)
    {
        var options = new LinkOptions { Loss = loss, Delay = TimeSpan.FromMilliseconds(5), Jitter = TimeSpan.FromMilliseconds(2) };
        var (a, b) = sim.Network.CreateLink(options);
        StopAndWaitSender sender = sim.Register(new StopAndWaitSender(a, sim.Clock, count));
        sim.Register(new Echo(b));
        TimeSpan took = sim.RunUntil(() => sender.Done, TimeSpan.FromMinutes(5));
        sim.Trace($"done after {took.Ticks} with {sender.Retransmissions} retransmissions");
        return (sender, took);
    }

    [Fact]
    public void Stop_and_wait_completes_over_a_lossy_link_with_retransmissions()
    {
        var sim = new NetworkSimulator(5);
        var (sender, took) = StopAndWait(sim, loss: 0.2);

        Assert.True(sender.Done);
        Assert.InRange(sender.Retransmissions, 40, 200); // P(round trip lost) = 0.36 per try
        Assert.Equal(took, sim.Elapsed);
        Assert.True(took >= TimeSpan.FromMilliseconds(200 * 10), "each exchange takes a 10 ms round trip at least");
    }

    [Fact]
    public void Same_seed_same_trace_different_seed_different_trace()
    {
        ulong first = NetworkSimulator.VerifyDeterminism(42, sim => StopAndWait(sim, loss: 0.2), runs: 3);
        ulong second = NetworkSimulator.VerifyDeterminism(43, sim => StopAndWait(sim, loss: 0.2));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Verify_determinism_catches_a_nondeterministic_scenario()
    {
        int run = 0;
        var e = Assert.Throws<InvalidOperationException>(() => NetworkSimulator.VerifyDeterminism(1, sim => sim.Trace($"run {run++}")));
        Assert.Contains("not deterministic", e.Message);
    }

    [Fact]
    public void RunFor_ends_exactly_at_the_requested_time()
    {
        var sim = new NetworkSimulator(1);
        var fired = new List<TimeSpan>();
        using ITimer timer = sim.Clock.CreateTimer(_ => fired.Add(sim.Elapsed), null, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300));

        sim.RunFor(TimeSpan.FromSeconds(1));

        Assert.Equal(TimeSpan.FromSeconds(1), sim.Elapsed);
        Assert.Equal([300, 600, 900], fired.Select(t => (int)t.TotalMilliseconds));
    }

    [Fact]
    public void RunUntil_reports_the_time_taken_or_times_out_clearly()
    {
        var sim = new NetworkSimulator(77);
        bool flag = false;
        using ITimer timer = sim.Clock.CreateTimer(_ => flag = true, null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);

        Assert.Equal(TimeSpan.FromSeconds(2), sim.RunUntil(() => flag, TimeSpan.FromSeconds(10)));
        Assert.False(sim.TryRunUntil(() => false, TimeSpan.FromSeconds(3)));
        Assert.Equal(TimeSpan.FromSeconds(5), sim.Elapsed);

        sim.Network.CreateLink();
        var e = Assert.Throws<TimeoutException>(() => sim.RunUntil(() => false, TimeSpan.FromMilliseconds(1500)));
        Assert.Contains("seed 77", e.Message);
        Assert.Contains("00:00:01.5000000", e.Message);
        Assert.Contains("link1.a->b", e.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(6500), sim.Elapsed);
    }

    [Fact]
    public void RunUntilIdle_stops_when_nothing_is_scheduled_or_at_its_limit()
    {
        var sim = new NetworkSimulator(1);
        Assert.True(sim.RunUntilIdle());
        Assert.Equal(TimeSpan.Zero, sim.Elapsed);

        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(30) });
        Collector collector = sim.Register(new Collector(b, sim.Clock));
        a.TrySend(TestPackets.Numbered(1));
        Assert.True(sim.RunUntilIdle());
        Assert.Equal(TimeSpan.FromMilliseconds(30), sim.Elapsed);
        Assert.Single(collector.Frames);

        using ITimer periodic = sim.Clock.CreateTimer(_ => { }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        Assert.False(sim.RunUntilIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(10_030), sim.Elapsed);
    }

    [Fact]
    public void Step_moves_to_the_next_event()
    {
        var sim = new NetworkSimulator(1);
        DateTimeOffset? deadline = sim.Now + TimeSpan.FromSeconds(4);
        int polls = 0;
        sim.Register(() => { polls++; return 0; }, () => deadline);
        var (a, _) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromSeconds(1) });
        a.TrySend(TestPackets.Numbered(1)); // nobody receives at B: the frame waits there, time still moves

        Assert.Equal(sim.Now + TimeSpan.FromSeconds(1), sim.NextEvent());
        Assert.True(sim.Step());
        Assert.Equal(TimeSpan.FromSeconds(1), sim.Elapsed);
        Assert.True(sim.Step());
        Assert.Equal(TimeSpan.FromSeconds(4), sim.Elapsed);
        deadline = null;
        Assert.False(sim.Step());
        Assert.Equal(TimeSpan.FromSeconds(4), sim.Elapsed);
        Assert.True(polls > 0);
    }

    [Fact]
    public void Async_code_runs_on_the_harness_thread_in_virtual_time()
    {
        var sim = new NetworkSimulator(1);
        int harnessThread = Environment.CurrentManagedThreadId;
        var threads = new List<int>();

        TimeSpan result = sim.RunUntilCompleted(
            async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), sim.Clock);
                threads.Add(Environment.CurrentManagedThreadId);
                await Task.Delay(TimeSpan.FromSeconds(2), sim.Clock);
                threads.Add(Environment.CurrentManagedThreadId);
                return sim.Elapsed;
            },
            TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(3), result);
        Assert.Equal([harnessThread, harnessThread], threads);
    }

    [Fact]
    public void Async_code_talks_over_the_network()
    {
        var sim = new NetworkSimulator(3);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(20) });
        sim.Register(new Echo(b));
        TaskCompletionSource<int>? pending = null;
        sim.Register(() => a.Receive(f => pending?.TrySetResult(BinaryPrimitives.ReadInt32BigEndian(f)), 16));

        async Task<int> RoundTrip(int value)
        {
            pending = new TaskCompletionSource<int>();
            a.TrySend(TestPackets.Numbered(value));
            return await pending.Task;
        }

        int sum = sim.RunUntilCompleted(
            async () =>
            {
                int total = 0;
                for (int i = 1; i <= 10; i++)
                {
                    total += await RoundTrip(i);
                }

                return total;
            },
            TimeSpan.FromSeconds(5));

        Assert.Equal(55, sum);
        Assert.Equal(TimeSpan.FromMilliseconds(10 * 40), sim.Elapsed);
    }

    [Fact]
    public void Failures_and_timeouts_of_async_operations_surface()
    {
        var sim = new NetworkSimulator(1);
        var failure = Assert.Throws<InvalidOperationException>(() => sim.RunUntilCompleted(
            async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), sim.Clock);
                throw new InvalidOperationException("boom");
            },
            TimeSpan.FromSeconds(5)));
        Assert.Equal("boom", failure.Message);

        Task never = sim.Start(() => new TaskCompletionSource().Task);
        var timeout = Assert.Throws<TimeoutException>(() => sim.RunUntilCompleted(never, TimeSpan.FromSeconds(2)));
        Assert.Contains("task not completed", timeout.Message);
        Assert.Equal(TimeSpan.FromSeconds(3), sim.Elapsed);
    }

    [Fact]
    public void The_context_runs_posts_between_polls_and_sends_only_from_inside()
    {
        var sim = new NetworkSimulator(1);
        var order = new List<string>();
        sim.Register(() =>
        {
            SynchronizationContext.Current!.Send(_ => order.Add("send inside"), null);
            return 0;
        });
        sim.SynchronizationContext.Post(_ => order.Add("posted"), null);
        Assert.Empty(order);
        Assert.Throws<NotSupportedException>(() => sim.SynchronizationContext.Send(_ => { }, null));

        sim.RunPending();

        Assert.Equal("posted", order[0]);
        Assert.Equal("send inside", order[1]);
    }

    [Fact]
    public void Livelock_and_reentrancy_are_reported()
    {
        var busy = new NetworkSimulator(1);
        busy.Register(() => 1);
        Assert.Contains("livelock", Assert.Throws<InvalidOperationException>(() => busy.RunPending()).Message);

        var reentrant = new NetworkSimulator(1);
        reentrant.Register(() =>
        {
            reentrant.RunFor(TimeSpan.FromSeconds(1));
            return 0;
        });
        Assert.Contains("already running", Assert.Throws<InvalidOperationException>(() => reentrant.RunPending()).Message);
    }

    /// <summary>
    /// What the harness sees of work that left its thread: a continuation completes a task whose
    /// awaiter used <c>ConfigureAwait(false)</c>, so .NET runs the awaiter on the thread pool (the
    /// harness thread's context is a custom one), where it writes two records with a real pause
    /// between (a thread preempted on a loaded machine). A pollable takes what is written at each
    /// poll, as a stack cuts segments from what is in its send buffer.
    /// </summary>
    /// <param name="pauseMs">The pool thread's pause between its writes.</param>
    /// <param name="settle">Whether <see cref="NetworkSimulator.Settle"/> waits for the pool work.</param>
    /// <param name="holdUntilRunEnds">The pool thread's pause lasts until the harness has finished instead.</param>
    private static List<string> PollsSeeingPoolWrites(int pauseMs, bool settle, bool holdUntilRunEnds = false)
    {
        using var runEnded = new ManualResetEventSlim();
        var sim = new NetworkSimulator(1);
        var written = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var polls = new List<string>();
        var handOff = new TaskCompletionSource();
        bool onPool = false;
        Task writer = WriteAfterHandOffAsync();
        if (settle)
        {
            sim.Settle = () => Assert.True(!handOff.Task.IsCompleted || writer.Wait(TimeSpan.FromSeconds(10)), "the pool work did not finish");
        }

        sim.Register(() =>
        {
            var taken = new List<string>();
            while (written.TryDequeue(out string? record))
            {
                taken.Add(record);
            }

            if (taken.Count > 0)
            {
                polls.Add($"{sim.Elapsed.TotalMilliseconds} ms: {string.Join("+", taken)}");
            }

            return taken.Count;
        });
        sim.RunUntilCompleted(
            async () =>
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), sim.Clock);
                handOff.SetResult(); // on the harness thread, its context current
                await Task.Delay(TimeSpan.FromMilliseconds(1), sim.Clock);
                await Task.Delay(TimeSpan.FromMilliseconds(1), sim.Clock);
            },
            TimeSpan.FromSeconds(1));
        runEnded.Set();
        Assert.True(writer.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(onPool, "the ConfigureAwait(false) continuation ran on the harness thread");
        return polls;

        async Task WriteAfterHandOffAsync()
        {
            await handOff.Task.ConfigureAwait(false);
            onPool = Thread.CurrentThread.IsThreadPoolThread;
            written.Enqueue("header");
            if (holdUntilRunEnds)
            {
                Assert.True(runEnded.Wait(TimeSpan.FromSeconds(10)));
            }
            else
            {
                Thread.Sleep(pauseMs);
            }

            written.Enqueue("body");
        }
    }

    [Fact]
    public void Settle_holds_polls_and_time_until_thread_pool_work_is_done()
    {
        // The writes land before the next poll and at the instant of the hand-off, however long the pool thread pauses.
        foreach (int pause in (int[])[0, 1, 30])
        {
            Assert.Equal(["1 ms: header+body"], PollsSeeingPoolWrites(pause, settle: true));
        }
    }

    [Fact]
    public void Without_settle_a_paused_pool_thread_is_overtaken_by_polls_and_time()
    {
        // The hazard Settle removes: the harness polls and moves time on while the pool thread pauses.
        List<string> polls = PollsSeeingPoolWrites(0, settle: false, holdUntilRunEnds: true);
        Assert.DoesNotContain(polls, p => p.Contains("body", StringComparison.Ordinal));
    }
}
