using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// Walks the options region of an IPv4 header (RFC 791 3.1), typically
/// <c>Ipv4Header.Reader.Options</c>. Never throws: a malformed option stops the walk with a
/// <see cref="WireError"/> (layer <c>IPv4</c>, field = the option's name, source
/// <see cref="LengthSource.OptionLength"/>).
/// </summary>
/// <remarks>
/// <para>End of Option List is returned as a one-byte option and ends the walk; whatever follows it
/// is padding (<see cref="Padding"/>). No Operation is one byte. Every other option has a length
/// octet counting the type and length octets; unknown kinds are skipped by it.</para>
/// <para>Use it either with <see cref="TryReadNext"/>, or with <c>foreach</c> and then check
/// <see cref="Error"/>: enumeration stops silently at a malformed option.</para>
/// </remarks>
public ref struct Ipv4OptionReader
{
    /// <summary>Offset of the options region in an IPv4 header: right after the 20 fixed bytes.</summary>
    public const int OptionsOffset = 20;

    private const string Layer = "IPv4";

    private readonly ReadOnlySpan<byte> _options;
    private readonly int _baseOffset;
    private int _position;
    private bool _ended;
    private Ipv4Option _current;
    private WireError _error;

    /// <summary>Starts a walk over <paramref name="options"/>.</summary>
    /// <param name="options">The options region (the bytes between the fixed header and IHL × 4).</param>
    /// <param name="baseOffset">Offset of the region in its header, used for error offsets (20 for IPv4).</param>
    public Ipv4OptionReader(ReadOnlySpan<byte> options, int baseOffset = OptionsOffset)
    {
        _options = options;
        _baseOffset = baseOffset;
        _position = 0;
        _ended = options.IsEmpty;
        _current = default;
        _error = default;
    }

    /// <summary>The error that stopped the walk, or an error of kind <see cref="WireErrorKind.None"/>.</summary>
    public readonly WireError Error => _error;

    /// <summary>Offset in the options region of the next option to read.</summary>
    public readonly int Position => _position;

    /// <summary>The bytes after End of Option List (zero padding to the 32-bit boundary); empty before the end is reached.</summary>
    public readonly ReadOnlySpan<byte> Padding => _ended && !_error.IsError ? _options[_position..] : default;

    /// <summary>The option found by the last successful <see cref="MoveNext"/>.</summary>
    public readonly Ipv4Option Current => _current;

    /// <summary>Lets <c>foreach</c> walk the options.</summary>
    public readonly Ipv4OptionReader GetEnumerator() => this;

    /// <summary>Advances to the next option; false at the end or at a malformed option (see <see cref="Error"/>).</summary>
    public bool MoveNext() => TryReadNext(out _current, out _);

    /// <summary>
    /// Reads the next option. Returns false with <paramref name="error"/> of kind
    /// <see cref="WireErrorKind.None"/> at the end of the list, or false with the error when the
    /// option is malformed (the walk then stays stopped).
    /// </summary>
    public bool TryReadNext(out Ipv4Option option, out WireError error)
    {
        option = default;
        error = _error;
        if (_ended || _error.IsError)
        {
            return false;
        }

        int start = _position;
        ReadOnlySpan<byte> rest = _options[start..];
        byte type = rest[0];

        // RFC 791 3.1: case 1, a single octet of option-type (EOL and NOP).
        if (type is (byte)Ipv4OptionKind.EndOfOptionList or (byte)Ipv4OptionKind.NoOperation)
        {
            option = new Ipv4Option(rest[..1], _baseOffset + start);
            _position = start + 1;
            _ended = type == (byte)Ipv4OptionKind.EndOfOptionList || _position == _options.Length;
            return true;
        }

        // RFC 791 3.1: case 2, option-type, option-length (counting type and length), data.
        string name = Ipv4Option.NameOf(type);
        int at = _baseOffset + start;
        if (rest.Length < 2)
        {
            return Fail(WireError.TooShort(Layer, name, 2, rest.Length, LengthSource.OptionLength, at), out error);
        }

        int length = rest[1];
        if (length < 2)
        {
            return Fail(WireError.Malformed(Layer, name, 2, length, LengthSource.OptionLength, at + 1), out error);
        }

        if (length > rest.Length)
        {
            return Fail(WireError.TooShort(Layer, name, length, rest.Length, LengthSource.OptionLength, at + 1), out error);
        }

        ReadOnlySpan<byte> bytes = rest[..length];
        WireError check = type switch
        {
            (byte)Ipv4OptionKind.RecordRoute or (byte)Ipv4OptionKind.LooseSourceRoute or (byte)Ipv4OptionKind.StrictSourceRoute
                => CheckRoute(bytes, name, at),
            (byte)Ipv4OptionKind.Timestamp => CheckTimestamp(bytes, name, at),
            _ => default,
        };
        if (check.IsError)
        {
            return Fail(check, out error);
        }

        option = new Ipv4Option(bytes, at);
        _position = start + length;
        _ended = _position == _options.Length;
        return true;
    }

    /// <summary>Walks all of <paramref name="options"/> and reports the first malformed option, if any.</summary>
    public static bool Validate(ReadOnlySpan<byte> options, out WireError error, int baseOffset = OptionsOffset)
    {
        var reader = new Ipv4OptionReader(options, baseOffset);
        while (reader.TryReadNext(out _, out error))
        {
        }

        return !error.IsError;
    }

    /// <summary>
    /// Adds one annotation per option of <paramref name="options"/> (its <see cref="Ipv4Option.ToString"/>
    /// line, e.g. <c>Option RecordRoute len=11 ptr=4 [10.0.0.1, 0.0.0.0]</c>), one for padding after
    /// End of Option List, and one for a malformed tail naming the error.
    /// </summary>
    /// <param name="options">The options region.</param>
    /// <param name="baseOffset">Where the region starts in the dump (20 past the start of the IPv4 header).</param>
    /// <param name="into">Receives the annotations.</param>
    public static void Annotate(ReadOnlySpan<byte> options, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out Ipv4Option option, out WireError error))
        {
            into.Add(new HexAnnotation(baseOffset + reader.Position - option.Length, option.Length, option.ToString()));
        }

        if (reader.Error.IsError)
        {
            into.Add(new HexAnnotation(baseOffset + reader.Position, options.Length - reader.Position, "Malformed option: " + reader.Error));
        }
        else if (!reader.Padding.IsEmpty)
        {
            into.Add(new HexAnnotation(baseOffset + reader.Position, reader.Padding.Length, "Padding"));
        }
    }

    private bool Fail(WireError found, out WireError error)
    {
        _error = found;
        error = found;
        return false;
    }

    // RFC 791 3.1, loose/strict source route and record route: length = 3 + 4n (route data of
    // 4-byte addresses), pointer relative to the option, smallest legal value 4; a pointer
    // greater than the length means the route data is exhausted (pointer = length + 1).
    private static WireError CheckRoute(ReadOnlySpan<byte> bytes, string name, int at)
    {
        int length = bytes.Length;
        if (length < 3)
        {
            return WireError.Malformed(Layer, name, 3, length, LengthSource.OptionLength, at + 1);
        }

        if ((length - 3) % 4 != 0)
        {
            return WireError.Malformed(Layer, name, length - ((length - 3) % 4), length, LengthSource.OptionLength, at + 1);
        }

        int pointer = bytes[2];
        if (pointer < 4 || pointer % 4 != 0 || pointer > length + 1)
        {
            return WireError.Malformed(Layer, name, pointer < 4 ? 4 : Math.Min(pointer & ~3, length + 1), pointer, LengthSource.OptionLength, at + 2);
        }

        return default;
    }

    // RFC 791 3.1, Internet timestamp: length, pointer (smallest legal value 5), overflow and
    // flag; flag 0 holds 4-byte timestamps, flags 1 and 3 hold address + timestamp pairs; a
    // pointer greater than the length means the option is full.
    private static WireError CheckTimestamp(ReadOnlySpan<byte> bytes, string name, int at)
    {
        int length = bytes.Length;
        if (length < 4)
        {
            return WireError.Malformed(Layer, name, 4, length, LengthSource.OptionLength, at + 1);
        }

        int flag = bytes[3] & 0x0f;
        if (flag is not (0 or 1 or 3))
        {
            return WireError.InvalidValue(Layer, name, 0, flag, at + 3);
        }

        int entry = flag == 0 ? 4 : 8;
        if ((length - 4) % entry != 0)
        {
            return WireError.Malformed(Layer, name, length - ((length - 4) % entry), length, LengthSource.OptionLength, at + 1);
        }

        int pointer = bytes[2];
        if (pointer < 5 || (pointer - 5) % entry != 0 || pointer > length + 1)
        {
            return WireError.Malformed(Layer, name, pointer < 5 ? 5 : length + 1, pointer, LengthSource.OptionLength, at + 2);
        }

        return default;
    }
}
