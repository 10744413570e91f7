using System.Diagnostics;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

public class TimerQueueTests
{
    private static (NetworkStack Stack, ManualClock Clock) Make()
    {
        var clock = new ManualClock();
        return (new NetworkStack(new NetworkStackOptions { TimeProvider = clock }), clock);
    }

    [Fact]
    public void Timers_fire_in_due_order_and_FIFO_for_equal_times()
    {
        var (stack, clock) = Make();
        var fired = new List<int>();
        DateTimeOffset t0 = clock.GetUtcNow();
        stack.Timers.Schedule(t0.AddSeconds(3), _ => fired.Add(3));
        stack.Timers.Schedule(t0.AddSeconds(1), _ => fired.Add(1));
        stack.Timers.Schedule(t0.AddSeconds(2), _ => fired.Add(20));
        stack.Timers.Schedule(t0.AddSeconds(2), _ => fired.Add(21));
        stack.Timers.Schedule(t0.AddSeconds(2), _ => fired.Add(22));
        Assert.Equal(t0.AddSeconds(1), stack.NextDeadline);
        stack.Poll();
        Assert.Empty(fired);
        clock.Advance(TimeSpan.FromSeconds(2));
        stack.Poll();
        Assert.Equal([1, 20, 21, 22], fired);
        Assert.Equal(t0.AddSeconds(3), stack.NextDeadline);
        clock.Advance(TimeSpan.FromSeconds(5));
        stack.Poll();
        Assert.Equal([1, 20, 21, 22, 3], fired);
        Assert.Null(stack.NextDeadline);
        Assert.Equal(0, stack.Timers.Count);
    }

    [Fact]
    public void Cancelled_timers_do_not_fire_and_stale_handles_are_harmless()
    {
        var (stack, clock) = Make();
        int fired = 0;
        DateTimeOffset t0 = clock.GetUtcNow();
        TimerHandle a = stack.Timers.Schedule(t0.AddSeconds(1), _ => fired += 1);
        TimerHandle b = stack.Timers.Schedule(t0.AddSeconds(2), _ => fired += 10);
        Assert.True(stack.Timers.Cancel(a));
        Assert.False(stack.Timers.Cancel(a));
        Assert.False(stack.Timers.Cancel(default));
        Assert.Equal(1, stack.Timers.Count);
        Assert.Equal(t0.AddSeconds(2), stack.NextDeadline);
        clock.Advance(TimeSpan.FromSeconds(3));
        stack.Poll();
        Assert.Equal(10, fired);
        Assert.False(stack.Timers.Cancel(b));

        // A recycled entry does not answer to an old handle.
        TimerHandle c = stack.Timers.Schedule(t0.AddSeconds(10), _ => fired += 100);
        Assert.False(stack.Timers.Cancel(b));
        Assert.False(stack.Timers.Cancel(a));
        Assert.Equal(1, stack.Timers.Count);
        Assert.True(stack.Timers.Cancel(c));
    }

    [Fact]
    public void A_timer_armed_for_now_by_a_callback_runs_at_the_next_poll()
    {
        var (stack, clock) = Make();
        int runs = 0;
        void Again(NetworkStack s)
        {
            runs++;
            s.Timers.Schedule(s.Now, Again);
        }

        stack.Timers.Schedule(clock.GetUtcNow(), Again);
        stack.Poll();
        Assert.Equal(1, runs);
        stack.Poll();
        Assert.Equal(2, runs);
    }

    [Fact]
    public void Hundred_thousand_timers_in_order_with_half_cancelled()
    {
        var (stack, clock) = Make();
        var random = new Random(42);
        DateTimeOffset t0 = clock.GetUtcNow();
        const int N = 100_000;
        var handles = new TimerHandle[N];
        var due = new long[N];
        long last = -1;
        int count = 0;
        bool ordered = true;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < N; i++)
        {
            int k = i;
            due[i] = random.Next(0, 3_600_000);
            handles[i] = stack.Timers.Schedule(t0.AddMilliseconds(due[i]), _ =>
            {
                Assert.True(k % 2 == 1, "a cancelled timer fired");
                ordered &= due[k] >= last;
                last = due[k];
                count++;
            });
        }

        Assert.Equal(N, stack.Timers.Count);
        for (int i = 0; i < N; i += 2)
        {
            Assert.True(stack.Timers.Cancel(handles[i]));
        }

        Assert.Equal(N / 2, stack.Timers.Count);
        for (int minute = 1; minute <= 61; minute++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            stack.Poll();
        }

        sw.Stop();
        Assert.Equal(N / 2, count);
        Assert.True(ordered);
        Assert.Equal(0, stack.Timers.Count);
        Assert.Null(stack.NextDeadline);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"100k timers took {sw.Elapsed}");
    }
}

