using System.Runtime.CompilerServices;

namespace Protocols.Tcp.Engine;

/// <summary>
/// The timers of one connection. The order is the order in which <see cref="TcpControlBlock.OnTimer"/>
/// runs the ones that are due: the timers that end the connection come first.
/// </summary>
internal enum TcpTimer
{
    /// <summary>2 MSL in TIME-WAIT (RFC 9293 3.10.8): deletes the TCB.</summary>
    TimeWait,

    /// <summary>An orphaned FIN-WAIT-2 waiting for the peer's FIN (Linux's tcp_fin_timeout).</summary>
    FinWait2,

    /// <summary>The connect timeout of an active open.</summary>
    Connect,

    /// <summary>RFC 5482 user timeout: data unacknowledged for too long.</summary>
    UserTimeout,

    /// <summary>Retransmission (RFC 6298), also for SYN and SYN-ACK.</summary>
    Retransmission,

    /// <summary>RACK's reordering timer (RFC 8985 6.2): losses are detected again when it fires.</summary>
    RackReorder,

    /// <summary>The tail loss probe timeout, PTO (RFC 8985 7.2).</summary>
    LossProbe,

    /// <summary>Pacing: the next segment's release time at the congestion controller's pacing rate.</summary>
    Pacing,

    /// <summary>Persist: zero-window probes and the sender SWS override timeout (RFC 9293 3.8.6.1, 3.8.6.2.1).</summary>
    Persist,

    /// <summary>Delayed ACK (RFC 9293 3.8.6.3).</summary>
    DelayedAck,

    /// <summary>Keepalive (RFC 9293 3.8.4).</summary>
    KeepAlive,
}

/// <summary>
/// One deadline per <see cref="TcpTimer"/>; <see cref="Micros.Never"/> when disarmed. The
/// connection's single deadline for the layer is <see cref="Next"/>.
/// </summary>
internal sealed class TcpTimerSet
{
    /// <summary>The number of timers.</summary>
    public const int Count = (int)TcpTimer.KeepAlive + 1;

    private Deadlines _deadlines;
    private Micros _next; // the earliest deadline, valid unless _stale
    private bool _stale;

    /// <summary>A set with every timer disarmed.</summary>
    public TcpTimerSet() => StopAll();

    /// <summary>The earliest deadline (<see cref="Micros.Never"/> when none is armed).</summary>
    public Micros Next
    {
        get
        {
            if (_stale)
            {
                Micros next = Micros.Never;
                for (int i = 0; i < Count; i++)
                {
                    next = Micros.Min(next, _deadlines[i]);
                }

                _next = next;
                _stale = false;
            }

            return _next;
        }
    }

    /// <summary>The deadline of <paramref name="timer"/>.</summary>
    /// <param name="timer">The timer.</param>
    /// <returns>Its deadline, <see cref="Micros.Never"/> when disarmed.</returns>
    public Micros Deadline(TcpTimer timer) => _deadlines[(int)timer];

    /// <summary>Whether <paramref name="timer"/> is armed.</summary>
    /// <param name="timer">The timer.</param>
    /// <returns>True when it has a deadline.</returns>
    public bool IsArmed(TcpTimer timer) => !_deadlines[(int)timer].IsNever;

    /// <summary>Whether <paramref name="timer"/> is armed and its deadline is at or before <paramref name="now"/>.</summary>
    /// <param name="timer">The timer.</param>
    /// <param name="now">The current time.</param>
    /// <returns>True when it is due.</returns>
    public bool IsDue(TcpTimer timer, Micros now) => _deadlines[(int)timer] <= now;

    /// <summary>Sets <paramref name="timer"/> to fire at <paramref name="deadline"/>, replacing any earlier setting.</summary>
    /// <param name="timer">The timer.</param>
    /// <param name="deadline">When.</param>
    public void Arm(TcpTimer timer, Micros deadline)
    {
        ref Micros slot = ref _deadlines[(int)timer];
        if (deadline <= _next && !_stale)
        {
            _next = deadline; // earlier than all: the new minimum
        }
        else if (slot == _next)
        {
            _stale = true; // the minimum moved later
        }

        slot = deadline;
    }

    /// <summary>Disarms <paramref name="timer"/>.</summary>
    /// <param name="timer">The timer.</param>
    public void Cancel(TcpTimer timer)
    {
        ref Micros slot = ref _deadlines[(int)timer];
        if (slot.IsNever)
        {
            return;
        }

        if (slot == _next)
        {
            _stale = true;
        }

        slot = Micros.Never;
    }

    /// <summary>Disarms every timer.</summary>
    public void StopAll()
    {
        for (int i = 0; i < Count; i++)
        {
            _deadlines[i] = Micros.Never;
        }

        _next = Micros.Never;
        _stale = false;
    }

    /// <summary>The armed timer with the earliest deadline, for the connection table; null when none is armed.</summary>
    /// <returns>The timer and its deadline.</returns>
    public (TcpTimer? Timer, Micros Deadline) Earliest()
    {
        (TcpTimer? timer, Micros deadline) best = (null, Micros.Never);
        for (int i = 0; i < Count; i++)
        {
            if (_deadlines[i] < best.deadline)
            {
                best = ((TcpTimer)i, _deadlines[i]);
            }
        }

        return best;
    }

    /// <summary>The short name <c>ss</c>-style tables show for a timer.</summary>
    /// <param name="timer">The timer.</param>
    /// <returns>e.g. <c>retrans</c>.</returns>
    public static string Name(TcpTimer timer) => timer switch
    {
        TcpTimer.TimeWait => "timewait",
        TcpTimer.FinWait2 => "finwait2",
        TcpTimer.Connect => "connect",
        TcpTimer.UserTimeout => "user",
        TcpTimer.Retransmission => "retrans",
        TcpTimer.RackReorder => "reorder",
        TcpTimer.LossProbe => "lossprobe",
        TcpTimer.Pacing => "pacing",
        TcpTimer.Persist => "persist",
        TcpTimer.DelayedAck => "delack",
        TcpTimer.KeepAlive => "keepalive",
        _ => timer.ToString(),
    };

    [InlineArray(Count)]
    private struct Deadlines
    {
        private Micros _element0;
    }
}
