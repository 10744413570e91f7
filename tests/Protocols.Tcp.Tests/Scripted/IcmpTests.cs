using System.Buffers.Binary;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>RFC 5927 4.1: ICMP errors are believed only when they quote a sequence number in [SND.UNA, SND.NXT).</summary>
public class IcmpTests(ITestOutputHelper output)
{
    private static int Mss => Family.Mss; // PassiveOpen's SYN offers no timestamps

    /// <summary>A copy of <paramref name="packet"/> (one the stack sent) whose TCP sequence number is <paramref name="seq"/>: what an off-path attacker who guesses wrong would quote.</summary>
    private static CapturedPacket WithSeq(CapturedPacket packet, uint seq)
    {
        byte[] bytes = (byte[])packet.Bytes.Clone();
        int ihl = bytes[0] >> 4 == 6 ? 40 : (bytes[0] & 0x0F) * 4;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(ihl + 4), seq);
        return CapturedPacket.Decode(packet.At, bytes);
    }

    [Fact]
    public void A_port_unreachable_quoting_a_sequence_number_outside_the_window_does_not_refuse_the_connect()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        CapturedSegment syn = bed.Peer.Expect(Syn, at: TimeSpan.Zero);
        CapturedPacket synPacket = bed.Peer.LastExpected!;

        // SND.UNA = ISS, SND.NXT = ISS + 1: only ISS is acceptable. ISS + 1 and ISS - 1 are forged.
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, WithSeq(synPacket, syn.Seq + 1));
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.ProtocolUnreachable, WithSeq(synPacket, syn.Seq - 1));
        bed.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.False(connect.IsCompleted);
        Assert.Equal(TcpState.SynSent, bed.State);
        Assert.Equal(2, bed.Tcp.Counters[TcpCounter.IcmpErrorsIgnored]);
        Assert.Equal(0, bed.Tcp.Counters[TcpCounter.IcmpErrors]);

        // The connection proceeds.
        bed.Peer.Send(Syn | Ack, seq: 5000, ack: syn.Seq + 1, window: 65535, options: ScriptedPeer.Options(mss: Family.Mss, ts: (1, syn.TsVal)));
        bed.Peer.Expect(Ack, seq: syn.Seq + 1, ack: 5001, at: TimeSpan.Zero);
        TcpStream client = bed.Complete(connect);
        Assert.Equal(TcpState.Established, client.State);
    }

    [Fact]
    public void A_port_unreachable_quoting_the_syn_refuses_the_connect()
    {
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), CancellationToken.None));
        bed.Peer.Expect(Syn, at: TimeSpan.Zero);
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, bed.Peer.LastExpected!);
        var e = Assert.Throws<TcpException>(() => bed.Complete(connect));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(0, bed.Tcp.Counters[TcpCounter.IcmpErrorsIgnored]);
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.IcmpErrors]);
    }

    [Fact]
    public void Fragmentation_needed_outside_the_window_or_below_the_mtu_floor_leaves_the_mss_alone_and_an_in_window_one_lowers_it()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        bed.Write(server, TcpBed.Pattern(4 * Mss));
        bed.Peer.Expect(Ack, seq: iss + 1, length: Mss, ignoreFlags: Psh, at: TimeSpan.Zero);
        CapturedPacket first = bed.Peer.LastExpected!;
        bed.Peer.TakePending(); // SND.UNA = ISS + 1, SND.NXT = ISS + 1 + 4 MSS
        int mssBefore = Assert.IsType<TcpConnectionInfo>(bed.Connection).Mss;
        Assert.Equal(Mss, mssBefore);

        // Out of window: at SND.NXT, and before SND.UNA.
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, WithSeq(first, iss + 1 + (uint)(4 * Mss)), nextHopMtu: 1000);
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, WithSeq(first, iss), nextHopMtu: 1000);
        int ignored = 2;
        if (!Family.Ipv6)
        {
            // In window, but an MTU below the floor (Linux's min_pmtu, 552). Over IPv6 there is no
            // such case: a packet too big below 1280 counts as 1280 (RFC 8201 4, RFC 8021).
            bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, WithSeq(first, iss + 1 + (uint)Mss), nextHopMtu: 551);
            ignored++;
        }

        bed.Peer.ExpectNothing(TimeSpan.FromMilliseconds(100), "ignored errors resend nothing");
        Assert.Equal(mssBefore, Assert.IsType<TcpConnectionInfo>(bed.Connection).Mss);
        Assert.Equal(ignored, bed.Tcp.Counters[TcpCounter.IcmpErrorsIgnored]);

        // In window and at the floor: the MSS drops to 552 - 40 (1280 - 60) and the data is resent in that size.
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, WithSeq(first, iss + 1 + (uint)Mss), nextHopMtu: (ushort)(Family.Ipv6 ? 1000 : 552));
        CapturedSegment resent = bed.Peer.Expect(Ack, seq: iss + 1, ignoreFlags: Psh, at: TimeSpan.Zero);
        Assert.Equal(Family.MinPathMtu - Family.Headers, resent.Payload.Length);
        Assert.Equal(Family.MinPathMtu - Family.Headers, Assert.IsType<TcpConnectionInfo>(bed.Connection).Mss);
        Assert.Equal(ignored, bed.Tcp.Counters[TcpCounter.IcmpErrorsIgnored]);
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.IcmpErrors]);
    }

    [Fact]
    public void A_host_unreachable_quoting_the_syn_is_soft_and_the_connect_that_times_out_reports_it()
    {
        // RFC 1122 4.2.3.9: host unreachable is soft; it does not end the attempt, but the attempt
        // that then times out reports it (Linux: connect fails with EHOSTUNREACH, not ETIMEDOUT).
        var bed = new TcpBed(output);
        bed.Peer.Port = 80;
        bed.Peer.RemotePort = 0;
        var options = new TcpConnectionOptions { SynRetries = 1 };
        Task<TcpStream> connect = bed.Start(async () => await bed.Tcp.ConnectAsync(new IpEndpoint(ScriptedBed.PeerAddress, 80), options, null, CancellationToken.None));
        bed.Peer.Expect(Syn, at: TimeSpan.Zero);
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, bed.Peer.LastExpected!);
        bed.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.False(connect.IsCompleted);
        Assert.Equal(TcpState.SynSent, bed.State);
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.IcmpErrors]);

        bed.Peer.Expect(Syn); // the one retry
        var e = Assert.Throws<TcpException>(() => bed.Complete(connect, TimeSpan.FromSeconds(10)));
        Sockets.TcpErrorShapeTests.AssertShape(SocketError.HostUnreachable, e);
        Assert.Equal(TcpState.Closed, bed.State);
    }

    [Fact]
    public void An_established_connection_that_times_out_after_a_host_unreachable_reports_it_through_the_stream()
    {
        // Linux's tcp_write_err: a retransmission timeout reports the last soft error when there is one.
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { MaxRetransmissions = 2 });
        Task<byte[]> read = bed.Read(server);
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: synAck.Seq + 1, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, bed.Peer.LastExpected!);
        bed.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(TcpState.Established, server.State);
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.IcmpErrors]);

        Exception e = Assert.ThrowsAny<Exception>(() => bed.Complete(read, TimeSpan.FromMinutes(2)));
        Sockets.TcpErrorShapeTests.AssertShape(SocketError.HostUnreachable, e);
    }

    [Fact]
    public void An_acknowledgment_of_new_data_clears_the_soft_error_so_a_later_timeout_reports_TimedOut()
    {
        // The same script twice, differing only in what the peer's ACK after the ICMP error
        // acknowledges: new data forgets the soft error (as Linux's tcp_ack); an ACK of nothing new
        // keeps it, so that connection's timeout still reports it.
        Sockets.TcpErrorShapeTests.AssertShape(SocketError.TimedOut, TimeoutAfterSoftErrorAndAck(ackNewData: true));
        Sockets.TcpErrorShapeTests.AssertShape(SocketError.HostUnreachable, TimeoutAfterSoftErrorAndAck(ackNewData: false));
    }

    // A connection sends 100 bytes, gets a host unreachable quoting them, then the peer's ACK (of
    // the 100 bytes, or of nothing new); 100 more bytes (sent at once either way: Nagle is off) are
    // never acknowledged: the exception the waiting read fails with when the connection times out.
    private Exception TimeoutAfterSoftErrorAndAck(bool ackNewData)
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(options: new TcpConnectionOptions { MaxRetransmissions = 2, NoDelay = true });
        uint next = synAck.Seq + 1;
        Task<byte[]> read = bed.Read(server);
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: next, length: 100, ignoreFlags: Psh, at: TimeSpan.Zero);
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, bed.Peer.LastExpected!);
        bed.RunFor(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, bed.Tcp.Counters[TcpCounter.IcmpErrors]);

        bed.Peer.Send(Ack, seq: TcpBed.PeerIss + 1, ack: ackNewData ? next + 100 : next, window: 65535);
        bed.RunFor(TimeSpan.FromMilliseconds(10));
        bed.Write(server, TcpBed.Pattern(100));
        bed.Peer.Expect(Ack, seq: next + 100, length: 100, ignoreFlags: Psh);
        return Assert.ThrowsAny<Exception>(() => bed.Complete(read, TimeSpan.FromMinutes(2)));
    }
}