public class LoopTests
{
    [Fact]
    public async Task Post_and_InvokeAsync_from_other_threads_run_on_the_loop()
    {
        var (a, b) = TestDevice.Pair(DeviceMedium.Ip);
        using var stack = new NetworkStack(new NetworkStackOptions { Seed = 1 });
        stack.AddInterface(a, TwoStacks.AddressA, 24);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task loop = Task.Run(() => stack.RunAsync(cts.Token));

        int loopThreadId = await stack.InvokeAsync(_ => Environment.CurrentManagedThreadId).WaitAsync(TimeSpan.FromSeconds(10));
        int counter = 0;
        var posters = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 250; i++)
            {
                await stack.InvokeAsync(s => counter++).WaitAsync(TimeSpan.FromSeconds(10));
            }
        })).ToArray();
        await Task.WhenAll(posters).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1000, await stack.InvokeAsync(_ => counter).WaitAsync(TimeSpan.FromSeconds(10)));

        // Exceptions travel back through InvokeAsync.
        await Assert.ThrowsAsync<InvalidTimeZoneException>(() => stack.InvokeAsync<int>(_ => throw new InvalidTimeZoneException()).WaitAsync(TimeSpan.FromSeconds(10)));

        // A frame arriving on the device wakes the loop: ping it from the other end.
        a.Inject(Packets.Ip(TwoStacks.AddressB, TwoStacks.AddressA, IpProtocol.Icmp, Packets.Echo(IcmpType.EchoRequest, 9, 9, [1, 2, 3])));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (a.Sent.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Single(a.Sent);

        // A timer wakes the loop too.
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stack.Post(s => s.Timers.Schedule(s.Now.AddMilliseconds(50), _ => fired.TrySetResult()));
        await fired.Task.WaitAsync(TimeSpan.FromSeconds(10));

        cts.Cancel();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(loop.IsCompletedSuccessfully);
        Assert.NotEqual(0, loopThreadId);
    }

    [Fact]
    public async Task RunAsync_stops_on_cancel_and_refuses_a_second_loop()
    {
        var (a, _) = TestDevice.Pair(DeviceMedium.Ip);
        using var stack = new NetworkStack();
        stack.AddInterface(a, TwoStacks.AddressA, 24);
        using var cts = new CancellationTokenSource();
        Task loop = stack.RunAsync(cts.Token);
        await Assert.ThrowsAsync<InvalidOperationException>(() => stack.RunAsync(CancellationToken.None));
        Assert.False(loop.IsCompleted);
        cts.Cancel();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));

        // It can run again after stopping.
        using var cts2 = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await stack.RunAsync(cts2.Token).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_closed_device_that_is_always_ready_does_not_make_the_loop_spin()
    {
        var closed = new ClosedDevice();
        using var stack = new NetworkStack();
        stack.AddInterface(closed, TwoStacks.AddressA, 24);
        stack.Timers.Schedule(stack.Now.AddDays(1000), _ => { });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await stack.RunAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(10));

        // Backing off 10 ms after a few empty wake-ups: about 50 polls in 500 ms, not millions.
        Assert.InRange(closed.ReceiveCalls, 1, 2000);
    }

    private sealed class ClosedDevice : INetworkDevice
    {
        public int ReceiveCalls;

        public string Name => "closed";

        public DeviceMedium Medium => DeviceMedium.Ip;

        public int Mtu => 1500;

        public MacAddress HardwareAddress => default;

        public DeviceCapabilities Capabilities => DeviceCapabilities.None;

        public int Receive(FrameHandler handler, int maxFrames)
        {
            ReceiveCalls++;
            return 0;
        }

        public bool TrySend(ReadOnlySpan<byte> frame) => false;

        public void Flush()
        {
        }

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose()
        {
        }
    }

    [Fact]
    public void Post_past_the_bound_throws_and_callback_exceptions_are_counted()
    {
        var clock = new ManualClock();
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, RequestQueueCapacity = 3 });
        stack.Post(_ => { });
        stack.Post(_ => throw new InvalidOperationException("boom"));
        stack.Post(_ => { });
        var e = Assert.Throws<InvalidOperationException>(() => stack.Post(_ => { }));
        Assert.Equal("stack request queue full", e.Message);
        Assert.Equal(3, stack.Poll());
        Assert.Equal(1, stack.Counters.Snapshot().CallbackExceptions);
        stack.Post(_ => { });
        Assert.Equal(1, stack.Poll());
        Assert.Equal(0, stack.Poll());
    }

    [Fact]
    public void Counters_are_published_on_the_meter()
    {
        var net = new TwoStacks();
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == net.A.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            Assert.Equal(net.A.Name, tags.ToArray().Single(t => t.Key == "protocols.stack").Value);
            string key = instrument.Name + string.Concat(tags.ToArray().Where(t => t.Key != "protocols.stack").Select(t => "/" + t.Value));
            seen[key] = value;
        });
        listener.Start();
        net.DeviceA.Inject(Packets.Ip(TwoStacks.AddressB, Ipv4Address.Parse("10.0.0.9"), IpProtocol.Udp, [1]));
        net.DeviceA.Inject(Packets.Ip(TwoStacks.AddressB, TwoStacks.AddressA, IpProtocol.Icmp, Packets.Echo(IcmpType.EchoRequest, 1, 1, [])));
        net.A.Poll();
        listener.RecordObservableInstruments();
        Assert.Equal("Protocols.Ip", net.A.Meter.Name);
        Assert.Equal(2, seen["protocols.ip.frames.received"]);
        Assert.Equal(1, seen["protocols.ip.dropped/NotForUs"]);
        Assert.Equal(1, seen["protocols.ip.icmp.in/EchoRequest"]);
        Assert.Equal(1, seen["protocols.ip.icmp.out/EchoReply"]);
    }
}
