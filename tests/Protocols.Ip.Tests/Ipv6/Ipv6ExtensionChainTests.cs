using Protocols.Wire;
using static Protocols.Tests.Shared.Ipv6Packets;

namespace Protocols.Ip.Tests.Ipv6;

/// <summary>The bounded extension header walk: RFC 8200 4, RFC 5095, RFC 6946, RFC 7112, RFC 4942 and the limits.</summary>
public class Ipv6ExtensionChainTests
{
    private static Ipv6ExtensionChain Walk(byte[] packet, Ipv6ChainLimits? limits = null) =>
        Ipv6ExtensionChain.Walk(packet, limits ?? new Ipv6ChainLimits());

    [Fact]
    public void No_extension_headers_goes_straight_to_the_upper_layer()
    {
        Ipv6ExtensionChain chain = Walk(Packet(IpProtocol.Udp, [], Udp));
        Assert.Equal(Ipv6ChainStatus.UpperLayer, chain.Status);
        Assert.Equal(IpProtocol.Udp, chain.NextHeader);
        Assert.Equal(40, chain.PayloadOffset);
        Assert.Equal(6, chain.NextHeaderFieldOffset);
        Assert.Equal(0, chain.HeaderCount);
        Assert.Equal(-1, chain.RouterAlert);
    }

