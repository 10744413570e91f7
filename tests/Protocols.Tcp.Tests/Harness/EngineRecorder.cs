using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// The engine recorder: one TCB (the client, opened actively) and nothing else, no IP, no stack,
/// no simulation. The test plays the peer with hand-built <see cref="TcpSegment"/>s and virtual
/// time it moves itself; everything the TCB emits is recorded by a <see cref="RecordingOutput"/>
/// and returned. <see cref="Establish"/> answers the SYN with a SYN-ACK carrying the chosen
/// options. For exact segments on the wire against a whole stack use <see cref="ScriptedPeer"/>.
/// </summary>
internal sealed class EngineRecorder
{
    public EngineRecorder(TcpConnectionOptions? options = null, Func<RecordingOutput, TcpCounters, TcpEngineEnvironment>? env = null, long start = 1_000_000)
    {
        Now = start;
        Output = new RecordingOutput(() => Now);
        Env = env?.Invoke(Output, Counters) ?? new TcpEngineEnvironment(Output, new IsnGenerator(EnginePair.Secret), new Random(1)) { Counters = Counters };
        Tcb = new TcpControlBlock(new TcpFourTuple(EnginePair.AddressA, 40000, EnginePair.AddressB, 80), options ?? TcpConnectionOptions.Default, Env);
    }

    public long Now { get; set; }

    public RecordingOutput Output { get; }

    public TcpCounters Counters { get; } = new();

    public TcpEngineEnvironment Env { get; }

    public TcpControlBlock Tcb { get; }

    /// <summary>The peer's next sequence number.</summary>
    public SeqNum PeerSeq { get; set; }

    /// <summary>The peer's ISS.</summary>
    public SeqNum PeerIss { get; set; } = new(5000);

    /// <summary>The peer's timestamp clock (TSval) when timestamps are on.</summary>
    public uint PeerTsVal { get; set; } = 100;

    public bool PeerTimestamps { get; set; }

    /// <summary>TSval of the TCB's last segment (to echo).</summary>
    public uint LastTsVal { get; private set; }

    public SentSegment Syn { get; private set; } = null!;

    /// <summary>Opens the TCB, answers its SYN with a SYN-ACK (peer window, MSS, optional WS and timestamps), returns the TCB's ACK.</summary>
    public SentSegment Establish(ushort window = 65535, ushort mss = 1460, byte? windowScale = null, bool timestamps = false, bool sack = false)
    {
        Tcb.OpenActive(Now);
        Syn = Output.Take().Single();
        PeerTimestamps = timestamps;
        var o = new TcpOptions { Mss = mss, WindowScale = windowScale, SackPermitted = sack };
        if (timestamps)
        {
            o.Timestamps = new TcpTimestamps(PeerTsVal, Syn.Header.Options.Timestamps!.Value.TsVal);
        }

        Now += 10_000;
        Tcb.OnSegment(new TcpSegment(PeerIss, Syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack, window, o, default), Now);
        PeerSeq = PeerIss + 1;
        Assert.Equal(TcpState.Established, Tcb.State);
        SentSegment ack = Output.Take().Single();
        LastTsVal = ack.Header.Options.Timestamps?.TsVal ?? 0;
        Tcb.TakeEvents();
        return ack;
    }

    /// <summary>Delivers a segment from the peer at the current time; returns what the TCB sent in answer.</summary>
    public List<SentSegment> Send(TcpFlags flags, ReadOnlySpan<byte> payload = default, SeqNum? seq = null, SeqNum? ack = null, ushort window = 65535, TcpTimestamps? ts = null, TcpSackBlock[]? sack = null)
    {
        var o = default(TcpOptions);
        foreach (TcpSackBlock block in sack ?? [])
        {
            o.TryAddSackBlock(block);
        }

        if (ts is TcpTimestamps t)
        {
            o.Timestamps = t;
        }
        else if (PeerTimestamps)
        {
            o.Timestamps = new TcpTimestamps(PeerTsVal, LastTsVal);
        }

        SeqNum s = seq ?? PeerSeq;
        Tcb.OnSegment(new TcpSegment(s, ack ?? Tcb.SndNxt, flags, window, o, payload), Now);
        if (seq is null)
        {
            PeerSeq = s + payload.Length + ((flags & TcpFlags.Fin) != 0 ? 1 : 0);
        }

        List<SentSegment> sent = Output.Take();
        if (sent.Count > 0 && sent[^1].Header.Options.Timestamps is TcpTimestamps last)
        {
            LastTsVal = last.TsVal;
        }

        return sent;
    }

    /// <summary>Advances time to <paramref name="time"/>, firing due timers; returns what was sent.</summary>
    public List<SentSegment> AdvanceTo(long time)
    {
        while (Tcb.NextDeadlineMicros <= time)
        {
            Now = Math.Max(Now, Tcb.NextDeadlineMicros);
            Tcb.OnTimer(Now);
        }

        Now = time;
        return Output.Take();
    }
}
