using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>Data transfer: ACK policy, reassembly, retransmission, flow control, window scaling, Nagle, path MTU.</summary>
public class DataTests(ITestOutputHelper output)
{
    private static int Mss => Family.Mss;

    [Fact]
    public void One_small_segment_is_acked_after_the_delayed_ack_time()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = TimeSpan.FromMilliseconds(100), QuickAcks = 0 });
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(100));
        // RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2: an ACK may be delayed, by less than 0.5 s; here the configured 100 ms.
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1101, length: 0, at: TimeSpan.FromMilliseconds(100));
        Assert.Equal(TcpBed.Pattern(100), bed.Complete(read));
        Assert.True(bed.Tcp.Counters.DelayedAcks >= 1);
    }

    [Theory]
    [InlineData(null, 40)] // the default, Linux's minimum delayed-ACK time
    [InlineData(1000, 200)] // RFC 1122 4.2.3.2 / docs/tcp.md: never more than 200 ms
    public void The_delayed_ack_time_defaults_to_40_ms_and_is_capped_at_200_ms(int? configuredMs, int expectedMs)
    {
        var bed = new TcpBed(output);
        TcpConnectionOptions options = configuredMs is int ms ? new TcpConnectionOptions { DelayedAckTimeout = TimeSpan.FromMilliseconds(ms), QuickAcks = 0 } : new TcpConnectionOptions { QuickAcks = 0 };
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(options: options);
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: synAck.Seq + 1, payload: TcpBed.Pattern(10));
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1011, length: 0, at: TimeSpan.FromMilliseconds(expectedMs));
    }

    [Fact]
    public void Every_second_full_segment_is_acked_at_once()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = TimeSpan.FromMilliseconds(200), QuickAcks = 0 });
        uint iss = synAck.Seq;
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Send(Ack, seq: 1001 + (uint)Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss, Mss));
        // RFC 5681 4.2: an ACK SHOULD be generated for at least every second full-sized segment.
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001 + (uint)(uint)(2 * Mss), length: 0, at: TimeSpan.Zero);
    }

    [Fact]
    public void Out_of_order_data_gets_an_immediate_duplicate_ack_and_the_gap_fill_an_immediate_ack()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = TimeSpan.FromMilliseconds(200) });
        uint iss = synAck.Seq;
        bed.Peer.Send(Ack, seq: 1001 + (uint)Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss, Mss));
        // RFC 5681 4.2: out-of-order data -> an immediate duplicate ACK; filling the gap -> an immediate ACK.
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001 + (uint)(uint)(3 * Mss), ack: iss + 1, payload: TcpBed.Pattern(Mss, 3 * Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001 + (uint)(uint)(2 * Mss), length: 0, at: TimeSpan.Zero);
        Assert.True(bed.Tcp.Counters.OutOfOrderQueued >= 2);
        byte[] got = bed.Complete(bed.Read(server));
        Assert.Equal(TcpBed.Pattern(2 * Mss), got);
    }

    [Fact]
    public void Three_duplicate_acks_trigger_a_fast_retransmit_of_the_first_unacked_segment()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(20 * Mss));
        List<CapturedPacket> flight = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        // RFC 6928: IW = 10 segments of 1460.
        Assert.Equal(10, flight.Count);
        Assert.All(flight, p => Assert.Equal(Mss, p.Segment!.Payload.Length));

        // The first segment is lost; segments 2, 3, 4 arrive and each draws a duplicate ACK.
        for (int i = 0; i < 3; i++)
        {
            bed.Peer.Send(Ack, seq: 1001, ack: iss + 1);
        }

        // RFC 5681 3.2: on the third duplicate ACK retransmit the segment that appears lost (limited transmit may send new data first).
        List<CapturedPacket> after = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        CapturedSegment? retransmission = after.Select(p => p.Segment).FirstOrDefault(s => s is not null && s.Seq == iss + 1);
        Assert.True(retransmission is not null && retransmission.Payload.Length == Mss, "no fast retransmission of the first segment: " + string.Join(" | ", after));
        Assert.Equal(1, bed.Tcp.Counters.FastRetransmits);
    }

    [Fact]
    public void Retransmission_timeouts_back_off_exponentially_then_the_connection_times_out()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { MaxRetransmissions = 4 });
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        bed.Write(server, TcpBed.Pattern(100));
        CapturedSegment first = bed.Peer.Expect(Ack, seq: iss + 1, payload: TcpBed.Pattern(100), ignoreFlags: Psh, at: TimeSpan.Zero);
        var times = new List<TimeSpan> { first.At };
        for (int i = 0; i < 4; i++)
        {
            times.Add(bed.Peer.Expect(Ack, seq: iss + 1, payload: TcpBed.Pattern(100), ignoreFlags: Psh, within: TimeSpan.FromSeconds(130)).At);
        }

        var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToList();
        output.WriteLine("RTO gaps: " + string.Join(", ", gaps.Select(g => g.TotalMilliseconds + " ms")));
        // RFC 6298 2.4/5.5: RTO >= the minimum (Linux 200 ms), doubled at each expiry.
        Assert.True(gaps[0] >= TimeSpan.FromMilliseconds(200) && gaps[0] <= TimeSpan.FromSeconds(3), $"first RTO {gaps[0]}");
        for (int i = 1; i < gaps.Count; i++)
        {
            Assert.Equal(gaps[i - 1] * 2, gaps[i]);
        }

        // After the last retransmission times out too, the connection fails with TimedOut.
        bed.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromMinutes(5));
        Assert.Equal(times[^1] + (gaps[^1] * 2), bed.Now);
        var e = Assert.Throws<TcpException>(() => read.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.True(bed.Tcp.Counters.SegmentsRetransmitted >= 4);
    }

    [Fact]
    public void After_a_timeout_pure_acks_still_carry_the_highest_sequence_number_sent()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = TimeSpan.Zero });
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(3 * Mss));
        List<CapturedPacket> flight = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, flight.Count);

        // The peer's ACKs are lost: the retransmission timer resends the first segment.
        bed.Peer.Expect(Ack, seq: iss + 1, length: Mss, ignoreFlags: Psh, within: TimeSpan.FromSeconds(1));

        // The peer (which holds all three segments, RCV.NXT = ISS + 1 + 3 MSS) sends data; the stack's ACK of it
        // must carry SEG.SEQ = the highest sequence number sent (RFC 9293 3.3.1: SND.NXT never moves back),
        // or the peer finds it unacceptable (SEG.SEQ < RCV.NXT) and answers with an ACK of its own.
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1, payload: "x"u8);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(uint)(3 * Mss), ack: 1002, length: 0, at: TimeSpan.Zero);
    }

    [Fact]
    public void A_cumulative_ack_after_a_timeout_acknowledges_everything_sent()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(3 * Mss));
        Assert.Equal(3, bed.Peer.Collect(TimeSpan.FromMilliseconds(1)).Count);
        bed.Peer.Expect(Ack, seq: iss + 1, length: Mss, ignoreFlags: Psh, within: TimeSpan.FromSeconds(1));

        // RFC 9293 3.10.7.4: SND.UNA < SEG.ACK <= SND.NXT (the highest sent) is acceptable, even after a go-back-N rewind.
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1 + (uint)(uint)(3 * Mss));
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(5), "everything is acknowledged: no retransmission, no ACK");
        Assert.Equal(0, Assert.IsType<TcpConnectionInfo>(bed.Connection).SendQueue);
    }

    [Fact]
    public void A_zero_window_is_probed_with_backoff_until_it_opens()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(window: 0);
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(1000));
        var probes = new List<CapturedSegment>();
        for (int i = 0; i < 5; i++)
        {
            // RFC 9293 3.8.6.1: a zero window is probed; the probe carries at most one byte (Linux: none, seq SND.UNA - 1).
            CapturedSegment probe = bed.Peer.Expect(Ack, ack: 1001, ignoreFlags: Psh, within: TimeSpan.FromSeconds(130));
            Assert.True((probe.Seq == iss && probe.Payload.Length == 0) || (probe.Seq == iss + 1 && probe.Payload.Length <= 1), $"not a window probe: {probe}");
            probes.Add(probe);
            bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, window: 0); // still closed
        }

        var gaps = probes.Zip(probes.Skip(1), (a, b) => b.At - a.At).ToList();
        output.WriteLine("probe at " + probes[0].At + ", gaps: " + string.Join(", ", gaps.Select(g => g.TotalMilliseconds + " ms")));
        Assert.True(probes[0].At >= TimeSpan.FromMilliseconds(200), "the first probe waits at least the minimum RTO");
        for (int i = 1; i < gaps.Count; i++)
        {
            Assert.Equal(gaps[i - 1] * 2, gaps[i]);
        }

        Assert.Equal(TcpState.Established, bed.State);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, window: 100); // 100 << 7 = 12800 bytes
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, payload: TcpBed.Pattern(1000), ignoreFlags: Psh, at: TimeSpan.Zero);
    }

    // RFC 9293 3.10.7.4 with Linux's tcp_may_update_window: the peer retransmits old data (its SEG.SEQ
    // is below SND.WL1) carrying a new ACK and a smaller window. The window must be taken from it,
    // else the old SND.WND counted from the new SND.UNA moves the right edge past what the peer offered.
    [Fact]
    public void An_ack_in_a_retransmission_of_old_data_updates_the_window()
    {
        var bed = new TcpBed(output);
        ushort window = (ushort)(4 * Mss);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss), window: window);
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(8 * Mss));
        for (int i = 0; i < 4; i++)
        {
            bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(i * Mss), length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        }

        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(5), "the peer's window (4 segments) is full");
        // The peer's second segment arrives first (its first was lost): SND.WL1 is its sequence number.
        bed.Peer.Send(Ack, seq: 1001 + (uint)Mss, ack: iss + 1, window: window, payload: TcpBed.Pattern(Mss, Mss));
        bed.Peer.Expect(Ack, ack: 1001, length: 0, at: TimeSpan.Zero);

        // The retransmission of the first fills the hole, acknowledging two of ours with a window of
        // two: the right edge stays where it was (ISS + 1 + 4 MSS), so no new data may go.
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1 + (uint)(2 * Mss), window: (ushort)(2 * Mss), payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, ack: 1001 + (uint)(2 * Mss), length: 0, at: TimeSpan.Zero);
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(5), "the window the retransmission carried is full");

        // A window update from the newest segment opens it again.
        bed.Peer.Send(Ack, seq: 1001 + (uint)(2 * Mss), ack: iss + 1 + (uint)(2 * Mss), window: window);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(4 * Mss), length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
    }

    [Fact]
    public void Window_scaling_applies_to_the_peers_window_and_to_ours()
    {
        var bed = new TcpBed(output);
        // The peer announces shift 2 and then a window field of 730: 2920 bytes, two full segments (720 over IPv6).
        ushort window = (ushort)(2 * Mss / 4);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss, ws: 2), window: window);
        uint iss = synAck.Seq;
        int ourShift = synAck.Options.WindowScaleShift;
        bed.Write(server, TcpBed.Pattern(4 * Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)Mss, length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(150), "the scaled window (2920) is full");
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1 + (uint)(uint)(2 * Mss), window: window);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(uint)(2 * Mss), length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(uint)(3 * Mss), length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);

        // Our side: the stack advertises its free buffer, shifted by the scale it announced (quick-ACK
        // mode acknowledges each of the first segments at once)...
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1 + (uint)(4 * Mss), window: window, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, ack: 1001 + (uint)Mss, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001 + (uint)Mss, ack: iss + 1 + (uint)(4 * Mss), window: window, payload: TcpBed.Pattern(Mss, Mss));
        CapturedSegment ack = bed.Peer.Expect(Ack, ack: 1001 + (uint)(2 * Mss), length: 0, at: TimeSpan.Zero);
        long advertised = (long)ack.Window << ourShift;
        Assert.InRange(advertised, (256 * 1024) - (2 * Mss) - (1L << ourShift), (256 * 1024) - (2 * Mss));

        // ...so 70,000 bytes in one flight, more than an unscaled window allows, are all accepted.
        int sent = 2 * Mss;
        while (sent < 70_000)
        {
            int n = Math.Min(Mss, 70_000 - sent);
            bed.Peer.Send(Ack, seq: 1001 + (uint)sent, ack: iss + 1 + (uint)(uint)(4 * Mss), window: window, payload: TcpBed.Pattern(n, sent));
            sent += n;
        }

        CapturedSegment last = LastAck(bed, 1001 + 70_000);
        advertised = (long)last.Window << ourShift;
        Assert.InRange(advertised, (256 * 1024) - 70_000 - (1L << ourShift), (256 * 1024) - 70_000);
    }

    [Fact]
    public void Nagle_holds_a_small_segment_while_data_is_unacked()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: iss + 1, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Write(server, TcpBed.Pattern(100, 100));
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(100), "RFC 9293 3.7.4: Nagle holds small data while data is unacknowledged");
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 101);
        bed.Peer.Expect(Ack, seq: iss + 101, payload: TcpBed.Pattern(100, 100), ignoreFlags: Psh, at: TimeSpan.Zero);
    }

    [Fact]
    public void NoDelay_sends_small_segments_at_once()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { NoDelay = true });
        uint iss = synAck.Seq;
        Assert.True(server.NoDelay);
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: iss + 1, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Write(server, TcpBed.Pattern(100, 100));
        bed.Peer.Expect(Ack, seq: iss + 101, payload: TcpBed.Pattern(100, 100), ignoreFlags: Psh, at: TimeSpan.Zero);
    }

    [Fact]
    public void Icmp_fragmentation_needed_lowers_the_mss_and_the_data_is_resent_smaller()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(4 * Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        CapturedPacket firstPacket = bed.Peer.LastExpected!;
        Assert.True(firstPacket.DontFragment, "RFC 1191 3: TCP segments go with DF set so that path MTU discovery works");
        bed.Peer.TakePending();

        // A router on the way has an MTU of 1000 (RFC 1191 4: the next-hop MTU in the ICMP message).
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, firstPacket, nextHopMtu: 1000);
        // Over IPv6 the report of 1000 counts as 1280, the minimum (RFC 8201 4).
        int ceiling = Math.Max(1000, Family.SmallMtu) - Family.Headers;
        CapturedSegment resent = bed.Peer.Expect(Ack, seq: iss + 1, ignoreFlags: Psh, within: TimeSpan.FromSeconds(3));
        Assert.InRange(resent.Payload.Length, 1, ceiling);
        Assert.Equal(TcpBed.Pattern(resent.Payload.Length), resent.Payload);
        Assert.InRange(Assert.IsType<TcpConnectionInfo>(bed.Connection).Mss, 536, ceiling);
    }

    [Fact]
    public void Our_window_closes_when_the_buffer_fills_and_reopens_with_a_window_update_after_the_read()
    {
        var bed = new TcpBed(output);
        const int Size = 16 * 1024;
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss), options: new TcpConnectionOptions { ReceiveBufferSize = Size });
        uint iss = synAck.Seq;
        Assert.Equal(Size, synAck.Window); // no scaling without the peer's WS; the whole (empty) buffer is offered
        int sent = 0;
        while (sent < Size)
        {
            int n = Math.Min(Mss, Size - sent);
            bed.Peer.Send(Ack, seq: 1001 + (uint)sent, ack: iss + 1, payload: TcpBed.Pattern(n, sent));
            sent += n;
        }

        CapturedSegment full = LastAck(bed, 1001 + Size);
        Assert.Equal(0, full.Window);

        // A byte beyond the zero window is not accepted (RFC 9293 3.10.7.4: ACK it, drop it).
        bed.Peer.Send(Ack, seq: 1001 + Size, ack: iss + 1, payload: [42]);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001 + Size, window: 0, length: 0, at: TimeSpan.Zero);

        // RFC 9293 3.8.6.2.2: once the application frees the buffer, a window update goes out.
        Assert.Equal(TcpBed.Pattern(Size), bed.Complete(bed.ReadExactly(server, Size)));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001 + Size, window: Size, length: 0, at: TimeSpan.Zero);
    }

    [Fact]
    public void The_user_timeout_ends_a_connection_whose_data_goes_unacknowledged()
    {
        var bed = new TcpBed(output);
        (TcpStream client, CapturedSegment syn) = bed.ActiveOpen(options: new TcpConnectionOptions { UserTimeout = TimeSpan.FromSeconds(5) });
        Task<byte[]> read = bed.Read(client);
        bed.Write(client, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: syn.Seq + 1, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        TimeSpan took = bed.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromSeconds(60));
        // RFC 5482 / RFC 9293 3.8.3: the connection is aborted once data stays unacknowledged for the user timeout.
        Assert.Equal(TimeSpan.FromSeconds(5), took);
        var e = Assert.Throws<TcpException>(() => read.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
    }

    [Fact]
    public void The_user_timeout_does_not_kill_a_passive_handshake()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { UserTimeout = TimeSpan.FromSeconds(5) });
        Assert.Equal(TcpState.Established, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(10));
        Task<byte[]> read = bed.Read(server);
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(5), bed.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void Abort_sends_a_rst_at_snd_nxt()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        server.Abort();
        // RFC 9293 3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST> (Linux adds ACK).
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1, ignoreFlags: Ack, at: TimeSpan.Zero);
        Assert.Equal(TcpState.Closed, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void Closing_with_unread_data_sends_a_rst_instead_of_a_fin()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: synAck.Seq + 1, payload: "unread"u8);
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1007, length: 0, at: TimeSpan.Zero); // quick-ACK mode: the first data is acknowledged at once
        server.Dispose();
        // RFC 9293 3.10.4 (and RFC 2525 2.17, Linux): data discarded on close -> RST, not FIN.
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1, ignoreFlags: Ack, within: TimeSpan.FromMilliseconds(300));
        Assert.Equal(TcpState.Closed, bed.State);
    }

    [Fact]
    public void Data_across_the_sequence_number_wrap_is_acked_and_delivered_in_order()
    {
        var bed = new TcpBed(output);
        TcpListener listener = bed.Tcp.Listen(80, 16);
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        const uint Iss = 0xFFFF_F000; // 4096 bytes before 2^32
        bed.Peer.Send(Syn, seq: Iss, options: Options(mss: Family.Mss));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: Iss + 1);
        bed.Peer.Send(Ack, seq: Iss + 1, ack: synAck.Seq + 1);
        TcpStream server = bed.Complete(accept);

        byte[] data = TcpBed.Pattern(4 * Mss);
        for (int i = 0; i < 4; i++)
        {
            // Sent out of order (1, 0, 3, 2) so reassembly works across the wrap too.
            int k = i ^ 1;
            bed.Peer.Send(Ack, seq: unchecked(Iss + 1 + (uint)(k * Mss)), ack: synAck.Seq + 1, payload: data.AsSpan(k * Mss, Mss));
        }

        Assert.Equal(data, bed.Complete(bed.ReadExactly(server, data.Length)));
        uint expectedAck = unchecked(Iss + 1 + (uint)(4 * Mss));
        Assert.True(expectedAck < Iss, "the test must cross 2^32");
        CapturedSegment last = LastAck(bed, expectedAck);
        Assert.Equal(synAck.Seq + 1, last.Seq);
    }

    [Fact]
    public void Malformed_options_never_break_the_stack()
    {
        var bed = new TcpBed(output);
        bed.Tcp.Listen(80, 16);
        byte[][] garbage =
        [
            [2, 0],             // MSS with length 0
            [2, 4, 5],          // MSS cut short
            [3, 3],             // window scale cut short
            [8, 10, 0, 0, 0],   // timestamps cut short
            [5, 3, 1, 2, 3],    // SACK with a broken length
            [99, 40],           // an unknown option longer than the header
            [1, 1, 1, 0, 7, 7], // NOPs, end of list, trailing junk
        ];
        ushort port = 41000;
        foreach (byte[] options in garbage)
        {
            bed.Peer.Send(Syn, seq: 1000, rawOptions: options, fromPort: port++);
            bed.Peer.Send(Ack | Psh, seq: 1000, ack: 1, rawOptions: options, payload: "x"u8, fromPort: port++);
        }

        bed.RunFor(TimeSpan.FromSeconds(1));
        bed.Peer.TakePending();

        // The stack still answers a good SYN, also one whose window scale is above 14 (RFC 7323 2.3: use 14).
        bed.Peer.Port = 40000;
        bed.Peer.Send(Syn, seq: 1000, rawOptions: [2, 4, 5, 180, 3, 3, 15]);
        bed.Peer.Expect(Syn | Ack, ack: 1001, options: o => o.Mss == Family.Mss, within: TimeSpan.FromSeconds(1));
        Assert.Equal(0, bed.Stack.Counters.Snapshot().CallbackExceptions);
    }

    private static CapturedSegment LastAck(TcpBed bed, uint ack)
    {
        CapturedSegment? last = null;
        bed.Sim.RunUntil(() =>
        {
            foreach (CapturedPacket p in bed.Peer.TakePending())
            {
                last = p.Segment ?? last;
            }

            return last is not null && last.Ack == ack;
        }, TimeSpan.FromSeconds(1));
        return last!;
    }
}
