using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Protocols.Ip;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp;

/// <summary>
/// The TIME-WAIT table: once a connection in TIME-WAIT has nothing left for its application, its
/// control block (about twenty objects, and the stream's) leaves the connection table and a
/// <see cref="TimeWaitRecord"/> of a few dozen bytes, stored inline in this table, answers the
/// 4-tuple for the rest of 2 MSL, as Linux's tcp_timewait_sock does. The records expire through one
/// stack timer over an expiry queue; the table holds at most <see cref="TcpStackOptions.MaxTimeWait"/>
/// records (Linux's tcp_max_tw_buckets): past it a connection leaving for TIME-WAIT closes at once,
/// counted in <see cref="TcpCounter.TimeWaitOverflows"/>.
/// </summary>
public sealed partial class TcpLayer
{
    private readonly Dictionary<TcpFourTuple, TimeWaitRecord> _timeWait = new();

    // One entry per record, at the deadline it had when queued (a restarted record is re-queued when
    // its old entry comes due); entries of records deleted early are skipped by their serial.
    private readonly PriorityQueue<(TcpFourTuple Tuple, long Serial), long> _timeWaitExpiry = new();
    private Action<NetworkStack>? _timeWaitTimerCallback;
    private TimerHandle _timeWaitTimer;
    private long _timeWaitTimerDue = long.MaxValue;
    private long _timeWaitSerial;

    /// <summary>Connections in TIME-WAIT held as compact records (they count in <see cref="ConnectionCount"/> too). Loop-only.</summary>
    public int TimeWaitCount => _timeWait.Count;

    // Called by Drain for a connection in TIME-WAIT: move it to the table when its control block lets go.
    private bool TryMoveToTimeWait(TcpConnection connection)
    {
        if (!connection.Tcb.TryHandOverTimeWait(out TimeWaitRecord record))
        {
            return false;
        }

        Remove(connection);
        if (_timeWait.Count >= Options.MaxTimeWait)
        {
            Counters.Add(TcpCounter.TimeWaitOverflows); // Linux: "time wait bucket table overflow", the connection just closes
            connection.Tcb.DropHandedOverTimeWait();
            return true;
        }

        record.Serial = ++_timeWaitSerial;
        record.Held = connection.Stream is null ? null : connection.Tcb; // the application still reads the stream's state
        _timeWait[connection.Tuple] = record;
        _timeWaitExpiry.Enqueue((connection.Tuple, record.Serial), record.Deadline.Value);
        if (_timeWaitExpiry.Count > (2 * _timeWait.Count) + 1024)
        {
            RebuildTimeWaitExpiry();
        }

        ArmTimeWaitTimer();
        return true;
    }

    // The application closed the stream of a connection whose TIME-WAIT is a record: nothing reads
    // its state any more, so the record lets go of the control block.
    internal void ReleaseHeldTimeWait(TcpConnection connection)
    {
        ref TimeWaitRecord record = ref CollectionsMarshal.GetValueRefOrNullRef(_timeWait, connection.Tuple);
        if (!Unsafe.IsNullRef(ref record) && ReferenceEquals(record.Held, connection.Tcb))
        {
            record.Held = null;
        }
    }

