namespace Protocols.Wire;

/// <summary>What went wrong while reading bytes from the wire.</summary>
public enum WireErrorKind
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>Fewer bytes than required: see <see cref="WireError.Required"/>, <see cref="WireError.Actual"/> and <see cref="WireError.Source"/>.</summary>
    TooShort = 1,

    /// <summary>A length field declares less than the minimum it must cover (e.g. IHL below 5).</summary>
    LengthTooSmall = 2,

    /// <summary>A field holds a value its protocol forbids (e.g. IPv4 version 6).</summary>
    InvalidValue = 3,

    /// <summary>The bytes are structurally malformed (e.g. an option length of 1).</summary>
    Malformed = 4,
}

/// <summary>Where the length that limited a read came from (etherparse's "length source").</summary>
public enum LengthSource
{
    /// <summary>Not a length problem.</summary>
    None = 0,

    /// <summary>The end of the buffer (the slice given to the reader).</summary>
    Buffer = 1,

    /// <summary>A header-length field such as IPv4 IHL.</summary>
    HeaderLength = 2,

    /// <summary>A total-length field such as IPv4 total length or UDP length.</summary>
    TotalLength = 3,

    /// <summary>The TCP data offset field.</summary>
    DataOffset = 4,

    /// <summary>The length byte of an option (IPv4, TCP) or of a TLS vector.</summary>
    OptionLength = 5,

    /// <summary>A payload-length field such as the TLS record or handshake length.</summary>
    PayloadLength = 6,

    /// <summary>The capture length of a frame in a capture file.</summary>
    CaptureLength = 7,
}

/// <summary>
/// A typed read error: which layer, which field, what was required against what was there, and
/// where the limiting length came from. Parsers return it instead of throwing.
/// </summary>
/// <param name="Kind">What went wrong.</param>
/// <param name="Layer">The protocol, e.g. <c>"IPv4"</c>.</param>
/// <param name="Field">The field (or option) concerned, e.g. <c>"TotalLength"</c>.</param>
/// <param name="Required">For length errors the number of bytes required; for value errors the value expected (or the minimum).</param>
/// <param name="Actual">For length errors the number of bytes available; for value errors the value found.</param>
/// <param name="Source">Where the limiting length came from.</param>
/// <param name="Offset">Byte offset, relative to the start of the layer, where the problem was found.</param>
public readonly record struct WireError(
    WireErrorKind Kind,
    string Layer,
    string Field,
    long Required,
    long Actual,
    LengthSource Source,
    int Offset = 0)
{
    /// <summary>True when this value describes an error.</summary>
    public bool IsError => Kind != WireErrorKind.None;

    /// <summary>A length error.</summary>
    public static WireError TooShort(string layer, string field, long required, long actual, LengthSource source, int offset = 0)
        => new(WireErrorKind.TooShort, layer, field, required, actual, source, offset);

    /// <summary>A forbidden field value.</summary>
    public static WireError InvalidValue(string layer, string field, long expected, long actual, int offset = 0)
        => new(WireErrorKind.InvalidValue, layer, field, expected, actual, LengthSource.None, offset);

    /// <summary>A length field smaller than what it must cover.</summary>
    public static WireError LengthTooSmall(string layer, string field, long minimum, long actual, LengthSource source, int offset = 0)
        => new(WireErrorKind.LengthTooSmall, layer, field, minimum, actual, source, offset);

    /// <summary>Structurally malformed bytes.</summary>
    public static WireError Malformed(string layer, string field, long required, long actual, LengthSource source, int offset = 0)
        => new(WireErrorKind.Malformed, layer, field, required, actual, source, offset);

    /// <summary>The same error moved by <paramref name="delta"/> bytes (for errors found in a nested layer).</summary>
    public WireError WithOffset(int delta) => this with { Offset = Offset + delta };

    /// <summary>A one-line description, e.g. <c>IPv4.TotalLength: need 60 bytes, have 20 (limited by buffer) at offset 2</c>.</summary>
    public override string ToString() => Kind switch
    {
        WireErrorKind.None => "no error",
        WireErrorKind.TooShort =>
            $"{Layer}.{Field}: need {Required} bytes, have {Actual} (limited by {SourceName(Source)}) at offset {Offset}",
        WireErrorKind.LengthTooSmall =>
            $"{Layer}.{Field}: length {Actual} is below the minimum {Required} ({SourceName(Source)}) at offset {Offset}",
        WireErrorKind.InvalidValue =>
            $"{Layer}.{Field}: invalid value {Actual} (expected {Required}) at offset {Offset}",
        _ =>
            $"{Layer}.{Field}: malformed (need {Required}, have {Actual}, {SourceName(Source)}) at offset {Offset}",
    };

    private static string SourceName(LengthSource source) => source switch
    {
        LengthSource.Buffer => "buffer",
        LengthSource.HeaderLength => "header length",
        LengthSource.TotalLength => "total length",
        LengthSource.DataOffset => "data offset",
        LengthSource.OptionLength => "option length",
        LengthSource.PayloadLength => "payload length",
        LengthSource.CaptureLength => "capture length",
        _ => "value",
    };
}

/// <summary>Thrown by the convenience value-form readers (<c>H.Read</c>) when the bytes are invalid.</summary>
public sealed class WireException : Exception
{
    /// <summary>Wraps a <see cref="WireError"/>.</summary>
    public WireException(WireError error)
        : base(error.ToString()) => Error = error;

    /// <summary>The error.</summary>
    public WireError Error { get; }
}
