using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// Receive coalescing in the stack (GRO) over the simulated link, which does not coalesce: the
/// peer puts several segments on the wire at one instant, so the stack takes them in one device
/// batch. In-order data of one connection with the same flags, options and IP fields is merged
/// into one run before TCP input, as Linux's tcp_gro_receive merges; everything else reaches the
/// engine as it arrived. Quick-ACK mode is off, so the delayed-ACK rule (RFC 9293 3.8.6.3, counted
/// in bytes) decides each ACK.
/// </summary>
public class ReceiveCoalescingTests(ITestOutputHelper output)
{
    private const uint PeerSeq = TcpBed.PeerIss + 1;
    private static readonly TimeSpan DelayedAck = TimeSpan.FromMilliseconds(200);
    private static readonly TcpConnectionOptions NoQuickAcks = new() { DelayedAckTimeout = DelayedAck, QuickAcks = 0 };

    private static int Mss => Family.Mss;

    // Runs of up to 64 segments (the stretch ACKs of Linux's GRO), so one batch is one run; the
    // default of 2 is tested on its own below.
    private TcpBed LongRuns() => new(output, stackOptions: new TcpStackOptions { Seed = 1, CoalescedRunSegments = 64, Defaults = new TcpConnectionOptions() });

    // A passive open under NoQuickAcks: the accepted stream and the stack's ISN.
    private static (TcpStream Server, uint Iss) Open(TcpBed bed)
    {
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: NoQuickAcks);
        return (server, synAck.Seq);
    }

    // Another connection to the listener, from the peer's `port` (which stays the peer's port): the accepted stream and the stack's ISN.
    private static (TcpStream Server, uint Iss) OpenFrom(TcpBed bed, TcpListener listener, ushort port)
    {
        bed.Peer.Port = port;
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: TcpBed.PeerIss, options: TcpBed.DefaultSynOptions);
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: TcpBed.PeerIss + 1);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: synAck.Seq + 1);
        return (bed.Complete(accept), synAck.Seq);
    }

    [Fact]
    public void Four_full_segments_in_one_batch_reach_the_connection_as_one_run_acknowledged_once_at_once()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);
        long received = bed.Tcp.Counters.SegmentsReceived;
        bed.SendSegments(iss, 4);

        // One ACK for the whole run, at once: four full-sized segments' worth is past the
        // two-segment rule, as for a device's super-segment.
        bed.ExpectAck(iss, 4 * Mss);
        bed.Peer.ExpectNothing(2 * DelayedAck, "one ACK covers the run");
        Assert.Equal(1, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(4, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(4, bed.Tcp.Counters.SegmentsReceived - received);
        Assert.Equal(TcpBed.Pattern(4 * Mss), bed.Complete(bed.ReadExactly(server, 4 * Mss)));
    }

    [Fact]
    public void With_coalescing_off_the_same_batch_draws_an_ack_per_two_full_segments()
    {
        var bed = new TcpBed(output, receiveCoalescing: false);
        (TcpStream server, uint iss) = Open(bed);
        bed.SendSegments(iss, 4);

        bed.ExpectAck(iss, 2 * Mss);
        bed.ExpectAck(iss, 4 * Mss);
        bed.Peer.ExpectNothing(2 * DelayedAck);
        Assert.Equal(0, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(0, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(4 * Mss), bed.Complete(bed.ReadExactly(server, 4 * Mss)));
    }

    [Fact]
    public void By_default_runs_of_two_segments_keep_one_ack_per_two_full_segments()
    {
        var bed = new TcpBed(output);
        (TcpStream server, uint iss) = Open(bed);
        bed.SendSegments(iss, 6);

        // RFC 5681 4.2's ratio: an ACK for every second full-sized segment, as without coalescing.
        for (int pair = 1; pair <= 3; pair++)
        {
            bed.ExpectAck(iss, 2 * pair * Mss);
        }

        bed.Peer.ExpectNothing(2 * DelayedAck);
        Assert.Equal(3, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(6, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(6 * Mss), bed.Complete(bed.ReadExactly(server, 6 * Mss)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(65)]
    public void A_run_limit_outside_two_to_sixty_four_is_refused(int limit)
    {
        var bed = new ScriptedBed(output);
        Assert.Throws<ArgumentOutOfRangeException>(() => bed.Stack.UseTcp(new TcpStackOptions { CoalescedRunSegments = limit }));
    }

    [Fact]
    public void A_lone_segment_is_held_only_until_the_batch_ends_and_its_ack_is_delayed_as_without_coalescing()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);
        Task<byte[]> read = bed.Read(server);
        bed.SendSegment(iss, 0);
        bed.RunPending();
        Assert.True(read.IsCompleted, "the batch ended, so the segment reached the reader at once");
        Assert.Equal(TcpBed.Pattern(Mss), bed.Complete(read, TimeSpan.Zero));
        bed.ExpectAck(iss, Mss, at: DelayedAck);
        Assert.Equal(0, bed.Tcp.Counters.CoalescedRuns);
    }

    [Fact]
    public void A_push_or_a_short_segment_ends_the_run_it_joins()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);

        // Two full segments and a PSH: one run of three; the fourth segment starts a run of its own
        // that the batch's end delivers alone, so its ACK waits for the timer.
        bed.SendSegments(iss, 2);
        bed.SendSegment(iss, 2, flags: Ack | Psh);
        bed.SendSegment(iss, 3);
        bed.ExpectAck(iss, 3 * Mss);
        bed.ExpectAck(iss, 4 * Mss, at: DelayedAck);
        Assert.Equal(1, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(3, bed.Tcp.Counters.CoalescedSegments);

        // A full segment and a short one: a run of two (the short one ends it); the next full
        // segment then makes two full segments' worth unacknowledged, acknowledged at once.
        uint seq = PeerSeq + (uint)(4 * Mss);
        bed.SendSegment(iss, 4);
        bed.Peer.Send(Ack, seq: seq + (uint)Mss, ack: iss + 1, payload: TcpBed.Pattern(100, 5 * Mss));
        bed.Peer.Send(Ack, seq: seq + (uint)Mss + 100, ack: iss + 1, payload: TcpBed.Pattern(Mss, (5 * Mss) + 100));
        bed.ExpectAck(iss, (6 * Mss) + 100);
        bed.Peer.ExpectNothing(2 * DelayedAck);
        Assert.Equal(2, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(5, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern((6 * Mss) + 100), bed.Complete(bed.ReadExactly(server, (6 * Mss) + 100)));
    }

    [Fact]
    public void A_fin_is_never_merged_and_ends_the_run_before_it()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);
        bed.SendSegment(iss, 0);
        bed.SendSegment(iss, 1);
        bed.SendSegment(iss, 2, flags: Ack | Fin);
        List<CapturedPacket> sent = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        Assert.Equal(PeerSeq + (uint)(3 * Mss) + 1, sent[^1].Segment!.Ack);
        Assert.Equal(TcpState.CloseWait, bed.State);
        Assert.Equal(1, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(2, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(3 * Mss), bed.Complete(bed.ReadExactly(server, 3 * Mss)));
    }

    [Fact]
    public void Segments_whose_timestamps_differ_are_not_merged_together()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: ScriptedPeer.Options(mss: (ushort)Mss, ws: 7, ts: (100, 0)), options: NoQuickAcks);
        uint iss = synAck.Seq;
        int size = Mss - 12; // RFC 6691: the timestamp option's 12 bytes come out of the MSS

        // Linux compares the option bytes whole, timestamps included: TSval 102, 102, 103, 103 make two runs.
        for (int i = 0; i < 4; i++)
        {
            TcpOptions ts = ScriptedPeer.Options(ts: ((uint)(102 + (i / 2)), synAck.TsVal));
            bed.SendSegment(iss, i, size, options: ts);
        }

        bed.ExpectAck(iss, 2 * size, options: o => o.Timestamps is { TsEcr: 102 });
        bed.ExpectAck(iss, 4 * size, options: o => o.Timestamps is { TsEcr: 103 });
        Assert.Equal(2, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(4, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(4 * size), bed.Complete(bed.ReadExactly(server, 4 * size)));
    }

    [Fact]
    public void Segments_with_another_ttl_or_hop_limit_are_not_merged_with_the_run()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);
        for (int i = 0; i < 4; i++)
        {
            bed.Peer.Ttl = (byte)(i < 2 ? 64 : 63);
            bed.SendSegment(iss, i);
        }

        bed.ExpectAck(iss, 2 * Mss);
        bed.ExpectAck(iss, 4 * Mss);
        Assert.Equal(2, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(TcpBed.Pattern(4 * Mss), bed.Complete(bed.ReadExactly(server, 4 * Mss)));
    }

    [Fact]
    public void Out_of_order_and_hole_filling_segments_are_never_merged_and_are_acknowledged_at_once()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);

        // Segment 1 is missing: 0 is held, 2 and 3 are out of order (RFC 5681 4.2: an immediate
        // duplicate ACK for each), never a run.
        bed.SendSegment(iss, 0);
        bed.SendSegments(iss, 2, first: 2);
        bed.ExpectAck(iss, Mss);
        bed.ExpectAck(iss, Mss);
        Assert.Equal(0, bed.Tcp.Counters.CoalescedRuns);

        // The hole is filled with 4 and 5 behind it in the same batch: 1 reaches the engine alone
        // and is acknowledged at once (RFC 5681 4.2); 4 and 5 are in order after it and form a run.
        bed.SendSegment(iss, 1);
        bed.SendSegments(iss, 2, first: 4);
        bed.ExpectAck(iss, 4 * Mss);
        bed.ExpectAck(iss, 6 * Mss);
        Assert.Equal(1, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(2, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(6 * Mss), bed.Complete(bed.ReadExactly(server, 6 * Mss)));
    }

    [Fact]
    public void Interleaved_segments_of_two_connections_make_one_run_each()
    {
        TcpBed bed = LongRuns();
        (TcpStream first, CapturedSegment synAck1, TcpListener listener) = bed.PassiveOpen(options: NoQuickAcks);

        // A second connection from another port to the same listener.
        (TcpStream second, uint iss2) = OpenFrom(bed, listener, 40001);

        for (int i = 0; i < 3; i++)
        {
            bed.SendSegment(synAck1.Seq, i, fromPort: 40000);
            bed.Peer.Send(Ack, seq: PeerSeq + (uint)(i * Mss), ack: iss2 + 1, payload: TcpBed.Pattern(Mss, (i * Mss) + 7), fromPort: 40001);
        }

        List<CapturedPacket> acks = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, acks.Count);
        Assert.All(acks, a => Assert.Equal(PeerSeq + (uint)(3 * Mss), a.Segment!.Ack));
        Assert.Equal([40000, 40001], acks.Select(a => (int)a.Segment!.To.Port).Order());
        Assert.Equal(2, bed.Tcp.Counters.CoalescedRuns);
        Assert.Equal(6, bed.Tcp.Counters.CoalescedSegments);
        Assert.Equal(TcpBed.Pattern(3 * Mss), bed.Complete(bed.ReadExactly(first, 3 * Mss)));
        Assert.Equal(TcpBed.Pattern(3 * Mss, 7), bed.Complete(bed.ReadExactly(second, 3 * Mss)));
    }

    [Fact]
    public void A_bad_checksum_in_the_middle_is_dropped_and_the_run_stops_at_the_gap()
    {
        TcpBed bed = LongRuns();
        (TcpStream server, uint iss) = Open(bed);
        bed.SendSegment(iss, 0);
        bed.Peer.Send(Ack, seq: PeerSeq + (uint)Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss, Mss), badChecksum: true);
        bed.SendSegment(iss, 2);

        // The corrupted segment never joins: 0 is delivered alone, 2 is out of order and draws a duplicate ACK.
        bed.ExpectAck(iss, Mss);
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.BadSegmentsChecksum]);
        Assert.Equal(0, bed.Tcp.Counters.CoalescedRuns);
        bed.SendSegment(iss, 1);
        bed.ExpectAck(iss, 3 * Mss);
        Assert.Equal(TcpBed.Pattern(3 * Mss), bed.Complete(bed.ReadExactly(server, 3 * Mss)));
    }

    [Fact]
    public void More_flows_than_the_coalescer_holds_deliver_the_oldest_run_early_and_lose_nothing()
    {
        TcpBed bed = LongRuns();
        (TcpStream first, CapturedSegment synAck1, TcpListener listener) = bed.PassiveOpen(options: NoQuickAcks);
        var streams = new List<(TcpStream Stream, uint Iss, ushort Port)> { (first, synAck1.Seq, 40000) };
        int flows = TcpReceiveCoalescer.MaxFlows + 2;
        for (ushort port = 40001; streams.Count < flows; port++)
        {
            (TcpStream stream, uint iss) = OpenFrom(bed, listener, port);
            streams.Add((stream, iss, port));
        }

        long received = bed.Tcp.Counters.SegmentsReceived;
        for (int i = 0; i < 2; i++)
        {
            foreach ((_, uint iss, ushort port) in streams)
            {
                bed.Peer.Send(Ack, seq: PeerSeq + (uint)(i * Mss), ack: iss + 1, payload: TcpBed.Pattern(Mss, (i * Mss) + port), fromPort: port);
            }
        }

        bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        foreach ((TcpStream stream, _, ushort port) in streams)
        {
            Assert.Equal(TcpBed.Pattern(2 * Mss, port), bed.Complete(bed.ReadExactly(stream, 2 * Mss)));
        }

        Assert.Equal(TcpReceiveCoalescer.MaxFlows, bed.Tcp.Coalescer.BuffersMade);
        Assert.Equal(2L * flows, bed.Tcp.Counters.SegmentsReceived - received);
    }
}
