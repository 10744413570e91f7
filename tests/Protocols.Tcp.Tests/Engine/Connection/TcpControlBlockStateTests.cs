using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockStateTests
{
    [Fact]
    public void Close_in_syn_sent_deletes_the_tcb_silently()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        p.Output.Take();
        p.Tcb.Close(p.Now);
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.Success, p.Tcb.Error);
        Assert.Empty(p.Output.Take());
        Assert.Equal(long.MaxValue, p.Tcb.NextDeadlineMicros);
    }

    [Fact]
    public void Complete_writes_before_the_handshake_sends_fin_once_established()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        p.Tcb.Send("early"u8, p.Now);
        p.Tcb.CompleteWrites(p.Now);
        Assert.Equal(TcpState.SynSent, p.Tcb.State);
        Assert.Equal(0, p.Tcb.SendSpace);
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(5000), syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack, 65535, new TcpOptions { Mss = 1460 }, default), p.Now);
        Assert.Equal(TcpState.FinWait1, p.Tcb.State);
        SentSegment data = Assert.Single(p.Output.Take());
        Assert.Equal(TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Fin, data.Flags);
        Assert.Equal("early"u8.ToArray(), data.Payload);
    }

    [Fact]
    public void Fin_wait_1_goes_straight_to_time_wait_when_the_fin_acks_our_fin()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Close(p.Now);
        SentSegment fin = Assert.Single(p.Output.Take());
        Assert.True(fin.Has(TcpFlags.Fin));
        SentSegment ack = Assert.Single(p.Send(TcpFlags.Fin | TcpFlags.Ack, ack: fin.Header.Seq + 1));
        Assert.Equal(TcpState.TimeWait, p.Tcb.State);
        Assert.Equal(p.PeerSeq.Value, ack.Ack);
    }

    [Fact]
    public void Fin_wait_1_goes_to_closing_when_the_fin_does_not_ack_ours()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Close(p.Now);
        SentSegment fin = Assert.Single(p.Output.Take());
        p.Send(TcpFlags.Fin | TcpFlags.Ack, ack: fin.Header.Seq);
        Assert.Equal(TcpState.Closing, p.Tcb.State);
        p.Send(TcpFlags.Ack, ack: fin.Header.Seq + 1);
        Assert.Equal(TcpState.TimeWait, p.Tcb.State);
    }

    [Fact]
    public void Fin_is_retransmitted_when_its_ack_is_lost()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Close(p.Now);
        SentSegment fin = Assert.Single(p.Output.Take());
        List<SentSegment> again = p.AdvanceTo(p.Now + 250_000); // RTO 200 ms after a 10 ms handshake sample
        SentSegment refin = Assert.Single(again);
        Assert.Equal(TcpFlags.Fin | TcpFlags.Ack, refin.Flags);
        Assert.Equal(fin.Seq, refin.Seq);
    }

    [Fact]
    public void Rst_in_closing_states_deletes_the_tcb_without_error()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Send(TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(TcpState.CloseWait, p.Tcb.State);
        p.Tcb.Close(p.Now);
        Assert.Equal(TcpState.LastAck, p.Tcb.State);
        p.Send(TcpFlags.Rst);
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.Success, p.Tcb.Error);
    }

    [Fact]
    public void Events_report_readable_writable_and_receive_completed()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { SendBufferSize = 4096, AutoTuneBuffers = false });
        p.Establish();
        Assert.Equal(4096, p.Tcb.SendSpace);
        Assert.Equal(4096, p.Tcb.Send(new byte[5000], p.Now));
        Assert.Equal(0, p.Tcb.SendSpace);
        p.Output.Take();
        p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna + 1460);
        Assert.Equal(TcpEvents.Writable, p.Tcb.TakeEvents() & TcpEvents.Writable);
        Assert.Equal(1460, p.Tcb.SendSpace);
        p.Send(TcpFlags.Ack | TcpFlags.Fin, "bye"u8);
        TcpEvents e = p.Tcb.TakeEvents();
        Assert.True(e.HasFlag(TcpEvents.Readable | TcpEvents.ReceiveCompleted));
        Assert.Equal(TcpEvents.None, p.Tcb.TakeEvents());
        Assert.False(p.Tcb.IsReceiveCompleted);
        Assert.Equal(3, p.Tcb.Receive(new byte[10], p.Now));
        Assert.True(p.Tcb.IsReceiveCompleted);
    }

    [Fact]
    public void Syn_cookie_open_reaches_established_and_takes_the_acks_data()
    {
        var output = new RecordingOutput(() => 0);
        var env = new TcpEngineEnvironment(output, new IsnGenerator(EnginePair.Secret), new Random(1));
        var tcb = new TcpControlBlock(new TcpFourTuple(EnginePair.AddressB, 80, EnginePair.AddressA, 40000), TcpConnectionOptions.Default, env);
        var o = new TcpOptions { Timestamps = new TcpTimestamps(500, 77_000) };
        tcb.OpenFromCookie(new TcpSegment(new SeqNum(1001), new SeqNum(90_001), TcpFlags.Ack | TcpFlags.Psh, 1000, o, "GET /"u8), 90_000, 1460, 7, false, 5_000_000);
        Assert.Equal(TcpState.Established, tcb.State);
        Assert.Equal(1448, tcb.Mss);
        Assert.Equal((7, 7), tcb.WindowShifts); // ours: for the 6 MiB autotuning cap
        Assert.Equal(1000L << 7, tcb.SndWnd);
        Assert.Equal(5, tcb.ReadableBytes);
        Assert.True(tcb.TakeEvents().HasFlag(TcpEvents.Established | TcpEvents.Readable));
        tcb.Send("HTTP/1.1 200 OK"u8, 5_000_000);
        SentSegment reply = output.Sent.Last();
        Assert.Equal(90_001u, reply.Seq);
        Assert.Equal(1006u, reply.Ack);
        Assert.True(reply.Header.Options.Timestamps!.Value.TsVal >= 77_000); // continues the cookie's clock
        Assert.Equal(500u, reply.Header.Options.Timestamps!.Value.TsEcr);
    }

    [Fact]
    public void Sequence_numbers_wrap_around_2_to_the_32_in_both_directions()
    {
        var isnA = new IsnGenerator(EnginePair.Secret);
        var tupleA = new TcpFourTuple(EnginePair.AddressA, 40000, EnginePair.AddressB, 80);
        uint offA = isnA.Offset(tupleA);
        // A second secret whose offset for the reversed tuple lies close to A's, so both ISNs sit just below 2^32.
        IsnGenerator? isnB = null;
        var secret = (byte[])EnginePair.Secret.Clone();
        for (int i = 0; isnB is null; i++)
        {
            BitConverter.TryWriteBytes(secret, i);
            var candidate = new IsnGenerator(secret);
            int delta = unchecked((int)(candidate.Offset(tupleA.Reversed) - offA));
            if (Math.Abs(delta) < 40_000)
            {
                isnB = candidate;
            }
        }

        uint clock = unchecked(0u - 100_000u - offA);
        long start = (long)clock * 4;
        var wire = new EnginePair(start: start, isnB: isnB);
        wire.Connect();
        Assert.Equal(0xFFFF_FFFFu - 99_999u, wire.A.Iss.Value);
        Assert.InRange(wire.B!.Iss.Value, 0xFFFE_0000u, 0xFFFF_FFFFu);
        byte[] up = TestData.Seeded(600_000, 3);
        byte[] down = TestData.Seeded(600_000, 4);
        int dropped = 0;
        wire.Filter = s => s.Payload.Length > 0 && ++dropped % 17 == 0 ? WireAction.Drop : WireAction.Deliver; // retransmissions across the wrap too
        Assert.Equal(up, wire.Transfer(wire.A, wire.B, up));
        Assert.Equal(down, wire.Transfer(wire.B, wire.A, down));
        Assert.True(wire.A.SndNxt.Value < 1_000_000, "A's sequence numbers wrapped");
        Assert.True(wire.B.SndNxt.Value < 1_000_000, "B's sequence numbers wrapped");
        wire.A.Close(wire.Now);
        wire.B.Close(wire.Now);
        wire.Run(70_000_000);
        Assert.Equal(TcpState.Closed, wire.A.State);
        Assert.Equal(TcpState.Closed, wire.B.State);
        Assert.Equal(SocketError.Success, wire.A.Error);
    }

    [Fact]
    public void Passive_syn_received_takes_data_on_the_handshake_ack_and_returns_to_listen_on_a_syn()
    {
        var output = new RecordingOutput(() => 0);
        var env = new TcpEngineEnvironment(output, new IsnGenerator(EnginePair.Secret), new Random(1));
        var tuple = new TcpFourTuple(EnginePair.AddressB, 80, EnginePair.AddressA, 40000);
        var tcb = new TcpControlBlock(tuple, TcpConnectionOptions.Default, env);
        tcb.OpenPassive(new TcpSegment(new SeqNum(1000), default, TcpFlags.Syn, 65535, new TcpOptions { Mss = 1460 }, default), 0);
        SentSegment synAck = Assert.Single(output.Take());
        tcb.OnSegment(new TcpSegment(new SeqNum(1001), synAck.Header.Seq + 1, TcpFlags.Ack | TcpFlags.Psh, 65535, default, "GET"u8), 1000);
        Assert.Equal(TcpState.Established, tcb.State);
        Assert.Equal(3, tcb.ReadableBytes);

        var other = new TcpControlBlock(tuple, TcpConnectionOptions.Default, env);
        other.OpenPassive(new TcpSegment(new SeqNum(1000), default, TcpFlags.Syn, 65535, default, default), 0);
        output.Take();
        other.OnSegment(new TcpSegment(new SeqNum(1001), default, TcpFlags.Syn, 65535, default, default), 0);
        Assert.Equal(TcpState.Closed, other.State); // RFC 9293 3.10.7.4: a passive SYN-RECEIVED goes back to LISTEN
        Assert.Empty(output.Take());
    }

    [Fact]
    public void Rto_starts_at_3_seconds_after_a_lost_syn_without_timestamps()
    {
        var plain = TcpConnectionOptions.Default with { Timestamps = false };
        var wire = new EnginePair(plain, plain);
        int drop = 1;
        wire.Filter = s => s.FromA && s.Has(TcpFlags.Syn) && drop-- > 0 ? WireAction.Drop : WireAction.Deliver;
        wire.Connect();
        Assert.False(wire.A.RtoEstimator.HasSample); // Karn: the SYN-ACK may answer either SYN
        Assert.Equal(3_000_000, wire.A.RtoEstimator.Rto); // RFC 6298 5.7
    }

    [Fact]
    public void Info_reads_like_an_ss_row()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.A.Send(new byte[5000], wire.Now);
        TcpConnectionInfo info = wire.A.GetInfo(wire.Now);
        Assert.Equal(TcpState.Established, info.State);
        Assert.Equal(5000, info.SendQueue);
        Assert.Equal("lossprobe", info.ActiveTimer); // SACK on both ends: the tail loss probe (RFC 8985 7.2) comes before the RTO
        Assert.Equal(1448, info.Mss);
        Assert.Equal(14480, info.CongestionWindow);
        string line = info.ToString();
        Assert.StartsWith("ESTAB 0 5000 10.0.0.1:40000 10.0.0.2:80 timer:(lossprobe,", line);
        Assert.Contains("mss:1448 cwnd:14480 ssthresh:-", line);
    }
}
