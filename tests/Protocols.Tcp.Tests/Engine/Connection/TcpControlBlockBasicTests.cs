using System.Net.Sockets;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockBasicTests
{
    [Fact]
    public void Handshake_negotiates_mss_window_scale_and_timestamps()
    {
        var wire = new EnginePair();
        wire.Connect();

        Assert.Equal(TcpState.Established, wire.A.State);
        Assert.Equal(TcpState.Established, wire.B!.State);
        SentSegment syn = wire.Log[0];
        Assert.Equal(TcpFlags.Syn, syn.Flags);
        Assert.Equal((ushort)1460, syn.Header.Options.Mss);
        Assert.Equal((byte)7, syn.Header.Options.WindowScale); // the 6 MiB autotuning cap >> 7 fits 16 bits (Linux announces 7 too)
        Assert.NotNull(syn.Header.Options.Timestamps);
        Assert.Equal(0u, syn.Header.Options.Timestamps!.Value.TsEcr);
        Assert.Equal((ushort)65535, syn.Header.Window);

        SentSegment synAck = wire.Log[1];
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, synAck.Flags);
        Assert.Equal(syn.Seq + 1, synAck.Ack);
        Assert.Equal((ushort)1460, synAck.Header.Options.Mss);
        Assert.Equal((byte)7, synAck.Header.Options.WindowScale);
        Assert.Equal(syn.Header.Options.Timestamps!.Value.TsVal, synAck.Header.Options.Timestamps!.Value.TsEcr);

        SentSegment ack = wire.Log[2];
        Assert.Equal(TcpFlags.Ack, ack.Flags);
        Assert.Equal(synAck.Seq + 1, ack.Ack);
        Assert.Equal(syn.Seq + 1, ack.Seq);
        Assert.Equal(3, wire.Log.Count);

        Assert.Equal(1448, wire.A.Mss); // 1460 - 12 bytes of timestamps
        Assert.Equal((7, 7), wire.A.WindowShifts);
        Assert.True(wire.A.TimestampsEnabled);
        Assert.True(wire.EventsA.HasFlag(TcpEvents.Established));
        Assert.True(wire.EventsB.HasFlag(TcpEvents.Established));
        Assert.Equal(1, wire.CountersA.ActiveOpens);
        Assert.Equal(1, wire.CountersB.PassiveOpens);
        Assert.Equal(1, wire.CountersA.CurrentEstablished);
        Assert.Equal(long.MaxValue, wire.A.NextDeadlineMicros);
    }

    [Fact]
    public void Handshake_without_options_assumes_536_and_no_scaling()
    {
        var plain = TcpConnectionOptions.Default with { WindowScaling = false, Timestamps = false };
        var wire = new EnginePair(plain, TcpConnectionOptions.Default);
        wire.Connect();
        Assert.Null(wire.Log[1].Header.Options.WindowScale); // not offered back without the peer's
        Assert.Null(wire.Log[1].Header.Options.Timestamps);
        Assert.Equal((0, 0), wire.B!.WindowShifts);
        Assert.False(wire.B.TimestampsEnabled);
        Assert.Equal(1460, wire.B.Mss);
    }

    [Fact]
    public void Data_flows_both_ways_and_arrives_intact()
    {
        var wire = new EnginePair();
        wire.Connect();
        byte[] up = TestData.Seeded(1_000_000, 1);
        byte[] down = TestData.Seeded(700_000, 2);
        Assert.Equal(up, wire.Transfer(wire.A, wire.B!, up));
        Assert.Equal(down, wire.Transfer(wire.B!, wire.A, down));
        Assert.Equal(0, wire.CountersA.SegmentsRetransmitted);
        Assert.Equal(1_000_000, wire.A.GetInfo(wire.Now).BytesSent);
        Assert.Equal(1_000_000, wire.B!.GetInfo(wire.Now).BytesReceived);
        Assert.True(wire.A.RtoEstimator.HasSample);
        Assert.InRange(wire.A.RtoEstimator.SmoothedRtt, 19_000, 40_000); // 2 x 10 ms one way (+ delayed ACKs)
    }

    [Fact]
    public void Psh_marks_the_last_segment_of_a_write()
    {
        var wire = new EnginePair();
        wire.Connect();
        wire.A.Send(new byte[3000], wire.Now);
        Assert.Equal(2, wire.Log.Count(s => s.FromA && s.Payload.Length > 0)); // Nagle holds the small tail while data is unacknowledged
        wire.Run(100_000);
        List<SentSegment> data = [.. wire.Log.Where(s => s.FromA && s.Payload.Length > 0)];
        Assert.Equal(3, data.Count);
        Assert.Equal([1448, 1448, 104], data.Select(s => s.Payload.Length));
        Assert.False(data[0].Has(TcpFlags.Psh));
        Assert.False(data[1].Has(TcpFlags.Psh));
        Assert.True(data[2].Has(TcpFlags.Psh));
    }

    [Fact]
    public void Orderly_close_from_the_client_goes_through_time_wait()
    {
        var wire = new EnginePair();
        wire.Connect();
        TcpControlBlock a = wire.A, b = wire.B!;

        a.Close(wire.Now);
        Assert.Equal(TcpState.FinWait1, a.State);
        Assert.Equal(0, wire.CountersA.CurrentEstablished); // ESTABLISHED and CLOSE-WAIT only
        Assert.True(wire.Log[^1].Has(TcpFlags.Fin | TcpFlags.Ack));
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.CloseWait, b.State);
        Assert.True(b.IsReceiveCompleted);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.FinWait2, a.State);

        Assert.Equal(1, wire.CountersB.CurrentEstablished); // CLOSE-WAIT still counts
        b.Close(wire.Now);
        Assert.Equal(TcpState.LastAck, b.State);
        Assert.Equal(0, wire.CountersB.CurrentEstablished);
        wire.Run(wire.OneWayDelay);
        Assert.Equal(TcpState.TimeWait, a.State);
        Assert.True(wire.EventsA.HasFlag(TcpEvents.TimeWaitEntered));
        wire.Run(wire.OneWayDelay);
        Assert.True(b.State == TcpState.Closed, string.Join("\n", wire.Log));
        Assert.Equal(SocketError.Success, b.Error);

        // TIME-WAIT lasts exactly 2 MSL (60 s by default).
        long entered = wire.Now - wire.OneWayDelay;
        Assert.Equal(entered + 60_000_000, a.NextDeadlineMicros);
        wire.RunUntil(entered + 60_000_000 - 1);
        Assert.Equal(TcpState.TimeWait, a.State);
        wire.RunUntil(entered + 60_000_000);
        Assert.Equal(TcpState.Closed, a.State);
        Assert.Equal(SocketError.Success, a.Error);
        Assert.Equal(0, wire.CountersA.CurrentEstablished);
        Assert.Equal(0, a.AllocatedBufferBytes);
    }

    [Fact]
    public void Segment_write_and_parse_round_trip_with_checksum()
    {
        var tuple = new TcpFourTuple(EnginePair.AddressA, 1234, EnginePair.AddressB, 80);
        var o = new TcpOutgoingSegment { Seq = new SeqNum(0xfffffff0), Ack = new SeqNum(42), Flags = TcpFlags.Ack | TcpFlags.Psh, Window = 1000 };
        o.Options.Timestamps = new TcpTimestamps(7, 9);
        byte[] buffer = new byte[100];
        int n = o.Write(buffer, tuple, [1, 2, 3], [4, 5]);
        Assert.Equal(20 + 12 + 5, n);
        Assert.True(TcpSegment.TryParse(buffer.AsSpan(0, n), out TcpSegment seg, out TcpHeader.Reader reader));
        Assert.True(reader.VerifyChecksum(Protocols.Wire.Checksum.PseudoHeaderSum(tuple.LocalAddress, tuple.RemoteAddress, 6, n)));
        Assert.Equal(1234, reader.SourcePort);
        Assert.Equal(80, reader.DestinationPort);
        Assert.Equal(o.Seq, seg.Seq);
        Assert.Equal(o.Ack, seg.Ack);
        Assert.Equal(o.Flags, seg.Flags);
        Assert.Equal(1000, seg.Window);
        Assert.Equal(new TcpTimestamps(7, 9), seg.Options.Timestamps);
        Assert.Equal([1, 2, 3, 4, 5], seg.Payload.ToArray());
        Assert.Equal(5, seg.SegmentLength);
        Assert.False(TcpSegment.TryParse(buffer.AsSpan(0, 10), out _, out _));
    }
}
