using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Tcp.Engine;

/// <summary>
/// One TCP connection (the TCB of RFC 9293 3.3.1): a sans-IO state machine. Segments, timer ticks
/// and application calls go in with the current time; segments come out through
/// <see cref="TcpEngineEnvironment.Output"/> and what changed through <see cref="TakeEvents"/>.
/// Only the stack's loop calls it.
/// </summary>
internal sealed class TcpControlBlock
{
    private readonly TcpConnectionOptions _options;
    private readonly TcpEngineEnvironment _env;

    /// <summary>A closed TCB for <paramref name="tuple"/>.</summary>
    /// <param name="tuple">The connection's 4-tuple (local = this stack).</param>
    /// <param name="options">Per-connection options.</param>
    /// <param name="env">Stack-wide services.</param>
    public TcpControlBlock(in TcpFourTuple tuple, TcpConnectionOptions options, TcpEngineEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(env);
        Tuple = tuple;
        _options = options;
        _env = env;
    }

    /// <summary>The connection's 4-tuple.</summary>
    public TcpFourTuple Tuple { get; }

    /// <summary>The current state.</summary>
    public TcpState State { get; private set; }

    /// <summary>Success until the connection failed (refused, reset, timed out, aborted, unreachable).</summary>
    public SocketError Error { get; private set; }

    /// <summary>The earliest time <see cref="OnTimer"/> has something to do; <see cref="long.MaxValue"/> when no timer is armed.</summary>
    public long NextDeadlineMicros => long.MaxValue;

    /// <summary>Bytes the application can read now.</summary>
    public int ReadableBytes => 0;

    /// <summary>FIN received and every byte before it read.</summary>
    public bool IsReceiveCompleted => false;

    /// <summary>Free bytes in the send buffer (0 after <see cref="CompleteWrites"/> or once closed).</summary>
    public int SendSpace => 0;

    /// <summary>Nagle's algorithm off (RFC 9293 3.7.4).</summary>
    public bool NoDelay { get; set; }

    /// <summary>Active open: CLOSED -> SYN-SENT, sends SYN.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void OpenActive(long nowMicros) => throw new NotImplementedException();

    /// <summary>Passive open from a listener: CLOSED -> SYN-RECEIVED, sends SYN-ACK.</summary>
    /// <param name="syn">The SYN.</param>
    /// <param name="nowMicros">The current time.</param>
    public void OpenPassive(in TcpSegment syn, long nowMicros) => throw new NotImplementedException();

    /// <summary>CLOSED -> ESTABLISHED from the ACK that returned a valid SYN cookie.</summary>
    /// <param name="ack">The ACK.</param>
    /// <param name="cookieIss">The ISS the cookie SYN-ACK carried.</param>
    /// <param name="mss">The peer's MSS decoded from the cookie.</param>
    /// <param name="peerWindowScale">The peer's window scale, when its SYN had one (decoded from the timestamp).</param>
    /// <param name="peerSackPermitted">Whether the peer's SYN allowed SACK.</param>
    /// <param name="nowMicros">The current time.</param>
    public void OpenFromCookie(in TcpSegment ack, uint cookieIss, ushort mss, byte? peerWindowScale, bool peerSackPermitted, long nowMicros) => throw new NotImplementedException();

    /// <summary>Processes one received segment (RFC 9293 3.10.7).</summary>
    /// <param name="segment">The segment (checksum already verified).</param>
    /// <param name="nowMicros">The current time.</param>
    public void OnSegment(in TcpSegment segment, long nowMicros) => throw new NotImplementedException();

    /// <summary>An ICMP error quoting one of our segments (RFC 5927, RFC 1122 4.2.3.9, RFC 1191).</summary>
    /// <param name="type">ICMP type.</param>
    /// <param name="code">ICMP code.</param>
    /// <param name="nextHopMtu">The next-hop MTU of a fragmentation-needed message, else 0.</param>
    /// <param name="nowMicros">The current time.</param>
    public void OnIcmpError(IcmpType type, byte code, ushort nextHopMtu, long nowMicros) => throw new NotImplementedException();

    /// <summary>Runs whatever timers are due (may be called early or late).</summary>
    /// <param name="nowMicros">The current time.</param>
    public void OnTimer(long nowMicros) => throw new NotImplementedException();

    /// <summary>Copies what fits into the send buffer and may transmit.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>Bytes accepted.</returns>
    public int Send(ReadOnlySpan<byte> data, long nowMicros) => throw new NotImplementedException();

    /// <summary>Copies readable bytes out; may send a window update.</summary>
    /// <param name="destination">Where to copy.</param>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>Bytes copied; 0 when nothing is readable now.</returns>
    public int Receive(Span<byte> destination, long nowMicros) => throw new NotImplementedException();

    /// <summary>Half-close: FIN after the queued data.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void CompleteWrites(long nowMicros) => throw new NotImplementedException();

    /// <summary>The application is done both ways: FIN, or RST when unread data is discarded.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void Close(long nowMicros) => throw new NotImplementedException();

    /// <summary>Abortive close: RST, CLOSED, <see cref="Error"/> = ConnectionAborted.</summary>
    /// <param name="nowMicros">The current time.</param>
    public void Abort(long nowMicros) => throw new NotImplementedException();

    /// <summary>What happened since the last call.</summary>
    /// <returns>The events, now cleared.</returns>
    public TcpEvents TakeEvents() => throw new NotImplementedException();

    /// <summary>The connection-table row.</summary>
    /// <param name="nowMicros">The current time.</param>
    /// <returns>The row.</returns>
    public TcpConnectionInfo GetInfo(long nowMicros) => throw new NotImplementedException();

    /// <summary>TIME-WAIT and a SYN that may reopen the 4-tuple (RFC 6191).</summary>
    /// <param name="syn">The SYN.</param>
    /// <returns>Whether the layer may replace this TCB.</returns>
    public bool CanBeReplacedBySyn(in TcpSegment syn) => throw new NotImplementedException();
}
