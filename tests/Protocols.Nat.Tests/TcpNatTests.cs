using Protocols.Ip;
using static Protocols.Nat.Tests.NatRig;

namespace Protocols.Nat.Tests;

/// <summary>RFC 5382: NAT behavioural requirements for TCP, one test per requirement.</summary>
public class TcpNatTests
{
    private static (NatRig Rig, ushort Port) Established(NatOptions? options = null)
    {
        var rig = new NatRig(options);
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Syn, seq: 100)));
        rig.OneIn(Packets.Tcp(Remote, 80, RouterOutside, port, Packets.Syn | Packets.Ack, seq: 900, ack: 101));
        rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Ack, seq: 101, ack: 901));
        return (rig, port);
    }

    [Fact]
    public void Req1_mapping_is_endpoint_independent()
    {
        var rig = new NatRig();
        byte[] a = rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Syn));
        byte[] b = rig.OneOut(Packets.Tcp(HostA, 40000, Remote2, 443, Packets.Syn));
        Assert.Equal(RouterOutside, Packets.Source(a));
        Assert.Equal(Packets.SourcePort(a), Packets.SourcePort(b));
    }

    [Fact]
    public void A_handshake_through_the_nat_is_established_with_valid_checksums_both_ways()
    {
        (NatRig rig, ushort port) = Established();
        NatTableRow row = Assert.Single(rig.Table);
        Assert.Equal("Established", row.State);
        Assert.Equal(NatMappingKind.Pat, row.Kind);
        Assert.Equal($"tcp {HostA}:40000 {RouterOutside}:{port} {Remote}:80 Established 0", row.ToString());
        Assert.Equal(1, rig.Gateway.Counters.SessionsIn(IpProtocol.Tcp, NatTcpState.Established));
    }

    [Fact]
    public void Req2_simultaneous_open_passes()
    {
        // RFC 5382 REQ-2: all valid sequences, a simultaneous open included (address-and-port filtering:
        // the inbound SYN is admitted because the inside SYN went to that endpoint first).
        var rig = new NatRig(new NatOptions { Filtering = NatFiltering.AddressAndPortDependent });
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 5000, Packets.Syn, seq: 1)));
        byte[] synIn = rig.OneIn(Packets.Tcp(Remote, 5000, RouterOutside, port, Packets.Syn, seq: 7));
        Assert.Equal(Packets.Syn, Packets.TcpFlagsOf(synIn));
        rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 5000, Packets.Syn | Packets.Ack, seq: 1, ack: 8));
        rig.OneIn(Packets.Tcp(Remote, 5000, RouterOutside, port, Packets.Syn | Packets.Ack, seq: 7, ack: 2));
        Assert.Equal("Established", Assert.Single(rig.Table).State);
    }

    [Fact]
    public void Req3_filtering_is_configurable_and_endpoint_independent_by_default()
    {
        (NatRig rig, ushort port) = Established();
        Assert.Single(rig.FromOutside(Packets.Tcp(Remote2, 9999, RouterOutside, port, Packets.Syn)));
        (NatRig strict, ushort strictPort) = Established(new NatOptions { Filtering = NatFiltering.AddressDependent });
        Assert.Single(strict.FromOutside(Packets.Tcp(Remote, 9999, RouterOutside, strictPort, Packets.Syn)));
        Assert.Empty(strict.FromOutside(Packets.Tcp(Remote2, 9999, RouterOutside, strictPort, Packets.Syn)));
    }

    [Fact]
    public void Req4_an_unsolicited_syn_is_not_answered_for_6_seconds_then_gets_port_unreachable()
    {
        var rig = new NatRig();
        byte[] syn = Packets.Tcp(Remote, 5555, RouterOutside, 40000, Packets.Syn);
        Assert.Empty(rig.FromOutside(syn));
        Assert.Empty(rig.OutsideReceived);
        rig.Wait(TimeSpan.FromSeconds(5.9));
        Assert.Empty(rig.OutsideReceived);
        rig.Wait(TimeSpan.FromSeconds(0.2));
        byte[] error = Assert.Single(rig.OutsideReceived);
        Packets.AssertChecksums(error);
        Assert.Equal(Remote, Packets.Destination(error));
        Assert.Equal((byte)IcmpType.DestinationUnreachable, error[20]);
        Assert.Equal((byte)IcmpUnreachableCode.PortUnreachable, error[21]);
        Assert.Equal(syn.AsSpan(0, 40).ToArray(), Packets.Quoted(error)[..40].ToArray());
        Assert.Equal(1, rig.Gateway.Counters.UnsolicitedSynsAnswered);
    }

    [Fact]
    public void Req4_an_unsolicited_syn_is_dropped_silently_when_the_inside_host_opens_the_connection_meanwhile()
    {
        var rig = new NatRig(new NatOptions { Filtering = NatFiltering.AddressAndPortDependent });
        Assert.Empty(rig.FromOutside(Packets.Tcp(Remote, 5555, RouterOutside, 40000, Packets.Syn)));
        rig.Wait(TimeSpan.FromSeconds(2));
        byte[] synOut = rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 5555, Packets.Syn));
        Assert.Equal(40000, Packets.SourcePort(synOut));
        rig.Clear();
        rig.Wait(TimeSpan.FromSeconds(10));
        Assert.Empty(rig.OutsideReceived);
        Assert.Equal(1, rig.Gateway.Counters.UnsolicitedSynsCancelled);
        Assert.Equal(0, rig.Gateway.Counters.UnsolicitedSynsAnswered);
    }

    [Fact]
    public void Req5_established_sessions_live_2_hours_4_minutes_idle()
    {
        (NatRig rig, ushort port) = Established();
        rig.Wait(TimeSpan.FromMinutes(124) - TimeSpan.FromSeconds(1));
        Assert.Single(rig.FromOutside(Packets.Tcp(Remote, 80, RouterOutside, port, Packets.Ack, seq: 901, ack: 101)));
        rig.Wait(TimeSpan.FromMinutes(124) + TimeSpan.FromSeconds(1));
        Assert.Empty(rig.FromOutside(Packets.Tcp(Remote, 80, RouterOutside, port, Packets.Ack, seq: 901, ack: 101)));
        Assert.Empty(rig.Table);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NatOptions { TcpEstablishedTimeout = TimeSpan.FromMinutes(123) }.Validate());
    }

    [Fact]
    public void Req5_transitory_sessions_live_4_minutes()
    {
        var rig = new NatRig();
        ushort port = Packets.SourcePort(rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Syn)));
        Assert.Equal("SynSent", Assert.Single(rig.Table).State);
        rig.Wait(TimeSpan.FromMinutes(4) - TimeSpan.FromSeconds(1));
        Assert.Single(rig.Table);
        rig.Wait(TimeSpan.FromSeconds(2));
        Assert.Empty(rig.Table);

        // After both FINs the session is transitory again.
        (NatRig closing, ushort p) = Established();
        closing.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Fin | Packets.Ack, seq: 101, ack: 901));
        closing.OneIn(Packets.Tcp(Remote, 80, RouterOutside, p, Packets.Fin | Packets.Ack, seq: 901, ack: 102));
        Assert.Equal("TimeWait", Assert.Single(closing.Table).State);
        closing.Wait(TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(1));
        Assert.Empty(closing.Table);
        _ = port;
    }

    [Fact]
    public void Req6_an_icmp_error_does_not_end_the_tcp_session()
    {
        (NatRig rig, ushort port) = Established();
        byte[] sent = rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Ack | Packets.Psh, seq: 101, ack: 901, dataLength: 100));
        Assert.Single(rig.FromOutside(Packets.Error(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.HostUnreachable, Packets.A("203.0.113.254"), sent)));
        Assert.Equal("Established", Assert.Single(rig.Table).State);
        Assert.Single(rig.FromOutside(Packets.Tcp(Remote, 80, RouterOutside, port, Packets.Ack, seq: 901, ack: 201)));
    }

    [Fact]
    public void Req8_hairpinning_for_tcp()
    {
        var rig = new NatRig();
        ushort portB = Packets.SourcePort(rig.OneOut(Packets.Tcp(HostB, 6000, Remote, 80, Packets.Syn)));
        Assert.Empty(rig.FromInside(Packets.Tcp(HostA, 7000, RouterOutside, portB, Packets.Syn)));
        byte[] got = Assert.Single(rig.InsideReceived);
        Packets.AssertChecksums(got);
        Assert.Equal(HostB, Packets.Destination(got));
        Assert.Equal(RouterOutside, Packets.Source(got));
    }

    [Fact]
    public void Req9_icmp_destination_unreachable_about_tcp_is_translated_back()
    {
        (NatRig rig, _) = Established();
        byte[] sent = rig.OneOut(Packets.Tcp(HostA, 40000, Remote, 80, Packets.Ack | Packets.Psh, seq: 101, ack: 901, dataLength: 100));
        byte[] error = rig.OneIn(Packets.Error(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, Packets.A("203.0.113.254"), sent));
        Assert.Equal(HostA, Packets.Destination(error));
        ReadOnlySpan<byte> quoted = Packets.Quoted(error);
        Assert.Equal(HostA, Packets.Source(quoted));
        Assert.Equal(40000, Packets.SourcePort(quoted));
        Assert.True(Protocols.Wire.Checksum.Compute(quoted[..20]) == 0, "quoted IPv4 header checksum");
        Packets.AssertChecksums(quoted.ToArray()); // the whole quoted TCP segment is there: its checksum too
    }

    [Fact]
    public void A_rst_makes_the_session_transitory()
    {
        (NatRig rig, ushort port) = Established();
        rig.OneIn(Packets.Tcp(Remote, 80, RouterOutside, port, Packets.Rst, seq: 901));
        Assert.Equal("Closed", Assert.Single(rig.Table).State);
        rig.Wait(TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(1));
        Assert.Empty(rig.Table);
    }
}
