using System.Net.Sockets;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>Closing: TIME_WAIT, RFC 6191, FIN_WAIT_2 timeout, simultaneous close, half-close both ways, keepalive.</summary>
public class CloseTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void Time_wait_lasts_exactly_two_msl_after_the_last_fin_and_re_acks_a_retransmitted_fin()
    {
        var bed = new TcpBed(output, new TcpConnectionOptions { Msl = TimeSpan.FromSeconds(5) });
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 2);
        bed.RunPending();
        Assert.Equal(TcpState.FinWait2, bed.State);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, length: 0, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);

        // RFC 9293 3.10.7.4 TIME-WAIT: a retransmitted FIN is acknowledged and the 2 MSL timeout restarted.
        bed.RunFor(TimeSpan.FromSeconds(4));
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, length: 0, at: TimeSpan.Zero);
        bed.RunFor(TimeSpan.FromSeconds(10) - Ms);
        Assert.Equal(TcpState.TimeWait, bed.State);
        bed.RunFor(Ms);
        Assert.Equal(TcpState.Closed, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "leaving TIME_WAIT is silent");

        // The 4-tuple is free: a segment for it now finds only the listener (RST, RFC 9293 3.10.7.2).
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2);
        bed.Peer.Expect(Rst, seq: iss + 2, at: TimeSpan.Zero);
    }

    [Fact]
    public void Rfc6191_a_new_syn_with_a_newer_timestamp_reopens_a_time_wait_connection_and_an_old_one_gets_the_time_wait_ack()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, TcpListener listener) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss, ws: 7, ts: (100, 0)), tsVal: 101);
        uint iss = synAck.Seq;
        uint ecr() => bed.Peer.Log.Last(p => p.Segment is not null && p.Source == bed.Peer.RemoteAddress).Segment!.TsVal;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2, options: Options(ts: (102, ecr())));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);
        bed.RunFor(TimeSpan.FromSeconds(1));

        // An old duplicate SYN (older timestamp, lower sequence number) is not accepted: the TIME_WAIT ACK answers it.
        bed.Peer.Send(Syn, seq: 500, options: Options(mss: Family.Mss, ws: 7, ts: (90, 0)));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);

        // RFC 6191 2: a SYN whose timestamp is newer than the last one seen is accepted, even with a lower sequence number.
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 600, options: Options(mss: Family.Mss, ws: 7, ts: (5000, 0)));
        CapturedSegment synAck2 = bed.Peer.Expect(Syn | Ack, ack: 601, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 5000 });
        bed.Peer.Send(Ack, seq: 601, ack: synAck2.Seq + 1, options: Options(ts: (5001, synAck2.TsVal)));
        bed.Complete(accept);
        Assert.Equal(TcpState.Established, bed.State);
        Assert.Equal(1, bed.Tcp.Counters.TimeWaitRecycled);
    }

    [Fact]
    public void Fin_wait_2_ends_after_its_timeout_once_the_application_has_closed()
    {
        var bed = new TcpBed(output, new TcpConnectionOptions { FinWait2Timeout = TimeSpan.FromSeconds(10) });
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 2);
        bed.RunPending();
        Assert.Equal(TcpState.FinWait2, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(9));
        Assert.Equal(TcpState.FinWait2, bed.State);
        bed.RunFor(TimeSpan.FromSeconds(1));
        Assert.NotEqual(TcpState.FinWait2, bed.State);
        bed.RunFor(TimeSpan.FromSeconds(120)); // whatever short TIME_WAIT follows
        Assert.Equal(TcpState.Closed, bed.State);
    }

    [Fact]
    public void Simultaneous_close_goes_through_closing_to_time_wait()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        // The peer's FIN crossed ours: it does not acknowledge our FIN.
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 1);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, length: 0, at: TimeSpan.Zero);
        Assert.Equal(TcpState.Closing, bed.State);
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2);
        bed.RunPending();
        Assert.Equal(TcpState.TimeWait, bed.State);
    }

    [Fact]
    public void Half_close_by_the_peer_the_application_still_writes_then_closes()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 1);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1002, length: 0, within: TimeSpan.FromMilliseconds(200));
        Assert.Empty(bed.Complete(read)); // 0 = end of stream
        Assert.Equal(TcpState.CloseWait, bed.State);

        bed.Write(server, "still talking"u8.ToArray());
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1002, payload: "still talking"u8.ToArray(), ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 14);
        server.CompleteWrites();
        bed.Peer.Expect(Fin | Ack, seq: iss + 14, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.LastAck, bed.State);
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 15);
        bed.RunPending();
        Assert.Equal(TcpState.Closed, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Half_close_by_the_application_it_still_reads_until_the_peers_fin()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.CompleteWrites();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 2);
        bed.RunPending();
        Assert.Equal(TcpState.FinWait2, bed.State);

        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 2, payload: "more data"u8);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1010, length: 0, at: TimeSpan.Zero); // quick-ACK mode: the first data is acknowledged at once
        Assert.Equal("more data"u8.ToArray(), bed.Complete(read));
        bed.Peer.Send(Fin | Ack, seq: 1010, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1011, length: 0, within: TimeSpan.FromMilliseconds(200));
        Assert.Empty(bed.Complete(bed.Read(server)));
        Assert.Equal(TcpState.TimeWait, bed.State);
    }

    [Fact]
    public void Keepalive_probes_after_idle_then_every_interval_and_the_connection_expires()
    {
        var keepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(10), Interval = TimeSpan.FromSeconds(2), ProbeCount = 3 };
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { KeepAlive = keepAlive });
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);

        // RFC 9293 3.8.4: a probe is SEG.SEQ = SND.NXT - 1, with at most one garbage octet.
        bed.Peer.Expect(Ack, seq: iss, ack: 1001, at: TimeSpan.FromSeconds(10));
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1); // answered: the idle time starts again
        bed.Peer.Expect(Ack, seq: iss, ack: 1001, at: TimeSpan.FromSeconds(10));
        bed.Peer.Expect(Ack, seq: iss, ack: 1001, at: TimeSpan.FromSeconds(2));
        bed.Peer.Expect(Ack, seq: iss, ack: 1001, at: TimeSpan.FromSeconds(2));
        Assert.False(read.IsCompleted);
        TimeSpan lastProbe = bed.Now;
        bed.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromSeconds(10));
        Assert.Equal(lastProbe + TimeSpan.FromSeconds(2), bed.Now);
        var e = Assert.Throws<TcpException>(() => read.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.Equal(1, bed.Tcp.Counters.KeepAliveTimeouts);
        Assert.Equal(TcpState.Closed, bed.State);
    }

    [Fact]
    public void Fin_wait_1_goes_straight_to_time_wait_on_a_fin_that_acks_our_fin_and_time_wait_defaults_to_60_seconds()
    {
        var bed = new TcpBed(output); // default MSL 30 s: TIME_WAIT 2 x MSL = 60 s
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        Assert.Equal(TcpState.FinWait1, bed.State);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, length: 0, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(60) - Ms);
        Assert.Equal(TcpState.TimeWait, bed.State);
        bed.RunFor(Ms);
        Assert.Equal(TcpState.Closed, bed.State);
    }

    [Fact]
    public void Last_ack_retransmits_its_fin_until_acknowledged()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 1);
        bed.Peer.Expect(Ack, ack: 1002, within: TimeSpan.FromMilliseconds(200));
        server.Dispose();
        CapturedSegment fin = bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.LastAck, bed.State);
        CapturedSegment again = bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1002, within: TimeSpan.FromSeconds(3));
        CapturedSegment third = bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1002, within: TimeSpan.FromSeconds(6));
        Assert.Equal((again.At - fin.At) * 2, third.At - again.At); // RFC 6298 5.5: backoff applies to the FIN too
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2);
        bed.RunPending();
        Assert.Equal(TcpState.Closed, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Keepalive_with_the_linux_defaults_expires_after_two_hours_and_nine_probes_75_seconds_apart()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { KeepAlive = new TcpKeepAliveOptions() });
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Expect(Ack, seq: synAck.Seq, ack: 1001, at: TimeSpan.FromHours(2));
        for (int i = 1; i < 9; i++)
        {
            bed.Peer.Expect(Ack, seq: synAck.Seq, ack: 1001, at: TimeSpan.FromSeconds(75));
        }

        TimeSpan lastProbe = bed.Now;
        bed.Sim.RunUntil(() => read.IsCompleted, TimeSpan.FromMinutes(5));
        Assert.Equal(lastProbe + TimeSpan.FromSeconds(75), bed.Now); // 2 h + 9 x 75 s after the last segment
        var e = Assert.Throws<TcpException>(() => read.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
    }

    [Fact]
    public void Without_timestamps_a_syn_in_time_wait_is_accepted_only_above_rcv_nxt()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, TcpListener listener) = bed.PassiveOpen(); // no timestamps
        uint iss = synAck.Seq;
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);

        // RFC 9293 3.10.7.4 / RFC 6191 3: without timestamps only a SYN above RCV.NXT may reopen the 4-tuple.
        bed.Peer.Send(Syn, seq: 900, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, bed.State);

        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 1002 + 100_000, options: Options(mss: Family.Mss));
        CapturedSegment synAck2 = bed.Peer.Expect(Syn | Ack, ack: 1002 + 100_001, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1002 + 100_001, ack: synAck2.Seq + 1);
        bed.Complete(accept);
        Assert.Equal(TcpState.Established, bed.State);
    }
}
