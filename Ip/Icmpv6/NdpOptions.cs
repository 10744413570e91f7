using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Neighbour discovery option types (RFC 4861 4.6; IANA "IPv6 Neighbor Discovery Option Formats").</summary>
public enum NdpOptionType : byte
{
    /// <summary>1: the sender's link-layer address (RFC 4861 4.6.1).</summary>
    SourceLinkLayerAddress = 1,

    /// <summary>2: the target's link-layer address (RFC 4861 4.6.1).</summary>
    TargetLinkLayerAddress = 2,

    /// <summary>3: an on-link and/or autoconfiguration prefix (RFC 4861 4.6.2).</summary>
    PrefixInformation = 3,

    /// <summary>4: the start of the redirected packet (RFC 4861 4.6.3).</summary>
    RedirectedHeader = 4,

    /// <summary>5: the link MTU (RFC 4861 4.6.4).</summary>
    Mtu = 5,

    /// <summary>14: a nonce, to tell a looped-back solicitation from another node's (RFC 3971 5.3.2, RFC 7527).</summary>
    Nonce = 14,

    /// <summary>24: a more specific route (RFC 4191 2.3).</summary>
    RouteInformation = 24,

    /// <summary>25: recursive DNS servers (RFC 8106 5.1).</summary>
    RecursiveDnsServer = 25,

    /// <summary>31: DNS search list (RFC 8106 5.2).</summary>
    DnsSearchList = 31,
}

/// <summary>
/// The common part of every neighbour discovery option (RFC 4861 4.6): type and a length in
/// 8-byte units counting the type and length bytes. A zero length is invalid: the whole message is
/// discarded (RFC 4861 4.6), which the <c>[Range]</c> makes a read error.
/// </summary>
[WireHeader("NDP option")]
[HeaderLength(nameof(Length), Unit = 8, Source = LengthSource.OptionLength)]
public partial struct NdpOptionHeader
{
    /// <summary>The option type.</summary>
    public NdpOptionType Type;

    /// <summary>The option's length in 8-byte units, type and length included; at least 1.</summary>
    [Range(1, 255)]
    public byte Length;
}

/// <summary>
/// Source or target link-layer address (RFC 4861 4.6.1) on Ethernet (RFC 2464 8): 8 bytes, the
/// 6-byte MAC address after type and length.
/// </summary>
[WireHeader("NDP option")]
public partial struct NdpLinkLayerAddressOption
{
    /// <summary><see cref="NdpOptionType.SourceLinkLayerAddress"/> or <see cref="NdpOptionType.TargetLinkLayerAddress"/>.</summary>
    [Range(1, 2)]
    public NdpOptionType Type;

    /// <summary>Always 1 on Ethernet (8 bytes).</summary>
    [Const(1)]
    public byte Length;

    /// <summary>The link-layer address.</summary>
    public MacAddress LinkLayerAddress;
}

/// <summary>Prefix information (RFC 4861 4.6.2, type 3): 32 bytes.</summary>
[WireHeader("NDP option")]
public partial struct NdpPrefixInformationOption
{
    /// <summary>Always <see cref="NdpOptionType.PrefixInformation"/>.</summary>
    [Const(3)]
    public NdpOptionType Type;

    /// <summary>Always 4 (32 bytes).</summary>
    [Const(4)]
    public byte Length;

    /// <summary>The number of leading bits of <see cref="Prefix"/> that are valid, 0-128.</summary>
    [Range(0, 128)]
    public byte PrefixLength;

    /// <summary>L: the prefix is on-link.</summary>
    [Bits(1)]
    public bool OnLink;

    /// <summary>A: the prefix can be used for stateless address autoconfiguration (RFC 4862).</summary>
    [Bits(1)]
    public bool Autonomous;

    /// <summary>Reserved flag bits.</summary>
    [Bits(6)]
    public byte Reserved1;

    /// <summary>Seconds the prefix stays valid for on-link determination (0xffffffff: forever).</summary>
    public uint ValidLifetime;

