using System.Net.Sockets;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>Resets (RFC 9293 3.10.7), unacceptable segments, the RFC 5961 defences and PAWS (RFC 7323 5).</summary>
public class ResetTests(ITestOutputHelper output)
{
    [Fact]
    public void An_unacceptable_segment_in_established_is_answered_with_an_ack_and_dropped()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        // RFC 9293 3.10.7.4 first check: not in the window -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop.
        bed.Peer.Send(Ack | Psh, seq: 1001 + 50_000_000, ack: iss + 1, payload: "junk"u8);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero, length: 0);
        bed.Peer.Send(Ack | Psh, seq: 1001 - 100, ack: iss + 1, payload: "old"u8); // entirely before RCV.NXT: a duplicate
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero, length: 0);
        bed.RunFor(TimeSpan.FromSeconds(1));
        Assert.False(read.IsCompleted);
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Rfc5961_a_rst_in_the_window_but_not_at_rcv_nxt_gets_a_challenge_ack()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen();
        bed.Peer.Send(Rst, seq: 1001 + 100);
        // RFC 5961 3.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the connection stays.
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1001, at: TimeSpan.Zero, length: 0);
        Assert.Equal(TcpState.Established, bed.State);
        Assert.Equal(1, bed.Tcp.Counters.ChallengeAcksSent);

        bed.Peer.Send(Rst, seq: 1001 + 0x4000_0000); // outside the window: dropped silently (RFC 5961 3.2)
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1));
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Rfc5961_a_rst_exactly_at_rcv_nxt_resets_the_connection()
    {
        var bed = new TcpBed(output);
        (TcpStream server, _, _) = bed.PassiveOpen();
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Rst, seq: 1001);
        var e = Assert.Throws<TcpException>(() => bed.Complete(read));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        Assert.Equal(TcpState.Closed, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(2), "no answer to an accepted RST");
        Assert.Equal(1, bed.Tcp.Counters.ResetsReceived);
    }

    [Fact]
    public void Rfc5961_a_syn_on_an_established_connection_gets_a_challenge_ack()
    {
        var bed = new TcpBed(output);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen();
        // RFC 5961 4.2: whatever its sequence number, a SYN in a synchronized state gets a challenge ACK.
        bed.Peer.Send(Syn, seq: 1001 + 10);
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1001, at: TimeSpan.Zero, length: 0);
        bed.Peer.Send(Syn, seq: 77);
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1001, at: TimeSpan.Zero, length: 0);
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Rfc5961_data_with_an_ack_older_than_the_max_window_is_not_accepted()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        // RFC 5961 5.2: acceptable only if SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT; otherwise discard (an ACK may be sent back).
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1 - 0x4000_0000, payload: "injected"u8);
        foreach (CapturedPacket p in bed.Peer.Collect(TimeSpan.FromSeconds(1)))
        {
            Assert.True(p.Segment is { Flags: Ack, Ack: 1001, Payload.Length: 0 }, $"only a pure ACK of 1001 may answer: {p}");
        }

        Assert.False(read.IsCompleted, "the injected data must not reach the application");

        // An ACK of data never sent (SEG.ACK > SND.NXT): RFC 9293 3.10.7.4, send an ACK and drop.
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1 + 5000, payload: "ahead"u8);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, length: 0, at: TimeSpan.Zero);
        bed.RunFor(TimeSpan.FromSeconds(1));
        Assert.False(read.IsCompleted);
        Assert.Equal(TcpState.Established, bed.State);

        // The real data is still accepted afterwards.
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1, payload: "real"u8);
        Assert.Equal("real"u8.ToArray(), bed.Complete(read));
    }

    [Fact]
    public void Rfc5961_challenge_acks_are_rate_limited_stack_wide()
    {
        var stackOptions = new TcpStackOptions { Seed = 1, ChallengeAckLimitPerSecond = 5 };
        var bed = new TcpBed(output, stackOptions: stackOptions);
        (_, CapturedSegment synAck, _) = bed.PassiveOpen();
        for (uint i = 1; i <= 20; i++)
        {
            bed.Peer.Send(Rst, seq: 1001 + (i * 10));
        }

        // RFC 5961 7: at most the configured number of challenge ACKs per second.
        List<CapturedPacket> answers = bed.Peer.Collect(TimeSpan.FromMilliseconds(500));
        Assert.Equal(5, answers.Count);
        Assert.All(answers, p => Assert.True(p.Segment is { Flags: Ack } s && s.Ack == 1001 && s.Seq == synAck.Seq + 1, p.ToString()));
        Assert.Equal(5, bed.Tcp.Counters.ChallengeAcksSent);
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Rfc5961_challenge_acks_are_allowed_again_in_the_next_second()
    {
        var stackOptions = new TcpStackOptions { Seed = 1, ChallengeAckLimitPerSecond = 5 };
        var bed = new TcpBed(output, stackOptions: stackOptions);
        bed.PassiveOpen();
        for (uint i = 1; i <= 20; i++)
        {
            bed.Peer.Send(Rst, seq: 1001 + (i * 10));
        }

        Assert.Equal(5, bed.Peer.Collect(TimeSpan.FromMilliseconds(500)).Count);
        bed.RunFor(TimeSpan.FromSeconds(1));
        bed.Peer.Send(Rst, seq: 1001 + 10);
        bed.Peer.Expect(Ack, ack: 1001, at: TimeSpan.Zero);
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Paws_drops_a_segment_with_an_older_timestamp_and_acks()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss, ws: 7, ts: (100, 0)), tsVal: 101);
        uint iss = synAck.Seq;
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1, payload: TcpBed.Pattern(10), options: Options(ts: (200, synAck.TsVal)));
        Assert.Equal(TcpBed.Pattern(10), bed.Complete(bed.Read(server)));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1011, within: TimeSpan.FromMilliseconds(250), length: 0, options: o => o.Timestamps is { TsEcr: 200 });

        // RFC 7323 5.3 R1: TSval 150 < TS.Recent 200 -> send an ACK and drop the segment.
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: 1011, ack: iss + 1, payload: TcpBed.Pattern(10, 10), options: Options(ts: (150, synAck.TsVal)));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1011, at: TimeSpan.Zero, length: 0, options: o => o.Timestamps is { TsEcr: 200 });
        bed.RunFor(TimeSpan.FromSeconds(1));
        Assert.False(read.IsCompleted);
        Assert.Equal(1, bed.Tcp.Counters.PawsRejected);

        // The same bytes with a fresh timestamp are accepted.
        bed.Peer.Send(Ack | Psh, seq: 1011, ack: iss + 1, payload: TcpBed.Pattern(10, 10), options: Options(ts: (300, synAck.TsVal)));
        Assert.Equal(TcpBed.Pattern(10, 10), bed.Complete(read));
    }
}
