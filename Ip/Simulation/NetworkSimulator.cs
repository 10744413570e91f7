using System.Text;

namespace Protocols.Ip.Simulation;

/// <summary>
/// The deterministic simulation harness: a <see cref="VirtualClock"/>, a <see cref="MemoryNetwork"/>
/// seeded from one number, and the things to drive (stacks, peers), all run on the calling thread.
/// Each step polls everything until nothing has work at the current instant, then moves the clock
/// to the next event: a frame arriving on a link, a clock timer, or a registered deadline. The
/// same seed and the same test give the same run, every time.
/// </summary>
/// <remarks>
/// <para>
/// Async code runs inside the simulation when it is started through <see cref="Start(Func{Task})"/>,
/// <see cref="RunUntilCompleted(Func{Task}, TimeSpan)"/> or from a pollable: those run with the
/// simulation's <see cref="SynchronizationContext"/>, so every <c>await</c> continues on the
/// harness thread, between polls, in a deterministic order. Such continuations must not block
/// (no <c>.Wait()</c>, <c>.Result</c> or real sleeps): virtual time only moves when they return.
/// Code awaited on another context (a test body's own) runs on other threads and is not deterministic.
/// </para>
/// <para>Not thread-safe: one thread drives a simulation. <see cref="SynchronizationContext.Post"/> is the exception.</para>
/// </remarks>
/// <example>
/// <code>
/// var sim = new NetworkSimulator(seed: 1);
/// var (a, b) = sim.Network.CreateLink(new LinkOptions { Loss = 0.05, Delay = TimeSpan.FromMilliseconds(10) });
/// var peer = sim.Register(new MyPeer(b, sim.Clock));
/// sim.RunUntil(() => peer.Done, TimeSpan.FromSeconds(30));
/// </code>
/// </example>
public sealed class NetworkSimulator
{
    /// <summary>The most polling rounds at one instant before the harness reports a livelock.</summary>
    public const int MaxRoundsPerInstant = 100_000;

    private static readonly TimeSpan DefaultIdleLimit = TimeSpan.FromHours(1);

    private readonly SimulationSynchronizationContext _context;
    private volatile IPollDriven[] _pollables = [];
    private ulong _traceHash = 14695981039346656037UL;
    private bool _running;

    /// <summary>Creates a simulation whose clock starts at <paramref name="start"/> (default <see cref="VirtualClock.DefaultStart"/>).</summary>
    /// <param name="seed">The seed of every random choice the network and <see cref="Random"/> make.</param>
    /// <param name="start">The initial virtual time.</param>
    public NetworkSimulator(int seed, DateTimeOffset? start = null)
    {
        Seed = seed;
        Clock = new VirtualClock(start);
        Network = new MemoryNetwork(seed, Clock);
        Random = new Random(unchecked(seed ^ 0x5A17_C0DE));
        _context = new SimulationSynchronizationContext();
    }

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>The virtual clock: give it to every stack as its <see cref="TimeProvider"/>.</summary>
    public VirtualClock Clock { get; }

    /// <summary>The simulated network.</summary>
    public MemoryNetwork Network { get; }

    /// <summary>A seeded random source for the test's own choices (payloads, ports), independent of the network's.</summary>
    public Random Random { get; }

    /// <summary>The current virtual time.</summary>
    public DateTimeOffset Now => Clock.Now;

    /// <summary>Virtual time since the start.</summary>
    public TimeSpan Elapsed => Clock.Elapsed;

    /// <summary>The context async code started through the simulation continues on.</summary>
    public SynchronizationContext SynchronizationContext => _context;

    /// <summary>
    /// Waits until work that code inside the simulation started off the harness thread has
    /// finished; null (the default) waits for nothing. Called before each polling round, after
    /// every continuation the simulation's context runs and after due timers fire, so such work
    /// never runs while the harness polls the stacks or runs the next continuation, and virtual
    /// time only moves once it is done.
    /// </summary>
    /// <remarks>
    /// .NET queues a <c>ConfigureAwait(false)</c> continuation to the thread pool when the task it
    /// waits for completes on a thread whose <see cref="SynchronizationContext"/> is a custom one,
    /// as the harness thread's is: library code such as <c>SslStream</c> inside Kestrel therefore
    /// continues on the thread pool, writes there, and posts its next continuation back. Without a
    /// wait, how much it has written by the time the harness polls (and so how the stack cuts
    /// segments) depends on thread timing. A harness that owns the thread pool (a process of its
    /// own) can wait for it here, bounded: every wait needs a limit.
    /// </remarks>
    public Action? Settle { get; set; }

