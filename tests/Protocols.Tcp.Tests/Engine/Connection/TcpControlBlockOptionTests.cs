using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockOptionTests
{
    [Fact]
    public void Peer_without_an_mss_option_is_sent_536_byte_segments()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(5000), syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack, 65535, default, default), p.Now);
        Assert.Equal(TcpControlBlock.DefaultPeerMss, p.Tcb.Mss);
        p.Output.Take();
        p.Tcb.Send(new byte[2000], p.Now);
        Assert.Equal([536, 536, 536], p.Output.Take().Select(s => s.Payload.Length));
    }

    [Fact]
    public void Announced_mss_comes_from_the_options_or_the_environment()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { Mss = 8960 });
        p.Tcb.OpenActive(p.Now);
        Assert.Equal((ushort)8960, p.Output.Take().Single().Header.Options.Mss);

        var q = new EngineRecorder(env: (o, c) => new TcpEngineEnvironment(o, new IsnGenerator(EnginePair.Secret), new Random(1)) { DefaultMss = 1400 });
        q.Tcb.OpenActive(q.Now);
        Assert.Equal((ushort)1400, q.Output.Take().Single().Header.Options.Mss);
    }

    [Fact]
    public void Frag_needed_during_the_handshake_still_caps_the_mss()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        SentSegment syn = p.Output.Take().Single();
        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 4, 1280, p.Now);
        p.Tcb.OnSegment(new TcpSegment(new SeqNum(5000), syn.Header.Seq + 1, TcpFlags.Syn | TcpFlags.Ack, 65535, new TcpOptions { Mss = 1460 }, default), p.Now);
        Assert.Equal(1240, p.Tcb.Mss);
    }

    [Fact]
    public void Window_scale_above_14_is_used_as_14()
    {
        var p = new EngineRecorder();
        p.Establish(windowScale: 20);
        Assert.Equal(14, p.Tcb.WindowShifts.Send);
        p.Send(TcpFlags.Ack, window: 2);
        Assert.Equal(2L << 14, p.Tcb.SndWnd);
    }

    [Fact]
    public void A_peer_that_shrinks_its_window_to_zero_is_probed_by_retransmissions_without_timing_out()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { MaxRetransmissions = 3 });
        p.Establish();
        p.Tcb.Send(new byte[1000], p.Now);
        p.Output.Take();
        p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna, window: 0); // in flight, and the window shrinks to zero
        long end = p.Now + 30_000_000;
        while (p.Now < end)
        {
            List<SentSegment> sent = p.AdvanceTo(Math.Min(p.Tcb.NextDeadlineMicros, end));
            if (sent.Count > 0)
            {
                p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna, window: 0); // the peer answers every probe
            }
        }

        Assert.Equal(TcpState.Established, p.Tcb.State);
        Assert.True(p.Counters.SegmentsRetransmitted > 3);
    }

    [Fact]
    public void Counters_and_trace_see_every_segment()
    {
        var wire = new EnginePair();
        var trace = new List<TcpTraceEvent>();
        wire.EnvA.Trace = trace.Add;
        wire.Connect();
        wire.A.Send(new byte[10_000], wire.Now);
        wire.Run(1_000_000);
        Assert.Equal(wire.Log.Count(s => s.FromA), wire.CountersA.SegmentsSent);
        Assert.Equal(wire.Log.Count(s => !s.FromA), wire.CountersA.SegmentsReceived);
        Assert.Equal(wire.CountersA.SegmentsSent, trace.Count(t => t.Outgoing));
        Assert.Equal(wire.CountersA.SegmentsReceived, trace.Count(t => !t.Outgoing));
        Assert.Equal(10_000, trace.Where(t => t.Outgoing).Sum(t => t.PayloadLength));
        Assert.Equal(TcpState.SynSent, trace[0].State);
        Assert.Equal(TcpFlags.Syn, trace[0].Flags);
        Assert.Contains("SegmentsSent: ", wire.CountersA.ToString());
        TcpCounters snapshot = wire.CountersA.Snapshot();
        wire.A.Send(new byte[10], wire.Now);
        Assert.True(wire.CountersA.SegmentsSent > snapshot.SegmentsSent);
    }

    [Fact]
    public void Trace_reports_a_received_segment_before_the_segments_sent_in_answer()
    {
        var wire = new EnginePair();
        var a = new List<TcpTraceEvent>();
        var b = new List<TcpTraceEvent>();
        wire.EnvA.Trace = a.Add;
        wire.EnvB.Trace = b.Add;
        wire.Connect();

        // A: SYN out, SYN-ACK in (reported with the state its ACK goes out in), then that ACK.
        Assert.Equal([(true, TcpFlags.Syn), (false, TcpFlags.Syn | TcpFlags.Ack), (true, TcpFlags.Ack)], a.Take(3).Select(e => (e.Outgoing, e.Flags)));
        Assert.Equal([TcpState.SynSent, TcpState.Established, TcpState.Established], a.Take(3).Select(e => e.State));

        // B: SYN in, SYN-ACK out, ACK in.
        Assert.Equal([(false, TcpFlags.Syn), (true, TcpFlags.Syn | TcpFlags.Ack), (false, TcpFlags.Ack)], b.Take(3).Select(e => (e.Outgoing, e.Flags)));
        Assert.Equal([TcpState.SynReceived, TcpState.SynReceived, TcpState.Established], b.Take(3).Select(e => e.State));

        // A FIN is acknowledged at once: B reports the FIN (CLOSE-WAIT) before its ACK.
        a.Clear();
        b.Clear();
        wire.A.CompleteWrites(wire.Now);
        wire.Run(100_000);
        int fin = b.FindIndex(e => !e.Outgoing && (e.Flags & TcpFlags.Fin) != 0);
        int ack = b.FindIndex(e => e.Outgoing);
        Assert.True(fin >= 0 && ack > fin, string.Join(" | ", b));
        Assert.Equal(TcpState.CloseWait, b[fin].State);
        Assert.True(b[fin].NowMicros <= b[ack].NowMicros);
    }

    [Fact]
    public void Segments_round_trip_through_the_encoder_between_two_tcbs()
    {
        // The same two-TCB exchange, but every segment is encoded with Write and parsed back with TryParse.
        var wire = new EnginePair();
        var buffer = new byte[2000];
        wire.Connect();
        foreach (SentSegment s in wire.Log)
        {
            TcpFourTuple tuple = s.FromA ? wire.TupleA : wire.TupleA.Reversed;
            int n = s.Header.Write(buffer, tuple, s.Payload, default);
            Assert.True(TcpSegment.TryParse(buffer.AsSpan(0, n), out TcpSegment parsed, out TcpHeader.Reader reader));
            Assert.True(reader.VerifyChecksum(Protocols.Wire.Checksum.PseudoHeaderSum(tuple.LocalAddress, tuple.RemoteAddress, TcpHeader.IpProtocolNumber, n)));
            Assert.Equal(s.Header.Options, parsed.Options);
            Assert.Equal(s.Header.Seq, parsed.Seq);
            Assert.Equal(s.Header.Window, parsed.Window);
        }
    }
}
