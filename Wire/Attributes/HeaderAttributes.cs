namespace Protocols.Wire;

// The attribute language of the header compiler (Protocols.Generators).
//
// A header is a `partial struct` marked [WireHeader]. Its instance fields, in declaration order,
// are laid out big-endian (network order), most significant bit first, one after another.
// The generator turns the struct into a zero-copy Reader, a Writer, value-form Read/WriteTo,
// checksum helpers and a readable ToString(). See docs/header-compiler.md for the generated API.

/// <summary>Marks a <c>partial struct</c> as a wire header compiled by the Protocols header generator.</summary>
/// <remarks>
/// Instance fields are laid out in declaration order, big-endian, most significant bit first.
/// Supported field types: <see cref="byte"/>, <see cref="ushort"/>, <see cref="uint"/>,
/// <see cref="ulong"/>, <see cref="bool"/> (one bit), enums over those, and fixed byte arrays
/// (structs marked <c>[InlineArray(N)]</c> whose element is a <see cref="byte"/>, such as
/// <see cref="MacAddress"/> and <see cref="Ipv4Address"/>).
/// </remarks>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class WireHeaderAttribute : Attribute
{
    /// <summary>Declares a header.</summary>
    /// <param name="layer">The protocol name used in errors and traces, e.g. <c>"IPv4"</c>.</param>
    public WireHeaderAttribute(string layer) => Layer = layer;

    /// <summary>The protocol name used in errors and traces.</summary>
    public string Layer { get; }
}

/// <summary>Gives a field's width in bits (1..64) and, optionally, its explicit bit offset.</summary>
/// <remarks>
/// Without this attribute a field is as wide as its type (8, 16, 32, 64 bits; enums use their
/// underlying type; a <see cref="bool"/> is one bit; a fixed byte array is 8 bits per element).
/// </remarks>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class BitsAttribute : Attribute
{
    /// <summary>Declares the width of the field in bits.</summary>
    public BitsAttribute(int width) => Width = width;

    /// <summary>Width of the field in bits.</summary>
    public int Width { get; }

    /// <summary>
    /// Explicit offset of the field's most significant bit from the start of the header, in bits.
    /// Negative (the default) means "right after the previous field".
    /// </summary>
    public int Offset { get; set; } = -1;
}

/// <summary>
/// The field is stored least significant byte first, for the few structures that travel between a
/// program and its own kernel in host order rather than network order (the virtio-net header of a
/// TUN or AF_PACKET device is little-endian on every host this project runs on).
/// </summary>
/// <remarks>Only whole, byte-aligned 16-, 32- and 64-bit fields can be little-endian (PROTO009).</remarks>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class LittleEndianAttribute : Attribute
{
}

/// <summary>The field must hold exactly this value: readers reject anything else, writers always write it.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class ConstAttribute : Attribute
{
    /// <summary>Declares the required value.</summary>
    public ConstAttribute(ulong value) => Value = value;

    /// <summary>The required value.</summary>
    public ulong Value { get; }
}

/// <summary>The field must hold a value in [<see cref="Min"/>, <see cref="Max"/>]: readers reject anything else.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class RangeAttribute : Attribute
{
    /// <summary>Declares the inclusive range.</summary>
    public RangeAttribute(ulong min, ulong max)
    {
        Min = min;
        Max = max;
    }

    /// <summary>Smallest allowed value.</summary>
    public ulong Min { get; }

    /// <summary>Largest allowed value.</summary>
    public ulong Max { get; }
}

