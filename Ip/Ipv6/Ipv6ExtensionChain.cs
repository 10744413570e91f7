using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>How a walk of an IPv6 extension header chain ended.</summary>
public enum Ipv6ChainStatus : byte
{
    /// <summary>An upper-layer header was reached (or a header this walker does not enter, such as ESP or AH): <see cref="Ipv6ExtensionChain.NextHeader"/> at <see cref="Ipv6ExtensionChain.PayloadOffset"/>.</summary>
    UpperLayer = 0,

    /// <summary>No Next Header (59): nothing follows; the packet carries nothing to deliver (RFC 8200 4.7).</summary>
    NoNextHeader,

    /// <summary>A Fragment header that is not atomic: the rest is a fragment for reassembly (RFC 8200 4.5).</summary>
    Fragment,

    /// <summary>Discard the packet silently (<see cref="Ipv6ExtensionChain.Problem"/> says why).</summary>
    Discard,

    /// <summary>Discard the packet and answer with ICMPv6 parameter problem (<see cref="Ipv6ExtensionChain.ParameterProblemCode"/>, <see cref="Ipv6ExtensionChain.Pointer"/>).</summary>
    ParameterProblem,
}

/// <summary>Why a walk ended in <see cref="Ipv6ChainStatus.Discard"/> or <see cref="Ipv6ChainStatus.ParameterProblem"/>.</summary>
public enum Ipv6ChainProblem : byte
{
    /// <summary>No problem.</summary>
    None = 0,

    /// <summary>An extension header or option runs past the packet, or a length field is too small.</summary>
    Truncated,

    /// <summary>More extension headers than <see cref="Ipv6ChainLimits.MaxHeaders"/> (a long or looping chain).</summary>
    TooManyHeaders,

    /// <summary>The headers take more than <see cref="Ipv6ChainLimits.MaxChainLength"/> bytes.</summary>
    ChainTooLong,

    /// <summary>A Hop-by-Hop Options header that does not immediately follow the IPv6 header (RFC 8200 4.3).</summary>
    HopByHopNotFirst,

    /// <summary>An option this stack does not recognise, handled by its two high bits (RFC 8200 4.2); the Jumbo Payload option is one.</summary>
    UnrecognizedOption,

    /// <summary>More than 7 consecutive bytes of padding, or PadN with non-zero data (RFC 4942 2.1.9.5).</summary>
    BadPadding,

    /// <summary>More non-padding options in one header than <see cref="Ipv6ChainLimits.MaxOptionsPerHeader"/>.</summary>
    TooManyOptions,

    /// <summary>A Router Alert option whose length is not 2 (RFC 2711 2.1).</summary>
    BadRouterAlert,

    /// <summary>A Routing header with segments left and a type this host does not process; type 0 always (RFC 5095 3).</summary>
    UnrecognizedRoutingType,

    /// <summary>A fragment with more to come whose length is not a multiple of 8 (RFC 8200 4.5).</summary>
    FragmentNotMultipleOf8,

    /// <summary>A fragment that would make the reassembled payload longer than 65535 bytes (RFC 8200 4.5).</summary>
    FragmentBeyondMaximum,

    /// <summary>A first fragment that does not hold the whole header chain through the upper-layer header (RFC 7112, RFC 8200 4.5).</summary>
    IncompleteChainInFirstFragment,
}

/// <summary>ICMPv6 parameter problem codes (RFC 4443 3.4; RFC 7112 for 3).</summary>
public enum Icmpv6ParameterProblemCode : byte
{
    /// <summary>0: erroneous header field encountered.</summary>
    ErroneousHeaderField = 0,

    /// <summary>1: unrecognized Next Header type encountered.</summary>
    UnrecognizedNextHeader = 1,

    /// <summary>2: unrecognized IPv6 option encountered.</summary>
    UnrecognizedOption = 2,

    /// <summary>3: IPv6 first fragment has an incomplete header chain (RFC 7112).</summary>
    IncompleteHeaderChain = 3,
}

