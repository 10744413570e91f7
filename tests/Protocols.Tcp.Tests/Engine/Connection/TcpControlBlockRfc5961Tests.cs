using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockRfc5961Tests
{
    [Fact]
    public void Rst_exactly_at_rcv_nxt_resets_the_connection()
    {
        var p = new EngineRecorder();
        p.Establish();
        List<SentSegment> sent = p.Send(TcpFlags.Rst);
        Assert.Empty(sent);
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.ConnectionReset, p.Tcb.Error);
        Assert.Equal(1, p.Counters.ResetsReceived);
    }

    [Fact]
    public void Rst_in_window_but_not_at_rcv_nxt_gets_a_challenge_ack()
    {
        var p = new EngineRecorder();
        p.Establish();
        List<SentSegment> sent = p.Send(TcpFlags.Rst, seq: p.PeerSeq + 1000);
        SentSegment challenge = Assert.Single(sent);
        Assert.Equal(TcpFlags.Ack, challenge.Flags);
        Assert.Equal(p.PeerSeq.Value, challenge.Ack);
        Assert.Equal(p.Tcb.SndNxt.Value, challenge.Seq);
        Assert.Equal(TcpState.Established, p.Tcb.State);
        Assert.Equal(1, p.Counters.ChallengeAcksSent);
    }

    [Fact]
    public void Rst_outside_the_window_is_dropped_silently()
    {
        var p = new EngineRecorder();
        p.Establish();
        Assert.Empty(p.Send(TcpFlags.Rst, seq: p.PeerSeq + 10_000_000));
        Assert.Empty(p.Send(TcpFlags.Rst, seq: p.PeerSeq - 1));
        Assert.Equal(TcpState.Established, p.Tcb.State);
    }

    [Fact]
    public void Syn_on_a_synchronized_connection_gets_a_challenge_ack()
    {
        var p = new EngineRecorder();
        p.Establish();
        SentSegment challenge = Assert.Single(p.Send(TcpFlags.Syn, seq: p.PeerSeq + 5));
        Assert.Equal(TcpFlags.Ack, challenge.Flags);
        Assert.Equal(p.PeerSeq.Value, challenge.Ack);
        challenge = Assert.Single(p.Send(TcpFlags.Syn, seq: p.PeerSeq - 50_000_000)); // outside the window: the first check's ACK
        Assert.Equal(p.PeerSeq.Value, challenge.Ack);
        Assert.Equal(TcpState.Established, p.Tcb.State);
        Assert.Equal(1, p.Counters.ChallengeAcksSent);
    }

    [Fact]
    public void Challenge_acks_are_rate_limited_stack_wide()
    {
        var p = new EngineRecorder(env: (o, c) => new TcpEngineEnvironment(o, new IsnGenerator(EnginePair.Secret), new Random(1)) { Counters = c, ChallengeAckLimiter = new ChallengeAckLimiter(2) });
        p.Establish();
        RecordingOutput output = p.Output;
        TcpEngineEnvironment env = p.Env;
        for (int i = 0; i < 5; i++)
        {
            p.Tcb.OnSegment(new TcpSegment(p.PeerSeq + 100, p.Tcb.SndNxt, TcpFlags.Rst, 1000, default, default), p.Now);
        }

        Assert.Equal(2, output.Sent.Count);
        Assert.Equal(2, env.Counters.ChallengeAcksSent);
        Assert.Equal(3, env.Counters[TcpCounter.ChallengeAcksSuppressed]);
        p.Now += 1_000_000; // a new second, a new budget
        p.Tcb.OnSegment(new TcpSegment(p.PeerSeq + 100, p.Tcb.SndNxt, TcpFlags.Rst, 1000, default, default), p.Now);
        Assert.Equal(3, output.Sent.Count);
    }

    [Fact]
    public void Ack_too_old_is_dropped_with_a_challenge_ack_and_its_data_ignored()
    {
        var p = new EngineRecorder();
        p.Establish(window: 1000);
        // MAX.SND.WND is 1000: an ACK more than 1000 below SND.UNA is too old.
        SentSegment challenge = Assert.Single(p.Send(TcpFlags.Ack, "data"u8, ack: p.Tcb.SndUna - 2000));
        Assert.Equal(TcpFlags.Ack, challenge.Flags);
        Assert.Equal(p.PeerSeq.Value - 4, challenge.Ack); // the data was not taken
        Assert.Equal(0, p.Tcb.ReadableBytes);
        Assert.Equal(1, p.Counters[TcpCounter.OutOfWindowAcksDropped]);

        // An old ACK within MAX.SND.WND is fine: its data is taken.
        p.PeerSeq -= 4;
        p.Send(TcpFlags.Ack, "data"u8, ack: p.Tcb.SndUna - 500);
        Assert.Equal(4, p.Tcb.ReadableBytes);
    }

    [Fact]
    public void Ack_of_unsent_data_is_dropped()
    {
        var p = new EngineRecorder();
        p.Establish();
        SentSegment reply = Assert.Single(p.Send(TcpFlags.Ack, "data"u8, ack: p.Tcb.SndNxt + 100));
        Assert.Equal(TcpFlags.Ack, reply.Flags);
        Assert.Equal(0, p.Tcb.ReadableBytes);
        Assert.Equal(TcpState.Established, p.Tcb.State);
    }

    [Fact]
    public void Unacceptable_segment_is_answered_with_an_ack_and_dropped()
    {
        var p = new EngineRecorder();
        p.Establish();
        SentSegment reply = Assert.Single(p.Send(TcpFlags.Ack, "future"u8, seq: p.PeerSeq + 1_000_000));
        Assert.Equal(p.PeerSeq.Value, reply.Ack);
        reply = Assert.Single(p.Send(TcpFlags.Ack, "old"u8, seq: p.PeerSeq - 3)); // a pure duplicate
        Assert.Equal(p.PeerSeq.Value, reply.Ack);
        Assert.Equal(0, p.Tcb.ReadableBytes);
    }

    [Fact]
    public void Segment_without_ack_is_dropped_in_a_synchronized_state()
    {
        var p = new EngineRecorder();
        p.Establish();
        Assert.Empty(p.Send(TcpFlags.None, "data"u8));
        Assert.Equal(0, p.Tcb.ReadableBytes);
    }

    [Fact]
    public void Closed_tcb_answers_with_rst_but_never_answers_a_rst()
    {
        var output = new RecordingOutput(() => 0);
        var env = new TcpEngineEnvironment(output, new IsnGenerator(EnginePair.Secret), new Random(1));
        var tcb = new TcpControlBlock(new TcpFourTuple(EnginePair.AddressA, 1, EnginePair.AddressB, 2), TcpConnectionOptions.Default, env);
        tcb.OnSegment(new TcpSegment(new SeqNum(100), new SeqNum(777), TcpFlags.Ack, 1000, default, "abc"u8), 0);
        SentSegment rst = Assert.Single(output.Take());
        Assert.Equal(TcpFlags.Rst, rst.Flags); // <SEQ=SEG.ACK><CTL=RST>
        Assert.Equal(777u, rst.Seq);

        tcb.OnSegment(new TcpSegment(new SeqNum(100), default, TcpFlags.Syn, 1000, default, "ab"u8), 0);
        rst = Assert.Single(output.Take());
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, rst.Flags); // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        Assert.Equal(0u, rst.Seq);
        Assert.Equal(103u, rst.Ack);

        tcb.OnSegment(new TcpSegment(new SeqNum(100), new SeqNum(5), TcpFlags.Rst | TcpFlags.Ack, 1000, default, default), 0);
        Assert.Empty(output.Take());
    }

    [Fact]
    public void Syn_sent_rejects_a_bad_ack_with_rst_and_accepts_rst_only_with_a_good_ack()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(9), syn.Header.Seq + 7, TcpFlags.Syn | TcpFlags.Ack, 1000, default, default), p.Now);
        SentSegment rst = Assert.Single(p.Output.Take());
        Assert.Equal(TcpFlags.Rst, rst.Flags);
        Assert.Equal((syn.Header.Seq + 7).Value, rst.Seq);
        Assert.Equal(TcpState.SynSent, p.Tcb.State);

        p.Tcb.OnSegment(new TcpSegment(new SeqNum(9), default, TcpFlags.Rst, 0, default, default), p.Now); // no ACK: ignored
        Assert.Equal(TcpState.SynSent, p.Tcb.State);
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(9), syn.Header.Seq + 2, TcpFlags.Rst | TcpFlags.Ack, 0, default, default), p.Now); // bad ACK: ignored
        Assert.Equal(TcpState.SynSent, p.Tcb.State);
        Assert.Empty(p.Output.Take());

        p.Tcb.OnSegment(new TcpSegment(new SeqNum(9), syn.Header.Seq + 1, TcpFlags.Rst | TcpFlags.Ack, 0, default, default), p.Now);
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.ConnectionRefused, p.Tcb.Error);
        Assert.Equal(1, p.Counters.AttemptFails);
    }

    [Fact]
    public void Syn_received_answers_an_unacceptable_ack_with_rst()
    {
        var output = new RecordingOutput(() => 0);
        var env = new TcpEngineEnvironment(output, new IsnGenerator(EnginePair.Secret), new Random(1));
        var tcb = new TcpControlBlock(new TcpFourTuple(EnginePair.AddressB, 80, EnginePair.AddressA, 40000), TcpConnectionOptions.Default, env);
        tcb.OpenPassive(new TcpSegment(new SeqNum(1000), default, TcpFlags.Syn, 65535, new TcpOptions { Mss = 1460 }, default), 0);
        SentSegment synAck = Assert.Single(output.Take());
        Assert.Equal(TcpState.SynReceived, tcb.State);
        tcb.OnSegment(new TcpSegment(new SeqNum(1001), synAck.Header.Seq + 5, TcpFlags.Ack, 65535, default, default), 0);
        SentSegment rst = Assert.Single(output.Take());
        Assert.Equal(TcpFlags.Rst, rst.Flags);
        Assert.Equal((synAck.Header.Seq + 5).Value, rst.Seq);
        Assert.Equal(TcpState.SynReceived, tcb.State);

        // A retransmitted SYN gets the SYN-ACK again.
        tcb.OnSegment(new TcpSegment(new SeqNum(1000), default, TcpFlags.Syn, 65535, new TcpOptions { Mss = 1460 }, default), 0);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, Assert.Single(output.Take()).Flags);

        // A RST at RCV.NXT frees the half-open connection.
        tcb.OnSegment(new TcpSegment(new SeqNum(1001), default, TcpFlags.Rst, 0, default, default), 0);
        Assert.Equal(TcpState.Closed, tcb.State);
        Assert.Empty(output.Take());
    }

    [Fact]
    public void Paws_drops_a_segment_with_an_old_timestamp()
    {
        var p = new EngineRecorder();
        p.Establish(timestamps: true);
        p.PeerTsVal = 200;
        p.Send(TcpFlags.Ack, "new"u8);
        Assert.Equal(3, p.Tcb.ReadableBytes);
        SentSegment reply = Assert.Single(p.Send(TcpFlags.Ack, "old"u8, ts: new TcpTimestamps(150, p.LastTsVal)));
        Assert.Equal(TcpFlags.Ack, reply.Flags);
        Assert.Equal(3, p.Tcb.ReadableBytes);
        Assert.Equal(1, p.Counters.PawsRejected);
        Assert.Equal(200u, reply.Header.Options.Timestamps!.Value.TsEcr); // TS.Recent unchanged

        // A RST is exempt from PAWS (RFC 7323 5.3 R1).
        p.PeerSeq -= 3;
        p.Send(TcpFlags.Rst, ts: new TcpTimestamps(1, 0));
        Assert.Equal(TcpState.Closed, p.Tcb.State);
    }

    [Fact]
    public void Timestamps_echo_ts_recent_and_use_a_random_offset()
    {
        var a = new EngineRecorder();
        var b = new EngineRecorder(env: (o, c) => new TcpEngineEnvironment(o, new IsnGenerator(EnginePair.Secret), new Random(99)));
        a.Establish(timestamps: true);
        b.Tcb.OpenActive(b.Now);
        uint tsA = a.Syn.Header.Options.Timestamps!.Value.TsVal;
        uint tsB = b.Output.Sent[0].Header.Options.Timestamps!.Value.TsVal;
        Assert.NotEqual(tsA, tsB); // same clock, different per-connection offsets
        a.PeerTsVal = 12345;
        SentSegment ack = a.Send(TcpFlags.Ack, new byte[3000]).Last();
        Assert.Equal(12345u, ack.Header.Options.Timestamps!.Value.TsEcr);
    }
}