    /// <summary>The registered pollables, in registration (and polling) order.</summary>
    public IReadOnlyList<IPollDriven> Pollables => _pollables;

    /// <summary>
    /// A hash of everything observable so far: every frame delivered (link, time, bytes), every
    /// <see cref="Trace(string)"/> call, and the current time. Equal for two runs of a deterministic scenario.
    /// </summary>
    public ulong TraceHash
    {
        get
        {
            Span<byte> now = stackalloc byte[16];
            BitConverter.TryWriteBytes(now, Network.TraceHash);
            BitConverter.TryWriteBytes(now[8..], Clock.Now.UtcTicks);
            return MemoryNetwork.Mix(_traceHash, now);
        }
    }

    /// <summary>Registers something to poll; polled in registration order.</summary>
    /// <returns><paramref name="pollable"/>, for chaining.</returns>
    public T Register<T>(T pollable)
        where T : IPollDriven
    {
        ArgumentNullException.ThrowIfNull(pollable);
        _pollables = [.. _pollables, pollable];
        return pollable;
    }

    /// <summary>Registers a poll function and, optionally, its next deadline.</summary>
    /// <param name="poll">Does the ready work and returns how much (0 = idle).</param>
    /// <param name="nextDeadline">When it must be polled again even if nothing arrives; null = never.</param>
    /// <returns>The registered pollable.</returns>
    public IPollDriven Register(Func<int> poll, Func<DateTimeOffset?>? nextDeadline = null)
    {
        ArgumentNullException.ThrowIfNull(poll);
        return Register(new DelegatePollable(poll, nextDeadline));
    }

    /// <summary>Creates a stack (or anything pollable) on the simulation's clock and registers it.</summary>
    /// <param name="create">Builds the stack from the clock, e.g. <c>clock =&gt; new MyStack(clock)</c>.</param>
    /// <returns>The created stack.</returns>
    public TStack AddStack<TStack>(Func<VirtualClock, TStack> create)
        where TStack : IPollDriven
    {
        ArgumentNullException.ThrowIfNull(create);
        return Register(create(Clock));
    }

