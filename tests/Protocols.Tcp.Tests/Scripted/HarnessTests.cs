using Protocols.Ip;
using Protocols.Wire;
using Xunit.Abstractions;
using Xunit.Sdk;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// The scripted-peer harness checked on its own, against a tiny fake TCP responder (not the
/// engine): exact matches pass, every kind of mismatch fails with a readable message, times are exact.
/// </summary>
public sealed class HarnessTests(ITestOutputHelper output)
{
    [Fact]
    public void Expect_matches_an_exact_syn_ack_at_the_exact_virtual_time()
    {
        var (bed, responder) = NewBed(delay: TimeSpan.FromMilliseconds(250));
        bed.Peer.Send(Syn, seq: 1000, options: ScriptedPeer.Options(mss: 1460, ws: 7, sackOk: true, ts: (100, 0)));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, seq: FakeResponder.Iss, ack: 1001, window: 29200,
            options: o => o.Mss == 1460 && o.WindowScale == 7 && o.Timestamps == new TcpTimestamps(5, 100),
            at: TimeSpan.FromMilliseconds(250));
        Assert.Equal(TimeSpan.FromMilliseconds(250), synAck.At);
        Assert.Equal(1, synAck.SegmentLength);
        Assert.Equal(0, responder.BadChecksums);
        Assert.Equal(1, responder.Received);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(10.25), bed.Now);
    }

    [Fact]
    public void A_wrong_ack_fails_naming_the_field_and_printing_both_segments()
    {
        var (bed, _) = NewBed();
        bed.Peer.Send(Syn, seq: 1000);
        var e = Assert.ThrowsAny<XunitException>(() => bed.Peer.Expect(Syn | Ack, ack: 2001));
        output.WriteLine(e.Message);
        Assert.Contains("ack 1001, expected 2001 (off by -1000)", e.Message);
        Assert.Contains("Expected Flags [S.], ack 2001, within 1s", e.Message);
        Assert.Contains("got       +0.000000s 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 7, ack 1001, win 29200", e.Message);
        Assert.Contains("peer > +0.000000s 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, length 0", e.Message);
    }

    [Fact]
    public void Wrong_flags_options_payload_and_time_are_each_reported()
    {
        var (bed, _) = NewBed(delay: TimeSpan.FromMilliseconds(100));
        bed.Peer.Send(Syn, seq: 1000);
        var e = Assert.ThrowsAny<XunitException>(() =>
            bed.Peer.Expect(Rst, options: o => o.Mss == 536, payload: [1, 2], at: TimeSpan.FromMilliseconds(50), within: TimeSpan.FromSeconds(1)));
        output.WriteLine(e.Message);
        Assert.Contains("flags [S.], expected [R]", e.Message);
        Assert.Contains("do not satisfy o => o.Mss == 536", e.Message);
        Assert.Contains("payload of 0 bytes () differs from the 2 expected (0102)", e.Message);
        Assert.Contains("arrived 0.1s after the expectation started, expected 0.05s", e.Message);
    }

    [Fact]
    public void Nothing_arriving_fails_after_exactly_the_wait()
    {
        var (bed, _) = NewBed();
        var e = Assert.ThrowsAny<XunitException>(() => bed.Peer.Expect(Syn | Ack, within: TimeSpan.FromSeconds(3)));
        Assert.Contains("nothing arrived within 00:00:03", e.Message);
        Assert.Equal(TimeSpan.FromSeconds(3), bed.Now);
    }

    [Fact]
    public void ExpectNothing_fails_when_the_stack_speaks_and_says_when()
    {
        var (bed, _) = NewBed(delay: TimeSpan.FromSeconds(2));
        bed.Peer.Send(Syn, seq: 1000);
        var e = Assert.ThrowsAny<XunitException>(() => bed.Peer.ExpectNothing(TimeSpan.FromSeconds(5), because: "test"));
        output.WriteLine(e.Message);
        Assert.Contains("Expected nothing for 5s from +0.000000s (test); got +2.000000s 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.]", e.Message);
        Assert.Equal(TimeSpan.FromSeconds(2), bed.Now);
    }

    [Fact]
    public void A_bad_checksum_from_the_peer_reaches_the_stack_bad_and_ports_and_options_go_as_written()
    {
        var (bed, responder) = NewBed();
        bed.Peer.Send(Syn, seq: 1, badChecksum: true);
        bed.Peer.Send(Ack, seq: 5, ack: 9, fromPort: 1234, toPort: 80, rawOptions: [1, 1, 1]);
        bed.RunPending();
        Assert.Equal(1, responder.BadChecksums);
        Assert.Equal(2, responder.Received);
        // The ACK from port 1234 is answered with a RST to that port, which the peer (port 40000) does not expect.
        var e = Assert.ThrowsAny<XunitException>(() => bed.Peer.Expect(Rst, seq: 9));
        Assert.Contains("ports 80 > 1234, expected 80 > 40000", e.Message);
    }

    [Fact]
    public void An_unknown_remote_port_is_learned_from_the_first_segment()
    {
        var (bed, _) = NewBed();
        bed.Peer.RemotePort = 0;
        bed.Peer.Send(Syn, seq: 1000, toPort: 80);
        bed.Peer.Expect(Syn | Ack, ack: 1001);
        Assert.Equal(80, bed.Peer.RemotePort);
    }

    [Fact]
    public void Icmp_errors_quote_what_the_stack_sent()
    {
        var (bed, responder) = NewBed();
        bed.Peer.Send(Syn, seq: 1000);
        bed.Peer.Expect(Syn | Ack);
        CapturedPacket synAck = bed.Peer.Log[^1];
        bed.Peer.SendIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, synAck, nextHopMtu: 1280);
        bed.RunPending();
        Assert.Equal((ushort)1280, responder.LastIcmpMtu);
    }

    private (ScriptedBed Bed, FakeResponder Responder) NewBed(TimeSpan? delay = null)
    {
        FakeResponder? responder = null;
        var bed = new ScriptedBed(output, configure: stack => stack.RegisterTransport(responder = new FakeResponder(delay ?? TimeSpan.Zero)));
        return (bed, responder!);
    }

    /// <summary>Answers a SYN with a SYN-ACK after a delay, anything else with a RST; counts bad checksums. Not TCP: a harness check.</summary>
    private sealed class FakeResponder(TimeSpan delay) : IIpTransport
    {
        public const uint Iss = 7;

        public IpProtocol Protocol => IpProtocol.Tcp;

        public int Received { get; private set; }

        public int BadChecksums { get; private set; }

        public ushort LastIcmpMtu { get; private set; }

        public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
        {
            Received++;
            if (!TcpHeader.TryRead(datagram.Payload, out TcpHeader.Reader tcp, out _))
            {
                return;
            }

            if (!tcp.VerifyChecksum(Checksum.PseudoHeaderSum(datagram.Source, datagram.Destination, TcpHeader.IpProtocolNumber, datagram.Payload.Length)))
            {
                BadChecksums++;
                return;
            }

            tcp.TryParseOptions(out TcpOptions options, out _);
            var reply = new TcpHeader { SourcePort = tcp.DestinationPort, DestinationPort = tcp.SourcePort, DataOffset = 5 };
            var replyOptions = default(TcpOptions);
            if (tcp.Syn)
            {
                reply.Flags = Syn | Ack;
                reply.SequenceNumber = Iss;
                reply.AcknowledgmentNumber = tcp.SequenceNumber + 1;
                reply.Window = 29200;
                replyOptions = new TcpOptions { Mss = 1460, WindowScale = 7, Timestamps = options.Timestamps is { } ts ? new TcpTimestamps(5, ts.TsVal) : null };
            }
            else
            {
                reply.Flags = Rst;
                reply.SequenceNumber = tcp.AcknowledgmentNumber;
            }

            var bytes = new byte[60];
            replyOptions.TryWriteTo(bytes.AsSpan(TcpHeader.FixedLength), out int optionsLength);
            reply.DataOffset = (byte)(5 + (optionsLength / 4));
            reply.WriteTo(bytes);
            int length = TcpHeader.FixedLength + optionsLength;
            Ipv4Address to = datagram.Source.ToIpv4();
            Ipv4Address from = datagram.Destination.ToIpv4();
            TcpHeader.FillChecksum(bytes.AsSpan(0, length), Checksum.PseudoHeaderSum(from, to, TcpHeader.IpProtocolNumber, length));
            void Send(NetworkStack s) => s.SendDatagram(new IpSendRequest(to, IpProtocol.Tcp), bytes.AsSpan(0, length));
            if (delay == TimeSpan.Zero)
            {
                Send(stack);
            }
            else
            {
                stack.Timers.Schedule(stack.Now + delay, Send);
            }
        }

        public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error) => LastIcmpMtu = error.NextHopMtu;
    }
}
