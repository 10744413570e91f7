using Protocols.Ip;
using static Protocols.Nat.Tests.NatRig;

namespace Protocols.Nat.Tests;

/// <summary>RFC 5508: NAT behavioural requirements for ICMP.</summary>
public class IcmpNatTests
{
    [Fact]
    public void Req1_echo_identifiers_are_mapped_like_ports_and_replies_come_back()
    {
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostA, Remote, id: 77));
        byte[] b = rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostB, Remote, id: 77));
        Assert.Equal(77, Packets.EchoId(a));
        Assert.NotEqual(Packets.EchoId(a), Packets.EchoId(b));
        byte[] replyB = rig.OneIn(Packets.Echo(IcmpType.EchoReply, Remote, RouterOutside, Packets.EchoId(b)));
        Assert.Equal(HostB, Packets.Destination(replyB));
        Assert.Equal(77, Packets.EchoId(replyB));
        byte[] replyA = rig.OneIn(Packets.Echo(IcmpType.EchoReply, Remote, RouterOutside, 77));
        Assert.Equal(HostA, Packets.Destination(replyA));
    }

    [Fact]
    public void Req2_query_sessions_last_at_least_60_seconds()
    {
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostA, Remote, id: 77));
        rig.Wait(TimeSpan.FromSeconds(59));
        Assert.Single(rig.FromOutside(Packets.Echo(IcmpType.EchoReply, Remote, RouterOutside, Packets.EchoId(a))));
        rig.Wait(TimeSpan.FromSeconds(61));
        Assert.Empty(rig.Table);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NatOptions { IcmpTimeout = TimeSpan.FromSeconds(59) }.Validate());
    }

    [Fact]
    public void Req3_an_error_about_a_udp_flow_is_translated_back_with_the_quoted_headers_and_checksums()
    {
        var rig = new NatRig();
        byte[] sent = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 33434, dataLength: 32, ttl: 5));
        byte[] error = rig.OneIn(Packets.Error(IcmpType.TimeExceeded, 0, Packets.A("192.0.2.9"), sent));
        Assert.Equal(HostA, Packets.Destination(error));
        Assert.Equal(Packets.A("192.0.2.9"), Packets.Source(error));
        byte[] quoted = Packets.Quoted(error).ToArray();
        Assert.Equal(HostA, Packets.Source(quoted));
        Assert.Equal(Remote, Packets.Destination(quoted));
        Assert.Equal(40000, Packets.SourcePort(quoted));
        Packets.AssertChecksums(quoted);
        Assert.Equal(1, rig.Gateway.Counters.IcmpErrorsTranslated);
    }

    [Fact]
    public void Req3_an_error_about_an_echo_request_is_translated_back()
    {
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostA, Remote, id: 77));
        rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostB, Remote, id: 77));
        byte[] sent = rig.OneOut(Packets.Echo(IcmpType.EchoRequest, HostB, Remote, id: 77, seq: 2));
        byte[] error = rig.OneIn(Packets.Error(IcmpType.TimeExceeded, 0, Packets.A("192.0.2.9"), sent));
        Assert.Equal(HostB, Packets.Destination(error));
        Assert.Equal(77, Packets.EchoId(Packets.Quoted(error)));
        _ = a;
    }

    [Fact]
    public void Req3a_an_error_about_no_flow_of_the_nat_is_dropped()
    {
        var rig = new NatRig();
        byte[] forged = Packets.Udp(RouterOutside, 40000, Remote, 53);
        Assert.Empty(rig.FromOutside(Packets.Error(IcmpType.DestinationUnreachable, 3, Remote, forged)));
        Assert.Empty(rig.InsideReceived);
        byte[] pool = Packets.Udp(RouterOutside, 1, Remote, 53);
        _ = pool;
    }

    [Fact]
    public void An_error_with_a_bad_checksum_is_not_translated()
    {
        var rig = new NatRig();
        byte[] sent = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        byte[] error = Packets.Error(IcmpType.DestinationUnreachable, 3, Remote, sent);
        error[^1] ^= 0xff;
        Assert.Empty(rig.FromOutside(error));
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.BadChecksum));
    }

    [Fact]
    public void A_port_unreachable_from_an_inside_host_is_translated_out()
    {
        // An inside host answers an inbound datagram (endpoint-independent filtering let it in) with port unreachable.
        var rig = new NatRig();
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        byte[] inbound = rig.OneIn(Packets.Udp(Remote, 53, RouterOutside, port));
        byte[] error = rig.OneOut(Packets.Error(IcmpType.DestinationUnreachable, 3, HostA, inbound));
        Assert.Equal(RouterOutside, Packets.Source(error));
        Assert.Equal(Remote, Packets.Destination(error));
        byte[] quoted = Packets.Quoted(error).ToArray();
        Assert.Equal(RouterOutside, Packets.Destination(quoted));
        Assert.Equal(port, Packets.DestinationPort(quoted));
        Packets.AssertChecksums(quoted);
    }

    [Fact]
    public void Ping_to_the_outside_address_is_answered_by_the_router()
    {
        var rig = new NatRig();
        Assert.Empty(rig.FromOutside(Packets.Echo(IcmpType.EchoRequest, Remote, RouterOutside, id: 5)));
        byte[] reply = Assert.Single(rig.OutsideReceived);
        Assert.Equal((byte)IcmpType.EchoReply, reply[20]);
        Assert.Equal(RouterOutside, Packets.Source(reply));
        Assert.Empty(rig.FromInside(Packets.Echo(IcmpType.EchoRequest, HostA, RouterOutside, id: 6)));
        Assert.Equal((byte)IcmpType.EchoReply, Assert.Single(rig.InsideReceived)[20]);
    }

    [Fact]
    public void Traceroute_through_the_nat_sees_the_router_and_the_hops_beyond()
    {
        var rig = new NatRig();

        // TTL 1: the NAT router itself answers, from its inside address.
        Assert.Empty(rig.FromInside(Packets.Udp(HostA, 40001, Remote, 33434, ttl: 1)));
        byte[] first = Assert.Single(rig.InsideReceived);
        Assert.Equal(RouterInside, Packets.Source(first));
        Assert.Equal((byte)IcmpType.TimeExceeded, first[20]);

        // TTL 2: the next hop's time exceeded comes back translated.
        byte[] sent = rig.OneOut(Packets.Udp(HostA, 40002, Remote, 33435, ttl: 2));
        Assert.Equal(1, Packets.Ttl(sent));
        byte[] second = rig.OneIn(Packets.Error(IcmpType.TimeExceeded, 0, Packets.A("203.0.113.254"), sent));
        Assert.Equal(40002, Packets.SourcePort(Packets.Quoted(second)));
    }
}
