using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// RFC 9293 3.8.6.1: persist probes while the peer's window is closed, and new data as soon as a
/// window update opens it (interop once saw a ~336 ms stall after a reopen).
/// </summary>
public class ZeroWindowTests(ITestOutputHelper output)
{
    private const uint PeerSeq = TcpBed.PeerIss + 1;
    private static int Mss => Family.Mss; // no timestamps in the default SYN
    private static int Queued => 2 * Mss; // full segments only, so Nagle holds nothing back

    // Sends 1000 bytes, has the peer acknowledge them with a zero window and queues two segments more:
    // the persist timer is armed from now. Returns the ISS and the RTO the probes back off from.
    private static (uint Iss, TimeSpan Rto) Setup(TcpBed bed, out TcpStream server)
    {
        (server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(1000));
        bed.Peer.Expect(Ack, seq: iss + 1, payload: TcpBed.Pattern(1000), ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 0);
        bed.RunPending();
        TimeSpan rto = Assert.IsType<TcpConnectionInfo>(bed.Connection).Rto;
        Assert.InRange(rto, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1));
        bed.Write(server, TcpBed.Pattern(Queued, 1000)); // nothing may go out now
        return (iss, rto);
    }

    [Fact]
    public void Probes_back_off_and_a_pure_window_update_releases_the_data_at_once()
    {
        var bed = new TcpBed(output);
        (uint iss, TimeSpan rto) = Setup(bed, out _);

        // Probes at RTO, 2 RTO, 4 RTO after each other (RFC 6298 5.5 backoff, as Linux's tcp_probe_timer):
        // SND.UNA - 1, no data, each answered by the peer with its still-zero window.
        TimeSpan wait = rto;
        for (int i = 0; i < 3; i++)
        {
            bed.Peer.Expect(Ack, seq: iss + 1000, ack: PeerSeq, length: 0, at: wait);
            bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 0);
            wait *= 2;
        }

        // Some time later the application reads: the peer's pure window update (same SEG.SEQ and
        // SEG.ACK, RFC 9293 3.10.7.4 SND.WL1/WL2 rule) must release the data immediately, not at the next probe.
        bed.RunFor(wait / 2);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 512); // 512 << 7 = 64 KiB
        CapturedSegment first = bed.Peer.Expect(Ack, seq: iss + 1001, ack: PeerSeq, ignoreFlags: Psh, at: TimeSpan.Zero);
        Assert.Equal(TcpBed.Pattern(first.Payload.Length, 1000), first.Payload);
        Assert.Equal(Mss, first.Payload.Length);
        Assert.Single(bed.Peer.Collect(TimeSpan.Zero)); // the second segment goes in the same instant
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001 + (uint)Queued, window: 512);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(130), "everything is acknowledged and the window is open: no more probes");
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void A_window_update_between_probes_releases_the_data_at_once_and_stops_the_probes()
    {
        var bed = new TcpBed(output);
        (uint iss, TimeSpan rto) = Setup(bed, out _);
        bed.Peer.Expect(Ack, seq: iss + 1000, ack: PeerSeq, length: 0, at: rto);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 0);

        // Half way to the second probe (due 2 RTO later), the window opens.
        bed.RunFor(rto);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 512);
        bed.Peer.Expect(Ack, seq: iss + 1001, ack: PeerSeq, ignoreFlags: Psh, at: TimeSpan.Zero);
        Assert.Single(bed.Peer.Collect(TimeSpan.Zero));

        // The data is acknowledged: no probe where the second one would have been, nothing at all.
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001 + (uint)Queued, window: 512);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(130), "the persist timer stopped when the window opened");
        Assert.Equal(0, Assert.IsType<TcpConnectionInfo>(bed.Connection).SendQueue);
    }

    [Fact]
    public void A_window_update_smaller_than_a_segment_is_filled_at_once()
    {
        var bed = new TcpBed(output);
        (uint iss, TimeSpan rto) = Setup(bed, out _);
        bed.Peer.Expect(Ack, seq: iss + 1000, ack: PeerSeq, length: 0, at: rto);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 0);

        // 11 << 7 = 1408 bytes: a reopened window a little under one MSS (window-scale granularity).
        // Nothing is in flight, so like Linux the stack fills it now rather than waiting an RTO for
        // RFC 9293 3.8.6.2.1's override timeout (the ~336 ms stall interop saw).
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001, window: 11);
        bed.Peer.Expect(Ack, seq: iss + 1001, ack: PeerSeq, payload: TcpBed.Pattern(1408, 1000), ignoreFlags: Psh, at: TimeSpan.Zero);
        Assert.Empty(bed.Peer.Collect(TimeSpan.Zero)); // the window is full

        // Its ACK opens the window wide: a full segment follows at once (the 52-byte tail then waits for Nagle).
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1001 + 1408, window: 512);
        bed.Peer.Expect(Ack, seq: iss + 1001 + 1408, ack: PeerSeq, payload: TcpBed.Pattern(Mss, 1000 + 1408), ignoreFlags: Psh, at: TimeSpan.Zero);
    }

    /// <summary>
    /// RFC 9293 3.10.7.4: when RCV.WND is zero no segment carrying data is acceptable, not even one
    /// exactly at RCV.NXT; its ACK still counts ("special allowance ... for valid ACKs"), and the answer
    /// is an ACK of the old RCV.NXT with window 0 (Linux's tcp_data_queue, TCPZeroWindowDrop). It must
    /// hold also when the application read a little since the window closed: too little for receiver
    /// SWS avoidance (RFC 9293 3.8.6.2.2) to reopen the window, but room in the buffer all the same.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(500)]
    public void Data_at_rcv_nxt_after_our_zero_window_is_dropped_and_answered_with_the_old_ack(int readBefore)
    {
        var bed = new TcpBed(output);
        const int Size = 16 * 1024;
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: ScriptedPeer.Options(mss: (ushort)Mss), options: new TcpConnectionOptions { ReceiveBufferSize = Size, AutoTuneBuffers = false });
        uint iss = synAck.Seq;
        int sent = 0;
        while (sent < Size)
        {
            int n = Math.Min(Mss, Size - sent);
            bed.Peer.Send(Ack, seq: PeerSeq + (uint)sent, ack: iss + 1, payload: TcpBed.Pattern(n, sent));
            sent += n;
        }

        bed.RunFor(TimeSpan.FromMilliseconds(300));
        CapturedSegment closed = bed.Peer.TakePending().Select(p => p.Segment!).Last();
        Assert.Equal((PeerSeq + Size, (ushort)0), (closed.Ack, closed.Window));

        if (readBefore > 0)
        {
            Assert.Equal(TcpBed.Pattern(readBefore), bed.Complete(bed.ReadExactly(server, readBefore)));
            bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(300), "500 free bytes are below min(buffer / 2, MSS): no window update");
        }

        int dropsBefore = (int)bed.Tcp.Counters[TcpCounter.ZeroWindowDrops];
        bed.Peer.Send(Ack | Psh, seq: PeerSeq + Size, ack: iss + 1, payload: TcpBed.Pattern(100, Size));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + Size, window: 0, length: 0, at: TimeSpan.Zero);
        Assert.Equal(dropsBefore + 1, bed.Tcp.Counters[TcpCounter.ZeroWindowDrops]);
        Assert.Equal(Size - readBefore, Assert.IsType<TcpConnectionInfo>(bed.Connection).ReceiveQueue);

        // The application reads everything: the window update reopens the window, and the peer's
        // retransmission of the 100 bytes is taken then.
        Assert.Equal(TcpBed.Pattern(Size - readBefore, readBefore), bed.Complete(bed.ReadExactly(server, Size - readBefore)));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + Size, window: Size, length: 0, at: TimeSpan.Zero);
        Task<byte[]> rest = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: PeerSeq + Size, ack: iss + 1, payload: TcpBed.Pattern(100, Size));
        Assert.Equal(TcpBed.Pattern(100, Size), bed.Complete(rest));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + Size + 100, length: 0, within: TimeSpan.FromMilliseconds(300));
    }

    /// <summary>A bare FIN at RCV.NXT needs no buffer space: it is taken through a zero window (as Linux does).</summary>
    [Fact]
    public void A_bare_fin_at_rcv_nxt_is_taken_through_our_zero_window()
    {
        var bed = new TcpBed(output);
        const int Size = 1000;
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: ScriptedPeer.Options(mss: (ushort)Mss), options: new TcpConnectionOptions { ReceiveBufferSize = Size, AutoTuneBuffers = false });
        uint iss = synAck.Seq;
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1, payload: TcpBed.Pattern(Size));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + Size, window: 0, length: 0, within: TimeSpan.FromMilliseconds(300));
        bed.Peer.Send(Fin | Ack, seq: PeerSeq + Size, ack: iss + 1);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + Size + 1, window: 0, length: 0, at: TimeSpan.Zero);
        Assert.Equal(TcpState.CloseWait, bed.State);
    }
}
