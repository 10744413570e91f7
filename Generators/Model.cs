namespace Protocols.Generators
{
    // The equatable model between the parser and the emitter. Only strings, numbers, enums and
    // equatable arrays: no ISymbol, SyntaxNode, Location or Compilation, so the incremental
    // pipeline can tell "nothing changed" and skip the emitter. Every decision the emitter acts on
    // is made once, by the parser, and recorded here.

    /// <summary>How a field's bits map to its C# type.</summary>
    internal enum FieldKind
    {
        /// <summary>byte, ushort, uint, ulong.</summary>
        Unsigned,

        /// <summary>A one-bit bool.</summary>
        Bool,

        /// <summary>An enum over byte, ushort, uint or ulong.</summary>
        Enum,

        /// <summary>An [InlineArray(N)] struct of bytes, byte-aligned.</summary>
        FixedArray,
    }

    /// <summary>The unsigned integer a numeric field is stored as: the type itself or the enum's underlying type.</summary>
    internal enum StorageType
    {
        /// <summary>Bools and fixed arrays, which are not stored as a number.</summary>
        None,

        /// <summary>byte.</summary>
        Byte,

        /// <summary>ushort.</summary>
        UInt16,

        /// <summary>uint.</summary>
        UInt32,

        /// <summary>ulong.</summary>
        UInt64,
    }

    /// <summary>What a struct-level attribute makes of a field.</summary>
    internal enum FieldRole
    {
        /// <summary>An ordinary field.</summary>
        None,

        /// <summary>[HeaderLength]: the header length, in units.</summary>
        HeaderLength,

        /// <summary>[TotalLength]: the message length, header included.</summary>
        TotalLength,

        /// <summary>[PayloadLength]: the length of what follows the header.</summary>
        PayloadLength,

        /// <summary>[Checksum]: the RFC 1071 checksum.</summary>
        Checksum,
    }

    /// <summary>What a [Checksum] covers (mirrors Protocols.Wire.ChecksumCoverage).</summary>
    internal enum ChecksumCoverage
    {
        /// <summary>The header, options included.</summary>
        Header = 0,

        /// <summary>The pseudo-header from the layer below, then the whole message.</summary>
        PseudoHeaderAndMessage = 1,

        /// <summary>The whole message.</summary>
        Message = 2,
    }

    /// <summary>Where a length came from (mirrors Protocols.Wire.LengthSource; emitted by name).</summary>
    internal enum LengthSource
    {
        /// <summary>Not a length problem.</summary>
        None = 0,

        /// <summary>The end of the buffer.</summary>
        Buffer = 1,

        /// <summary>A header-length field.</summary>
        HeaderLength = 2,

        /// <summary>A total-length field.</summary>
        TotalLength = 3,

        /// <summary>The TCP data offset.</summary>
        DataOffset = 4,

        /// <summary>An option's length byte.</summary>
        OptionLength = 5,

        /// <summary>A payload-length field.</summary>
        PayloadLength = 6,

        /// <summary>A capture length.</summary>
        CaptureLength = 7,
    }

    /// <summary>One laid-out field of a header.</summary>
    /// <param name="Name">The field's name.</param>
    /// <param name="Kind">How the bits convert to the type.</param>
    /// <param name="TypeName">Fully qualified C# type (global::...).</param>
    /// <param name="Storage">The unsigned integer the value is stored as (None for arrays and bools).</param>
    /// <param name="BitOffset">Offset of the most significant bit from the start of the header.</param>
    /// <param name="BitWidth">Width in bits.</param>
    /// <param name="ConstValue">The [Const] value, when the field has one.</param>
    /// <param name="Role">What a struct-level attribute makes of the field.</param>
    /// <param name="HasCustomToString">For fixed arrays: whether the type overrides ToString (else the value form prints hex).</param>
    /// <param name="LittleEndian">Whether [LittleEndian] applies (a whole, byte-aligned 16/32/64-bit field).</param>
    internal sealed record FieldModel(
        string Name,
        FieldKind Kind,
        string TypeName,
        StorageType Storage,
        int BitOffset,
        int BitWidth,
        ulong? ConstValue,
        FieldRole Role,
        bool HasCustomToString,
        bool LittleEndian)
    {
        /// <summary>The name as a C# identifier (<c>@class</c> for a field named with a keyword).</summary>
        public string Identifier => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(Name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + Name : Name;

        /// <summary>The C# keyword of <see cref="Storage"/> ("" for None).</summary>
        public string StorageKeyword => Storage switch
        {
            StorageType.Byte => "byte",
            StorageType.UInt16 => "ushort",
            StorageType.UInt32 => "uint",
            StorageType.UInt64 => "ulong",
            _ => "",
        };

        /// <summary>Bits of <see cref="Storage"/> (64 for None, which is never masked).</summary>
        public int StorageBits => Storage switch
        {
            StorageType.Byte => 8,
            StorageType.UInt16 => 16,
            StorageType.UInt32 => 32,
            _ => 64,
        };

        /// <summary>The byte order in BinaryPrimitives method names: BigEndian, or LittleEndian with [LittleEndian].</summary>
        public string ByteOrder => LittleEndian ? "LittleEndian" : "BigEndian";

        /// <summary>The type of the field's accessors: bool, or the declared type.</summary>
        public string AccessorType => Kind == FieldKind.Bool ? "bool" : TypeName;

        public int FirstByte => BitOffset / 8;

        public int EndByte => (BitOffset + BitWidth + 7) / 8;

        public int ByteCount => EndByte - FirstByte;

        /// <summary>Bits between the field's least significant bit and the end of its last byte.</summary>
        public int Shift => (EndByte * 8) - (BitOffset + BitWidth);

        public ulong Mask => BitWidth >= 64 ? ulong.MaxValue : (1UL << BitWidth) - 1;
    }

    /// <summary>One of the checks TryRead makes, in the order it makes them (docs/header-compiler.md).</summary>
    internal enum CheckKind
    {
        /// <summary>1. The fixed part fits in the buffer.</summary>
        FixedPart,

        /// <summary>2. A [Const] field holds its value.</summary>
        Const,

        /// <summary>2. A [Range] field is within its bounds.</summary>
        Range,

        /// <summary>3. The header length is at least the fixed part.</summary>
        HeaderLengthCoversFixedPart,

        /// <summary>3. The header length fits in the buffer.</summary>
        HeaderLengthFits,

        /// <summary>4. The total length is at least the header length.</summary>
        TotalLengthCoversHeader,

        /// <summary>4. The declared message (total length, or header plus payload length) fits in the buffer; skipped by the lax TryReadHeader.</summary>
        MessageFits,
    }

    /// <summary>
    /// One validation rule of a header, stated once: the fast path of TryRead/TryReadHeader tests
    /// every check of the list in one condition, and ReadError tests them one at a time in the same
    /// order to report the first that fails.
    /// </summary>
    /// <param name="Kind">Which rule.</param>
    /// <param name="Field">The field the rule reads (null for <see cref="CheckKind.FixedPart"/>).</param>
    /// <param name="Minimum">For Const, the value; for Range, the lower bound when it can be crossed.</param>
    /// <param name="Maximum">For Const, the value; for Range, the upper bound when it can be crossed.</param>
    internal sealed record CheckModel(CheckKind Kind, FieldModel? Field, ulong? Minimum, ulong? Maximum)
    {
        /// <summary>Whether TryReadHeader (lax) skips the check.</summary>
        public bool SkippedWhenLax => Kind == CheckKind.MessageFits;
    }

    /// <summary>A type that contains the header (for headers nested in partial types).</summary>
    /// <param name="Keyword">class, struct, record, record struct, interface.</param>
    /// <param name="Name">Name with type parameters, e.g. <c>Outer&lt;T&gt;</c>.</param>
    internal sealed record ContainingTypeModel(string Keyword, string Name);

    /// <summary>Everything the emitter needs for one header.</summary>
    /// <param name="Namespace">The namespace, or null for the global one.</param>
    /// <param name="TypeName">The header's name with type parameters.</param>
    /// <param name="ContainingTypes">The types around it, outermost first.</param>
    /// <param name="Layer">The layer name of errors and traces.</param>
    /// <param name="Fields">The fields in declaration order.</param>
    /// <param name="Checks">The validation rules in the order TryRead applies them.</param>
    /// <param name="FixedLength">Bytes of the fixed part.</param>
    /// <param name="HeaderLengthUnit">Bytes per unit of the [HeaderLength] field (1 without one).</param>
    /// <param name="HeaderLengthBias">Units the [HeaderLength] field does not count, added before the unit (0 without one).</param>
    /// <param name="HeaderLengthSource">The LengthSource a too-small header length reports.</param>
    /// <param name="ChecksumCoverage">What the [Checksum] covers.</param>
    /// <param name="ChecksumZeroMeansNone">Whether a zero checksum means "none" (UDP).</param>
    /// <param name="PrefixLength">With [QuotedPrefix(n)]: the n leading bytes a prefix reader reads; null without.</param>
    /// <param name="Keyword">struct or record struct.</param>
    internal sealed record HeaderModel(
        string? Namespace,
        string TypeName,
        EquatableArray<ContainingTypeModel> ContainingTypes,
        string Layer,
        EquatableArray<FieldModel> Fields,
        EquatableArray<CheckModel> Checks,
        int FixedLength,
        int HeaderLengthUnit,
        int HeaderLengthBias,
        LengthSource HeaderLengthSource,
        ChecksumCoverage ChecksumCoverage,
        bool ChecksumZeroMeansNone,
        int? PrefixLength,
        string Keyword)
    {
        /// <summary>The [HeaderLength] field, if any.</summary>
        public FieldModel? HeaderLengthField => WithRole(FieldRole.HeaderLength);

        /// <summary>The [TotalLength] field, if any.</summary>
        public FieldModel? TotalLengthField => WithRole(FieldRole.TotalLength);

        /// <summary>The [PayloadLength] field, if any.</summary>
        public FieldModel? PayloadLengthField => WithRole(FieldRole.PayloadLength);

        /// <summary>The [Checksum] field, if any.</summary>
        public FieldModel? ChecksumField => WithRole(FieldRole.Checksum);

        /// <summary>The total- or payload-length field, whichever the header declares.</summary>
        public FieldModel? MessageLengthField => TotalLengthField ?? PayloadLengthField;

        private FieldModel? WithRole(FieldRole role)
        {
            foreach (FieldModel field in Fields)
            {
                if (field.Role == role)
                {
                    return field;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// A diagnostic as data: its stable id, the message arguments and where it points. The location
    /// is the source location itself (its syntax tree's <c>#pragma warning</c> directives apply to
    /// it); it travels only on the diagnostics output, never into <see cref="HeaderModel"/>.
    /// </summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, Microsoft.CodeAnalysis.Location? Location);

    /// <summary>What the parser produces for one [WireHeader] struct: a model when it is valid, and its diagnostics.</summary>
    internal sealed record ParseResult(HeaderModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
