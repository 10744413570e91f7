using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockFlowTests
{
    [Fact]
    public void Zero_window_is_probed_with_backoff_and_reopens_when_the_application_reads()
    {
        var small = TcpConnectionOptions.Default with { ReceiveBufferSize = 4096, AutoTuneBuffers = false };
        var wire = new EnginePair(optionsB: small);
        wire.Connect();
        byte[] data = TestData.Seeded(20_000);
        int queued = wire.A.Send(data, wire.Now);
        wire.Run(2_000_000);
        Assert.Equal(4096, wire.B!.ReadableBytes);
        Assert.Equal(0, wire.A.SndWnd);
        SentSegment zero = wire.Log.Last(s => !s.FromA);
        Assert.Equal(0, zero.Header.Window);

        // Persist probes: SND.UNA - 1, no data, intervals doubling from the RTO.
        wire.Run(60_000_000);
        List<SentSegment> probes = [.. wire.Log.Where(s => s.FromA && s.Payload.Length == 0 && s.Seq == wire.A.SndUna.Value - 1)];
        Assert.True(probes.Count >= 5, $"{probes.Count} probes");
        List<long> gaps = [.. probes.Zip(probes.Skip(1), (x, y) => y.Time - x.Time)];
        for (int i = 1; i < gaps.Count; i++)
        {
            Assert.True(gaps[i] == 2 * gaps[i - 1] || gaps[i] == 60_000_000, $"gaps {string.Join(",", gaps)}");
        }

        Assert.Equal(probes.Count, wire.CountersA[TcpCounter.ZeroWindowProbes]);
        Assert.Equal(TcpState.Established, wire.A.State); // answered probes never time out

        // The application reads: a window update goes out, and the rest flows.
        byte[] rest = wire.ReceiveAll(wire.B, queued);
        Assert.Equal(data[..queued], rest);
        Assert.True(wire.Log.Count(s => !s.FromA && s.Header.Window > 0 && s.Time > probes[^1].Time) > 0);
    }

    [Fact]
    public void Unanswered_zero_window_probes_time_the_connection_out()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { MaxRetransmissions = 4 });
        p.Establish(window: 0);
        p.Tcb.Send("stuck"u8, p.Now);
        Assert.Empty(p.Output.Take()); // nothing fits a zero window
        List<SentSegment> probes = p.AdvanceTo(p.Now + 600_000_000);
        Assert.Equal(4, probes.Count);
        Assert.All(probes, s => Assert.Equal((p.Tcb.SndUna - 1).Value, s.Seq));
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.TimedOut, p.Tcb.Error);
    }

    [Fact]
    public void Receive_window_update_is_sent_when_reading_frees_enough()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { ReceiveBufferSize = 8192, WindowScaling = false });
        p.Establish();
        p.Send(TcpFlags.Ack, new byte[4000]);
        List<SentSegment> acks = p.Send(TcpFlags.Ack, new byte[4000]);
        SentSegment ack = Assert.Single(acks); // every second full segment: immediate ACK
        Assert.Equal(192, ack.Header.Window);
        p.Send(TcpFlags.Ack, new byte[192]);
        List<SentSegment> zeroAck = p.AdvanceTo(p.Now + 100_000);
        Assert.Equal(0, Assert.Single(zeroAck).Header.Window);

        // Reading 100 bytes is not worth an update (receiver SWS avoidance)...
        Assert.Equal(100, p.Tcb.Receive(new byte[100], p.Now));
        Assert.Empty(p.Output.Take());
        // ...reading a segment's worth is.
        Assert.Equal(2000, p.Tcb.Receive(new byte[2000], p.Now));
        SentSegment update = Assert.Single(p.Output.Take());
        Assert.Equal(2100, update.Header.Window);
    }

    [Fact]
    public void Delayed_ack_waits_for_the_timeout_unless_a_second_full_segment_arrives()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { DelayedAckTimeout = TimeSpan.FromMilliseconds(40), QuickAcks = 0 });
        p.Establish();
        long t = p.Now;
        Assert.Empty(p.Send(TcpFlags.Ack | TcpFlags.Psh, "one"u8));
        Assert.Equal(t + 40_000, p.Tcb.NextDeadlineMicros);
        Assert.Empty(p.AdvanceTo(t + 39_999));
        SentSegment ack = Assert.Single(p.AdvanceTo(t + 40_000));
        Assert.Equal(p.PeerSeq.Value, ack.Ack);
        Assert.Equal(1, p.Counters.DelayedAcks);

        Assert.Empty(p.Send(TcpFlags.Ack, new byte[1460]));
        SentSegment quick = Assert.Single(p.Send(TcpFlags.Ack, new byte[1460]));
        Assert.Equal(p.PeerSeq.Value, quick.Ack);
        Assert.Equal(long.MaxValue, p.Tcb.NextDeadlineMicros);
    }

    [Fact]
    public void Every_second_full_segment_is_acked_even_when_the_peer_sends_less_than_our_mss()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { QuickAcks = 0 });
        p.Establish();
        Assert.Empty(p.Send(TcpFlags.Ack, new byte[536]));
        Assert.Single(p.Send(TcpFlags.Ack, new byte[536]));
        Assert.Empty(p.Send(TcpFlags.Ack, new byte[536]));
        Assert.Single(p.Send(TcpFlags.Ack, new byte[536]));
    }

    [Fact]
    public void Delayed_ack_timeout_is_at_most_200_ms()
    {
        var p = new EngineRecorder(TcpConnectionOptions.Default with { DelayedAckTimeout = TimeSpan.FromSeconds(2), QuickAcks = 0 });
        p.Establish();
        long t = p.Now;
        p.Send(TcpFlags.Ack, "x"u8);
        Assert.Equal(t + 200_000, p.Tcb.NextDeadlineMicros);
    }

    [Fact]
    public void Out_of_order_data_gets_an_immediate_duplicate_ack_and_filling_the_hole_an_immediate_ack()
    {
        var p = new EngineRecorder();
        p.Establish();
        SeqNum start = p.PeerSeq;
        SentSegment dup = Assert.Single(p.Send(TcpFlags.Ack, new byte[100], seq: start + 100));
        Assert.Equal(start.Value, dup.Ack);
        dup = Assert.Single(p.Send(TcpFlags.Ack, new byte[100], seq: start + 300));
        Assert.Equal(start.Value, dup.Ack);
        Assert.Equal(0, p.Tcb.ReadableBytes);
        Assert.Equal(2, p.Counters.OutOfOrderQueued);

        SentSegment filled = Assert.Single(p.Send(TcpFlags.Ack, new byte[100], seq: start));
        Assert.Equal((start + 200).Value, filled.Ack);
        Assert.Equal(200, p.Tcb.ReadableBytes);
        filled = Assert.Single(p.Send(TcpFlags.Ack, new byte[100], seq: start + 200));
        Assert.Equal((start + 400).Value, filled.Ack);
        Assert.Equal(400, p.Tcb.ReadableBytes);
    }

    [Fact]
    public void Nagle_holds_small_segments_while_data_is_unacknowledged_and_no_delay_does_not()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Send("a"u8, p.Now);
        Assert.Single(p.Output.Take());
        p.Tcb.Send("b"u8, p.Now);
        p.Tcb.Send("c"u8, p.Now);
        Assert.Empty(p.Output.Take()); // RFC 9293 3.7.4: wait for the ACK
        SentSegment coalesced = Assert.Single(p.Send(TcpFlags.Ack, ack: p.Tcb.SndUna + 1));
        Assert.Equal("bc"u8.ToArray(), coalesced.Payload);

        p.Tcb.NoDelay = true;
        p.Tcb.Send("d"u8, p.Now);
        p.Tcb.Send("e"u8, p.Now);
        Assert.Equal(2, p.Output.Take().Count);
    }

    [Fact]
    public void Sender_avoids_silly_windows_while_data_is_in_flight_and_fills_a_small_window_when_idle()
    {
        var p = new EngineRecorder();
        p.Establish(window: 2000);
        p.Tcb.Send(new byte[20_000], p.Now);
        // One full segment; the 540 bytes left in the window are a silly segment (< MSS, < half the max
        // window) while the first is in flight (RFC 9293 3.8.6.2.1).
        Assert.Equal([1460], p.Output.Take().Select(s => s.Payload.Length));
        Assert.Empty(p.AdvanceTo(p.Now + 50_000));
        // The peer acknowledges everything but opens only 100 bytes: with nothing in flight the window
        // is filled at once, like Linux, rather than at the override timeout.
        Assert.Equal(100, Assert.Single(p.Send(TcpFlags.Ack, ack: p.Tcb.SndNxt, window: 100)).Payload.Length);
        // Half the maximum window (1000 of 2000) is worth a segment at once (RFC 9293 3.8.6.2.1 (3)).
        List<SentSegment> half = p.Send(TcpFlags.Ack, ack: p.Tcb.SndNxt, window: 1000);
        Assert.Equal(1000, Assert.Single(half).Payload.Length);
    }

    [Fact]
    public void Window_scaling_scales_both_directions()
    {
        var fixedSize = TcpConnectionOptions.Default with { AutoTuneBuffers = false }; // the shift follows the buffer, not the autotuning cap
        var big = fixedSize with { ReceiveBufferSize = 1 << 20 };
        var wire = new EnginePair(optionsA: fixedSize, optionsB: big);
        wire.Connect();
        Assert.Equal((byte)5, wire.Log[1].Header.Options.WindowScale); // 1 MiB >> 5 = 32768
        Assert.Equal((5, 3), wire.A.WindowShifts); // (send, receive)
        Assert.Equal((3, 5), wire.B!.WindowShifts);
        Assert.Equal(65535, wire.Log[1].Header.Window); // not scaled in the SYN-ACK
        wire.A.Send(new byte[1000], wire.Now);
        wire.Run(100_000);
        SentSegment ack = wire.Log.Last(s => !s.FromA);
        Assert.Equal(((1 << 20) - 1000) >> 5, ack.Header.Window);
        Assert.Equal(((1 << 20) - 1000) >> 5 << 5, wire.A.SndWnd);
        Assert.Equal(1000, wire.ReceiveAll(wire.B, 1000).Length);
        byte[] data = TestData.Seeded(3_000_000);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B, data));
    }

    [Fact]
    public void Fast_retransmit_after_three_duplicate_acks_without_waiting_for_the_timer()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.Run(1_000_000);
        int n = 0;
        wire.Filter = s => s.FromA && s.Payload.Length > 0 && ++n == 3 ? WireAction.Drop : WireAction.Deliver;
        byte[] data = TestData.Seeded(14_480);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        wire.Run(1_000_000);
        Assert.Equal(1, wire.CountersA.FastRetransmits);
        Assert.Equal(0, wire.CountersA.Timeouts);
        Assert.Equal(1, wire.CountersA.SegmentsRetransmitted);
        Assert.True(wire.CountersA[TcpCounter.DuplicateAcksReceived] >= 3);
        SentSegment resent = wire.Log.Where(s => s.FromA && s.Payload.Length > 0).Skip(10).First();
        Assert.Equal(wire.Log.Where(s => s.FromA && s.Payload.Length > 0).ElementAt(2).Seq, resent.Seq);
        Assert.False(wire.A.Congestion.InFastRecovery);
    }

    [Fact]
    public void Limited_transmit_sends_new_data_on_the_first_two_duplicate_acks()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Send(new byte[20 * 1460], p.Now);
        Assert.Equal(10, p.Output.Take().Count); // the initial window (RFC 6928)
        SeqNum una = p.Tcb.SndUna;
        SentSegment first = Assert.Single(p.Send(TcpFlags.Ack, ack: una)); // duplicate 1: one new segment (RFC 3042)
        Assert.Equal((una + (10 * 1460)).Value, first.Seq);
        SentSegment second = Assert.Single(p.Send(TcpFlags.Ack, ack: una)); // duplicate 2: one more
        Assert.Equal((una + (11 * 1460)).Value, second.Seq);
        SentSegment fast = Assert.Single(p.Send(TcpFlags.Ack, ack: una)); // duplicate 3: fast retransmit
        Assert.Equal(una.Value, fast.Seq);
        Assert.True(p.Tcb.Congestion.InFastRecovery);
    }

    [Fact]
    public void Partial_acks_repair_several_losses_in_one_recovery()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.Run(1_000_000);
        var first = new HashSet<uint>();
        int n = 0;
        wire.Filter = s =>
        {
            if (s.FromA && s.Payload.Length > 0)
            {
                n++;
                if ((n == 3 || n == 6) && first.Add(s.Seq))
                {
                    return WireAction.Drop;
                }
            }

            return WireAction.Deliver;
        };
        byte[] data = TestData.Seeded(14_480);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B!, data));
        Assert.Equal(1, wire.CountersA.FastRetransmits);
        Assert.Equal(0, wire.CountersA.Timeouts);
        Assert.Equal(2, wire.CountersA.SegmentsRetransmitted);
    }

    [Fact]
    public void User_timeout_ends_a_connection_whose_data_stays_unacknowledged()
    {
        var wire = new EnginePair(TcpConnectionOptions.Default with { UserTimeout = TimeSpan.FromSeconds(5) });
        wire.Connect();
        wire.Filter = _ => WireAction.Drop;
        long t = wire.Now;
        wire.A.Send("x"u8, wire.Now);
        wire.RunUntil(t + 100_000_000, () => wire.A.State == TcpState.Closed);
        Assert.Equal(t + 5_000_000, wire.Now);
        Assert.Equal(SocketError.TimedOut, wire.A.Error);
    }

    [Fact]
    public void User_timeout_does_not_apply_to_the_handshake()
    {
        var ut = TcpConnectionOptions.Default with { UserTimeout = TimeSpan.FromSeconds(5) };
        var wire = new EnginePair(ut, ut, start: 100_000_000_000);
        wire.Connect();
        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.Equal(TcpState.Established, wire.B!.State);
        Assert.Equal(long.MaxValue, wire.B.NextDeadlineMicros);
        byte[] data = TestData.Seeded(10_000);
        Assert.Equal(data, wire.Transfer(wire.B, wire.A, data));
    }

    [Fact]
    public void Keepalive_probes_an_idle_connection_and_ends_a_dead_one()
    {
        var ka = TcpConnectionOptions.Default with { KeepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(10), Interval = TimeSpan.FromSeconds(2), ProbeCount = 3 } };
        var wire = new EnginePair(ka);
        wire.Connect();
        long t = wire.Now;

        // An answering peer keeps the connection alive.
        wire.Run(25_000_000);
        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.True(wire.CountersA[TcpCounter.KeepAliveProbes] >= 2);
        SentSegment probe = wire.Log.First(s => s.FromA && s.Time > t);
        Assert.Equal(t + 10_000_000 - wire.OneWayDelay, probe.Time);
        Assert.Equal(wire.A.SndNxt.Value - 1, probe.Seq);

        // A dead peer: probes at idle, +2 s, +4 s, then the connection ends at +6 s with a RST.
        wire.Filter = _ => WireAction.Drop;
        long dead = wire.Now;
        wire.RunUntil(dead + 100_000_000, () => wire.A.State == TcpState.Closed);
        Assert.Equal(SocketError.TimedOut, wire.A.Error);
        Assert.Equal(1, wire.CountersA.KeepAliveTimeouts);
        List<SentSegment> last = [.. wire.Log.Where(s => s.FromA && s.Time > dead)];
        Assert.Equal(4, last.Count);
        Assert.True(last[^1].Has(TcpFlags.Rst));
        Assert.Equal(2_000_000, last[1].Time - last[0].Time);
        Assert.Equal(2_000_000, last[3].Time - last[2].Time);
    }

    [Fact]
    public void Simultaneous_open_reaches_established_on_both_sides()
    {
        var wire = new EnginePair();
        wire.CreateB();
        wire.A.OpenActive(wire.Now);
        wire.B!.OpenActive(wire.Now);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.SynReceived, wire.A.State);
        Assert.Equal(TcpState.SynReceived, wire.B.State);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.Equal(TcpState.Established, wire.B.State);
        byte[] data = TestData.Seeded(100_000);
        Assert.Equal(data, wire.Transfer(wire.A, wire.B, data));
        Assert.Equal(data, wire.Transfer(wire.B, wire.A, data));
        Assert.Equal(0, wire.CountersA.SegmentsRetransmitted);
    }

    [Fact]
    public void Icmp_port_unreachable_refuses_a_connection_attempt_but_is_soft_when_established()
    {
        var p = new EngineRecorder();
        p.Tcb.OpenActive(p.Now);
        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 3, 0, p.Now);
        Assert.Equal(TcpState.Closed, p.Tcb.State);
        Assert.Equal(SocketError.ConnectionRefused, p.Tcb.Error);

        var q = new EngineRecorder();
        q.Establish();
        q.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 3, 0, q.Now);
        Assert.Equal(TcpState.Established, q.Tcb.State);
        Assert.Equal(SocketError.ConnectionRefused, q.Tcb.SoftError);

        var r = new EngineRecorder(TcpConnectionOptions.Default with { ConnectTimeout = TimeSpan.FromSeconds(3) });
        r.Tcb.OpenActive(r.Now);
        r.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 1, 0, r.Now); // host unreachable: soft
        Assert.Equal(TcpState.SynSent, r.Tcb.State);
        r.AdvanceTo(r.Now + 10_000_000);
        Assert.Equal(SocketError.HostUnreachable, r.Tcb.Error); // reported when the attempt times out
    }

    [Fact]
    public void Icmp_fragmentation_needed_lowers_the_mss_and_resends_smaller()
    {
        var p = new EngineRecorder();
        p.Establish();
        p.Tcb.Send(new byte[3000], p.Now);
        Assert.Equal([1460, 1460], p.Output.Take().Select(s => s.Payload.Length));
        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 4, 1000, p.Now);
        Assert.Equal(960, p.Tcb.Mss);
        List<SentSegment> resent = p.Output.Take();
        Assert.All(resent, s => Assert.True(s.Payload.Length <= 960));
        Assert.Equal(p.Tcb.SndUna.Value, resent[0].Seq);
        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, 4, 1400, p.Now); // never raised by ICMP
        Assert.Equal(960, p.Tcb.Mss);
    }
}
