using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockCloseTests
{
    [Fact]
    public void Server_closes_first_and_the_client_is_passive()
    {
        var wire = new EnginePair();
        wire.Connect();
        TcpControlBlock a = wire.A, b = wire.B!;
        b.Close(wire.Now);
        Assert.Equal(TcpState.FinWait1, b.State);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.CloseWait, a.State);
        Assert.True(wire.EventsA.HasFlag(TcpEvents.ReceiveCompleted));
        Assert.Equal(0, a.Receive(new byte[10], wire.Now));
        Assert.True(a.IsReceiveCompleted);
        a.Close(wire.Now);
        Assert.Equal(TcpState.LastAck, a.State);
        wire.Run(3 * wire.OneWayDelay);
        Assert.Equal(TcpState.Closed, a.State);
        Assert.Equal(TcpState.TimeWait, b.State);
        Assert.True(wire.EventsA.HasFlag(TcpEvents.Closed));
    }

    [Fact]
    public void Simultaneous_close_goes_through_closing_to_time_wait_on_both_sides()
    {
        var wire = new EnginePair();
        wire.Connect();
        TcpControlBlock a = wire.A, b = wire.B!;
        a.Close(wire.Now);
        b.Close(wire.Now);
        Assert.Equal(TcpState.FinWait1, a.State);
        Assert.Equal(TcpState.FinWait1, b.State);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.Closing, a.State);
        Assert.Equal(TcpState.Closing, b.State);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.TimeWait, a.State);
        Assert.Equal(TcpState.TimeWait, b.State);
        wire.Run(61_000_000);
        Assert.Equal(TcpState.Closed, a.State);
        Assert.Equal(TcpState.Closed, b.State);
    }

    [Fact]
    public void Half_close_keeps_receiving_until_the_peer_finishes()
    {
        var wire = new EnginePair();
        wire.Connect();
        TcpControlBlock a = wire.A, b = wire.B!;
        a.Send("request"u8, wire.Now);
        a.CompleteWrites(wire.Now);
        Assert.Equal(0, a.SendSpace);
        Assert.Equal(TcpState.FinWait1, a.State);
        wire.Run(50_000);
        Assert.Equal(TcpState.FinWait2, a.State);
        Assert.Equal(TcpState.CloseWait, b.State);
        Assert.Equal("request"u8.ToArray(), wire.ReceiveAll(b, 100));
        Assert.True(b.IsReceiveCompleted);

        byte[] response = TestData.Seeded(300_000);
        Assert.Equal(response, wire.Transfer(b, a, response));
        wire.Run(300_000); // the last delayed ACK
        Assert.Equal(TcpState.FinWait2, a.State); // no timeout: the application did not Close
        Assert.Equal(long.MaxValue, a.NextDeadlineMicros);
        b.Close(wire.Now);
        wire.Run(50_000);
        Assert.Equal(TcpState.TimeWait, a.State);
        Assert.Equal(TcpState.Closed, b.State);
        Assert.True(a.IsReceiveCompleted);
    }

    [Fact]
    public void Abort_sends_rst_and_the_peer_is_reset()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.A.Abort(wire.Now);
        Assert.Equal(TcpState.Closed, wire.A.State);
        Assert.Equal(SocketError.ConnectionAborted, wire.A.Error);
        SentSegment rst = wire.Log[^1];
        Assert.True(rst.Has(TcpFlags.Rst));
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.Closed, wire.B!.State);
        Assert.Equal(SocketError.ConnectionReset, wire.B.Error);
        Assert.True(wire.EventsB.HasFlag(TcpEvents.Error | TcpEvents.Closed));
        Assert.Equal(1, wire.CountersB.EstablishedResets);
        Assert.Equal(0, wire.CountersB.CurrentEstablished);
        wire.Run(10_000_000);
        Assert.Equal(1, wire.Log.Count(s => s.Has(TcpFlags.Rst))); // the closed side does not answer RST with RST
    }

    [Fact]
    public void Close_with_unread_data_sends_rst()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.A.Send("unread"u8, wire.Now);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(6, wire.B!.ReadableBytes);
        wire.B.Close(wire.Now);
        Assert.Equal(TcpState.Closed, wire.B.State);
        Assert.True(wire.Log[^1].Has(TcpFlags.Rst | TcpFlags.Ack));
        wire.Run(wire.OneWayDelay);
        Assert.Equal(SocketError.ConnectionReset, wire.A.Error);
    }

    [Fact]
    public void Data_after_close_is_answered_with_rst()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.B!.Close(wire.Now); // server done; FIN goes out
        wire.Run(50_000);
        Assert.Equal(TcpState.FinWait2, wire.B.State);
        Assert.Equal(60_000_000, wire.B.NextDeadlineMicros - (wire.Now - 30_000)); // FIN-WAIT-2 timeout armed once closed
        wire.A.Send("late"u8, wire.Now);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.Closed, wire.B.State);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(SocketError.ConnectionReset, wire.A.Error);
    }

    [Fact]
    public void Fin_wait_2_times_out_once_the_application_closed()
    {
        var wire = new EnginePair(optionsB: TcpConnectionOptions.Default with { FinWait2Timeout = TimeSpan.FromSeconds(5) });
        wire.Connect();
        wire.B!.Close(wire.Now);
        long closed = wire.Now;
        wire.Run(50_000);
        Assert.Equal(TcpState.FinWait2, wire.B.State);
        Assert.Equal(TcpState.CloseWait, wire.A.State); // A never closes
        wire.RunUntil(closed + 20_000 + 5_000_000 - 1);
        Assert.Equal(TcpState.FinWait2, wire.B.State);
        wire.RunUntil(closed + 20_000 + 5_000_000);
        Assert.Equal(TcpState.Closed, wire.B.State);
    }

    [Fact]
    public void Time_wait_reacks_a_retransmitted_fin_and_restarts_the_timer()
    {
        var wire = new EnginePair();
        wire.Connect();
        TcpControlBlock a = wire.A, b = wire.B!;
        a.Close(wire.Now);
        wire.Run(50_000);
        // Drop A's ACK of B's FIN: B retransmits the FIN after its RTO.
        wire.Filter = s => s.FromA && s.Has(TcpFlags.Ack) && !s.Has(TcpFlags.Fin) && a.State == TcpState.TimeWait ? WireAction.Drop : WireAction.Deliver;
        b.Close(wire.Now);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.TimeWait, a.State);
        long firstDeadline = a.NextDeadlineMicros;
        int acksBefore = wire.Log.Count(s => s.FromA);
        wire.Filter = null;
        wire.RunUntil(wire.Now + 2_000_000, () => b.State == TcpState.Closed);
        Assert.Equal(TcpState.Closed, b.State);
        Assert.Equal(TcpState.TimeWait, a.State);
        Assert.Equal(acksBefore + 1, wire.Log.Count(s => s.FromA));
        Assert.True(a.NextDeadlineMicros > firstDeadline); // restarted
        Assert.Equal(wire.Now - wire.OneWayDelay + 60_000_000, a.NextDeadlineMicros);
    }

    [Fact]
    public void A_syn_that_reaches_a_time_wait_tcb_gets_a_challenge_ack()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Close(p.Now);
        SentSegment fin = Assert.Single(p.Output.Take());
        p.Send(TcpFlags.Fin | TcpFlags.Ack, ack: fin.Header.Seq + 1);
        Assert.Equal(TcpState.TimeWait, p.Tcb.State);
        SentSegment challenge = Assert.Single(p.Send(TcpFlags.Syn, seq: p.PeerSeq + 10));
        Assert.Equal(TcpFlags.Ack, challenge.Flags);
        Assert.Equal(p.PeerSeq.Value, challenge.Ack);
        Assert.Equal(TcpState.TimeWait, p.Tcb.State);
    }

    [Fact]
    public void Can_be_replaced_by_a_newer_syn_in_time_wait_only()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.A.Close(wire.Now);
        wire.Run(50_000);
        wire.B!.Close(wire.Now);
        wire.Run(50_000);
        Assert.Equal(TcpState.TimeWait, wire.A.State);
        TcpControlBlock tw = wire.A;
        SeqNum rcvNxt = tw.RcvNxt;
        uint tsRecent = wire.Log.Last(s => !s.FromA).Header.Options.Timestamps!.Value.TsVal;

        var newer = new TcpOptions { Timestamps = new TcpTimestamps(tsRecent + 1, 0) };
        var older = new TcpOptions { Timestamps = new TcpTimestamps(tsRecent - 1, 0) };
        Assert.True(tw.CanBeReplacedBySyn(new TcpSegment(rcvNxt - 100, default, TcpFlags.Syn, 1000, newer, default)));
        Assert.False(tw.CanBeReplacedBySyn(new TcpSegment(rcvNxt + 100, default, TcpFlags.Syn, 1000, older, default)));
        // Without timestamps, the sequence number decides.
        Assert.True(tw.CanBeReplacedBySyn(new TcpSegment(rcvNxt + 100, default, TcpFlags.Syn, 1000, default, default)));
        Assert.False(tw.CanBeReplacedBySyn(new TcpSegment(rcvNxt - 1, default, TcpFlags.Syn, 1000, default, default)));
        Assert.False(tw.CanBeReplacedBySyn(new TcpSegment(rcvNxt + 100, default, TcpFlags.Syn | TcpFlags.Ack, 1000, default, default)));
        Assert.False(wire.B.CanBeReplacedBySyn(new TcpSegment(rcvNxt + 100, default, TcpFlags.Syn, 1000, default, default)));
    }
}
