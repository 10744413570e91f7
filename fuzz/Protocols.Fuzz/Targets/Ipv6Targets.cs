using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>IPv6 (RFC 8200) with its extension headers and options, and ICMPv6 (RFC 4443) with NDP (RFC 4861).</summary>
internal static class Ipv6Targets
{
    private static readonly Ipv6Address Source = Ipv6Address.Create(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    private static readonly Ipv6Address Destination = Ipv6Address.Create(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    private static readonly List<HexAnnotation> Annotations = [];
    private static readonly byte[] Scratch = new byte[65536 + 64];

    /// <summary>
    /// A packet: the reader contract for the fixed header and for each extension header type on the
    /// bytes after it; the extension chain walk stays inside the packet and within its limits and
    /// says why it stopped; every options region it can reach walks without throwing.
    /// </summary>
    public static void Ipv6(ReadOnlySpan<byte> input)
    {
        bool ok = Ipv6Header.TryRead(input, out Ipv6Header.Reader r, out WireError e);
        bool fast = Ipv6Header.TryRead(input, out _);
        bool okHeader = Ipv6Header.TryReadHeader(input, out Ipv6Header.Reader h, out WireError eh);
        ReaderChecks.Agree(Ipv6Header.LayerName, Ipv6Header.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (ok)
        {
            Span<byte> written = stackalloc byte[Ipv6Header.FixedLength];
            r.ToValue().WriteTo(written);
            ReaderChecks.RoundTrip(Ipv6Header.LayerName, input, written);
            Check.Equal(r.PayloadLength + Ipv6Header.FixedLength, r.Bytes.Length, "IPv6: message length is the payload length + 40");
            _ = r.ToString();
            Annotations.Clear();
            Ipv6Header.Annotate(r.Header, 0, Annotations);

            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(r.Bytes);
            var limits = new Ipv6ChainLimits();
            Check.True(chain.HeaderCount >= 0 && chain.HeaderCount <= limits.MaxHeaders + 1, $"IPv6: {chain.HeaderCount} extension headers walked");
            Check.Equal(chain.Problem != Ipv6ChainProblem.None, chain.Status is Ipv6ChainStatus.Discard or Ipv6ChainStatus.ParameterProblem, $"IPv6: chain ended {chain.Status} with problem {chain.Problem}");
            if (chain.Status is Ipv6ChainStatus.UpperLayer or Ipv6ChainStatus.Fragment or Ipv6ChainStatus.NoNextHeader)
            {
                Check.True(chain.PayloadOffset >= Ipv6Header.FixedLength && chain.PayloadOffset <= r.Bytes.Length, $"IPv6: payload at {chain.PayloadOffset} of {r.Bytes.Length}");
                Check.True(chain.NextHeaderFieldOffset >= 0 && chain.NextHeaderFieldOffset < chain.PayloadOffset, $"IPv6: next header field at {chain.NextHeaderFieldOffset}, payload at {chain.PayloadOffset}");
            }

            if (chain.Status == Ipv6ChainStatus.Fragment)
            {
                Check.True(chain.FragmentHeaderOffset >= Ipv6Header.FixedLength && chain.FragmentHeaderOffset + Ipv6FragmentHeader.FixedLength <= r.Bytes.Length, $"IPv6: fragment header at {chain.FragmentHeaderOffset}");
            }

            if (chain.Status == Ipv6ChainStatus.ParameterProblem)
            {
                Check.True(chain.Pointer >= 0 && chain.Pointer < r.Bytes.Length, $"IPv6: parameter problem pointer {chain.Pointer} outside {r.Bytes.Length} bytes");
            }

            _ = chain.Error.ToString();
        }

        // The bytes after the fixed header as each extension header.
        ReadOnlySpan<byte> rest = input.Length > Ipv6Header.FixedLength ? input[Ipv6Header.FixedLength..] : input;
        ok = Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader o, out e);
        fast = Ipv6OptionsHeader.TryRead(rest, out _);
        okHeader = Ipv6OptionsHeader.TryReadHeader(rest, out Ipv6OptionsHeader.Reader oh, out eh);
        ReaderChecks.Agree(Ipv6OptionsHeader.LayerName, Ipv6OptionsHeader.FixedLength, rest, fast,
            new(ok, e, o.Bytes, o.HeaderLength, o.DeclaredLength, o.IsTruncated, o.Header, o.Options, o.Payload),
            new(okHeader, eh, oh.Bytes, oh.HeaderLength, oh.DeclaredLength, oh.IsTruncated, oh.Header, oh.Options, oh.Payload));
        if (okHeader)
        {
            // RFC 8200 4.2: options contiguous inside the region.
            var options = new Ipv6OptionReader(oh.Options);
            int end = 0;
            while (options.TryReadNext(out Ipv6Option option, out WireError optionError))
            {
                Check.True(!optionError.IsError && Check.Within(oh.Options, option.Bytes) && oh.Options.Overlaps(option.Bytes, out int at) && at == end, $"IPv6 options: option at the wrong place (expected {end})");
                end += option.Bytes.Length;
                _ = option.ToString();
            }

            Annotations.Clear();
            Ipv6OptionReader.Annotate(oh.Options, Ipv6OptionsHeader.FixedLength, Annotations);
        }

        ok = Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader g, out e);
        fast = Ipv6RoutingHeader.TryRead(rest, out _);
        okHeader = Ipv6RoutingHeader.TryReadHeader(rest, out Ipv6RoutingHeader.Reader gh, out eh);
        ReaderChecks.Agree(Ipv6RoutingHeader.LayerName, Ipv6RoutingHeader.FixedLength, rest, fast,
            new(ok, e, g.Bytes, g.HeaderLength, g.DeclaredLength, g.IsTruncated, g.Header, g.Options, g.Payload),
            new(okHeader, eh, gh.Bytes, gh.HeaderLength, gh.DeclaredLength, gh.IsTruncated, gh.Header, gh.Options, gh.Payload));

        ok = Ipv6FragmentHeader.TryRead(rest, out Ipv6FragmentHeader.Reader f, out e);
        fast = Ipv6FragmentHeader.TryRead(rest, out _);
        okHeader = Ipv6FragmentHeader.TryReadHeader(rest, out Ipv6FragmentHeader.Reader fh, out eh);
        ReaderChecks.Agree(Ipv6FragmentHeader.LayerName, Ipv6FragmentHeader.FixedLength, rest, fast,
            new(ok, e, f.Bytes, f.HeaderLength, f.DeclaredLength, f.IsTruncated, f.Header, f.Options, f.Payload),
            new(okHeader, eh, fh.Bytes, fh.HeaderLength, fh.DeclaredLength, fh.IsTruncated, fh.Header, fh.Options, fh.Payload));
        if (ok)
        {
            Span<byte> written = stackalloc byte[Ipv6FragmentHeader.FixedLength];
            f.ToValue().WriteTo(written);
            ReaderChecks.RoundTrip(Ipv6FragmentHeader.LayerName, rest, written);
        }
    }

    /// <summary>
    /// An ICMPv6 message: the reader contract; the checksum over the IPv6 pseudo-header (RFC 4443
    /// 2.3) filled and updated incrementally verifies; the quoted packet of errors lies inside the
    /// message; NDP options after an NDP message's fixed part are contiguous and agree with Validate.
    /// </summary>
    public static void Icmpv6(ReadOnlySpan<byte> input)
    {
        bool ok = Icmpv6Header.TryRead(input, out Icmpv6Header.Reader r, out WireError e);
        bool fast = Icmpv6Header.TryRead(input, out _);
        bool okHeader = Icmpv6Header.TryReadHeader(input, out Icmpv6Header.Reader h, out WireError eh);
        ReaderChecks.Agree(Icmpv6Header.LayerName, Icmpv6Header.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[Icmpv6Header.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(Icmpv6Header.LayerName, input, written);
        _ = r.ToString();

        uint pseudo = Icmpv6Message.PseudoHeaderSum(Source, Destination, input.Length);
        Span<byte> message = Scratch.AsSpan(0, input.Length);
        input.CopyTo(message);
        Icmpv6Header.FillChecksum(message, pseudo);
        Check.True(Icmpv6Header.VerifyChecksum(message, pseudo), "ICMPv6: filled checksum does not verify");
        new Icmpv6Header.Writer(message).SetCodeUpdatingChecksum((byte)(r.Code + 1));
        Check.True(Icmpv6Header.VerifyChecksum(message, pseudo), "ICMPv6: checksum updated with RFC 1624 does not verify");

        byte type = (byte)r.Type;
        if (type < 128)
        {
            // RFC 4443 2.4: errors quote as much of the invoking packet as fits.
            if (Icmpv6QuotedPacket.TryRead(r.Payload, out Icmpv6QuotedPacket quote, out WireError quoteError))
            {
                Check.True(Check.Within(r.Payload, quote.Header.Bytes) && Check.Within(r.Payload, quote.UpperLayerBytes), "ICMPv6: quoted packet outside the message");
                Check.True(!quote.HasUpperLayer || quote.UpperLayer != IpProtocol.Ipv6NoNextHeader || quote.UpperLayerBytes.IsEmpty, "ICMPv6: quoted upper layer");
            }
            else
            {
                Check.True(quoteError.IsError, "ICMPv6: a refused quote has no error");
            }

            return;
        }

        int fixedPart = type switch
        {
            133 => NdpRouterSolicitationHeader.FixedLength,
            134 => NdpRouterAdvertisementHeader.FixedLength,
            135 => NdpNeighborSolicitationHeader.FixedLength,
            136 => NdpNeighborAdvertisementHeader.FixedLength,
            137 => NdpRedirectHeader.FixedLength,
            _ => -1,
        };
        if (fixedPart < 0 || input.Length < fixedPart)
        {
            return;
        }

        // RFC 4861 4.6: options in units of 8 bytes, none of length 0.
        ReadOnlySpan<byte> region = input[fixedPart..];
        var options = new NdpOptionReader(region, fixedPart);
        int end = 0;
        while (options.TryReadNext(out NdpOption option, out WireError optionError))
        {
            Check.True(!optionError.IsError && region.Overlaps(option.Bytes, out int at) && at == end, $"NDP options: option at the wrong place (expected {end})");
            Check.True(option.Length >= 8 && option.Length % 8 == 0, $"NDP options: option of {option.Length} bytes");
            end += option.Length;
            _ = option.ToString();
        }

        bool valid = NdpOptionReader.Validate(region, out WireError validateError, fixedPart);
        Check.Equal(options.Error, validateError, "NDP options: Validate and the walk disagree");
        Check.True(!valid || end == region.Length, $"NDP options: valid options end at {end} of {region.Length}");
        Annotations.Clear();
        NdpOptionReader.Annotate(region, fixedPart, Annotations);
    }
}
