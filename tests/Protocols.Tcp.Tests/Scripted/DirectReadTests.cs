using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// One copy on the receive path, seen from the wire: data that arrives while a read waits goes
/// straight into the read's buffer and is acknowledged with the window a read from the ring would
/// leave (RFC 9293 3.8.6.2.2: the right edge moves by at least an MSS, and never back).
/// </summary>
public class DirectReadTests(ITestOutputHelper output)
{
    private const uint PeerSeq = TcpBed.PeerIss + 1;
    private const int Buffer = 64 * 1024; // window scale 1 (RFC 7323 2.3: the smallest shift that fits 65536)
    private static int Mss => Family.Mss;

    // Fixed buffer, every segment acknowledged at once: the window of each ACK is what the rules say it is.
    private static TcpConnectionOptions Options => new()
    {
        ReceiveBufferSize = Buffer,
        AutoTuneBuffers = false,
        DelayedAckTimeout = TimeSpan.Zero,
    };

    // A passive open under Options: the bed, the accepted stream and the stack's ISN.
    private (TcpBed Bed, TcpStream Server, uint Iss) Open()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: Options);
        return (bed, server, synAck.Seq);
    }

    // Starts a read of up to `max` bytes (or of exactly `max`) and runs the loop until it waits there.
    private static Task<byte[]> WaitingRead(TcpBed bed, TcpStream server, int max, bool exactly = false)
    {
        Task<byte[]> read = exactly ? bed.ReadExactly(server, max) : bed.Read(server, max);
        bed.RunPending();
        return read;
    }

    [Fact]
    public void Data_for_a_waiting_read_is_acknowledged_with_the_whole_buffer_as_window()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> read = WaitingRead(bed, server, Buffer);

        // A full segment: read at once, so the free space is the whole buffer and the right edge may
        // move by the MSS (RFC 9293 3.8.6.2.2): window 65536, field 65536 >> 1.
        bed.SendSegment(iss, 0);
        bed.ExpectAck(iss, Mss, window: Buffer >> 1);
        Assert.Equal(TcpBed.Pattern(Mss), bed.Complete(read));
        Assert.Equal(Mss, bed.Tcp.Counters.BytesReadDirect);
        Assert.Equal(0, bed.Tcp.Counters.BytesReadFromRing);
    }

    [Fact]
    public void Data_with_no_read_waiting_goes_to_the_ring_and_the_window_shrinks_until_it_is_read()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();

        // Unread in the ring: the window is the buffer less the segment.
        bed.SendSegment(iss, 0);
        bed.ExpectAck(iss, Mss, window: (ushort)((Buffer - Mss) >> 1));

        // Reading it frees less than half the buffer: no window update (the window did not double).
        Assert.Equal(TcpBed.Pattern(Mss), bed.Complete(bed.Read(server, Buffer)));
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "a read that frees one segment of 64 KiB sends no window update");
        Assert.Equal(0, bed.Tcp.Counters.BytesReadDirect);
        Assert.Equal(Mss, bed.Tcp.Counters.BytesReadFromRing);
    }

    [Fact]
    public void A_small_segment_for_a_waiting_read_does_not_move_the_right_edge_and_the_next_full_one_does()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> first = WaitingRead(bed, server, Buffer);

        // 100 bytes read at once: the edge could move by 100 only, less than an MSS, so it stays
        // (receiver SWS avoidance) and the window offered is 100 less.
        bed.SendSegment(iss, 0, size: 100, flags: Ack | Psh);
        bed.ExpectAck(iss, 100, window: (ushort)((Buffer - 100) >> 1));
        Assert.Equal(TcpBed.Pattern(100), bed.Complete(first));

        // The next read waits; the rest of the MSS makes the increase a full MSS: the edge moves.
        Task<byte[]> second = WaitingRead(bed, server, Buffer);
        bed.Peer.Send(Ack | Psh, seq: PeerSeq + 100, ack: iss + 1, payload: TcpBed.Pattern(Mss - 100, 100));
        bed.ExpectAck(iss, Mss, window: Buffer >> 1);
        Assert.Equal(TcpBed.Pattern(Mss - 100, 100), bed.Complete(second));
        Assert.Equal(Mss, bed.Tcp.Counters.BytesReadDirect);
    }

    [Fact]
    public void A_segment_larger_than_the_waiting_read_fills_it_and_leaves_the_rest_in_the_ring()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> small = WaitingRead(bed, server, 500);

        // 500 bytes go to the read, the other MSS - 500 wait in the ring: the window is the buffer
        // less what is unread, and the edge moved by 500 only, so it stays.
        bed.SendSegment(iss, 0);
        bed.ExpectAck(iss, Mss, window: (ushort)((Buffer - Mss) >> 1));
        Assert.Equal(TcpBed.Pattern(500), bed.Complete(small));
        Assert.Equal(TcpBed.Pattern(Mss - 500, 500), bed.Complete(bed.Read(server, Buffer)));
        Assert.Equal(500, bed.Tcp.Counters.BytesReadDirect);
        Assert.Equal(Mss - 500, bed.Tcp.Counters.BytesReadFromRing);
    }

    [Fact]
    public void Out_of_order_data_waits_in_the_ring_and_the_filled_run_reaches_the_read()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> read = WaitingRead(bed, server, 3 * Mss, exactly: true);

        // The second segment first: held beyond the hole, the read keeps waiting.
        bed.SendSegment(iss, 1);
        bed.ExpectAck(iss, 0);
        Assert.False(read.IsCompleted);

        // The hole filled: the two segments are readable from the ring; the third goes straight to the read.
        bed.SendSegment(iss, 0);
        bed.ExpectAck(iss, 2 * Mss);
        bed.RunPending();
        bed.SendSegment(iss, 2);
        Assert.Equal(TcpBed.Pattern(3 * Mss), bed.Complete(read));
        Assert.Equal(2 * Mss, bed.Tcp.Counters.BytesReadFromRing);
        Assert.Equal(Mss, bed.Tcp.Counters.BytesReadDirect);
    }

    [Fact]
    public void Data_and_fin_for_a_waiting_read_complete_it_and_the_next_read_returns_end_of_stream()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> read = WaitingRead(bed, server, Buffer);
        bed.SendSegment(iss, 0, size: 300, flags: Ack | Fin);
        bed.ExpectAck(iss, 301);
        Assert.Equal(TcpBed.Pattern(300), bed.Complete(read));
        Assert.Empty(bed.Complete(bed.Read(server, Buffer)));
        Assert.Equal(TcpState.CloseWait, bed.State);
        Assert.Equal(300, bed.Tcp.Counters.BytesReadDirect);
    }

    [Fact]
    public void Segments_of_one_receive_batch_fill_the_same_waiting_read()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        Task<byte[]> read = WaitingRead(bed, server, Buffer);

        // Three segments on the wire at once: the stack takes them in one poll, and they go one
        // after the other into the one read, which completes after the batch with all of them.
        bed.SendSegments(iss, 3);

        Assert.Equal(TcpBed.Pattern(3 * Mss), bed.Complete(read));
        Assert.Equal(3 * Mss, bed.Tcp.Counters.BytesReadDirect);
        Assert.Equal(0, bed.Tcp.Counters.BytesReadFromRing);
    }

    [Fact]
    public void A_batch_larger_than_the_waiting_read_fills_it_and_the_rest_waits_in_the_ring()
    {
        (TcpBed bed, TcpStream server, uint iss) = Open();
        int size = (2 * Mss) + 100;
        Task<byte[]> read = WaitingRead(bed, server, size);
        bed.SendSegments(iss, 3);

        Assert.Equal(TcpBed.Pattern(size), bed.Complete(read));
        Assert.Equal(TcpBed.Pattern(Mss - 100, size), bed.Complete(bed.Read(server, Buffer)));
        Assert.Equal(size, bed.Tcp.Counters.BytesReadDirect);
        Assert.Equal(Mss - 100, bed.Tcp.Counters.BytesReadFromRing);
    }
}