/// <summary>The bounds an extension header walk enforces against long, looping or padded-out chains.</summary>
public readonly record struct Ipv6ChainLimits
{
    /// <summary>The defaults: 8 extension headers, 1024 bytes of them, 8 non-padding options per header.</summary>
    public Ipv6ChainLimits()
    {
    }

    /// <summary>The most extension headers one packet may carry (the atomic fragment header counted).</summary>
    public int MaxHeaders { get; init; } = 8;

    /// <summary>The most bytes the extension headers may take together.</summary>
    public int MaxChainLength { get; init; } = 1024;

    /// <summary>The most non-padding options one Hop-by-Hop or Destination Options header may carry (Linux's max_hbh_opts_number and max_dst_opts_number).</summary>
    public int MaxOptionsPerHeader { get; init; } = 8;
}

/// <summary>
/// Walks the extension header chain of one IPv6 packet (RFC 8200 4), bounded by
/// <see cref="Ipv6ChainLimits"/>, with the generated readers of <see cref="Ipv6OptionsHeader"/>,
/// <see cref="Ipv6RoutingHeader"/> and <see cref="Ipv6FragmentHeader"/>, and says what to do with the
/// packet: deliver to an upper layer, reassemble, discard, or answer with a parameter problem.
/// </summary>
/// <remarks>
/// <para>Rules, in the order they apply to each header:</para>
/// <list type="bullet">
/// <item>Hop-by-Hop Options only right after the IPv6 header, else parameter problem code 1 at the
/// Next Header byte naming it (RFC 8200 4.3, as Linux does).</item>
/// <item>Options (Hop-by-Hop and Destination): Pad1 and PadN (at most 7 padding bytes in a row,
/// PadN data zero, RFC 4942 2.1.9.5); Router Alert of length 2; any other type, the Jumbo Payload
/// option included, by its two high bits (RFC 8200 4.2): skip, discard, or discard with parameter
/// problem code 2 pointing at the option type (not for a multicast destination when the bits are 11).</item>
/// <item>Routing: with segments left 0 it is ignored; otherwise this host processes no routing type,
/// type 0 included (RFC 5095 3), so parameter problem code 0 pointing at the routing type.</item>
/// <item>Fragment: an atomic fragment (offset 0, M clear) is processed as a whole packet, its header
/// skipped (RFC 6946 4); another ends the walk with <see cref="Ipv6ChainStatus.Fragment"/> after the
/// RFC 8200 4.5 checks (length a multiple of 8 when M is set, reassembled length at most 65535) and,
/// for a first fragment, the RFC 7112 check that the rest of the chain and the upper-layer header
/// are inside it.</item>
/// <item>No Next Header ends the walk; any other value is the upper layer.</item>
/// </list>
/// <para>Pointers are offsets from the start of the IPv6 header, as ICMPv6 wants them (RFC 4443 3.4).
/// The result is a small value (no spans): keep it beside the packet.
/// Pure: no allocation, never throws.</para>
/// </remarks>
public readonly struct Ipv6ExtensionChain
{
    private const string Layer = "IPv6";

    private Ipv6ExtensionChain(
        Ipv6ChainStatus status,
        IpProtocol nextHeader,
        int payloadOffset,
        int nextHeaderFieldOffset,
        int headerCount,
        int fragmentHeaderOffset,
        Ipv6FragmentHeader fragment,
        bool atomicFragment,
        int routerAlert,
        Ipv6ChainProblem problem,
        Icmpv6ParameterProblemCode code,
        int pointer,
        WireError error)
    {
        Status = status;
        NextHeader = nextHeader;
        PayloadOffset = payloadOffset;
        NextHeaderFieldOffset = nextHeaderFieldOffset;
        HeaderCount = headerCount;
        FragmentHeaderOffset = fragmentHeaderOffset;
        FragmentOffset = fragment.FragmentOffset;
        MoreFragments = fragment.MoreFragments;
        Identification = fragment.Identification;
        WasAtomicFragment = atomicFragment;
        RouterAlert = routerAlert;
        Problem = problem;
        ParameterProblemCode = code;
        Pointer = pointer;
        Error = error;
    }

    /// <summary>How the walk ended.</summary>
    public Ipv6ChainStatus Status { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.UpperLayer"/>: the upper-layer protocol; for <see cref="Ipv6ChainStatus.Fragment"/>: the Fragment header's Next Header.</summary>
    public IpProtocol NextHeader { get; }

    /// <summary>Where the upper-layer header starts (<see cref="Ipv6ChainStatus.UpperLayer"/>), or the fragment's data (<see cref="Ipv6ChainStatus.Fragment"/>), from the start of the IPv6 header.</summary>
    public int PayloadOffset { get; }

    /// <summary>
    /// The offset of the Next Header byte that named <see cref="NextHeader"/>: the pointer of a
    /// parameter problem code 1 when no transport takes the upper layer (RFC 8200 4), or, for a
    /// fragment, the byte that names the Fragment header (reassembly rewrites it, RFC 8200 4.5).
    /// </summary>
    public int NextHeaderFieldOffset { get; }

    /// <summary>Extension headers walked.</summary>
    public int HeaderCount { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.Fragment"/>: where the Fragment header starts (the unfragmentable part ends).</summary>
    public int FragmentHeaderOffset { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.Fragment"/>: the offset in 8-byte units.</summary>
    public ushort FragmentOffset { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.Fragment"/>: the M flag.</summary>
    public bool MoreFragments { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.Fragment"/>: the identification.</summary>
    public uint Identification { get; }

    /// <summary>True when an atomic fragment header (offset 0, M clear) was skipped (RFC 6946).</summary>
    public bool WasAtomicFragment { get; }

    /// <summary>The Router Alert value (RFC 2711; 0 for MLD), or -1 when the packet carries none.</summary>
    public int RouterAlert { get; }

    /// <summary>Why the packet is discarded, for <see cref="Ipv6ChainStatus.Discard"/> and <see cref="Ipv6ChainStatus.ParameterProblem"/>.</summary>
    public Ipv6ChainProblem Problem { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.ParameterProblem"/>: the code.</summary>
    public Icmpv6ParameterProblemCode ParameterProblemCode { get; }

    /// <summary>For <see cref="Ipv6ChainStatus.ParameterProblem"/>: the offset of the offending byte from the start of the IPv6 header.</summary>
    public int Pointer { get; }

    /// <summary>A description of the problem (layer, field, lengths, offset from the IPv6 header); kind None when there is none.</summary>
    public WireError Error { get; }

    /// <summary>
    /// Walks the chain of <paramref name="packet"/>: an IPv6 header and its payload, trimmed to the
    /// payload length (<c>Ipv6Header.Reader.Bytes</c>).
    /// </summary>
    /// <param name="packet">The packet from its IPv6 header on.</param>
    /// <param name="limits">The bounds to enforce.</param>
    /// <returns>The outcome.</returns>
    public static Ipv6ExtensionChain Walk(ReadOnlySpan<byte> packet, Ipv6ChainLimits limits) => Walk(packet, limits, firstFragmentCheck: true);

    /// <summary>Walks with the default <see cref="Ipv6ChainLimits"/>.</summary>
    /// <param name="packet">The packet from its IPv6 header on.</param>
    /// <returns>The outcome.</returns>
    public static Ipv6ExtensionChain Walk(ReadOnlySpan<byte> packet) => Walk(packet, new Ipv6ChainLimits(), firstFragmentCheck: true);

    private static Ipv6ExtensionChain Walk(ReadOnlySpan<byte> packet, Ipv6ChainLimits limits, bool firstFragmentCheck)
    {
        if (!Ipv6Header.TryReadHeader(packet, out Ipv6Header.Reader ip, out WireError headerError))
        {
            return Drop(Ipv6ChainProblem.Truncated, headerError, 0, -1);
        }

        packet = ip.Bytes; // trimmed to the payload length (link padding dropped)
        bool multicastDestination = ip.Destination.IsMulticast;
        IpProtocol next = ip.NextHeader;
        int nextField = 6;   // the IPv6 header's Next Header byte
        int offset = Ipv6Header.FixedLength;
        int count = 0;
        int routerAlert = -1;
        bool atomic = false;
        while (true)
        {
            switch (next)
            {
                case IpProtocol.HopByHop:
                case IpProtocol.Ipv6DestinationOptions:
                case IpProtocol.Ipv6Routing:
                case IpProtocol.Ipv6Fragment:
                    break;
                case IpProtocol.Ipv6NoNextHeader:
                    return new Ipv6ExtensionChain(Ipv6ChainStatus.NoNextHeader, next, offset, nextField, count, 0, default, atomic, routerAlert, default, default, 0, default);
                default:
                    return new Ipv6ExtensionChain(Ipv6ChainStatus.UpperLayer, next, offset, nextField, count, 0, default, atomic, routerAlert, default, default, 0, default);
            }

            if (++count > limits.MaxHeaders)
            {
                return Drop(Ipv6ChainProblem.TooManyHeaders, WireError.Malformed(Layer, "ExtensionHeaders", limits.MaxHeaders, count, LengthSource.None, offset), count, routerAlert);
            }

            ReadOnlySpan<byte> rest = packet[offset..];
            int headerStart = offset;
            switch (next)
            {
                case IpProtocol.HopByHop:
                case IpProtocol.Ipv6DestinationOptions:
                    {
                        if (next == IpProtocol.HopByHop && headerStart != Ipv6Header.FixedLength)
                        {
                            // RFC 8200 4.3: only immediately after the IPv6 header.
                            return Report(Ipv6ChainProblem.HopByHopNotFirst, Icmpv6ParameterProblemCode.UnrecognizedNextHeader, nextField,
                                WireError.InvalidValue(Layer, "NextHeader", Ipv6Header.FixedLength, headerStart, nextField), count, routerAlert);
                        }

                        if (!Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader options, out WireError error))
                        {
                            return Drop(Ipv6ChainProblem.Truncated, error.WithOffset(headerStart), count, routerAlert);
                        }

                        if (!CheckOptions(options.Options, headerStart, next == IpProtocol.HopByHop, multicastDestination, limits, count, ref routerAlert, out Ipv6ExtensionChain stop))
                        {
                            return stop;
                        }

                        nextField = headerStart;
                        next = options.NextHeader;
                        offset = headerStart + options.HeaderLength;
                        break;
                    }

                case IpProtocol.Ipv6Routing:
                    {
                        if (!Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader routing, out WireError error))
                        {
                            return Drop(Ipv6ChainProblem.Truncated, error.WithOffset(headerStart), count, routerAlert);
                        }

                        if (routing.SegmentsLeft != 0)
                        {
                            // RFC 8200 4.4 for an unrecognised type; RFC 5095 3: type 0 is handled as unrecognised.
                            return Report(Ipv6ChainProblem.UnrecognizedRoutingType, Icmpv6ParameterProblemCode.ErroneousHeaderField, headerStart + 2,
                                WireError.InvalidValue("IPv6 routing", "SegmentsLeft", 0, routing.SegmentsLeft, headerStart + 3), count, routerAlert);
                        }

                        // Segments left 0: ignore the header and go on with the next (RFC 8200 4.4).
                        nextField = headerStart;
                        next = routing.NextHeader;
                        offset = headerStart + routing.HeaderLength;
                        break;
                    }

                default: // Fragment
                    {
                        if (!Ipv6FragmentHeader.TryRead(rest, out Ipv6FragmentHeader.Reader fragment, out WireError error))
                        {
                            return Drop(Ipv6ChainProblem.Truncated, error.WithOffset(headerStart), count, routerAlert);
                        }

                        int dataOffset = headerStart + Ipv6FragmentHeader.FixedLength;
                        if (fragment.FragmentOffset == 0 && !fragment.MoreFragments)
                        {
                            // RFC 6946 4: an atomic fragment is processed in isolation as a whole packet.
                            atomic = true;
                            nextField = headerStart;
                            next = fragment.NextHeader;
                            offset = dataOffset;
                            break;
                        }

                        int dataLength = packet.Length - dataOffset;
                        if (fragment.MoreFragments && dataLength % 8 != 0)
                        {
                            // RFC 8200 4.5: point at the Payload Length field.
                            return Report(Ipv6ChainProblem.FragmentNotMultipleOf8, Icmpv6ParameterProblemCode.ErroneousHeaderField, 4,
                                WireError.Malformed("IPv6 fragment", "FragmentLength", dataLength - (dataLength % 8), dataLength, LengthSource.PayloadLength, 4), count, routerAlert);
                        }

                        int reassembled = headerStart - Ipv6Header.FixedLength + (fragment.FragmentOffset * 8) + dataLength;
                        if (reassembled > ushort.MaxValue)
                        {
                            // RFC 8200 4.5: point at the Fragment Offset field.
                            return Report(Ipv6ChainProblem.FragmentBeyondMaximum, Icmpv6ParameterProblemCode.ErroneousHeaderField, headerStart + 2,
                                WireError.Malformed("IPv6 fragment", "FragmentOffset", ushort.MaxValue, reassembled, LengthSource.PayloadLength, headerStart + 2), count, routerAlert);
                        }

                        if (firstFragmentCheck && fragment.FragmentOffset == 0 && !HoldsWholeChain(packet, headerStart, fragment.NextHeader, dataOffset, limits, count))
                        {
                            // RFC 7112 5 / RFC 8200 4.5: pointer 0.
                            return Report(Ipv6ChainProblem.IncompleteChainInFirstFragment, Icmpv6ParameterProblemCode.IncompleteHeaderChain, 0,
                                WireError.TooShort("IPv6 fragment", "HeaderChain", packet.Length + 1, packet.Length, LengthSource.PayloadLength, dataOffset), count, routerAlert);
                        }

                        return new Ipv6ExtensionChain(Ipv6ChainStatus.Fragment, fragment.NextHeader, dataOffset, nextField, count, headerStart,
                            fragment.ToValue(), atomic, routerAlert, default, default, 0, default);
                    }
            }

            if (offset - Ipv6Header.FixedLength > limits.MaxChainLength)
            {
                return Drop(Ipv6ChainProblem.ChainTooLong, WireError.Malformed(Layer, "ExtensionHeaders", limits.MaxChainLength, offset - Ipv6Header.FixedLength, LengthSource.None, headerStart), count, routerAlert);
            }
        }
    }

    // Processes the options of one Hop-by-Hop or Destination Options header: true to go on, false with the verdict.
    private static bool CheckOptions(ReadOnlySpan<byte> region, int headerStart, bool hopByHop, bool multicastDestination, Ipv6ChainLimits limits, int count, ref int routerAlert, out Ipv6ExtensionChain verdict)
    {
        verdict = default;
        var reader = new Ipv6OptionReader(region, headerStart + Ipv6OptionReader.OptionsOffset);
        int padding = 0;
        int options = 0;
        while (reader.TryReadNext(out Ipv6Option option, out _))
        {
            if (option.IsPadding)
            {
                // RFC 4942 2.1.9.5: padding aligns to 8 bytes, so more than 7 in a row is not padding; PadN carries zeros.
                padding += option.Length;
                if (padding > 7 || option.Data.IndexOfAnyExcept((byte)0) >= 0)
                {
                    verdict = Drop(Ipv6ChainProblem.BadPadding, WireError.Malformed("IPv6 options", "Padding", 7, padding, LengthSource.OptionLength, option.Offset), count, routerAlert);
                    return false;
                }

                continue;
            }

            padding = 0;
            if (++options > limits.MaxOptionsPerHeader)
            {
                verdict = Drop(Ipv6ChainProblem.TooManyOptions, WireError.Malformed("IPv6 options", "Options", limits.MaxOptionsPerHeader, options, LengthSource.None, option.Offset), count, routerAlert);
                return false;
            }

            if (hopByHop && option.Type == Ipv6OptionType.RouterAlert)
            {
                if (option.Data.Length != 2)
                {
                    verdict = Drop(Ipv6ChainProblem.BadRouterAlert, WireError.Malformed("IPv6 options", "RouterAlert", 4, option.Length, LengthSource.OptionLength, option.Offset + 1), count, routerAlert);
                    return false;
                }

                routerAlert = BinaryPrimitives.ReadUInt16BigEndian(option.Data);
                continue;
            }

            // Every other option, the Jumbo Payload option included (jumbograms are not supported), is unrecognised: its two high bits decide (RFC 8200 4.2).
            switch (option.UnknownAction)
            {
                case Ipv6UnknownOptionAction.Skip:
                    continue;
                case Ipv6UnknownOptionAction.Discard:
                    verdict = Drop(Ipv6ChainProblem.UnrecognizedOption, Unrecognized(option), count, routerAlert);
                    return false;
                case Ipv6UnknownOptionAction.DiscardAndReportUnlessMulticast when multicastDestination:
                    verdict = Drop(Ipv6ChainProblem.UnrecognizedOption, Unrecognized(option), count, routerAlert);
                    return false;
                default:
                    verdict = Report(Ipv6ChainProblem.UnrecognizedOption, Icmpv6ParameterProblemCode.UnrecognizedOption, option.Offset, Unrecognized(option), count, routerAlert);
                    return false;
            }
        }

        if (reader.Error.IsError)
        {
            verdict = Drop(Ipv6ChainProblem.Truncated, reader.Error, count, routerAlert);
            return false;
        }

        return true;
    }

    // RFC 7112 5: the first fragment carries every header of the chain and the upper-layer header.
    private static bool HoldsWholeChain(ReadOnlySpan<byte> packet, int fragmentHeaderStart, IpProtocol next, int dataOffset, Ipv6ChainLimits limits, int count)
    {
        int offset = dataOffset;
        for (int walked = count; ; walked++)
        {
            ReadOnlySpan<byte> rest = packet[offset..];
            int length;
            switch (next)
            {
                case IpProtocol.HopByHop or IpProtocol.Ipv6DestinationOptions:
                    if (!Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader o))
                    {
                        return false;
                    }

                    (next, length) = (o.NextHeader, o.HeaderLength);
                    break;
                case IpProtocol.Ipv6Routing:
                    if (!Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader r))
                    {
                        return false;
                    }

                    (next, length) = (r.NextHeader, r.HeaderLength);
                    break;
                case IpProtocol.Ipv6Fragment:
                    // A second Fragment header inside a fragment: the chain is as complete as it can be here.
                    return rest.Length >= Ipv6FragmentHeader.FixedLength;
                case IpProtocol.Ipv6NoNextHeader:
                    return true;
                default:
                    // The upper-layer header's fixed part must be there (Linux checks TCP, UDP and ICMPv6 the same way).
                    return rest.Length >= next switch
                    {
                        IpProtocol.Tcp => 20,
                        IpProtocol.Udp => 8,
                        IpProtocol.Icmpv6 => 8,
                        _ => 0,
                    };
            }

            offset += length;
            if (walked >= limits.MaxHeaders || offset - fragmentHeaderStart > limits.MaxChainLength)
            {
                return false;
            }
        }
    }

    private static WireError Unrecognized(Ipv6Option option) =>
        WireError.InvalidValue("IPv6 options", "OptionAction", (long)Ipv6UnknownOptionAction.Skip, (long)option.UnknownAction, option.Offset);

    private static Ipv6ExtensionChain Drop(Ipv6ChainProblem problem, WireError error, int count, int routerAlert) =>
        new(Ipv6ChainStatus.Discard, default, 0, 0, count, 0, default, false, routerAlert, problem, default, 0, error);

    private static Ipv6ExtensionChain Report(Ipv6ChainProblem problem, Icmpv6ParameterProblemCode code, int pointer, WireError error, int count, int routerAlert) =>
        new(Ipv6ChainStatus.ParameterProblem, default, 0, 0, count, 0, default, false, routerAlert, problem, code, pointer, error);
}
