using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>Segments to closed ports (RFC 9293 3.10.7.1): the exact RST, never a RST for a RST, bad checksums.</summary>
public class ClosedPortTests(ITestOutputHelper output)
{
    [Fact]
    public void A_syn_to_a_closed_port_gets_rst_ack_with_seq_zero_and_ack_seq_plus_one()
    {
        var bed = new TcpBed(output);
        bed.Peer.RemotePort = 81;
        bed.Peer.Send(Syn, seq: 1000, options: Options(mss: Family.Mss));
        // RFC 9293 3.10.7.1: ACK bit off -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts one.
        bed.Peer.Expect(Rst | Ack, seq: 0, ack: 1001, at: TimeSpan.Zero, payload: [], options: o => o == default);
        Assert.Equal(1, bed.Tcp.Counters.ResetsSent);
    }

    [Theory]
    [InlineData(Psh, 10, 1010u)]
    [InlineData(Fin, 0, 1001u)]
    [InlineData(Fin | Psh, 5, 1006u)]
    [InlineData(Syn | Fin, 3, 1005u)]
    public void A_segment_without_ack_to_a_closed_port_is_answered_with_ack_seq_plus_length(TcpFlags flags, int length, uint ack)
    {
        var bed = new TcpBed(output);
        bed.Peer.Send(flags, seq: 1000, payload: TcpBed.Pattern(length));
        bed.Peer.Expect(Rst | Ack, seq: 0, ack: ack, at: TimeSpan.Zero);
    }

    [Theory]
    [InlineData(Ack, 0)]
    [InlineData(Ack | Psh, 20)]
    [InlineData(Ack | Fin, 0)]
    [InlineData(Syn | Ack, 0)]
    public void A_segment_with_ack_to_a_closed_port_gets_a_rst_whose_seq_is_its_ack(TcpFlags flags, int length)
    {
        var bed = new TcpBed(output);
        bed.Peer.Send(flags, seq: 1000, ack: 0xdeadbeef, payload: TcpBed.Pattern(length));
        // RFC 9293 3.10.7.1: ACK bit on -> <SEQ=SEG.ACK><CTL=RST>.
        bed.Peer.Expect(Rst, seq: 0xdeadbeef, at: TimeSpan.Zero);
    }

    [Theory]
    [InlineData(Rst)]
    [InlineData(Rst | Ack)]
    public void A_rst_is_never_answered_with_a_rst(TcpFlags flags)
    {
        var bed = new TcpBed(output);
        bed.Peer.Send(flags, seq: 1000, ack: 5);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(2));
        bed.Tcp.Listen(80, 16);
        bed.Peer.Send(flags, seq: 1000, ack: 5);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(2), "a RST to a listener is ignored (RFC 9293 3.10.7.2)");
    }

    [Fact]
    public void A_segment_with_a_bad_checksum_is_dropped_silently_and_counted()
    {
        var bed = new TcpBed(output);
        bed.Peer.Send(Syn, seq: 1000, badChecksum: true);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1));
        Assert.Equal(1, bed.Tcp.Counters.BadSegments);
    }
}