    /// <summary>Seconds addresses made from the prefix stay preferred (0xffffffff: forever).</summary>
    public uint PreferredLifetime;

    /// <summary>Zero when sent, ignored when received.</summary>
    public uint Reserved2;

    /// <summary>The prefix; bits past <see cref="PrefixLength"/> are zero when sent and ignored when received.</summary>
    public Ipv6Address Prefix;
}

/// <summary>MTU (RFC 4861 4.6.4, type 5): 8 bytes, the link's MTU.</summary>
[WireHeader("NDP option")]
public partial struct NdpMtuOption
{
    /// <summary>Always <see cref="NdpOptionType.Mtu"/>.</summary>
    [Const(5)]
    public NdpOptionType Type;

    /// <summary>Always 1 (8 bytes).</summary>
    [Const(1)]
    public byte Length;

    /// <summary>Zero when sent, ignored when received.</summary>
    public ushort Reserved;

    /// <summary>The recommended MTU for the link.</summary>
    public uint Mtu;
}

/// <summary>
/// Recursive DNS server (RFC 8106 5.1, type 25): 8 bytes, then one or more 16-byte server
/// addresses (<c>Reader.Options</c>); the length is 1 + 2 × the number of addresses, so odd and at least 3.
/// </summary>
[WireHeader("NDP option")]
[HeaderLength(nameof(Length), Unit = 8, Source = LengthSource.OptionLength)]
public partial struct NdpRdnssOption
{
    /// <summary>Always <see cref="NdpOptionType.RecursiveDnsServer"/>.</summary>
    [Const(25)]
    public NdpOptionType Type;

    /// <summary>The option's length in 8-byte units: 1 + 2 per address.</summary>
    [Range(3, 255)]
    public byte Length;

    /// <summary>Zero when sent, ignored when received.</summary>
    public ushort Reserved;

    /// <summary>Seconds the servers may be used (0: no longer; 0xffffffff: forever).</summary>
    public uint Lifetime;
}

/// <summary>
/// Redirected header (RFC 4861 4.6.3, type 4): 8 bytes, then as much of the redirected packet as
/// fits without the redirect exceeding 1280 bytes (<c>Reader.Options</c>).
/// </summary>
[WireHeader("NDP option")]
[HeaderLength(nameof(Length), Unit = 8, Source = LengthSource.OptionLength)]
public partial struct NdpRedirectedHeaderOption
{
    /// <summary>Always <see cref="NdpOptionType.RedirectedHeader"/>.</summary>
    [Const(4)]
    public NdpOptionType Type;

    /// <summary>The option's length in 8-byte units.</summary>
    [Range(1, 255)]
    public byte Length;

    /// <summary>Zero when sent, ignored when received.</summary>
    public ushort Reserved1;

    /// <summary>Zero when sent, ignored when received.</summary>
    public uint Reserved2;
}

/// <summary>One option of a neighbour discovery message, as <see cref="NdpOptionReader"/> found it.</summary>
public readonly ref struct NdpOption
{
    internal NdpOption(ReadOnlySpan<byte> bytes, int offset)
    {
        Bytes = bytes;
        Offset = offset;
    }

    /// <summary>The whole option, type and length included (a multiple of 8 bytes).</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>The option's offset in its message (from the ICMPv6 type byte).</summary>
    public int Offset { get; }

    /// <summary>The option type.</summary>
    public NdpOptionType Type => (NdpOptionType)Bytes[0];

    /// <summary>Bytes the option takes.</summary>
    public int Length => Bytes.Length;

    /// <summary>A one-line description through the typed views: <c>SourceLinkLayerAddress 02:00:00:00:00:01</c>.</summary>
    public override string ToString() => Type switch
    {
        NdpOptionType.SourceLinkLayerAddress or NdpOptionType.TargetLinkLayerAddress when NdpLinkLayerAddressOption.TryRead(Bytes, out NdpLinkLayerAddressOption.Reader l)
            => $"{Type} {l.LinkLayerAddress}",
        NdpOptionType.PrefixInformation when NdpPrefixInformationOption.TryRead(Bytes, out NdpPrefixInformationOption.Reader p)
            => FormattableString.Invariant($"PrefixInformation {p.Prefix}/{p.PrefixLength} L={p.OnLink} A={p.Autonomous} valid={p.ValidLifetime} preferred={p.PreferredLifetime}"),
        NdpOptionType.Mtu when NdpMtuOption.TryRead(Bytes, out NdpMtuOption.Reader m)
            => FormattableString.Invariant($"Mtu {m.Mtu}"),
        NdpOptionType.RecursiveDnsServer when NdpRdnssOption.TryRead(Bytes, out NdpRdnssOption.Reader r)
            => FormattableString.Invariant($"RecursiveDnsServer lifetime={r.Lifetime} servers={r.Options.Length / 16}"),
        _ => FormattableString.Invariant($"{Type} len={Length}"),
    };
}

