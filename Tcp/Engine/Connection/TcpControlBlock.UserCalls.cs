using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Tcp.Engine;

// The user calls of RFC 9293 3.10.1-3.10.6: OPEN (active, passive, from a SYN cookie), SEND,
// RECEIVE, CLOSE (and the half-close), ABORT and STATUS.
internal sealed partial class TcpControlBlock
{
    // ------------------------------------------------------------------ OPEN (RFC 9293 3.10.1)

    /// <summary>Active open (RFC 9293 3.10.1): CLOSED -> SYN-SENT, sends SYN.</summary>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenActive(Micros now)
    {
        EnsureNew();
        _sender.Start(_env.Isn.Next(Tuple, now.Value));
        _ts.ChooseOffset(_env.Random);
        State = TcpState.SynSent;
        _counters.Add(TcpCounter.ActiveOpens);
        if (_options.ConnectTimeout is TimeSpan ct)
        {
            _timers.Arm(TcpTimer.Connect, now + Micros.FromTimeSpan(ct));
        }

        _sender.Rtt.OnSynSent(now);
        SendSyn(now);
        _timers.Arm(TcpTimer.Retransmission, now + _sender.Rto);
    }

    /// <summary>Passive open from a listener (RFC 9293 3.10.7.2): CLOSED -> SYN-RECEIVED, sends SYN-ACK.</summary>
    /// <param name="syn">The SYN.</param>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    /// <exception cref="ArgumentException">The segment is not a SYN (without ACK and RST).</exception>
    public void OpenPassive(in TcpSegment syn, Micros now)
    {
        EnsureNew();
        if ((syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn)
        {
            throw new ArgumentException("A passive open needs a SYN without ACK or RST.", nameof(syn));
        }

        _counters.Add(TcpCounter.SegmentsReceived);
        _emitter.BeginReceived(syn, State);
        _passive = true;
        _receiver.Start(syn.Seq);
        Negotiate(syn.Options, now);
        _ts.ChooseOffset(_env.Random);
        _sender.Start(_env.Isn.Next(Tuple, now.Value));
        _sender.SetWindow(syn.Window, syn.Seq, _sender.Iss); // RFC 7323 2.2: the window of a SYN is never scaled
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        _sender.Rtt.OnSynSent(now);
        SendSynAck(now);
        _emitter.FlushReceived(State, now);
        _timers.Arm(TcpTimer.Retransmission, now + _sender.Rto);
    }

    /// <summary>
    /// CLOSED -> ESTABLISHED from the ACK that returned a valid SYN cookie (RFC 4987 3.6). The
    /// cookie SYN-ACK must have announced <see cref="ChooseWindowScale"/> of the receive buffer when
    /// the peer offered window scaling, and carried timestamps when the peer offered them.
    /// </summary>
    /// <param name="ack">The ACK (SEG.ACK = cookie + 1).</param>
    /// <param name="cookieIss">The ISS the cookie SYN-ACK carried.</param>
    /// <param name="mss">The peer's MSS decoded from the cookie.</param>
    /// <param name="peerWindowScale">The peer's window scale, when its SYN had one (decoded from the timestamp).</param>
    /// <param name="peerSackPermitted">Whether the peer's SYN allowed SACK (the cookie SYN-ACK offered it back only with timestamps, which carry the bit).</param>
    /// <param name="now">The current time.</param>
    /// <exception cref="InvalidOperationException">The TCB is not new.</exception>
    public void OpenFromCookie(in TcpSegment ack, uint cookieIss, ushort mss, byte? peerWindowScale, bool peerSackPermitted, Micros now)
    {
        EnsureNew();
        _counters.Add(TcpCounter.SegmentsReceived);
        _passive = true;
        _receiver.Start(ack.Seq - 1);
        _negotiation.OnCookie(mss, peerWindowScale, peerSackPermitted, ack.Options.Timestamps, _env.Random, now);
        ApplyNegotiated();
        _sender.Start(new SeqNum(cookieIss));
        _sender.OnSynAcknowledged(_sender.Iss + 1);
        _sender.SetWindow((long)ack.Window << _sender.Shift, ack.Seq, ack.Ack);
        _receiver.SynAckWindow(); // what the cookie SYN-ACK advertised
        State = TcpState.SynReceived;
        _counters.Add(TcpCounter.PassiveOpens);
        _emitter.BeginReceived(ack, State);
        EnterEstablished(now);
        ProcessSynchronized(ack, now); // the rest of the ACK (data, FIN) is processed as in ESTABLISHED
        _emitter.FlushReceived(State, now);
    }

    // ------------------------------------------------------------------ SEND, RECEIVE, CLOSE, ABORT (RFC 9293 3.10.2-3.10.5)

    /// <summary>Copies what fits into the send buffer and may transmit (Nagle permitting).</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Bytes accepted (0 when the buffer is full or writing is over).</returns>
    public int Send(ReadOnlySpan<byte> data, Micros now)
    {
        if (SendSpace == 0 || data.IsEmpty)
        {
            return 0;
        }

        int n = _sender.Buffer!.Write(data);
        if (State is TcpState.Established or TcpState.CloseWait)
        {
            _sender.Output(now);
        }

        return n;
    }

    /// <summary>Copies readable bytes out; may send a window update.</summary>
    /// <param name="destination">Where to copy.</param>
    /// <param name="now">The current time.</param>
    /// <returns>Bytes copied; 0 when nothing is readable now.</returns>
    public int Receive(Span<byte> destination, Micros now)
    {
        int n = _receiver.Read(destination, now, out bool windowUpdateDue);
        if (n == 0)
        {
            return 0;
        }

        if (State is TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2)
        {
            if (windowUpdateDue)
            {
                SendAck(now);
            }
        }
        else if (State is TcpState.TimeWait or TcpState.Closed && _receiver.Buffer!.Readable == 0)
        {
            _receiver.Buffer.Release();
        }

        return n;
    }

    /// <summary>Half-close (RFC 9293 3.10.4): FIN after the queued data; the receive side stays open.</summary>
    /// <param name="now">The current time.</param>
    public void CompleteWrites(Micros now)
    {
        switch (State)
        {
            case TcpState.SynSent:
            case TcpState.SynReceived:
                _finPending = true; // queued until ESTABLISHED
                break;
            case TcpState.Established:
            case TcpState.CloseWait:
                _sender.Buffer!.CompleteWrites();
                State = State == TcpState.Established ? TcpState.FinWait1 : TcpState.LastAck;
                LeaveEstablishedCount(); // tcpCurrEstab counts ESTABLISHED and CLOSE-WAIT (RFC 1213)
                _sender.Output(now);
                break;
            default:
                break; // already closing: idempotent
        }
    }

    /// <summary>
    /// The application is done both ways (RFC 9293 3.10.4): FIN after the queued data; but when
    /// received data is left unread it is discarded and the peer gets a RST instead (RFC 9293
    /// 3.10.4's ABORT semantics for lost data, as Linux does).
    /// </summary>
    /// <param name="now">The current time.</param>
    public void Close(Micros now)
    {
        _appClosed = true;
        switch (State)
        {
            case TcpState.Closed:
            case TcpState.Listen:
                return;
            case TcpState.SynSent:
                EnterClosed(); // delete the TCB
                return;
            default:
                break;
        }

        if (_receiver.Buffer is { Readable: > 0 } && State is not TcpState.TimeWait)
        {
            SendReset(_sender.Max, withAck: true, now);
            _counters.Add(TcpCounter.Aborts);
            EnterClosed();
            return;
        }

        CompleteWrites(now);
        if (State == TcpState.FinWait2)
        {
            _timers.Arm(TcpTimer.FinWait2, now + Micros.FromTimeSpan(_options.FinWait2Timeout));
        }
    }

    /// <summary>Abortive close (RFC 9293 3.10.5): RST in synchronized states, CLOSED, <see cref="Error"/> = ConnectionAborted.</summary>
    /// <param name="now">The current time.</param>
    public void Abort(Micros now)
    {
        if (State == TcpState.Closed)
        {
            return;
        }

        if (State is TcpState.SynReceived or TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2 or TcpState.CloseWait)
        {
            SendReset(_sender.Max, withAck: true, now);
        }

        _appClosed = true;
        _counters.Add(TcpCounter.Aborts);
        Fail(SocketError.ConnectionAborted);
    }

    /// <summary>What happened since the last call.</summary>
    /// <returns>The events, now cleared.</returns>
    public TcpEvents TakeEvents()
    {
        TcpEvents e = _events;
        _events = TcpEvents.None;
        return e;
    }

    // ------------------------------------------------------------------ STATUS (RFC 9293 3.10.6)

    /// <summary>The connection-table row.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The row.</returns>
    public TcpConnectionInfo GetInfo(Micros now)
    {
        (TcpTimer? timer, Micros deadline) = _timers.Earliest();
        RtoEstimator rto = _sender.RtoEstimator;
        return new TcpConnectionInfo
        {
            Local = new IpEndpoint(Tuple.LocalAddress, Tuple.LocalPort),
            Remote = new IpEndpoint(Tuple.RemoteAddress, Tuple.RemotePort),
            State = StateAt(now),
            SendQueue = _sender.Buffer?.Buffered ?? 0,
            ReceiveQueue = _receiver.Buffer?.Readable ?? 0,
            SmoothedRtt = new Micros(rto.SmoothedRtt).ToTimeSpan(),
            RttVariation = new Micros(rto.RttVariation).ToTimeSpan(),
            Rto = _sender.Rto.ToTimeSpan(),
            CongestionWindow = _sender.Congestion.CongestionWindow,
            SlowStartThreshold = _sender.Congestion.SlowStartThreshold,
            Mss = _sizes.Send,
            Retransmissions = _sender.Retransmissions,
            ActiveTimer = timer is TcpTimer t ? TcpTimerSet.Name(t) : null,
            ActiveTimerRemaining = timer is null ? TimeSpan.Zero : Micros.Max(deadline - now, Micros.Zero).ToTimeSpan(),
            BytesSent = _sender.BytesSent,
            BytesReceived = _receiver.BytesReceived,
            ReceiveBufferSize = _receiver.Buffer?.Capacity ?? _options.ReceiveBufferSize,
            SendBufferSize = _sender.Buffer?.Capacity ?? _options.SendBufferSize,
            ReceiveWindow = _receiver.Buffer?.AdvertisedWindow ?? 0,
        };
    }

    /// <summary>
    /// Whether a SYN for this 4-tuple may replace this TCB (RFC 6191 / RFC 9293 3.10.7.4 TIME-WAIT):
    /// only in TIME-WAIT, and only when the SYN's timestamp is newer than TS.Recent (both sides use
    /// timestamps) or else its sequence number is beyond RCV.NXT.
    /// </summary>
    /// <param name="syn">The SYN.</param>
    /// <returns>Whether the layer may drop this TCB and open a new one from the SYN.</returns>
    public bool CanBeReplacedBySyn(in TcpSegment syn)
    {
        if (State != TcpState.TimeWait || (syn.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn || _receiver.Buffer is null)
        {
            return false;
        }

        if (_ts.Enabled && syn.Options.Timestamps is TcpTimestamps ts)
        {
            return _ts.IsNewer(ts.TsVal); // RFC 6191 2: timestamp newer than the last seen
        }

        return syn.Seq > _receiver.RcvNxt; // RFC 6191 2 / RFC 1122 4.2.2.13: sequence number beyond the old connection's
    }

    /// <summary>A short description for debugging.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{Tuple} {State} una={SndUna} nxt={SndNxt} max={SndMax} wnd={SndWnd} rcv.nxt={RcvNxt} {Congestion}");
}
