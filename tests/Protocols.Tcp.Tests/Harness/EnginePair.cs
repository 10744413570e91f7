using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>What the <see cref="EnginePair"/>'s wire does with one segment a test singles out.</summary>
internal enum WireAction
{
    /// <summary>Delivered after the one-way delay.</summary>
    Deliver,

    /// <summary>Lost.</summary>
    Drop,

    /// <summary>Delivered after the one-way delay plus <see cref="EnginePair.ReorderDelay"/>, so later segments overtake it.</summary>
    Delay,
}

/// <summary>
/// The engine pair: two TCBs and nothing else (no IP, no stack, no simulation), joined by an
/// in-test wire with a fixed one-way delay. Time is explicit: <see cref="RunUntil"/> steps through
/// segment arrivals and timer deadlines in order. B is created from A's first SYN, as a listener
/// would. Every segment is recorded (<see cref="Log"/>, <see cref="RecordingOutput"/>) and goes
/// through <see cref="Filter"/>, which can drop or hold back exactly the segment a test names
/// (the third data segment, the ACK sent in TIME-WAIT): engine-level control that random link
/// impairments cannot give. Random loss, duplication and reordering belong to
/// <see cref="TcpStackPair"/> and its <c>LinkOptions</c>.
/// </summary>
internal sealed class EnginePair
{
    public static readonly Ipv4Address AddressA = Ipv4Address.Create(10, 0, 0, 1);
    public static readonly Ipv4Address AddressB = Ipv4Address.Create(10, 0, 0, 2);
    public static readonly byte[] Secret = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

    private readonly List<(long Time, long Order, SentSegment Segment)> _inFlight = [];
    private long _order;

    public EnginePair(TcpConnectionOptions? optionsA = null, TcpConnectionOptions? optionsB = null, ushort portA = 40000, ushort portB = 80, long start = 1_000_000, int seed = 1, IsnGenerator? isnB = null)
    {
        Now = start;
        OptionsA = optionsA ?? TcpConnectionOptions.Default;
        OptionsB = optionsB ?? TcpConnectionOptions.Default;
        TupleA = new TcpFourTuple(AddressA, portA, AddressB, portB);
        OutputA = new RecordingOutput(() => Now, fromA: true);
        OutputB = new RecordingOutput(() => Now, fromA: false);
        OutputA.OnSend = s => Enqueue(s);
        OutputB.OnSend = s => Enqueue(s);
        var isn = new IsnGenerator(Secret);
        EnvA = new TcpEngineEnvironment(OutputA, isn, new Random(seed)) { Counters = CountersA };
        EnvB = new TcpEngineEnvironment(OutputB, isnB ?? isn, new Random(seed + 1)) { Counters = CountersB };
        A = new TcpControlBlock(TupleA, OptionsA, EnvA);
    }

    public long Now { get; set; }

    public long OneWayDelay { get; set; } = 10_000;

    /// <summary>The extra delay of a segment the filter answers <see cref="WireAction.Delay"/> for.</summary>
    public long ReorderDelay { get; set; } = 30_000;

    public TcpConnectionOptions OptionsA { get; }

    public TcpConnectionOptions OptionsB { get; }

    public TcpFourTuple TupleA { get; }

    public TcpCounters CountersA { get; } = new();

    public TcpCounters CountersB { get; } = new();

    public RecordingOutput OutputA { get; }

    public RecordingOutput OutputB { get; }

    public TcpEngineEnvironment EnvA { get; }

    public TcpEngineEnvironment EnvB { get; }

    public TcpControlBlock A { get; }

    public TcpControlBlock? B { get; private set; }

    /// <summary>Decides each segment's fate; null delivers everything.</summary>
    public Func<SentSegment, WireAction>? Filter { get; set; }

    public List<SentSegment> Log { get; } = [];

    public TcpEvents EventsA { get; private set; }

    public TcpEvents EventsB { get; private set; }

    public int InFlightCount => _inFlight.Count;

    /// <summary>Creates B up front (for a simultaneous open) instead of from A's SYN.</summary>
    public void CreateB() => B = new TcpControlBlock(TupleA.Reversed, OptionsB, EnvB);

    /// <summary>Opens A actively and runs until both are established (or the limit).</summary>
    public void Connect(long limit = 5_000_000)
    {
        A.OpenActive(Now);
        RunUntil(Now + limit, () => A.State == TcpState.Established && B?.State == TcpState.Established);
    }

    /// <summary>Steps through arrivals and timers up to <paramref name="until"/>, or until <paramref name="stop"/> holds.</summary>
    public void RunUntil(long until, Func<bool>? stop = null)
    {
        while (true)
        {
            Drain();
            if (stop?.Invoke() == true)
            {
                return;
            }

            long next = NextEventTime();
            if (next > until)
            {
                Now = Math.Max(Now, until);
                return;
            }

            Now = Math.Max(Now, next);
            Step();
        }
    }

    public void Run(long duration) => RunUntil(Now + duration);