/// <summary>
/// Walks the options of a neighbour discovery message (RFC 4861 4.6) with the generated
/// <see cref="NdpOptionHeader"/> reader. A zero length or an option past the end stops the walk with
/// an error, and RFC 4861 6.1 and 7.1 then require the whole message to be discarded. Never throws.
/// </summary>
public ref struct NdpOptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private readonly int _baseOffset;
    private int _position;
    private NdpOption _current;
    private WireError _error;

    /// <summary>Starts a walk over <paramref name="options"/> (the message after its fixed part).</summary>
    /// <param name="options">The options.</param>
    /// <param name="baseOffset">Offset of the options in the message, for offsets and errors.</param>
    public NdpOptionReader(ReadOnlySpan<byte> options, int baseOffset)
    {
        _options = options;
        _baseOffset = baseOffset;
        _position = 0;
        _current = default;
        _error = default;
    }

    /// <summary>The error that stopped the walk, or an error of kind <see cref="WireErrorKind.None"/>.</summary>
    public readonly WireError Error => _error;

    /// <summary>The option found by the last successful <see cref="MoveNext"/>.</summary>
    public readonly NdpOption Current => _current;

    /// <summary>Lets <c>foreach</c> walk the options.</summary>
    public readonly NdpOptionReader GetEnumerator() => this;

    /// <summary>Advances to the next option; false at the end or at a malformed option (see <see cref="Error"/>).</summary>
    public bool MoveNext() => TryReadNext(out _current, out _);

    /// <summary>Reads the next option: false with no error at the end, false with the error at a malformed option.</summary>
    public bool TryReadNext(out NdpOption option, out WireError error)
    {
        option = default;
        error = _error;
        if (_position >= _options.Length || _error.IsError)
        {
            return false;
        }

        if (!NdpOptionHeader.TryRead(_options[_position..], out NdpOptionHeader.Reader header, out WireError found))
        {
            _error = found.WithOffset(_baseOffset + _position);
            error = _error;
            return false;
        }

        option = new NdpOption(header.Header, _baseOffset + _position);
        _position += header.HeaderLength;
        return true;
    }

    /// <summary>Walks every option and reports the first malformed one, if any.</summary>
    public static bool Validate(ReadOnlySpan<byte> options, out WireError error, int baseOffset = 0)
    {
        var reader = new NdpOptionReader(options, baseOffset);
        while (reader.TryReadNext(out _, out error))
        {
        }

        return !error.IsError;
    }

    /// <summary>Adds one annotation per option (its <see cref="NdpOption.ToString"/>) and one for a malformed tail.</summary>
    public static void Annotate(ReadOnlySpan<byte> options, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var reader = new NdpOptionReader(options, 0);
        while (reader.TryReadNext(out NdpOption option, out _))
        {
            into.Add(new HexAnnotation(baseOffset + option.Offset, option.Length, option.ToString()));
        }

        if (reader.Error.IsError)
        {
            into.Add(new HexAnnotation(baseOffset + reader._position, options.Length - reader._position, "Malformed option: " + reader.Error));
        }
    }
}
