using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Option types of the Hop-by-Hop and Destination Options headers (IANA "Destination Options and Hop-by-Hop Options").</summary>
/// <remarks>
/// The two high bits of a type say what a node that does not recognise it must do
/// (<see cref="Ipv6UnknownOptionAction"/>, RFC 8200 4.2); the third says whether the data may
/// change en route.
/// </remarks>
public enum Ipv6OptionType : byte
{
    /// <summary>0x00: one byte of padding, no length or data (RFC 8200 4.2).</summary>
    Pad1 = 0x00,

    /// <summary>0x01: N bytes of padding: type, length, N - 2 zero bytes (RFC 8200 4.2).</summary>
    PadN = 0x01,

    /// <summary>0x04: tunnel encapsulation limit (RFC 2473).</summary>
    TunnelEncapsulationLimit = 0x04,

    /// <summary>0x05: router alert (RFC 2711), Hop-by-Hop only; two bytes of value (0 = MLD).</summary>
    RouterAlert = 0x05,

    /// <summary>0xC2: jumbo payload (RFC 2675); not supported here, so it is handled as unrecognised (discard, parameter problem).</summary>
    JumboPayload = 0xC2,

    /// <summary>0xC9: home address (RFC 6275), Destination Options only.</summary>
    HomeAddress = 0xC9,
}

/// <summary>What a node must do with an option type it does not recognise: the type's two high bits (RFC 8200 4.2).</summary>
public enum Ipv6UnknownOptionAction : byte
{
    /// <summary>00: skip over the option and go on processing the header.</summary>
    Skip = 0,

    /// <summary>01: discard the packet.</summary>
    Discard = 1,

    /// <summary>10: discard the packet and send ICMPv6 parameter problem, code 2, pointing at the option type, whatever the destination.</summary>
    DiscardAndReport = 2,

    /// <summary>11: discard the packet and, unless its destination was multicast, send parameter problem code 2.</summary>
    DiscardAndReportUnlessMulticast = 3,
}

/// <summary>One option of a Hop-by-Hop or Destination Options header, as <see cref="Ipv6OptionReader"/> found it.</summary>
public readonly ref struct Ipv6Option
{
    internal Ipv6Option(ReadOnlySpan<byte> bytes, int offset)
    {
        Bytes = bytes;
        Offset = offset;
    }

    /// <summary>The whole option: type, length and data (one byte for Pad1).</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>The option's offset in its extension header (from the header's Next Header byte).</summary>
    public int Offset { get; }

    /// <summary>The option type.</summary>
    public Ipv6OptionType Type => (Ipv6OptionType)Bytes[0];

    /// <summary>Bytes the option takes: 1 for Pad1, else 2 + its data length.</summary>
    public int Length => Bytes.Length;

    /// <summary>The option data (empty for Pad1).</summary>
    public ReadOnlySpan<byte> Data => Bytes.Length > 2 ? Bytes[2..] : default;

    /// <summary>What a node that does not recognise the type must do (its two high bits).</summary>
    public Ipv6UnknownOptionAction UnknownAction => (Ipv6UnknownOptionAction)(Bytes[0] >> 6);

    /// <summary>Whether the option's data may change en route (the type's third bit).</summary>
    public bool MayChangeEnRoute => (Bytes[0] & 0x20) != 0;

    /// <summary>True for Pad1 and PadN.</summary>
    public bool IsPadding => Bytes[0] is (byte)Ipv6OptionType.Pad1 or (byte)Ipv6OptionType.PadN;

    /// <summary><c>Option RouterAlert len=4 value=0</c> and the like.</summary>
    public override string ToString()
    {
        string name = Enum.IsDefined(Type) ? Type.ToString() : $"0x{(byte)Type:x2}";
        if (Type == Ipv6OptionType.Pad1)
        {
            return "Option Pad1";
        }

        if (Type == Ipv6OptionType.RouterAlert && Data.Length == 2)
        {
            return FormattableString.Invariant($"Option RouterAlert len={Length} value={(Data[0] << 8) | Data[1]}");
        }

        return FormattableString.Invariant($"Option {name} len={Length} action={UnknownAction}");
    }
}

/// <summary>
/// Walks the options of a Hop-by-Hop or Destination Options header (RFC 8200 4.2): type-length-value
/// options, Pad1 the only one without a length. Syntax only (an option running past the header is an
/// error); what the options mean is <see cref="Ipv6ExtensionChain"/>'s business. Never throws.
/// </summary>
public ref struct Ipv6OptionReader
{
    /// <summary>Offset of the options in their header: right after Next Header and Hdr Ext Len.</summary>
    public const int OptionsOffset = 2;

    private const string Layer = "IPv6 options";

    private readonly ReadOnlySpan<byte> _options;
    private readonly int _baseOffset;
    private int _position;
    private Ipv6Option _current;
    private WireError _error;

    /// <summary>Starts a walk over <paramref name="options"/> (an options header's <c>Reader.Options</c>).</summary>
    /// <param name="options">The options region.</param>
    /// <param name="baseOffset">Offset of the region for error and option offsets (2 within its header).</param>
    public Ipv6OptionReader(ReadOnlySpan<byte> options, int baseOffset = OptionsOffset)
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
    public readonly Ipv6Option Current => _current;

    /// <summary>Lets <c>foreach</c> walk the options.</summary>
    public readonly Ipv6OptionReader GetEnumerator() => this;

    /// <summary>Advances to the next option; false at the end or at a malformed option (see <see cref="Error"/>).</summary>
    public bool MoveNext() => TryReadNext(out _current, out _);

    /// <summary>
    /// Reads the next option. False with an error of kind <see cref="WireErrorKind.None"/> at the
    /// end, or false with the error when an option runs past the region (the walk stays stopped).
    /// </summary>
    public bool TryReadNext(out Ipv6Option option, out WireError error)
    {
        option = default;
        error = _error;
        if (_position >= _options.Length || _error.IsError)
        {
            return false;
        }

        int start = _position;
        ReadOnlySpan<byte> rest = _options[start..];
        int at = _baseOffset + start;
        if (rest[0] == (byte)Ipv6OptionType.Pad1)
        {
            option = new Ipv6Option(rest[..1], at);
            _position = start + 1;
            return true;
        }

        if (rest.Length < 2)
        {
            return Fail(WireError.TooShort(Layer, "OptionLength", 2, rest.Length, LengthSource.OptionLength, at), out error);
        }

        int length = 2 + rest[1];
        if (length > rest.Length)
        {
            return Fail(WireError.TooShort(Layer, "OptionData", length, rest.Length, LengthSource.OptionLength, at + 1), out error);
        }

        option = new Ipv6Option(rest[..length], at);
        _position = start + length;
        return true;
    }

    /// <summary>Adds one annotation per option (its <see cref="Ipv6Option.ToString"/>) and one for a malformed tail.</summary>
    /// <param name="options">The options region.</param>
    /// <param name="baseOffset">Where the region starts in the dump.</param>
    /// <param name="into">Receives the annotations.</param>
    public static void Annotate(ReadOnlySpan<byte> options, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var reader = new Ipv6OptionReader(options, 0);
        while (reader.TryReadNext(out Ipv6Option option, out _))
        {
            into.Add(new HexAnnotation(baseOffset + option.Offset, option.Length, option.ToString()));
        }

        if (reader.Error.IsError)
        {
            into.Add(new HexAnnotation(baseOffset + reader._position, options.Length - reader._position, "Malformed option: " + reader.Error));
        }
    }

    private bool Fail(WireError found, out WireError error)
    {
        _error = found;
        error = found;
        return false;
    }
}