    [Fact]
    public void Every_kind_of_header_in_the_recommended_order_reaches_the_upper_layer()
    {
        byte[] chainBytes = Concat(
            Options(IpProtocol.Ipv6DestinationOptions, Option(5, 0, 0)),        // Hop-by-Hop with Router Alert (MLD)
            Options(IpProtocol.Ipv6Routing, Option(0x1e, 1, 2, 3)),             // Destination Options with a skippable unknown option (00)
            Routing(IpProtocol.Ipv6Fragment, Ipv6RoutingType.Rpl, 0),           // segments left 0: ignored
            Fragment(IpProtocol.Ipv6DestinationOptions, 0, false, 0xabcdef01),  // atomic fragment (RFC 6946)
            Options(IpProtocol.Tcp));                                            // Destination Options, padding only
        byte[] packet = Packet(IpProtocol.HopByHop, chainBytes, new byte[20]);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.UpperLayer, chain.Status);
        Assert.Equal(IpProtocol.Tcp, chain.NextHeader);
        Assert.Equal(40 + chainBytes.Length, chain.PayloadOffset);
        Assert.Equal(40 + chainBytes.Length - 8, chain.NextHeaderFieldOffset);
        Assert.Equal(5, chain.HeaderCount);
        Assert.True(chain.WasAtomicFragment);
        Assert.Equal(0, chain.RouterAlert);
    }

    [Fact]
    public void Hop_by_hop_anywhere_but_first_is_an_unrecognized_next_header()
    {
        byte[] packet = Packet(IpProtocol.Ipv6DestinationOptions, Concat(Options(IpProtocol.HopByHop), Options(IpProtocol.Udp)), Udp);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.ParameterProblem, chain.Status);
        Assert.Equal(Ipv6ChainProblem.HopByHopNotFirst, chain.Problem);
        Assert.Equal(Icmpv6ParameterProblemCode.UnrecognizedNextHeader, chain.ParameterProblemCode);
        Assert.Equal(40, chain.Pointer); // the Destination Options header's Next Header byte
    }

    [Theory]
    [InlineData(0x1e, Ipv6ChainStatus.UpperLayer, false)]                 // 00: skip
    [InlineData(0x5e, Ipv6ChainStatus.Discard, false)]                    // 01: discard
    [InlineData(0x9e, Ipv6ChainStatus.ParameterProblem, false)]           // 10: report
    [InlineData(0x9e, Ipv6ChainStatus.ParameterProblem, true)]            // 10: report even to multicast
    [InlineData(0xde, Ipv6ChainStatus.ParameterProblem, false)]           // 11: report unless multicast
    [InlineData(0xde, Ipv6ChainStatus.Discard, true)]
    [InlineData(0xc2, Ipv6ChainStatus.ParameterProblem, false)]           // Jumbo Payload: not supported, its bits are 11
    [InlineData(0xc9, Ipv6ChainStatus.ParameterProblem, false)]           // Home Address: not processed here
    public void Unrecognized_options_follow_their_two_high_bits(byte type, Ipv6ChainStatus expected, bool multicast)
    {
        byte[] packet = Packet(
            IpProtocol.Ipv6DestinationOptions,
            Options(IpProtocol.Udp, [1, 0], Option(type, 0, 0, 0, 0)),
            Udp,
            multicast ? Ipv6Address.AllNodes : null);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(expected, chain.Status);
        if (expected != Ipv6ChainStatus.UpperLayer)
        {
            Assert.Equal(Ipv6ChainProblem.UnrecognizedOption, chain.Problem);
        }

        if (expected == Ipv6ChainStatus.ParameterProblem)
        {
            Assert.Equal(Icmpv6ParameterProblemCode.UnrecognizedOption, chain.ParameterProblemCode);
            Assert.Equal(40 + 2 + 2, chain.Pointer); // after Next Header, Hdr Ext Len and a PadN of 2
            Assert.Equal(type, packet[chain.Pointer]);
        }
    }

    [Fact]
    public void Padding_longer_than_seven_bytes_or_with_data_is_discarded()
    {
        // PadN of 8 bytes (RFC 4942 2.1.9.5).
        byte[] padN8 = RawOptions(IpProtocol.Udp, 1, 6, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0);
        Ipv6ExtensionChain chain = Walk(Packet(IpProtocol.Ipv6DestinationOptions, padN8, Udp));
        Assert.Equal(Ipv6ChainStatus.Discard, chain.Status);
        Assert.Equal(Ipv6ChainProblem.BadPadding, chain.Problem);

        // Eight Pad1 in a row... (6 Pad1 + PadN of 2 = 8 padding bytes)
        byte[] pad1s = RawOptions(IpProtocol.Udp, 0, 0, 0, 0, 0, 0);
        Assert.Equal(Ipv6ChainStatus.UpperLayer, Walk(Packet(IpProtocol.Ipv6DestinationOptions, pad1s, Udp)).Status);
        byte[] tooMany = RawOptions(IpProtocol.Udp, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        Assert.Equal(Ipv6ChainProblem.BadPadding, Walk(Packet(IpProtocol.Ipv6DestinationOptions, tooMany, Udp)).Problem);

        // PadN carrying non-zero bytes.
        byte[] dirty = RawOptions(IpProtocol.Udp, 1, 4, 0, 0, 7, 0);
        Assert.Equal(Ipv6ChainProblem.BadPadding, Walk(Packet(IpProtocol.Ipv6DestinationOptions, dirty, Udp)).Problem);
    }

    [Fact]
    public void Router_alert_must_carry_two_bytes()
    {
        Ipv6ExtensionChain chain = Walk(Packet(IpProtocol.HopByHop, Options(IpProtocol.Udp, Option(5, 0, 0, 0, 0)), Udp));
        Assert.Equal(Ipv6ChainStatus.Discard, chain.Status);
        Assert.Equal(Ipv6ChainProblem.BadRouterAlert, chain.Problem);
        Assert.Equal(2, Walk(Packet(IpProtocol.HopByHop, Options(IpProtocol.Udp, Option(5, 0, 2)), Udp)).RouterAlert);
    }

    [Fact]
    public void More_options_than_the_limit_are_discarded()
    {
        byte[][] nine = Enumerable.Repeat(Option(0x1e), 9).ToArray();
        Assert.Equal(Ipv6ChainProblem.TooManyOptions, Walk(Packet(IpProtocol.Ipv6DestinationOptions, Options(IpProtocol.Udp, nine), Udp)).Problem);
        Assert.Equal(Ipv6ChainStatus.UpperLayer, Walk(Packet(IpProtocol.Ipv6DestinationOptions, Options(IpProtocol.Udp, nine[..8]), Udp)).Status);
    }

    [Theory]
    [InlineData(Ipv6RoutingType.SourceRoute)]
    [InlineData(Ipv6RoutingType.MobileIpv6)]
    [InlineData(Ipv6RoutingType.SegmentRouting)]
    public void Routing_headers_with_segments_left_are_refused_pointing_at_the_type(Ipv6RoutingType type)
    {
        // RFC 5095 3: type 0 is handled as an unrecognised type; this host processes none.
        byte[] packet = Packet(IpProtocol.Ipv6Routing, Routing(IpProtocol.Udp, type, 1), Udp);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.ParameterProblem, chain.Status);
        Assert.Equal(Ipv6ChainProblem.UnrecognizedRoutingType, chain.Problem);
        Assert.Equal(Icmpv6ParameterProblemCode.ErroneousHeaderField, chain.ParameterProblemCode);
        Assert.Equal(42, chain.Pointer);

        // With no segments left the header is ignored (RFC 8200 4.4), type 0 included.
        Assert.Equal(Ipv6ChainStatus.UpperLayer, Walk(Packet(IpProtocol.Ipv6Routing, Routing(IpProtocol.Udp, type, 0), Udp)).Status);
    }

    [Fact]
    public void A_fragment_ends_the_walk_with_its_fields()
    {
        byte[] data = new byte[64];
        byte[] packet = Packet(IpProtocol.Ipv6DestinationOptions, Concat(Options(IpProtocol.Ipv6Fragment), Fragment(IpProtocol.Udp, 100, true, 0x01020304)), data);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.Fragment, chain.Status);
        Assert.Equal(IpProtocol.Udp, chain.NextHeader);
        Assert.Equal(48, chain.FragmentHeaderOffset);
        Assert.Equal(56, chain.PayloadOffset);
        Assert.Equal(40, chain.NextHeaderFieldOffset);
        Assert.Equal(100, chain.FragmentOffset);
        Assert.True(chain.MoreFragments);
        Assert.Equal(0x01020304u, chain.Identification);
        Assert.False(chain.WasAtomicFragment);
    }

    [Fact]
    public void A_fragment_with_more_to_come_must_be_a_multiple_of_8()
    {
        byte[] packet = Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 1, true, 7), new byte[13]);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.ParameterProblem, chain.Status);
        Assert.Equal(Ipv6ChainProblem.FragmentNotMultipleOf8, chain.Problem);
        Assert.Equal(4, chain.Pointer); // the Payload Length field

        // The last fragment may have any length.
        Assert.Equal(Ipv6ChainStatus.Fragment, Walk(Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 1, false, 7), new byte[13])).Status);
    }

    [Fact]
    public void A_fragment_reaching_past_65535_bytes_is_refused_pointing_at_the_offset()
    {
        byte[] packet = Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 8190, false, 7), new byte[100]);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.ParameterProblem, chain.Status);
        Assert.Equal(Ipv6ChainProblem.FragmentBeyondMaximum, chain.Problem);
        Assert.Equal(42, chain.Pointer);
        Assert.Equal(Ipv6ChainStatus.Fragment, Walk(Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 8000, false, 7), new byte[100])).Status);
    }

    [Fact]
    public void A_first_fragment_must_hold_the_whole_header_chain()
    {
        // RFC 7112: the Destination Options header and the UDP header after the Fragment header must be in the first fragment.
        byte[] complete = Packet(IpProtocol.Ipv6Fragment, Concat(Fragment(IpProtocol.Ipv6DestinationOptions, 0, true, 9), Options(IpProtocol.Udp), new byte[8]), []);
        Assert.Equal(Ipv6ChainStatus.Fragment, Walk(complete).Status);

        byte[] noUdp = Packet(IpProtocol.Ipv6Fragment, Concat(Fragment(IpProtocol.Ipv6DestinationOptions, 0, true, 9), Options(IpProtocol.Udp)), []);
        Ipv6ExtensionChain chain = Walk(noUdp);
        Assert.Equal(Ipv6ChainStatus.ParameterProblem, chain.Status);
        Assert.Equal(Ipv6ChainProblem.IncompleteChainInFirstFragment, chain.Problem);
        Assert.Equal(Icmpv6ParameterProblemCode.IncompleteHeaderChain, chain.ParameterProblemCode);
        Assert.Equal(0, chain.Pointer);

        byte[] cutHeader = Packet(IpProtocol.Ipv6Fragment, Concat(Fragment(IpProtocol.Ipv6DestinationOptions, 0, true, 9), new byte[] { 17, 1, 0, 0, 0, 0, 0, 0 }), []);
        Assert.Equal(Ipv6ChainProblem.IncompleteChainInFirstFragment, Walk(cutHeader).Problem);

        // A later fragment carries no headers to check.
        byte[] later = Packet(IpProtocol.Ipv6Fragment, Fragment(IpProtocol.Udp, 1, true, 9), new byte[8]);
        Assert.Equal(Ipv6ChainStatus.Fragment, Walk(later).Status);
    }

    [Fact]
    public void Long_and_looping_chains_stop_at_the_limits()
    {
        byte[][] nine = Enumerable.Range(0, 9).Select(i => Options(i == 8 ? IpProtocol.Udp : IpProtocol.Ipv6DestinationOptions)).ToArray();
        Ipv6ExtensionChain chain = Walk(Packet(IpProtocol.Ipv6DestinationOptions, Concat(nine), Udp));
        Assert.Equal(Ipv6ChainStatus.Discard, chain.Status);
        Assert.Equal(Ipv6ChainProblem.TooManyHeaders, chain.Problem);
        Assert.Equal(Ipv6ChainStatus.UpperLayer, Walk(Packet(IpProtocol.Ipv6DestinationOptions, Concat(nine), Udp), new Ipv6ChainLimits { MaxHeaders = 9 }).Status);

        // Two headers of 2048 bytes of padding-free, skippable options: past 1024 bytes of chain.
        byte[] big = RawOptions(IpProtocol.Udp, [.. Enumerable.Repeat(Option(0x1e, new byte[252]), 8).SelectMany(o => o), .. new byte[6] { 1, 4, 0, 0, 0, 0 }]);
        chain = Walk(Packet(IpProtocol.Ipv6DestinationOptions, big, Udp));
        Assert.Equal(Ipv6ChainProblem.ChainTooLong, chain.Problem);
        Assert.Equal(Ipv6ChainStatus.UpperLayer, Walk(Packet(IpProtocol.Ipv6DestinationOptions, big, Udp), new Ipv6ChainLimits { MaxChainLength = 4096 }).Status);
    }

    [Fact]
    public void Truncated_headers_and_options_are_discarded_silently()
    {
        // Hdr Ext Len claims 16 bytes, the packet holds 8.
        byte[] packet = Packet(IpProtocol.Ipv6DestinationOptions, [17, 1, 1, 4, 0, 0, 0, 0], []);
        Ipv6ExtensionChain chain = Walk(packet);
        Assert.Equal(Ipv6ChainStatus.Discard, chain.Status);
        Assert.Equal(Ipv6ChainProblem.Truncated, chain.Problem);
        Assert.Equal(WireErrorKind.TooShort, chain.Error.Kind);
        Assert.Equal(40, chain.Error.Offset);

        // An option whose data runs past its header.
        byte[] option = Packet(IpProtocol.Ipv6DestinationOptions, RawOptions(IpProtocol.Udp, 0x1e, 9, 0, 0, 0, 0), Udp);
        Assert.Equal(Ipv6ChainProblem.Truncated, Walk(option).Problem);

        // A routing and a fragment header cut by the end of the packet.
        Assert.Equal(Ipv6ChainProblem.Truncated, Walk(Packet(IpProtocol.Ipv6Routing, [17, 0, 0], [])).Problem);
        Assert.Equal(Ipv6ChainProblem.Truncated, Walk(Packet(IpProtocol.Ipv6Fragment, [17, 0, 0, 1], [])).Problem);
    }

    [Fact]
    public void No_next_header_ends_the_walk()
    {
        Ipv6ExtensionChain chain = Walk(Packet(IpProtocol.Ipv6DestinationOptions, Options(IpProtocol.Ipv6NoNextHeader), [1, 2, 3]));
        Assert.Equal(Ipv6ChainStatus.NoNextHeader, chain.Status);
        Assert.Equal(48, chain.PayloadOffset);
    }

    [Fact]
    public void Random_chains_never_throw_and_walk_allocation_free()
    {
        var rng = new Random(8200);
        IpProtocol[] kinds = [IpProtocol.HopByHop, IpProtocol.Ipv6DestinationOptions, IpProtocol.Ipv6Routing, IpProtocol.Ipv6Fragment, IpProtocol.Udp, IpProtocol.Ipv6NoNextHeader, (IpProtocol)rng.Next(256)];
        var buffer = new byte[Ipv6Header.FixedLength + 600];
        var statuses = new HashSet<Ipv6ChainStatus>();
        long allocated = 0;
        for (int i = 0; i < 50_000; i++)
        {
            int length = rng.Next(0, 600);
            rng.NextBytes(buffer.AsSpan(Ipv6Header.FixedLength, length));

            // Bias the random bytes towards chains: next header values of extension headers and small lengths.
            for (int at = Ipv6Header.FixedLength; at + 1 < Ipv6Header.FixedLength + length; at += 8 * rng.Next(1, 4))
            {
                buffer[at] = (byte)kinds[rng.Next(kinds.Length)];
                buffer[at + 1] = (byte)rng.Next(4);
            }

            new Ipv6Header { NextHeader = kinds[rng.Next(kinds.Length)], HopLimit = 1, PayloadLength = (ushort)length, Destination = Destination }.WriteTo(buffer);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(buffer.AsSpan(0, Ipv6Header.FixedLength + length));
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            statuses.Add(chain.Status);
            if (chain.Status == Ipv6ChainStatus.ParameterProblem)
            {
                Assert.InRange(chain.Pointer, 0, Ipv6Header.FixedLength + length - 1);
            }

            if (chain.Status is Ipv6ChainStatus.UpperLayer or Ipv6ChainStatus.Fragment or Ipv6ChainStatus.NoNextHeader)
            {
                Assert.InRange(chain.PayloadOffset, Ipv6Header.FixedLength, Ipv6Header.FixedLength + length);
            }
        }

        Assert.Equal(5, statuses.Count);
        Assert.Equal(0, allocated);
    }
}