    /// <summary>Creates a stack of a type that does not implement <see cref="IPollDriven"/>, and registers its poll and deadline.</summary>
    /// <param name="create">Builds the stack from the clock.</param>
    /// <param name="poll">Polls it, e.g. <c>s =&gt; s.Poll()</c>.</param>
    /// <param name="nextDeadline">Its next deadline, e.g. <c>s =&gt; s.NextDeadline</c>.</param>
    /// <returns>The created stack.</returns>
    public TStack AddStack<TStack>(Func<VirtualClock, TStack> create, Func<TStack, int> poll, Func<TStack, DateTimeOffset?> nextDeadline)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(poll);
        ArgumentNullException.ThrowIfNull(nextDeadline);
        TStack stack = create(Clock);
        Register(() => poll(stack), () => nextDeadline(stack));
        return stack;
    }

    /// <summary>
    /// Creates a <see cref="NetworkStack"/> on the simulation's clock and registers its
    /// <see cref="NetworkStack.Poll"/> and <see cref="NetworkStack.NextDeadline"/>.
    /// </summary>
    /// <param name="create">
    /// Builds the stack from the clock, e.g.
    /// <c>clock =&gt; new NetworkStack(new() { TimeProvider = clock, Seed = 1 })</c>; give it a seed
    /// (e.g. from <see cref="Random"/>) so its identifications are repeatable too.
    /// </param>
    /// <returns>The created stack.</returns>
    /// <exception cref="ArgumentException">The stack does not use the simulation's clock.</exception>
    public NetworkStack AddStack(Func<VirtualClock, NetworkStack> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        NetworkStack stack = create(Clock);
        return Register(stack);
    }

    /// <summary>Registers an existing <see cref="NetworkStack"/>: polled in registration order, its deadline respected.</summary>
    /// <param name="stack">A stack whose <see cref="NetworkStack.TimeProvider"/> is <see cref="Clock"/>.</param>
    /// <returns><paramref name="stack"/>.</returns>
    /// <exception cref="ArgumentException">The stack does not use the simulation's clock.</exception>
    public NetworkStack Register(NetworkStack stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        if (!ReferenceEquals(stack.TimeProvider, Clock))
        {
            throw new ArgumentException("The stack must use the simulation's clock as its TimeProvider.", nameof(stack));
        }

        Register(stack.Poll, () => stack.NextDeadline);
        return stack;
    }

    /// <summary>Mixes a test's own observation into <see cref="TraceHash"/>, stamped with the current time.</summary>
    /// <param name="observation">What happened, e.g. <c>"received 5 bytes from 10.0.0.1"</c>.</param>
    public void Trace(string observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        Trace(Encoding.UTF8.GetBytes(observation));
    }

    /// <summary>Mixes bytes into <see cref="TraceHash"/>, stamped with the current time.</summary>
    /// <param name="observation">The bytes.</param>
    public void Trace(ReadOnlySpan<byte> observation)
    {
        Span<byte> now = stackalloc byte[8];
        BitConverter.TryWriteBytes(now, Clock.Now.UtcTicks);
        _traceHash = MemoryNetwork.Mix(MemoryNetwork.Mix(_traceHash, now), observation);
    }

    /// <summary>
    /// Runs everything that is ready at the current instant, without moving time: posted
    /// continuations, due clock timers, and every pollable, round after round until a whole
    /// round does nothing.
    /// </summary>
    /// <returns>The work done.</returns>
    /// <exception cref="InvalidOperationException">Still busy after <see cref="MaxRoundsPerInstant"/> rounds (a livelock), or called from inside the simulation.</exception>
    public int RunPending()
    {
        Enter();
        try
        {
            return RunPendingCore();
        }
        finally
        {
            _running = false;
        }
    }

    /// <summary>Runs what is ready, then moves the clock to the next event and runs what is ready then.</summary>
    /// <returns>False when nothing was scheduled, so time did not move.</returns>
    public bool Step()
    {
        Enter();
        try
        {
            RunPendingCore();
            DateTimeOffset? next = NextEvent();
            if (next is null)
            {
                return false;
            }

            Clock.AdvanceTo(next.Value);
            RunPendingCore();
            return true;
        }
        finally
        {
            _running = false;
        }
    }

    /// <summary>The next instant something is scheduled to happen (strictly after now): a frame arrival, a timer, a deadline; or null.</summary>
    public DateTimeOffset? NextEvent()
    {
        DateTimeOffset now = Clock.Now;
        DateTimeOffset? next = Network.NextDeliveryAfter(now);
        if (Clock.NextTimerDue is DateTimeOffset timer && timer > now && (next is null || timer < next))
        {
            next = timer;
        }

        foreach (IPollDriven pollable in _pollables)
        {
            // A deadline at or before now after an idle poll is stale: it cannot make time move.
            if (pollable.NextDeadline is DateTimeOffset deadline && deadline > now && (next is null || deadline < next))
            {
                next = deadline;
            }
        }

        return next;
    }

    /// <summary>Runs for <paramref name="duration"/> of virtual time, event by event; the clock ends exactly at now + duration.</summary>
    /// <param name="duration">How long.</param>
    public void RunFor(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        DateTimeOffset end = Clock.Now + duration;
        Enter();
        try
        {
            RunPendingCore();
            while (true)
            {
                DateTimeOffset? next = NextEvent();
                if (next is null || next > end)
                {
                    Clock.AdvanceTo(end);
                    RunPendingCore();
                    return;
                }

                Clock.AdvanceTo(next.Value);
                RunPendingCore();
            }
        }
        finally
        {
            _running = false;
        }
    }

    /// <summary>
    /// Runs until nothing is scheduled any more (no frame in flight, no timer, no deadline), or
    /// until <paramref name="limit"/> of virtual time has passed (default one hour).
    /// </summary>
    /// <param name="limit">The most virtual time to run.</param>
    /// <returns>True when the simulation went idle; false when events were still scheduled at the limit (e.g. periodic timers).</returns>
    public bool RunUntilIdle(TimeSpan? limit = null)
    {
        DateTimeOffset end = Clock.Now + (limit ?? DefaultIdleLimit);
        Enter();
        try
        {
            RunPendingCore();
            while (true)
            {
                DateTimeOffset? next = NextEvent();
                if (next is null)
                {
                    return true;
                }

                if (next > end)
                {
                    Clock.AdvanceTo(end);
                    RunPendingCore();
                    return false;
                }

                Clock.AdvanceTo(next.Value);
                RunPendingCore();
            }
        }
        finally
        {
            _running = false;
        }
    }

    /// <summary>
    /// Runs until <paramref name="condition"/> holds (checked after every instant's work), or
    /// throws when <paramref name="limit"/> of virtual time passes first.
    /// </summary>
    /// <param name="condition">What the test waits for.</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <returns>The virtual time it took.</returns>
    /// <exception cref="TimeoutException">The condition did not hold within the limit; the message gives the seed, times and link counters.</exception>
    public TimeSpan RunUntil(Func<bool> condition, TimeSpan limit)
    {
        DateTimeOffset start = Clock.Now;
        if (!TryRunUntil(condition, limit))
        {
            throw new TimeoutException(Describe($"condition not met within {limit} of virtual time", start));
        }

        return Clock.Now - start;
    }

    /// <summary>Runs until <paramref name="condition"/> holds or <paramref name="limit"/> of virtual time passes.</summary>
    /// <param name="condition">What the test waits for.</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <returns>True when the condition held; false at the limit (the clock is then at start + limit).</returns>
    public bool TryRunUntil(Func<bool> condition, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, TimeSpan.Zero);
        DateTimeOffset end = Clock.Now + limit;
        Enter();
        try
        {
            while (true)
            {
                RunPendingCore();
                if (condition())
                {
                    return true;
                }

                DateTimeOffset now = Clock.Now;
                if (now >= end)
                {
                    return false;
                }

                DateTimeOffset? next = NextEvent();
                Clock.AdvanceTo(next is null || next > end ? end : next.Value);
            }
        }
        finally
        {
            _running = false;
        }
    }

    /// <summary>Runs until <paramref name="task"/> completes, then returns (or rethrows its exception).</summary>
    /// <param name="task">An operation already started (preferably through <see cref="Start(Func{Task})"/>).</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <exception cref="TimeoutException">The task was still running at the limit.</exception>
    public void RunUntilCompleted(Task task, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(task);
        DateTimeOffset start = Clock.Now;
        if (!TryRunUntil(() => task.IsCompleted, limit))
        {
            throw new TimeoutException(Describe($"task not completed within {limit} of virtual time", start));
        }

        task.GetAwaiter().GetResult();
    }

    /// <summary>Runs until <paramref name="task"/> completes and returns its result (or rethrows its exception).</summary>
    /// <param name="task">An operation already started (preferably through <see cref="Start{T}(Func{Task{T}})"/>).</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <exception cref="TimeoutException">The task was still running at the limit.</exception>
    public T RunUntilCompleted<T>(Task<T> task, TimeSpan limit)
    {
        RunUntilCompleted((Task)task, limit);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Starts <paramref name="operation"/> inside the simulation and runs until it completes.</summary>
    /// <param name="operation">The async operation; its awaits continue on the harness thread.</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <exception cref="TimeoutException">The operation was still running at the limit.</exception>
    public void RunUntilCompleted(Func<Task> operation, TimeSpan limit) => RunUntilCompleted(Start(operation), limit);

    /// <summary>Starts <paramref name="operation"/> inside the simulation, runs until it completes, and returns its result.</summary>
    /// <param name="operation">The async operation; its awaits continue on the harness thread.</param>
    /// <param name="limit">The most virtual time to run.</param>
    /// <exception cref="TimeoutException">The operation was still running at the limit.</exception>
    public T RunUntilCompleted<T>(Func<Task<T>> operation, TimeSpan limit) => RunUntilCompleted(Start(operation), limit);

    /// <summary>Starts <paramref name="operation"/> with the simulation's context current, without running the simulation.</summary>
    /// <param name="operation">The async operation.</param>
    /// <returns>Its task; drive it with <see cref="RunUntilCompleted(Task, TimeSpan)"/> or any other run method.</returns>
    public Task Start(Func<Task> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return InContext(operation);
    }

    /// <summary>Starts <paramref name="operation"/> with the simulation's context current, without running the simulation.</summary>
    /// <param name="operation">The async operation.</param>
    /// <returns>Its task.</returns>
    public Task<T> Start<T>(Func<Task<T>> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return InContext(operation);
    }

    /// <summary>
    /// Runs <paramref name="scenario"/> <paramref name="runs"/> times on fresh simulations with the same
    /// seed and checks that every run ends with the same <see cref="TraceHash"/>.
    /// </summary>
    /// <param name="seed">The seed.</param>
    /// <param name="scenario">Builds and runs the scenario on the simulation it is given.</param>
    /// <param name="runs">How many runs to compare (at least 2).</param>
    /// <returns>The common hash (compare it across seeds to see the seed matters).</returns>
    /// <exception cref="InvalidOperationException">Two runs differed: the scenario is not deterministic.</exception>
    public static ulong VerifyDeterminism(int seed, Action<NetworkSimulator> scenario, int runs = 2)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 2);
        ulong first = 0;
        for (int run = 0; run < runs; run++)
        {
            var sim = new NetworkSimulator(seed);
            scenario(sim);
            ulong hash = sim.TraceHash;
            if (run == 0)
            {
                first = hash;
            }
            else if (hash != first)
            {
                throw new InvalidOperationException($"The simulation with seed {seed} is not deterministic: run 1 ended with trace hash {first:x16}, run {run + 1} with {hash:x16}.");
            }
        }

        return first;
    }

    /// <inheritdoc/>
    public override string ToString() => $"NetworkSimulator seed {Seed} at {Clock.Now:O} (+{Clock.Elapsed})";

    private T InContext<T>(Func<T> start)
    {
        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_context);
        try
        {
            return start();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private void Enter()
    {
        if (_running)
        {
            throw new InvalidOperationException("The simulation is already running: do not call its Run/Step methods from a pollable or a continuation inside it (await instead).");
        }

        _running = true;
    }

    private int RunPendingCore()
    {
        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_context);
        try
        {
            int total = 0;
            for (int round = 0; ; round++)
            {
                if (round >= MaxRoundsPerInstant)
                {
                    throw new InvalidOperationException(Describe($"still busy after {MaxRoundsPerInstant} polling rounds at one instant (livelock?)", Clock.Now));
                }

                Action? settle = Settle;
                settle?.Invoke();
                int work = _context.RunQueued(settle);
                work += Clock.FireDueTimers();
                settle?.Invoke();
                foreach (IPollDriven pollable in _pollables)
                {
                    work += pollable.Poll();
                }

                if (work == 0)
                {
                    return total;
                }

                total += work;
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private string Describe(string what, DateTimeOffset start)
    {
        var text = new StringBuilder();
        text.Append($"NetworkSimulator (seed {Seed}): {what}; ran from {start:O} to {Clock.Now:O} ({Clock.Now - start}); {Network.Deliveries} frames delivered.");
        foreach (LinkDirection direction in Network.Directions)
        {
            text.Append(Environment.NewLine).Append("  ").Append(direction);
        }

        return text.ToString();
    }

    private sealed class DelegatePollable(Func<int> poll, Func<DateTimeOffset?>? nextDeadline) : IPollDriven
    {
        public DateTimeOffset? NextDeadline => nextDeadline?.Invoke();

        public int Poll() => poll();
    }
}
