namespace Protocols.Tcp.Engine;

/// <summary>
/// Where one connection's segments leave: counts them, hands them to
/// <see cref="TcpEngineEnvironment.Output"/> and reports them to the optional trace hook.
/// </summary>
/// <remarks>
/// The trace of a received segment waits until the first segment sent in answer (or the end of
/// its processing), so that it comes before its replies yet carries the state they are sent in.
/// </remarks>
internal sealed class SegmentEmitter
{
    private readonly TcpFourTuple _tuple;
    private readonly TcpEngineEnvironment _env;
    private TcpTraceEvent[]? _received; // one slot, made when tracing is on: most connections never trace
    private bool _receivedPending;

    /// <summary>The emitter of the connection on <paramref name="tuple"/>.</summary>
    /// <param name="tuple">The connection.</param>
    /// <param name="env">Output, counters and trace hook.</param>
    public SegmentEmitter(in TcpFourTuple tuple, TcpEngineEnvironment env)
    {
        _tuple = tuple;
        _env = env;
    }

    /// <summary>Segments emitted so far.</summary>
    public long Emitted { get; private set; }

    /// <summary>A segment arrived: its trace is held until its first reply or <see cref="FlushReceived"/>.</summary>
    /// <param name="segment">The segment.</param>
    /// <param name="state">The connection's state before processing it.</param>
    public void BeginReceived(in TcpSegment segment, TcpState state)
    {
        if (_env.Trace is null)
        {
            return;
        }

        _received ??= new TcpTraceEvent[1];
        _received[0] = new TcpTraceEvent(_tuple, false, segment.Seq, segment.Ack, segment.Flags, segment.Window, segment.Payload.Length, state, 0);
        _receivedPending = true;
    }

    /// <summary>Reports the held received segment, if any, with the state it left the connection in.</summary>
    /// <param name="state">The connection's state now.</param>
    /// <param name="now">The current time.</param>
    public void FlushReceived(TcpState state, Micros now)
    {
        if (_receivedPending)
        {
            _receivedPending = false;
            _env.Trace?.Invoke(_received![0] with { State = state, NowMicros = now.Value });
        }
    }

    /// <summary>Sends one segment (the payload is <paramref name="first"/> then <paramref name="second"/>).</summary>
    /// <param name="segment">The header fields.</param>
    /// <param name="first">The first part of the payload.</param>
    /// <param name="second">Its continuation.</param>
    /// <param name="state">The state it is sent in, for the trace.</param>
    /// <param name="now">The current time.</param>
    public void Emit(in TcpOutgoingSegment segment, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, TcpState state, Micros now)
    {
        _env.Counters.Add(TcpCounter.SegmentsSent, segment.WireSegments(first.Length + second.Length)); // a super-segment counts as the segments it becomes
        Emitted++;
        FlushReceived(state, now); // the segment being processed is reported before its replies
        _env.Output.Send(_tuple, segment, first, second);
        _env.Trace?.Invoke(new TcpTraceEvent(_tuple, true, segment.Seq, segment.Ack, segment.Flags, segment.Window, first.Length + second.Length, state, now.Value));
    }
}