    // A segment for a 4-tuple in the table: true when the record took it, false when there is no
    // record or a SYN ended it (RFC 6191) and the segment goes on to the listener.
    private bool TryTimeWaitSegment(in TcpFourTuple tuple, in TcpSegment segment, Micros now)
    {
        ref TimeWaitRecord record = ref CollectionsMarshal.GetValueRefOrNullRef(_timeWait, tuple);
        if (Unsafe.IsNullRef(ref record))
        {
            return false;
        }

        // RFC 6191: a SYN whose ISN (or timestamp) is newer than the old incarnation's may open a
        // new connection; the record goes and the SYN goes to the listener.
        if ((segment.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn
            && FindListener(tuple.LocalAddress, tuple.LocalPort) is not null
            && record.CanBeReplacedBySyn(in segment))
        {
            Counters.Add(TcpCounter.TimeWaitRecycled);
            record.Held?.DropHandedOverTimeWait(); // the old incarnation is over: a held stream reads CLOSED
            _timeWait.Remove(tuple);
            return false;
        }

        Counters.Add(TcpCounter.SegmentsReceived);
        Micros deadline = record.Deadline;
        TimeWaitAction action = record.OnSegment(in segment, now, Counters, out TcpSackBlock dsack);
        if (record.Deadline != deadline)
        {
            record.Held?.MoveHandedOverTimeWait(record.Deadline); // a retransmitted FIN restarted 2 MSL
        }

        if (action == TimeWaitAction.ChallengeAck)
        {
            // RFC 5961 7: challenge ACKs are rate-limited stack-wide.
            if (Environment.ChallengeAckLimiter.TryAcquire(now.Value))
            {
                Counters.Add(TcpCounter.ChallengeAcksSent);
                action = TimeWaitAction.Ack;
            }
            else
            {
                Counters.Add(TcpCounter.ChallengeAcksSuppressed);
                action = TimeWaitAction.None;
            }
        }

        TraceTimeWaitReceived(in tuple, in segment, now);
        if (action == TimeWaitAction.Ack)
        {
            TcpOutgoingSegment ack = record.Ack(now, dsack);
            if (ack.Options.SackBlockCount > 0)
            {
                Counters.Add(TcpCounter.DsacksSent);
            }

            SendStateless(in tuple, in ack);
            Environment.Trace?.Invoke(new TcpTraceEvent(tuple, true, ack.Seq, ack.Ack, ack.Flags, ack.Window, 0, TcpState.TimeWait, now.Value));
        }

        return true;
    }

    private void TraceTimeWaitReceived(in TcpFourTuple tuple, in TcpSegment segment, Micros now) =>
        Environment.Trace?.Invoke(new TcpTraceEvent(tuple, false, segment.Seq, segment.Ack, segment.Flags, segment.Window, segment.Payload.Length, TcpState.TimeWait, now.Value));

    private void OnTimeWaitTimer(NetworkStack stack)
    {
        _timeWaitTimer = default;
        _timeWaitTimerDue = long.MaxValue;
        long now = NowMicros.Value;
        while (_timeWaitExpiry.TryPeek(out (TcpFourTuple Tuple, long Serial) entry, out long due) && due <= now)
        {
            _timeWaitExpiry.Dequeue();
            ref TimeWaitRecord record = ref CollectionsMarshal.GetValueRefOrNullRef(_timeWait, entry.Tuple);
            if (Unsafe.IsNullRef(ref record) || record.Serial != entry.Serial)
            {
                continue; // deleted early, or a newer record on the same 4-tuple
            }

            if (record.Deadline.Value <= now)
            {
                _timeWait.Remove(entry.Tuple); // RFC 9293 3.10.8: the 2 MSL timeout deletes the connection
            }
            else
            {
                _timeWaitExpiry.Enqueue(entry, record.Deadline.Value); // restarted by a retransmitted FIN
            }
        }

        ArmTimeWaitTimer();
    }

    private void ArmTimeWaitTimer()
    {
        if (!_timeWaitExpiry.TryPeek(out _, out long due) || due >= _timeWaitTimerDue)
        {
            return;
        }

        if (_timeWaitTimer.IsAllocated)
        {
            Stack.Timers.Cancel(_timeWaitTimer);
        }

        _timeWaitTimerCallback ??= OnTimeWaitTimer;
        _timeWaitTimerDue = due;
        _timeWaitTimer = Stack.Timers.Schedule(new Micros(due).ToUnixTime(), _timeWaitTimerCallback);
    }

    // Drops the entries of records deleted early, so the queue stays within a small multiple of the table.
    private void RebuildTimeWaitExpiry()
    {
        _timeWaitExpiry.Clear();
        foreach ((TcpFourTuple tuple, TimeWaitRecord record) in _timeWait)
        {
            _timeWaitExpiry.Enqueue((tuple, record.Serial), record.Deadline.Value);
        }
    }

    private void AddTimeWaitRows(List<TcpConnectionInfo> rows, Micros now)
    {
        foreach ((TcpFourTuple t, TimeWaitRecord record) in _timeWait)
        {
            rows.Add(new TcpConnectionInfo
            {
                Local = new IpEndpoint(t.LocalAddress, t.LocalPort),
                Remote = new IpEndpoint(t.RemoteAddress, t.RemotePort),
                State = TcpState.TimeWait,
                ActiveTimer = "timewait",
                ActiveTimerRemaining = Micros.Max(record.Deadline - now, Micros.Zero).ToTimeSpan(),
                ReceiveWindow = record.AcceptWindow,
                Mss = record.Mss,
            });
        }
    }
}
