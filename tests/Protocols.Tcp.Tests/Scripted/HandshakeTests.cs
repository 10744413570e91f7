using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>Opening: passive, active, simultaneous; options; SYN and SYN-ACK retransmission schedules.</summary>
public class HandshakeTests(ITestOutputHelper output)
{
    private const int Buffer = 256 * 1024; // the default receive buffer (docs/tcp.md)

    [Fact]
    public void Passive_open_answers_with_mss_window_scale_and_echoed_timestamp()
    {
        var bed = new TcpBed(output);
        TcpListener listener = bed.Tcp.Listen(80, 16);
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));

        bed.Peer.Send(Syn, seq: 1000, window: 65535, options: Options(mss: Family.Mss, ws: 7, sackOk: true, ts: (100, 0)));
        // RFC 7323 2.2: the window of a SYN-ACK is never scaled: min(65535, free buffer). MSS = MTU - 40 (RFC 9293 3.7.1).
        // SACK-permitted back, as the SYN offered it (RFC 2018 2). TSecr echoes the SYN's TSval (RFC 7323 3.2).
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001, window: 65535, at: TimeSpan.Zero,
            options: o => o.Mss == Family.Mss && o.WindowScale is byte ws && ws <= 14 && (Buffer >> ws) <= 65535 && o.SackPermitted && o.Timestamps is { TsEcr: 100 });
        Assert.False(accept.IsCompleted);
        Assert.Equal(TcpState.SynReceived, bed.State);

        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1, options: Options(ts: (101, synAck.TsVal)));
        TcpStream server = bed.Complete(accept);
        Assert.Equal(new IpEndpoint(ScriptedBed.PeerAddress, 40000), server.RemoteEndPoint);
        Assert.Equal(new IpEndpoint(ScriptedBed.StackAddress, 80), server.LocalEndPoint);
        Assert.Equal(TcpState.Established, bed.State);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(5), "an established idle connection is silent");
        Assert.Equal(1, bed.Tcp.Counters.PassiveOpens);
    }

    [Theory]
    [InlineData(576)]
    [InlineData(1500)]
    [InlineData(9000)]
    public void The_announced_mss_is_the_mtu_minus_40_or_60_over_IPv6(int mtu)
    {
        mtu = Math.Max(mtu, Family.SmallMtu); // 576 is below IPv6's minimum: 1280 there
        int mss = mtu - Family.Headers;
        var bed = new TcpBed(output, mtu: mtu);
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: 65000));
        bed.Peer.Expect(Syn | Ack, ack: 1001, options: o => o.Mss == mss);
    }

    [Fact]
    public void A_syn_without_options_gets_no_window_scale_or_timestamps_and_the_stack_sends_default_mss_segments()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: new TcpOptions());
        // RFC 7323 2.2 / 3.2: WS and TS only in a SYN-ACK answering a SYN that had them; RFC 9293 3.7.1:
        // MSS 536 when absent (1220 over IPv6, RFC 8200 8.3).
        Assert.True(synAck.Options.Mss == Family.Mss && synAck.Options.WindowScale is null && synAck.Options.Timestamps is null, synAck.ToString());
        uint iss = synAck.Seq;
        int mss = Family.DefaultMss;
        bed.Write(server, TcpBed.Pattern((2 * mss) + 128));
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1001, payload: TcpBed.Pattern(mss), ignoreFlags: Psh, at: TimeSpan.Zero, options: o => o == default);
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)mss, ack: 1001, payload: TcpBed.Pattern(mss, mss), ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.Send(Ack, seq: 1001, ack: iss + 1 + (uint)(2 * mss));
        bed.Peer.Expect(Ack, seq: iss + 1 + (uint)(2 * mss), ack: 1001, payload: TcpBed.Pattern(128, 2 * mss), ignoreFlags: Psh, within: TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Active_open_sends_a_syn_with_options_and_acks_the_syn_ack()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn, ack: 0, window: 65535, at: TimeSpan.Zero,
            options: o => o.Mss == Family.Mss && o.WindowScale is byte ws && ws <= 14 && o.Timestamps is { TsEcr: 0 } && o.SackPermitted); // RFC 2018 2: offered by default
        Assert.InRange(syn.From.Port, 32768, 60999); // Linux's ip_local_port_range
        Assert.Equal(TcpState.SynSent, bed.State);

        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq + 1, window: 1000, options: Options(mss: 1400, ws: 3, ts: (777, syn.TsVal)));
        bed.Peer.Expect(Ack, seq: syn.Seq + 1, ack: 5001, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 777 } && o.Mss == null && o.WindowScale == null);
        TcpStream client = bed.Complete(connect);
        Assert.Equal(new IpEndpoint(ScriptedBed.PeerAddress, 80), client.RemoteEndPoint);
        TcpConnectionInfo info = Assert.IsType<TcpConnectionInfo>(bed.Connection);
        Assert.Equal(TcpState.Established, info.State);
        // The peer's MSS (1400) minus the 12 bytes of timestamps each segment carries, or 1400: the engine's choice, but never more.
        Assert.InRange(info.Mss, 1388, 1400);
        Assert.Equal(1, bed.Tcp.Counters.ActiveOpens);
    }

    [Fact]
    public void A_refused_connect_fails_with_connection_refused()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 81;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 81), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn);
        bed.Peer.Send(Rst | Ack, seq: 0, ack: syn.Seq + 1, window: 0);
        var e = Assert.Throws<TcpException>(() => bed.Complete(connect));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(3), "no SYN retransmission after the RST");
        Assert.Empty(bed.Connections);
    }

    [Fact]
    public void Simultaneous_open_answers_a_crossing_syn_with_a_syn_ack_and_establishes()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn, options: o => o.Timestamps is not null);

        // RFC 9293 3.5 figure 8: the peer's own SYN crosses ours. SYN-SENT + SYN -> SYN-RECEIVED, send SYN,ACK with our ISN.
        bed.Peer.Send(Syn, seq: 300, options: Options(mss: Family.Mss, ws: 7, ts: (50, 0)));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, seq: syn.Seq, ack: 301, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 50 });
        Assert.Equal(TcpState.SynReceived, bed.State);

        // The peer's SYN,ACK (it got our SYN) acknowledges our SYN: ESTABLISHED.
        bed.Peer.Send(Syn | Ack, seq: 300, ack: syn.Seq + 1, options: Options(mss: Family.Mss, ws: 7, ts: (51, synAck.TsVal)));
        TcpStream client = bed.Complete(connect, TimeSpan.FromSeconds(1));
        Assert.Equal(TcpState.Established, bed.State);

        // Data flows both ways from the right numbers.
        bed.Write(client, "hi"u8.ToArray());
        CapturedSegment data = bed.Peer.Expect(Ack, seq: syn.Seq + 1, ack: 301, payload: "hi"u8.ToArray(), ignoreFlags: Psh, within: TimeSpan.FromSeconds(1));
        Task<byte[]> read = bed.Read(client);
        bed.Peer.Send(Ack | Psh, seq: 301, ack: syn.Seq + 3, payload: "yo"u8, options: Options(ts: (52, data.TsVal)));
        Assert.Equal("yo"u8.ToArray(), bed.Complete(read));
    }

    [Fact]
    public void Syn_is_retransmitted_at_1_2_4_seconds_then_connect_times_out()
    {
        // RFC 6298 2.1 / 5.5: initial RTO 1 s, doubled on each expiry. SynRetries = 3, no overall timeout.
        var bed = new TcpBed(output, new TcpConnectionOptions { SynRetries = 3, ConnectTimeout = null });
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn, at: TimeSpan.Zero);
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(1));
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(2));
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(4));
        TimeSpan took = bed.Sim.RunUntil(() => connect.IsCompleted, TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(8), took);
        var e = Assert.Throws<TcpException>(() => connect.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.Empty(bed.Connections);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Connect_timeout_ends_the_syn_retries_early()
    {
        var bed = new TcpBed(output, new TcpConnectionOptions { SynRetries = 6, ConnectTimeout = TimeSpan.FromSeconds(5) });
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn, at: TimeSpan.Zero);
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(1));
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(2));
        TimeSpan took = bed.Sim.RunUntil(() => connect.IsCompleted, TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(2), took); // 5 s after the first SYN
        var e = Assert.Throws<TcpException>(() => connect.GetAwaiter().GetResult());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(5), bed.Now);
    }

    [Fact]
    public void Syn_ack_is_retransmitted_five_times_with_backoff_then_the_half_open_entry_is_freed()
    {
        var bed = new TcpBed(output);
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001, at: TimeSpan.Zero);
        foreach (int seconds in new[] { 1, 2, 4, 8, 16 })
        {
            bed.Peer.Expect(Syn | Ack, seq: synAck.Seq, ack: 1001, at: TimeSpan.FromSeconds(seconds));
        }

        Assert.Equal(TimeSpan.FromSeconds(31), bed.Now);
        Assert.Contains(bed.Connections, c => c.State == TcpState.SynReceived);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(32) - TimeSpan.FromMilliseconds(1));
        Assert.Contains(bed.Connections, c => c.State == TcpState.SynReceived);
        bed.RunFor(TimeSpan.FromMilliseconds(1));
        Assert.DoesNotContain(bed.Connections, c => c.State == TcpState.SynReceived);

        // The handshake's ACK now finds only the listener: RFC 9293 3.10.7.2, <SEQ=SEG.ACK><CTL=RST>.
        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 1);
        bed.Peer.Expect(Rst, seq: synAck.Seq + 1, at: TimeSpan.Zero);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_full_accept_queue_drops_the_handshake_ack_and_the_syn_ack_is_retransmitted()
    {
        var bed = new TcpBed(output);
        TcpListener listener = bed.Tcp.Listen(80, backlog: 1);
        bed.Peer.Port = 40001;
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        CapturedSegment first = bed.Peer.Expect(Syn | Ack, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Port = 40002;
        bed.Peer.Send(Syn, seq: 5000, options: Options(mss: Family.Mss));
        CapturedSegment second = bed.Peer.Expect(Syn | Ack, ack: 5001, at: TimeSpan.Zero);

        bed.Peer.Port = 40001;
        bed.Peer.Send(Ack, seq: 1001, ack: first.Seq + 1);
        bed.RunPending();
        Assert.Equal(1, listener.PendingCount);
        bed.Peer.Port = 40002;
        bed.Peer.Send(Ack, seq: 5001, ack: second.Seq + 1);
        bed.RunPending();
        // Linux's default (tcp_abort_on_overflow = 0): the ACK is dropped and counted; the SYN-ACK timer retries.
        Assert.Equal(1, bed.Tcp.Counters.ListenOverflows);
        Assert.Equal(1, listener.PendingCount);
        bed.Peer.Expect(Syn | Ack, seq: second.Seq, ack: 5001, at: TimeSpan.FromSeconds(1));

        // A third client's SYN meets the full accept queue too: dropped like Linux does (no SYN-ACK).
        bed.Peer.Port = 40003;
        bed.Peer.Send(Syn, seq: 9000, options: Options(mss: Family.Mss));
        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(500));

        // Once the application accepts, the retried handshake completes.
        TcpStream one = bed.Complete(bed.Start(async () => await listener.AcceptAsync(CancellationToken.None)));
        Assert.Equal(40001, one.RemoteEndPoint.Port);
        bed.Peer.Port = 40002;
        bed.Peer.Send(Ack, seq: 5001, ack: second.Seq + 1);
        TcpStream two = bed.Complete(bed.Start(async () => await listener.AcceptAsync(CancellationToken.None)));
        Assert.Equal(40002, two.RemoteEndPoint.Port);
    }

    [Fact]
    public void Syn_sent_answers_a_syn_ack_with_a_bad_ack_with_a_rst_and_keeps_waiting()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn);

        // RFC 9293 3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>, drop.
        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq + 100, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Rst, seq: syn.Seq + 100, at: TimeSpan.Zero);
        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Rst, seq: syn.Seq, at: TimeSpan.Zero);

        // A RST whose ACK is unacceptable is dropped (RFC 9293 3.10.7.3; RFC 5961 3.2): still connecting.
        bed.Peer.Send(Rst | Ack, seq: 0, ack: syn.Seq + 7);
        bed.RunPending();
        Assert.False(connect.IsCompleted);
        Assert.Equal(TcpState.SynSent, bed.State);

        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq + 1, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Ack, seq: syn.Seq + 1, ack: 5001, at: TimeSpan.Zero);
        bed.Complete(connect);
        Assert.Equal(TcpState.Established, bed.State);
    }

    [Fact]
    public void Syn_received_answers_a_bad_ack_with_a_rst_and_a_rst_frees_the_half_open_entry()
    {
        var bed = new TcpBed(output);
        TcpListener listener = bed.Tcp.Listen(80, 16);
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 1001);

        // RFC 9293 3.10.7.4 fifth check, SYN-RECEIVED: an unacceptable ACK -> <SEQ=SEG.ACK><CTL=RST>.
        bed.Peer.Send(Ack, seq: 1001, ack: synAck.Seq + 50);
        bed.Peer.Expect(Rst, seq: synAck.Seq + 50, at: TimeSpan.Zero);
        Assert.Equal(TcpState.SynReceived, bed.State);

        // A RST in the window (exactly RCV.NXT) on a passive half-open connection: back to LISTEN, nothing accepted.
        bed.Peer.Send(Rst, seq: 1001);
        bed.RunPending();
        Assert.Equal(TcpState.Closed, bed.State);
        Assert.Equal(0, listener.PendingCount);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(3), "no SYN-ACK retransmission after the RST");

        // The listener still works.
        bed.Peer.Send(Syn, seq: 7000, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Syn | Ack, ack: 7001, at: TimeSpan.Zero);
    }

    [Fact]
    public void An_icmp_port_unreachable_for_the_syn_fails_the_connect_with_connection_refused()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        bed.Peer.Expect(Syn);
        // RFC 1122 4.2.3.9: port unreachable is a hard error; in SYN-SENT the connect fails (as Linux does).
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, bed.Peer.LastExpected!);
        var e = Assert.Throws<TcpException>(() => bed.Complete(connect, TimeSpan.FromMilliseconds(500)));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(3), "no SYN retransmission after the hard error");
    }

    [Fact]
    public void A_soft_icmp_error_does_not_end_the_connect()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn);
        // RFC 1122 4.2.3.9: net/host unreachable (codes 0, 1) are soft errors: TCP must not abort.
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, bed.Peer.LastExpected!);
        bed.Peer.Expect(Syn, seq: syn.Seq, at: TimeSpan.FromSeconds(1));
        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq + 1, options: Options(mss: Family.Mss));
        bed.Peer.Expect(Ack, seq: syn.Seq + 1, ack: 5001, at: TimeSpan.Zero);
        bed.Complete(connect);
    }
}
