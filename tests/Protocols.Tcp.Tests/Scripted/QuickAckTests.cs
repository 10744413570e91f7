using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// Quick-ACK mode (Linux's): every data segment acknowledged at once for a number of ACKs when the
/// data starts and after a loss, then the delayed-ACK rules of RFC 9293 3.8.6.3 / RFC 5681 4.2 again.
/// </summary>
public sealed class QuickAckTests(ITestOutputHelper output)
{
    private const int Mss = 1460;
    private const uint PeerSeq = TcpBed.PeerIss + 1;
    private static readonly TimeSpan DelayedAck = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void The_first_sixteen_data_segments_are_each_acknowledged_at_once_then_acks_are_delayed_again()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = DelayedAck });
        uint iss = synAck.Seq;

        // 256 KiB of window / (2 * 1460) = 89 segments' worth: the default limit, 16, applies.
        uint seq = PeerSeq;
        for (int i = 0; i < 16; i++)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss, i * Mss));
            seq += Mss;
            bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        }

        // Quick-ACK mode is over: one segment waits for the delayed-ACK timer, two get one ACK.
        bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        seq += Mss;
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: DelayedAck);
        bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(10), "the first of two full segments waits");
        bed.Peer.Send(Ack, seq: seq + Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq + (2 * Mss), length: 0, at: TimeSpan.Zero);
    }

    [Fact]
    public void A_small_window_gets_fewer_quick_acks_and_zero_turns_the_mode_off()
    {
        // 2920 bytes of buffer, and the receive MSS estimate starts at 536 (RFC 9293 3.7.1's default, as
        // Linux's rcv_mss): window / (2 * MSS) = 2 quick ACKs (Linux's tcp_incr_quickack).
        var bed = new TcpBed(output);
        var small = new TcpConnectionOptions { DelayedAckTimeout = DelayedAck, ReceiveBufferSize = 2 * Mss, AutoTuneBuffers = false };
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: ScriptedPeer.Options(mss: Mss), options: small);
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.ReadExactly(server, 3 * 100);
        bed.Peer.Send(Ack, seq: PeerSeq, ack: iss + 1, payload: TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + 100, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: PeerSeq + 100, ack: iss + 1, payload: TcpBed.Pattern(100, 100));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + 200, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: PeerSeq + 200, ack: iss + 1, payload: TcpBed.Pattern(100, 200));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: PeerSeq + 300, length: 0, at: DelayedAck);
        Assert.Equal(TcpBed.Pattern(300), bed.Complete(read));

        var off = new TcpBed(output);
        (_, synAck, _) = off.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = DelayedAck, QuickAcks = 0 });
        off.Peer.Send(Ack, seq: PeerSeq, ack: synAck.Seq + 1, payload: TcpBed.Pattern(100));
        off.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: PeerSeq + 100, length: 0, at: DelayedAck);
    }

    [Fact]
    public void Filling_a_hole_is_acknowledged_at_once_and_restarts_quick_ack_mode()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = DelayedAck, QuickAcks = 3 });
        uint iss = synAck.Seq;
        uint seq = PeerSeq;
        for (int i = 0; i < 3; i++)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
            seq += Mss;
            bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        }

        bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        seq += Mss;
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: DelayedAck);

        // One segment is lost: the next draws an immediate duplicate ACK (RFC 5681 4.2)...
        uint hole = seq;
        bed.Peer.Send(Ack, seq: hole + Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: hole, length: 0, at: TimeSpan.Zero);

        // ...its retransmission fills the hole and is acknowledged at once (RFC 5681 4.2), and quick-ACK
        // mode starts again: that ACK and the next two are immediate, as after the first data.
        bed.Peer.Send(Ack, seq: hole, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        seq = hole + (2 * Mss);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        for (int i = 0; i < 2; i++)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
            seq += Mss;
            bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        }

        bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq + Mss, length: 0, at: DelayedAck);
    }

    [Fact]
    public void Data_received_again_is_acknowledged_at_once_and_restarts_quick_ack_mode()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { DelayedAckTimeout = DelayedAck, QuickAcks = 2 });
        uint iss = synAck.Seq;
        uint seq = PeerSeq;
        for (int i = 0; i < 2; i++)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
            seq += Mss;
            bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        }

        // The peer resends the last segment (it took our ACK for lost): an immediate duplicate ACK,
        // and the next two segments are acknowledged at once again.
        bed.Peer.Send(Ack, seq: seq - Mss, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        for (int i = 0; i < 2; i++)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
            seq += Mss;
            bed.Peer.Expect(Ack, seq: iss + 1, ack: seq, length: 0, at: TimeSpan.Zero);
        }

        bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: seq + Mss, length: 0, at: DelayedAck);
    }
}
