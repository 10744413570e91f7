using Protocols.Tcp.Engine;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockReviewTests
{
    [Fact]
    public void Syn_ack_carrying_text_and_fin_is_processed_at_once()
    {
        // RFC 9293 3.10.7.3: other controls or text on the SYN-ACK continue at ESTABLISHED's sixth step.
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        byte[] text = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        var isn = new SeqNum(5000);
        p.Tcb.OnSegment(new TcpSegment(isn, syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Fin, 65535, new TcpOptions { Mss = 1460 }, text), p.Now);

        Assert.Equal(TcpState.CloseWait, p.Tcb.State);
        SentSegment ack = Assert.Single(p.Output.Take());
        Assert.Equal(TcpFlags.Ack, ack.Flags);
        Assert.Equal(isn + 102, ack.Header.Ack);
        var read = new byte[200];
        Assert.Equal(100, p.Tcb.Receive(read, p.Now));
        Assert.Equal(text, read[..100]);
    }

    [Fact]
    public void Syn_ack_with_text_only_delivers_it_and_stays_established()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(5000), syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack, 65535, new TcpOptions { Mss = 1460 }, "hello"u8), p.Now);

        Assert.Equal(TcpState.Established, p.Tcb.State);
        Assert.Equal(5006u, Assert.Single(p.Output.Take()).Header.Ack.Value);
        var read = new byte[10];
        Assert.Equal(5, p.Tcb.Receive(read, p.Now));
    }

    [Theory]
    [InlineData("newreno", 8760)] // FlightSize / 2: IW10 plus two RFC 3042 segments
    [InlineData("cubic", 12264)]  // FlightSize * 0.7 (RFC 9438 4.6)
    public void Path_mtu_decrease_in_fast_recovery_keeps_ssthresh_and_the_window_in_segments(string controller, long expectedSsthresh)
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { CongestionControl = controller });
        p.Establish();
        p.Tcb.Send(new byte[30_000], p.Now);
        Assert.Equal(10, p.Output.Take().Count); // IW10
        for (int i = 0; i < 3; i++)
        {
            p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna);
        }

        Assert.True(p.Tcb.Congestion.InFastRecovery);
        long ssthresh = p.Tcb.Congestion.SlowStartThreshold;
        long cwndSegments = p.Tcb.Congestion.CongestionWindow / p.Tcb.Mss;
        Assert.Equal(expectedSsthresh, ssthresh);

        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 4, 1000, p.Now);

        Assert.Equal(960, p.Tcb.Mss);
        Assert.True(p.Tcb.Congestion.InFastRecovery); // RFC 6582 recovery is not abandoned
        Assert.Equal(ssthresh * 960 / 1460, p.Tcb.Congestion.SlowStartThreshold); // 5 segments still
        Assert.Equal(cwndSegments, p.Tcb.Congestion.CongestionWindow / p.Tcb.Mss);
    }

    [Fact]
    public void Duplicate_acks_for_the_flight_resent_after_a_path_mtu_decrease_do_not_fast_retransmit()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Send(new byte[14_600], p.Now);
        p.Output.Take();
        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 4, 1000, p.Now);
        Assert.NotEmpty(p.Output.Take());
        long cwnd = p.Tcb.Congestion.CongestionWindow;
        Assert.Equal(int.MaxValue, p.Tcb.Congestion.SlowStartThreshold); // no loss yet: still unset

        // The old 1460-byte segments are dropped; each resent one that arrives is a duplicate ACK.
        for (int i = 0; i < 4; i++)
        {
            p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna);
        }

        Assert.Equal(0, p.Counters[TcpCounter.FastRetransmits]);
        Assert.False(p.Tcb.Congestion.InFastRecovery);
        Assert.Equal(cwnd, p.Tcb.Congestion.CongestionWindow);
    }

    [Fact]
    public void NewReno_rescales_to_the_same_number_of_segments_with_a_two_segment_floor()
    {
        var cc = new NewRenoController();
        cc.OnConnectionEstablished(1460, 0);
        cc.OnMssChanged(960, 0);
        Assert.Equal(9600, cc.CongestionWindow); // IW10 stays ten segments
        Assert.Equal(NewRenoController.InitialSlowStartThreshold, cc.SlowStartThreshold); // unset stays unset
        Assert.Equal(960, cc.Smss);

        cc.OnRetransmissionTimeout(2000, false, 0); // cwnd = 1 SMSS, ssthresh = 2 SMSS
        cc.OnMssChanged(600, 0);
        Assert.Equal(1200, cc.CongestionWindow); // RFC 5681: never below 2 * SMSS
        Assert.Equal(1200, cc.SlowStartThreshold);
        Assert.False(cc.InFastRecovery);
    }
}