    public long NextEventTime()
    {
        long next = long.MaxValue;
        foreach (var f in _inFlight)
        {
            next = Math.Min(next, f.Time);
        }

        next = Math.Min(next, A.NextDeadlineMicros);
        if (B is not null)
        {
            next = Math.Min(next, B.NextDeadlineMicros);
        }

        return next;
    }

    private void Step()
    {
        // Arrivals first, in order; then timers that are due.
        _inFlight.Sort((x, y) => x.Time != y.Time ? x.Time.CompareTo(y.Time) : x.Order.CompareTo(y.Order));
        if (_inFlight.Count > 0 && _inFlight[0].Time <= Now)
        {
            SentSegment s = _inFlight[0].Segment;
            _inFlight.RemoveAt(0);
            Deliver(s);
            return;
        }

        if (A.NextDeadlineMicros <= Now)
        {
            A.OnTimer(Now);
        }

        if (B is not null && B.NextDeadlineMicros <= Now)
        {
            B.OnTimer(Now);
        }
    }

    private void Deliver(SentSegment s)
    {
        TcpSegment seg = s.ToSegment();
        if (s.FromA)
        {
            if (B is null || (B.State == TcpState.Closed && seg.Has(TcpFlags.Syn) && !seg.Has(TcpFlags.Ack)))
            {
                if (seg.Has(TcpFlags.Syn) && !seg.Has(TcpFlags.Ack) && !seg.Has(TcpFlags.Rst))
                {
                    B = new TcpControlBlock(TupleA.Reversed, OptionsB, EnvB);
                    B.OpenPassive(seg, Now);
                }

                return;
            }

            B.OnSegment(seg, Now);
        }
        else
        {
            A.OnSegment(seg, Now);
        }
    }

    /// <summary>Collects events (so tests can look at them).</summary>
    public void Drain()
    {
        EventsA |= A.TakeEvents();
        if (B is not null)
        {
            EventsB |= B.TakeEvents();
        }
    }

    public void ClearEvents()
    {
        Drain();
        EventsA = TcpEvents.None;
        EventsB = TcpEvents.None;
    }

    private void Enqueue(SentSegment s)
    {
        Log.Add(s);
        WireAction action = Filter?.Invoke(s) ?? WireAction.Deliver;
        switch (action)
        {
            case WireAction.Drop:
                return;
            case WireAction.Delay:
                _inFlight.Add((Now + OneWayDelay + ReorderDelay, _order++, s));
                return;
            default:
                _inFlight.Add((Now + OneWayDelay, _order++, s));
                return;
        }
    }

    /// <summary>Writes everything into <paramref name="tcb"/> as space allows, running the wire in between; returns when all is queued.</summary>
    public void SendAll(TcpControlBlock tcb, byte[] data, long limit = 600_000_000)
    {
        int offset = 0;
        long end = Now + limit;
        while (offset < data.Length && Now < end)
        {
            offset += tcb.Send(data.AsSpan(offset), Now);
            if (offset < data.Length)
            {
                long next = NextEventTime();
                if (next == long.MaxValue)
                {
                    break;
                }

                RunUntil(Math.Min(next, end));
            }
        }
    }

    /// <summary>Runs the wire, reading everything <paramref name="tcb"/> receives, until <paramref name="count"/> bytes arrived or FIN.</summary>
    public byte[] ReceiveAll(TcpControlBlock tcb, int count, long limit = 600_000_000)
    {
        var result = new byte[count];
        int got = 0;
        var buffer = new byte[65536];
        long end = Now + limit;
        while (got < count && Now <= end)
        {
            int n = tcb.Receive(buffer, Now);
            if (n > 0)
            {
                Array.Copy(buffer, 0, result, got, Math.Min(n, count - got));
                got += n;
                continue;
            }

            if (tcb.IsReceiveCompleted || tcb.State == TcpState.Closed)
            {
                break;
            }

            long next = NextEventTime();
            if (next == long.MaxValue || next > end)
            {
                break;
            }

            RunUntil(next);
        }

        return result[..got];
    }

    /// <summary>Sends <paramref name="data"/> from one TCB and reads it at the other, interleaved, until all arrived (or the limit).</summary>
    public byte[] Transfer(TcpControlBlock from, TcpControlBlock to, byte[] data, long limit = 600_000_000, bool completeWrites = false)
    {
        var received = new byte[data.Length];
        int sent = 0, got = 0;
        var buffer = new byte[65536];
        long end = Now + limit;
        bool completed = false;
        while (got < data.Length && Now <= end)
        {
            if (sent < data.Length)
            {
                sent += from.Send(data.AsSpan(sent), Now);
            }

            if (completeWrites && sent == data.Length && !completed)
            {
                from.CompleteWrites(Now);
                completed = true;
            }

            int n;
            bool progress = false;
            while ((n = to.Receive(buffer, Now)) > 0)
            {
                Array.Copy(buffer, 0, received, got, Math.Min(n, data.Length - got));
                got += n;
                progress = true;
            }

            if (progress)
            {
                continue;
            }

            long next = NextEventTime();
            if (next == long.MaxValue || next > end)
            {
                break;
            }

            RunUntil(next);
        }

        return received[..got];
    }
}
