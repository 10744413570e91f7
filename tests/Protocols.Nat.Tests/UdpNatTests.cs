using Protocols.Ip;
using static Protocols.Nat.Tests.NatRig;

namespace Protocols.Nat.Tests;

/// <summary>RFC 4787: NAT behavioural requirements for unicast UDP, one test per requirement.</summary>
public class UdpNatTests
{
    [Fact]
    public void Outbound_udp_leaves_with_the_outside_address_and_valid_checksums()
    {
        var rig = new NatRig();
        byte[] got = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        Assert.Equal(RouterOutside, Packets.Source(got));
        Assert.Equal(Remote, Packets.Destination(got));
        Assert.Equal(53, Packets.DestinationPort(got));
        Assert.Equal(63, Packets.Ttl(got));
        Assert.Equal(1, rig.Gateway.Counters.OutboundTranslated);
    }

    [Fact]
    public void Req1_mapping_is_endpoint_independent()
    {
        // RFC 4787 REQ-1: the same inside endpoint gets the same outside endpoint for every destination.
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        byte[] b = rig.OneOut(Packets.Udp(HostA, 40000, Remote2, 123));
        byte[] c = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 5353));
        Assert.Equal(Packets.SourcePort(a), Packets.SourcePort(b));
        Assert.Equal(Packets.SourcePort(a), Packets.SourcePort(c));
        Assert.Equal(1, rig.Gateway.Counters.MappingCount);
        Assert.Equal(3, rig.Gateway.Counters.SessionCount);
    }

    [Fact]
    public void Req2_all_flows_of_an_inside_host_share_one_outside_address()
    {
        // RFC 4787 REQ-2 (address pooling "paired"): a host with a pool address uses it for all its flows.
        var rig = new NatRig(new NatOptions { PoolFirst = Packets.A("203.0.113.50"), PoolLast = Packets.A("203.0.113.50") });
        byte[] a = rig.OneOut(Packets.Udp(HostA, 1000, Remote, 53));
        byte[] b = rig.OneOut(Packets.Udp(HostA, 2000, Remote2, 53));
        byte[] c = rig.OneOut(Packets.Tcp(HostA, 3000, Remote, 80, Packets.Syn));
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(a));
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(b));
        Assert.Equal(Packets.A("203.0.113.50"), Packets.Source(c));
        Assert.Equal(2000, Packets.SourcePort(b));
    }

    [Fact]
    public void Req3_the_port_is_preserved_when_free()
    {
        var rig = new NatRig();
        Assert.Equal(40000, Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53))));
    }

    [Fact]
    public void Req3_two_inside_hosts_with_the_same_port_get_different_outside_ports_in_the_same_range()
    {
        // RFC 4787 REQ-3: no port overloading; the range (0-1023, 1024-65535) is kept.
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Udp(HostA, 5353, Remote, 53));
        byte[] b = rig.OneOut(Packets.Udp(HostB, 5353, Remote, 53));
        Assert.Equal(5353, Packets.SourcePort(a));
        Assert.NotEqual(Packets.SourcePort(a), Packets.SourcePort(b));
        Assert.InRange(Packets.SourcePort(b), 1024, 65535);
        byte[] low1 = rig.OneOut(Packets.Udp(HostA, 500, Remote, 500));
        byte[] low2 = rig.OneOut(Packets.Udp(HostB, 500, Remote, 500));
        Assert.Equal(500, Packets.SourcePort(low1));
        Assert.InRange(Packets.SourcePort(low2), 1, 1023);

        // Replies reach the right host.
        Assert.Equal(HostA, Packets.Destination(rig.OneIn(Packets.Udp(Remote, 53, RouterOutside, Packets.SourcePort(a)))));
        Assert.Equal(HostB, Packets.Destination(rig.OneIn(Packets.Udp(Remote, 53, RouterOutside, Packets.SourcePort(b)))));
        Assert.Equal(5353, Packets.DestinationPort(rig.InsideReceived[0]));
    }

    [Fact]
    public void Req5_mapping_lives_at_least_two_minutes_idle_and_ends_after_its_timeout()
    {
        // RFC 4787 REQ-5: at least 2 minutes; 5 minutes by default here (recommended).
        var rig = new NatRig();
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        rig.Wait(TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(59));
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, port)));
        rig.Wait(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, port)));
        Assert.Equal(0, rig.Gateway.Counters.MappingCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NatOptions { UdpTimeout = TimeSpan.FromSeconds(119) }.Validate());
    }

    [Fact]
    public void Req6_outbound_packets_refresh_the_mapping()
    {
        var rig = new NatRig();
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        for (int i = 0; i < 5; i++)
        {
            rig.Wait(TimeSpan.FromMinutes(4));
            rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        }

        rig.Wait(TimeSpan.FromMinutes(4));
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, port)));
    }

    [Fact]
    public void Req8_endpoint_independent_filtering_is_the_default()
    {
        var rig = new NatRig();
        Assert.Equal(NatFiltering.EndpointIndependent, rig.Gateway.Options.Filtering);
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        byte[] got = rig.OneIn(Packets.Udp(Remote2, 9999, RouterOutside, port));
        Assert.Equal(HostA, Packets.Destination(got));
        Assert.Equal(40000, Packets.DestinationPort(got));
        Assert.Equal(Remote2, Packets.Source(got));
    }

    [Fact]
    public void Req8_address_dependent_filtering_admits_any_port_of_a_contacted_address_only()
    {
        var rig = new NatRig(new NatOptions { Filtering = NatFiltering.AddressDependent });
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 9999, RouterOutside, port)));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote2, 53, RouterOutside, port)));
        Assert.Equal(1, rig.Gateway.Counters.Filtered);
        Assert.Equal(1, rig.Counters.DroppedFor(DropReason.NatFiltered));
    }

    [Fact]
    public void Req8_address_and_port_dependent_filtering_admits_contacted_endpoints_only()
    {
        var rig = new NatRig(new NatOptions { Filtering = NatFiltering.AddressAndPortDependent });
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53)));
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, port)));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote, 54, RouterOutside, port)));
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote2, 53, RouterOutside, port)));
        Assert.Equal(2, rig.Gateway.Counters.Filtered);
    }

    [Fact]
    public void Req9_hairpinning_translates_the_source_to_the_senders_outside_endpoint()
    {
        // RFC 4787 REQ-9: A reaches B through B's outside endpoint and sees A's outside endpoint as the source.
        var rig = new NatRig();
        ushort portB = Packets.SourcePort(rig.OneOut(Packets.Udp(HostB, 6000, Remote, 3478)));
        ushort portA = Packets.SourcePort(rig.OneOut(Packets.Udp(HostA, 7000, Remote, 3478)));
        Assert.Empty(rig.FromInside(Packets.Udp(HostA, 7000, RouterOutside, portB)));
        byte[] got = Assert.Single(rig.InsideReceived);
        Packets.AssertChecksums(got);
        Assert.Equal(HostB, Packets.Destination(got));
        Assert.Equal(6000, Packets.DestinationPort(got));
        Assert.Equal(RouterOutside, Packets.Source(got));
        Assert.Equal(portA, Packets.SourcePort(got));
        Assert.Equal(1, rig.Gateway.Counters.Hairpinned);

        // And back: B answers A's outside endpoint.
        Assert.Empty(rig.FromInside(Packets.Udp(HostB, 6000, RouterOutside, portA)));
        byte[] back = Assert.Single(rig.InsideReceived);
        Assert.Equal(HostA, Packets.Destination(back));
        Assert.Equal(7000, Packets.DestinationPort(back));
        Assert.Equal(portB, Packets.SourcePort(back));
    }

    [Fact]
    public void Req12_an_icmp_error_does_not_end_the_mapping()
    {
        var rig = new NatRig();
        byte[] outbound = rig.OneOut(Packets.Udp(HostA, 40000, Remote, 53));
        Assert.Single(rig.FromOutside(Packets.Error(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable, Remote, outbound)));
        rig.Wait(TimeSpan.FromMinutes(1));
        Assert.Single(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, Packets.SourcePort(outbound))));
        Assert.Equal(1, rig.Gateway.Counters.MappingCount);
    }

    [Fact]
    public void Req14_fragments_in_any_order_are_translated()
    {
        // RFC 4787 REQ-14: fragments are reassembled, translated, and cut again for the next hop.
        var rig = new NatRig(outsideMtu: 1500);
        byte[] big = Packets.Udp(HostA, 40000, Remote, 9, dataLength: 3000);
        List<byte[]> fragments = Fragment(big, 1000);
        fragments.Reverse();
        List<byte[]> outside = [];
        foreach (byte[] f in fragments)
        {
            outside.AddRange(rig.FromInside(f));
        }

        Assert.Equal(3, outside.Count);
        byte[] whole = Reassemble(outside);
        Packets.AssertChecksums(whole);
        Assert.Equal(RouterOutside, Packets.Source(whole));
        Assert.Equal(big[28..], whole[28..]);
    }

    [Fact]
    public void Unsolicited_udp_to_the_outside_address_is_for_the_router_itself()
    {
        var rig = new NatRig();
        Assert.Empty(rig.FromOutside(Packets.Udp(Remote, 53, RouterOutside, 40000)));

        // No UDP on the router: protocol unreachable from the router itself, nothing inside.
        Assert.Empty(rig.InsideReceived);
        Assert.Equal(1, rig.Counters.IcmpOutOf(IcmpType.DestinationUnreachable));
    }

    internal static List<byte[]> Fragment(byte[] datagram, int mtu)
    {
        var list = new List<byte[]>();
        Ip.Fragmentation.Ipv4Fragmenter.TryCreateFromDatagram(datagram, mtu, out Ip.Fragmentation.Ipv4Fragmenter f);
        byte[] buffer = new byte[mtu];
        while (f.TryWriteNext(buffer, out int n))
        {
            list.Add(buffer[..n]);
        }

        return list;
    }

    internal static byte[] Reassemble(List<byte[]> fragments)
    {
        var ordered = fragments.OrderBy(f => ((f[6] & 0x1f) << 8) | f[7]).ToList();
        var payload = new List<byte>();
        foreach (byte[] f in ordered)
        {
            payload.AddRange(f.Skip(20));
        }

        byte[] whole = new byte[20 + payload.Count];
        ordered[0].AsSpan(0, 20).CopyTo(whole);
        payload.CopyTo(whole, 20);
        whole[2] = (byte)(whole.Length >> 8);
        whole[3] = (byte)whole.Length;
        whole[6] = (byte)(whole[6] & 0x40);
        whole[7] = 0;
        whole[10] = whole[11] = 0;
        ushort c = Protocols.Wire.Checksum.Compute(whole.AsSpan(0, 20));
        whole[10] = (byte)(c >> 8);
        whole[11] = (byte)c;
        return whole;
    }
}
