using System.Buffers.Binary;
using Protocols.Ip.Simulation;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// SACK on the wire: the blocks the stack reports as a receiver (RFC 2018 4, RFC 2883 4), byte by
/// byte, and the instants at which it resends as a sender (RACK-TLP, RFC 8985).
/// </summary>
public sealed class SackTests(ITestOutputHelper output)
{
    private const int Chunk = 100;

    [Fact]
    public void Beside_timestamps_three_blocks_go_most_recent_first_in_linux_layout()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1460, ws: 7, sackOk: true, ts: (100, 0)));
        uint iss = synAck.Seq;
        uint tsVal = 102;

        // Four holes: data at 1101, 1301, 1501 and 1701, each answered at once (RFC 5681 4.2).
        uint[] starts = [1101, 1301, 1501, 1701];
        CapturedSegment ack = null!;
        foreach (uint seq in starts)
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, options: Options(ts: (tsVal++, synAck.TsVal)), payload: TcpBed.Pattern(Chunk, (int)(seq - 1001)));
            ack = bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, length: 0, at: TimeSpan.Zero);
        }

        // RFC 2018 3/4: at most three blocks fit beside timestamps; the block of the latest segment first.
        Assert.Equal([Block(1701, 1801), Block(1501, 1601), Block(1301, 1401)], ack.Options.SackBlocks.ToArray());

        // Linux's layout: NOP NOP TS(10), NOP NOP SACK(2 + 3 x 8): a 60-byte header.
        byte[] tcp = bed.Peer.LastExpected!.Bytes[20..];
        Assert.Equal(60, (tcp[12] >> 4) * 4);
        Assert.Equal(new byte[] { 1, 1, 8, 10 }, tcp[20..24]);
        Assert.Equal(new byte[] { 1, 1, 5, 26 }, tcp[32..36]);
        Assert.Equal(1701u, BinaryPrimitives.ReadUInt32BigEndian(tcp.AsSpan(36)));
        Assert.Equal(1801u, BinaryPrimitives.ReadUInt32BigEndian(tcp.AsSpan(40)));
    }

    [Fact]
    public void Without_timestamps_four_blocks_fit()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1460, ws: 7, sackOk: true));
        uint iss = synAck.Seq;
        CapturedSegment ack = null!;
        foreach (uint seq in new uint[] { 1101, 1301, 1501, 1701, 1901 })
        {
            bed.Peer.Send(Ack, seq: seq, ack: iss + 1, payload: TcpBed.Pattern(Chunk, (int)(seq - 1001)));
            ack = bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, length: 0, at: TimeSpan.Zero);
        }

        Assert.Equal([Block(1901, 2001), Block(1701, 1801), Block(1501, 1601), Block(1301, 1401)], ack.Options.SackBlocks.ToArray());
        byte[] tcp = bed.Peer.LastExpected!.Bytes[20..];
        Assert.Equal(56, (tcp[12] >> 4) * 4); // NOP NOP SACK(2 + 4 x 8)
        Assert.Equal(new byte[] { 1, 1, 5, 34 }, tcp[20..24]);
    }

    [Fact]
    public void A_duplicate_is_reported_in_the_first_block_then_the_block_holding_it()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1460, ws: 7, sackOk: true));
        uint iss = synAck.Seq;
        bed.Peer.Send(Ack, seq: 1301, ack: iss + 1, payload: TcpBed.Pattern(2 * Chunk, 300));
        bed.Peer.Expect(Ack, ack: 1001, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1601, ack: iss + 1, payload: TcpBed.Pattern(Chunk, 600));
        bed.Peer.Expect(Ack, ack: 1001, length: 0, at: TimeSpan.Zero);

        // RFC 2883 4: part of a held block again: D-SACK first, then the block that holds it.
        bed.Peer.Send(Ack, seq: 1351, ack: iss + 1, payload: TcpBed.Pattern(50, 350));
        CapturedSegment ack = bed.Peer.Expect(Ack, ack: 1001, length: 0, at: TimeSpan.Zero);
        Assert.Equal([Block(1351, 1401), Block(1301, 1501), Block(1601, 1701)], ack.Options.SackBlocks.ToArray());

        // Below RCV.NXT: the hole is filled, then its data comes again; the D-SACK lies below the ACK.
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(3 * Chunk));
        bed.Peer.Expect(Ack, ack: 1501, length: 0, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(Chunk));
        ack = bed.Peer.Expect(Ack, ack: 1501, length: 0, at: TimeSpan.Zero);
        Assert.Equal([Block(1001, 1101), Block(1601, 1701)], ack.Options.SackBlocks.ToArray());

        // The D-SACK is reported once; the next ACK has the held block only.
        bed.Peer.Send(Ack, seq: 1801, ack: iss + 1, payload: TcpBed.Pattern(Chunk, 800));
        ack = bed.Peer.Expect(Ack, ack: 1501, length: 0, at: TimeSpan.Zero);
        Assert.Equal([Block(1801, 1901), Block(1601, 1701)], ack.Options.SackBlocks.ToArray());
        Assert.Equal(2, bed.Tcp.Counters[TcpCounter.DsacksSent]);
    }

    [Fact]
    public void The_tail_loss_probe_resends_the_last_segment_two_srtt_after_it_was_sent()
    {
        // 10 ms each way: the handshake measures SRTT = 20 ms, so PTO = 2 x 20 + 2 = 42 ms (RFC 8985 7.2; the 2 ms as Linux), well before the RTO (200 ms).
        var bed = new TcpBed(output, link: new LinkOptions { Delay = TimeSpan.FromMilliseconds(10) });
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1460, ws: 7, sackOk: true, ts: (100, 0)));
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(2 * 1448));
        bed.Peer.Expect(Ack, seq: iss + 1, length: 1448, ignoreFlags: Psh);
        CapturedSegment last = bed.Peer.Expect(Ack, seq: iss + 1 + 1448, length: 1448, ignoreFlags: Psh, at: TimeSpan.Zero);

        // No ACK: the probe is the last segment again (no new data to send), 42 ms after it.
        bed.Peer.Expect(Ack, seq: last.Seq, length: 1448, ignoreFlags: Psh, at: TimeSpan.FromMilliseconds(42), tolerance: TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.TailLossProbes]);
        Assert.Equal(0, bed.Tcp.Counters.Timeouts);
    }

    [Fact]
    public void Rack_resends_a_segment_when_the_reordering_window_has_passed()
    {
        // RTT 20 ms: RACK.rtt = 20 ms, min_RTT / 4 = 5 ms (one segment SACKed, no reordering seen).
        var bed = new TcpBed(output, link: new LinkOptions { Delay = TimeSpan.FromMilliseconds(10) });
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1460, ws: 7, sackOk: true));
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(4 * 1460));
        List<CapturedPacket> flight = bed.Peer.Collect(TimeSpan.FromMilliseconds(11));
        Assert.Equal(4, flight.Count);

        // Segment 2 arrived, segment 1 not (yet): a SACK for segment 2.
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1, options: SackOptions(Block(iss + 1 + 1460, iss + 1 + 2920)));

        // RFC 8985 6.2: segment 1 is lost once it was sent RACK.rtt + reo_wnd ago: 20 + 5 ms after it
        // was sent, i.e. 15 ms after this SACK left the peer, plus 10 ms on the way back.
        bed.Peer.Expect(Ack, seq: iss + 1, length: 1460, ignoreFlags: Psh, at: TimeSpan.FromMilliseconds(25), tolerance: TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.RackLostSegments]);
    }

    private static TcpSackBlock Block(uint left, uint right) => new(left, right);

    private static TcpOptions SackOptions(params TcpSackBlock[] blocks)
    {
        var o = default(TcpOptions);
        foreach (TcpSackBlock b in blocks)
        {
            o.TryAddSackBlock(b);
        }

        return o;
    }
}
