using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>SYN cookies (RFC 4987 3.6): stateless SYN-ACKs, established from a valid ACK, forged and stale ACKs refused.</summary>
public class SynCookieTests(ITestOutputHelper output)
{
    [Fact]
    public void A_cookie_syn_ack_keeps_no_state_and_its_ack_establishes_the_connection()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynCookies = TcpSynCookieMode.Always });
        TcpListener listener = bed.Tcp.Listen(80, 16);
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss, ws: 7));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001, at: TimeSpan.Zero, options: o => o.Mss == Family.Mss && o.Timestamps == null);
        Assert.DoesNotContain(bed.Connections, c => c.State == TcpState.SynReceived);
        Assert.Equal(1, bed.Tcp.Counters.SynCookiesSent);

        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1);
        TcpStream server = bed.Complete(accept);
        Assert.Equal(TcpState.Established, bed.State);
        Assert.Equal(1, bed.Tcp.Counters.SynCookiesReceived);
        Assert.Equal(Family.Mss, Assert.IsType<TcpConnectionInfo>(bed.Connection).Mss);

        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: synAck.Seq + 1, payload: "cookie"u8);
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1007, length: 0, at: TimeSpan.Zero); // quick-ACK mode: the first data is acknowledged at once
        Assert.Equal("cookie"u8.ToArray(), bed.Complete(read));
        bed.Write(server, "crumbs"u8.ToArray());
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, ack: 1007, payload: "crumbs"u8.ToArray(), ignoreFlags: Psh, within: TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_cookie_syn_ack_without_timestamps_offers_no_window_scale()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynCookies = TcpSynCookieMode.Always });
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss, ws: 7));
        // Without timestamps a cookie cannot carry the peer's window scale, so the SYN-ACK must not offer scaling
        // (RFC 4987 3.6's cost; Linux clears the options likewise: tcp_clear_options when !saw_tstamp).
        bed.Peer.Expect(Syn | Ack, ack: 1001, at: TimeSpan.Zero, options: o => o.Mss == Family.Mss && o.WindowScale == null && o.Timestamps == null);
    }

    [Fact]
    public void A_cookie_with_timestamps_keeps_the_window_scale()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynCookies = TcpSynCookieMode.Always });
        TcpListener listener = bed.Tcp.Listen(80, 16);
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss, ws: 2, ts: (100, 0)));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001, at: TimeSpan.Zero, options: o => o.Mss == Family.Mss && o.Timestamps is { TsEcr: 100 } && o.WindowScale is not null);
        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1, window: (ushort)(2 * Family.Mss / 4), options: Options(ts: (101, synAck.TsVal)));
        TcpStream server = bed.Complete(accept);

        // The peer's shift (2) came back from the cookie: a window field of 730 is 2920 bytes, two segments.
        bed.Write(server, TcpBed.Pattern(5000));
        List<CapturedPacket> flight = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        int bytes = flight.Sum(p => p.Segment!.Payload.Length);
        Assert.InRange(bytes, 2 * (Family.Mss - 12), 2 * Family.Mss); // segments of 1448 (timestamps take 12) or 1460 (1428 or 1440 over IPv6); never more than the window
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(150));
    }

    [Fact]
    public void A_forged_cookie_ack_is_refused_with_a_rst_and_no_connection()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynCookies = TcpSynCookieMode.Always });
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001);
        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1 + 12345);
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1 + 12345, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 2001, ack: synAck.Seq + 1); // the right cookie for another ISN
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1, at: TimeSpan.Zero);
        Assert.DoesNotContain(bed.Connections, c => c.State != TcpState.Listen);
        Assert.Equal(2, bed.Tcp.Counters.SynCookiesFailed);
    }

    [Fact]
    public void A_stale_cookie_is_refused()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynCookies = TcpSynCookieMode.Always });
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001);
        bed.RunFor(TimeSpan.FromSeconds(200)); // cookies live 128 to 192 s (SynCookies.MaxAgeSlots)
        bed.Peer.TakePending();
        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1);
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1, at: TimeSpan.Zero);
        Assert.DoesNotContain(bed.Connections, c => c.State != TcpState.Listen);
    }

    [Fact]
    public void Cookies_are_sent_only_once_the_syn_queue_is_full()
    {
        var bed = new TcpBed(output, stackOptions: new TcpStackOptions { Seed = 1, SynQueueLength = 2, SynCookies = TcpSynCookieMode.Auto });
        TcpListener listener = bed.Tcp.Listen(80, 16);
        for (ushort port = 40001; port <= 40003; port++)
        {
            bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss), fromPort: port);
        }

        List<CapturedPacket> synAcks = bed.Peer.Collect(TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, synAcks.Count);
        Assert.All(synAcks, p => Assert.True(p.Segment is { Flags: Syn | Ack, Ack: 1001 }, p.ToString()));
        Assert.Equal(2, bed.Connections.Count(c => c.State == TcpState.SynReceived));
        Assert.Equal(1, bed.Tcp.Counters.SynCookiesSent);

        // The cookie connection (the third) completes too.
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        CapturedSegment third = synAcks[2].Segment!;
        bed.Peer.Send(Ack, seq: 1001, ack: third.Seq + 1, fromPort: 40003);
        TcpStream server = bed.Complete(accept);
        Assert.Equal(40003, server.RemoteEndPoint.Port);
    }
}
