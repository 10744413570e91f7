using System.Runtime.CompilerServices;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// Enumerates the options of a TCP header's options region (RFC 9293 3.1 "Options", 3.2) without
/// copying or allocating. Never throws: a malformed option ends the enumeration with a
/// <see cref="WireError"/> (layer <c>TCP</c>, field = the option's name, source
/// <see cref="LengthSource.OptionLength"/>).
/// </summary>
/// <remarks>
/// <para>Rules, in the order they are checked for each option:</para>
/// <list type="bullet">
/// <item>EOL (kind 0) is returned and ends the list; the bytes after it are padding and are not read (RFC 9293 3.2).</item>
/// <item>NOP (kind 1) is a single byte (RFC 9293 3.2).</item>
/// <item>Every other kind has a length byte that counts the kind and length bytes too (RFC 9293 3.1):
/// a missing length byte is <see cref="WireErrorKind.TooShort"/> (required 2, actual 1);
/// a length below 2 is <see cref="WireErrorKind.Malformed"/> (required 2, actual = the length byte).</item>
/// <item>A known kind with the wrong length is <see cref="WireErrorKind.Malformed"/> (required = the
/// length the kind must have, actual = the length byte): MSS 4 (RFC 9293 3.2), window scale 3
/// (RFC 7323 2.2), SACK-permitted 2 (RFC 2018 2), timestamps 10 (RFC 7323 3.2), SACK 2 + 8n with
/// n = 1..4 (RFC 2018 3; required = 10 below that, 34 above it, else the next valid length).</item>
/// <item>A length that runs past the options region is <see cref="WireErrorKind.TooShort"/>
/// (required = the length byte, actual = bytes left from the option's kind byte).</item>
/// <item>Unknown kinds are returned with their raw kind number and skipped by their length.</item>
/// </list>
/// <para>Error offsets are relative to the start of the options region; add
/// <c>TcpHeader.FixedLength</c> (<see cref="WireError.WithOffset(int)"/>) for offsets within the TCP header.</para>
/// <para>A window scale shift above 14 is not an error: it is reported as received and flagged by
/// <see cref="TcpOption.IsWindowScaleOutOfRange"/>; RFC 7323 2.3 says to log it and use 14
/// (<see cref="TcpOption.EffectiveWindowScaleShift"/>).</para>
/// </remarks>
public ref struct TcpOptionReader
{
    private const string Layer = "TCP";

    private readonly ReadOnlySpan<byte> _options;
    private int _offset;
    private bool _ended;

    // Where the malformed option that ended the list starts, or -1. The WireError itself is
    // built only when asked for (Error), so the reader stays small enough for registers.
    private int _errorOffset;

    /// <summary>Starts reading at the beginning of <paramref name="options"/> (the bytes between the fixed header and the data offset).</summary>
    public TcpOptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _errorOffset = -1;
    }

    /// <summary>Offset, within the options region, of the next option to read (after the end: where the list ended).</summary>
    public readonly int Offset => _offset;

    /// <summary>The error that ended the enumeration, or a default (non-error) value.</summary>
    public readonly WireError Error => _errorOffset < 0 ? default : OptionError(_options, _errorOffset);

    /// <summary>True when a malformed option ended the enumeration (see <see cref="Error"/>).</summary>
    public readonly bool HasError => _errorOffset >= 0;

    /// <summary>
    /// Reads the next option; false at the end of the list or on a malformed option (then
    /// <see cref="HasError"/> is true and <see cref="Error"/> says what is wrong).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadNext(out TcpOption option)
    {
        // The common case (a well-formed option) in a few compares; anything else ends the list.
        ReadOnlySpan<byte> options = _options;
        int offset = _offset;
        if (!_ended && (uint)offset < (uint)options.Length)
        {
            byte kind = options[offset];

            // RFC 9293 3.2: End of Option List and No-Operation are a single octet.
            if ((TcpOptionKind)kind is TcpOptionKind.EndOfOptionList or TcpOptionKind.NoOperation)
            {
                option = new TcpOption(offset, options.Slice(offset, 1));
                _offset = offset + 1;
                _ended = (TcpOptionKind)kind == TcpOptionKind.EndOfOptionList; // RFC 9293 3.2: it ends the list.
                return true;
            }

            // RFC 9293 3.1: every other option has a length octet counting kind, length and data.
            int left = options.Length - offset;
            if (left >= 2)
            {
                int length = options[offset + 1];
                if (length >= 2 && length <= left && RequiredLength(kind, length) == length)
                {
                    option = new TcpOption(offset, options.Slice(offset, length));
                    _offset = offset + length;
                    return true;
                }
            }

            // A malformed option ends the enumeration; every later call returns false too.
            _errorOffset = offset;
        }

        option = default;
        _ended = true;
        return false;
    }

    /// <summary>
    /// Reads the next option. Returns false at the end of the list (end of the region, or after
    /// EOL) with a non-error <paramref name="error"/>, or on a malformed option with the error; every
    /// later call returns false with the same error.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadNext(out TcpOption option, out WireError error)
    {
        if (TryReadNext(out option))
        {
            error = default;
            return true;
        }

        error = Error;
        return false;
    }

    /// <summary>
    /// The error of the option at <paramref name="offset"/>, which the fast path of TryReadNext did
    /// not accept, found by checking each rule in its documented order. Out of line, and with no
    /// by-ref arguments, so that an inlined TryReadNext keeps the reader in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WireError OptionError(ReadOnlySpan<byte> options, int offset)
    {
        ReadOnlySpan<byte> rest = options[offset..];
        byte kind = rest[0];
        if (rest.Length < 2)
        {
            return WireError.TooShort(Layer, TcpOptionNames.Field(kind), 2, rest.Length, LengthSource.OptionLength, offset);
        }

        int length = rest[1];
        if (length < 2)
        {
            return WireError.Malformed(Layer, TcpOptionNames.Field(kind), 2, length, LengthSource.OptionLength, offset);
        }

        int required = RequiredLength(kind, length);
        if (required != length)
        {
            return WireError.Malformed(Layer, TcpOptionNames.Field(kind), required, length, LengthSource.OptionLength, offset);
        }

        // What is left: the length runs past the region (TryReadNext accepts everything else).
        return WireError.TooShort(Layer, TcpOptionNames.Field(kind), length, rest.Length, LengthSource.OptionLength, offset);
    }

    /// <summary>
    /// Checks a whole options region: true when every option up to the end of the region (or up to
    /// EOL) is well formed.
    /// </summary>
    public static bool Validate(ReadOnlySpan<byte> options, out WireError error)
    {
        var reader = new TcpOptionReader(options);
        while (reader.TryReadNext(out _, out error))
        {
        }

        return !error.IsError;
    }

    /// <summary>
    /// Adds one annotation per option (<c>Option MSS len=4 value=1460</c>), one for padding after EOL,
    /// and, when an option is malformed, one for the rest of the region with the error (its offset
    /// moved by <paramref name="baseOffset"/> so it matches the dump).
    /// </summary>
    /// <param name="options">The options region.</param>
    /// <param name="baseOffset">Where the options region starts in the dump.</param>
    /// <param name="into">Receives the annotations.</param>
    public static void Annotate(ReadOnlySpan<byte> options, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var reader = new TcpOptionReader(options);
        while (reader.TryReadNext(out TcpOption option))
        {
            into.Add(new HexAnnotation(baseOffset + option.Offset, option.Length, "Option " + option.ToString()));
        }

        if (reader.HasError)
        {
            into.Add(new HexAnnotation(baseOffset + reader.Offset, options.Length - reader.Offset, "Malformed option: " + reader.Error.WithOffset(baseOffset).ToString()));
        }
        else if (reader.Offset < options.Length)
        {
            into.Add(new HexAnnotation(baseOffset + reader.Offset, options.Length - reader.Offset, "Padding after EOL"));
        }
    }

    /// <summary>The length a known kind must have given the length byte found; <paramref name="length"/> itself for kinds of any length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RequiredLength(byte kind, int length) => (TcpOptionKind)kind switch
    {
        TcpOptionKind.MaximumSegmentSize => 4,   // RFC 9293 3.2
        TcpOptionKind.WindowScale => 3,          // RFC 7323 2.2
        TcpOptionKind.SackPermitted => 2,        // RFC 2018 2
        TcpOptionKind.Timestamps => 10,          // RFC 7323 3.2
        TcpOptionKind.Sack => length switch      // RFC 2018 3: 2 + 8n; n <= 4 fits 40 bytes of options
        {
            < 10 => 10,
            > 34 => 34,
            _ => 2 + (((length - 2 + 7) / 8) * 8),
        },
        _ => length,
    };
}