/// <summary>
/// Names the field that holds the header's own length (IPv4 IHL, TCP data offset, IPv6 Hdr Ext
/// Len). The bytes between the fixed part and <c>(field + Bias) × Unit</c> are the header's
/// options region; what follows is the payload.
/// </summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class HeaderLengthAttribute : Attribute
{
    /// <summary>Declares the header-length field.</summary>
    public HeaderLengthAttribute(string field) => Field = field;

    /// <summary>The name of the header-length field (use <c>nameof</c>).</summary>
    public string Field { get; }

    /// <summary>Bytes per unit of the field (4 for IHL and data offset). Default 1.</summary>
    public int Unit { get; set; } = 1;

    /// <summary>
    /// Units the field does not count, added before multiplying by <see cref="Unit"/> (0 to 255):
    /// 1 for an IPv6 extension header, whose length is "in 8-octet units, not including the first
    /// 8 octets" (RFC 8200 4.3). Default 0.
    /// </summary>
    public int Bias { get; set; }

    /// <summary>How the limiting length is reported in errors. Default <see cref="LengthSource.HeaderLength"/>.</summary>
    public LengthSource Source { get; set; } = LengthSource.HeaderLength;
}

/// <summary>Names the field that holds the length of the whole message, header included (IPv4 total length, UDP length).</summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class TotalLengthAttribute : Attribute
{
    /// <summary>Declares the total-length field.</summary>
    public TotalLengthAttribute(string field) => Field = field;

    /// <summary>The name of the total-length field (use <c>nameof</c>).</summary>
    public string Field { get; }
}

/// <summary>Names the field that holds the length of what follows the header (TLS record length, handshake length).</summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class PayloadLengthAttribute : Attribute
{
    /// <summary>Declares the payload-length field.</summary>
    public PayloadLengthAttribute(string field) => Field = field;

    /// <summary>The name of the payload-length field (use <c>nameof</c>).</summary>
    public string Field { get; }
}

/// <summary>Names the checksum field, its algorithm and what it covers.</summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class ChecksumAttribute : Attribute
{
    /// <summary>Declares the checksum field.</summary>
    public ChecksumAttribute(string field, ChecksumCoverage coverage)
    {
        Field = field;
        Coverage = coverage;
    }

    /// <summary>The name of the checksum field (use <c>nameof</c>); it must be 16 bits wide.</summary>
    public string Field { get; }

    /// <summary>Which bytes the checksum covers.</summary>
    public ChecksumCoverage Coverage { get; }

    /// <summary>The algorithm. Default (and today the only one): the RFC 1071 Internet checksum.</summary>
    public ChecksumAlgorithm Algorithm { get; set; } = ChecksumAlgorithm.Internet;

    /// <summary>
    /// A transmitted zero means "no checksum" (UDP over IPv4, RFC 768): verification accepts it,
    /// and a computed zero is sent as 0xFFFF.
    /// </summary>
    public bool ZeroMeansNone { get; set; }
}

/// <summary>Checksum algorithms the generator knows.</summary>
public enum ChecksumAlgorithm
{
    /// <summary>The RFC 1071 ones'-complement sum of 16-bit words.</summary>
    Internet = 0,
}

/// <summary>What a checksum covers.</summary>
public enum ChecksumCoverage
{
    /// <summary>The header only, options included (IPv4).</summary>
    Header = 0,

    /// <summary>A pseudo-header from the layer below, then the whole message: header and payload (TCP, UDP).</summary>
    PseudoHeaderAndMessage = 1,

    /// <summary>The whole message: header and payload (ICMP).</summary>
    Message = 2,
}

/// <summary>
/// Declares that protocols carry only the first <see cref="Length"/> bytes of this header: an ICMP
/// error quotes the offending datagram's IP header and just 64 bits of its data (RFC 792), which is
/// the first 8 bytes of a TCP header. The generator adds <c>TryReadPrefix</c> and a <c>PrefixReader</c>
/// with the fields that lie wholly within those bytes.
/// </summary>
[AttributeUsage(AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class PrefixAttribute : Attribute
{
    /// <summary>Declares the prefix.</summary>
    /// <param name="length">The number of leading bytes, from 1 to less than the fixed part.</param>
    public PrefixAttribute(int length) => Length = length;

    /// <summary>The number of leading bytes a prefix reader needs.</summary>
    public int Length { get; }
}
