using Microsoft.CodeAnalysis.Text;

namespace Protocols.Generators
{
    // The equatable model between the parser and the emitter. Only strings, numbers, enums and
    // equatable arrays: no ISymbol, SyntaxNode, Location or Compilation, so the incremental
    // pipeline can tell "nothing changed" and skip the emitter.

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

    /// <summary>One laid-out field of a header.</summary>
    /// <param name="Name">The field's name.</param>
    /// <param name="Kind">How the bits convert to the type.</param>
    /// <param name="TypeName">Fully qualified C# type (global::...).</param>
    /// <param name="StorageType">byte/ushort/uint/ulong: the type itself or the enum's underlying type ("" for arrays and bools).</param>
    /// <param name="BitOffset">Offset of the most significant bit from the start of the header.</param>
    /// <param name="BitWidth">Width in bits.</param>
    /// <param name="HasConst">Whether [Const] applies.</param>
    /// <param name="ConstValue">The [Const] value.</param>
    /// <param name="HasRange">Whether [Range] applies.</param>
    /// <param name="RangeMin">The [Range] minimum.</param>
    /// <param name="RangeMax">The [Range] maximum.</param>
    /// <param name="HasCustomToString">For fixed arrays: whether the type overrides ToString (else the value form prints hex).</param>
    /// <param name="LittleEndian">Whether [LittleEndian] applies (a whole, byte-aligned 16/32/64-bit field).</param>
    internal sealed record FieldModel(
        string Name,
        FieldKind Kind,
        string TypeName,
        string StorageType,
        int BitOffset,
        int BitWidth,
        bool HasConst,
        ulong ConstValue,
        bool HasRange,
        ulong RangeMin,
        ulong RangeMax,
        bool HasCustomToString,
        bool LittleEndian = false)
    {
        /// <summary>The name as a C# identifier (<c>@class</c> for a field named with a keyword).</summary>
        public string Identifier => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(Name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + Name : Name;

        public int FirstByte => BitOffset / 8;

        public int EndByte => (BitOffset + BitWidth + 7) / 8;

        public int ByteCount => EndByte - FirstByte;

        /// <summary>Bits between the field's least significant bit and the end of its last byte.</summary>
        public int Shift => (EndByte * 8) - (BitOffset + BitWidth);

        public ulong Mask => BitWidth >= 64 ? ulong.MaxValue : (1UL << BitWidth) - 1;
    }

    /// <summary>A type that contains the header (for headers nested in partial types).</summary>
    /// <param name="Keyword">class, struct, record, record struct, interface.</param>
    /// <param name="Name">Name with type parameters, e.g. <c>Outer&lt;T&gt;</c>.</param>
    internal sealed record ContainingTypeModel(string Keyword, string Name);

    /// <summary>Everything the emitter needs for one header.</summary>
    internal sealed record HeaderModel(
        string? Namespace,
        string TypeName,
        EquatableArray<ContainingTypeModel> ContainingTypes,
        string Layer,
        EquatableArray<FieldModel> Fields,
        int FixedLength,
        int HeaderLengthField,
        int HeaderLengthUnit,
        int HeaderLengthBias,
        string HeaderLengthSource,
        int TotalLengthField,
        int PayloadLengthField,
        int ChecksumField,
        int ChecksumCoverage,
        bool ChecksumZeroMeansNone,
        string Keyword)
    {
        public const int CoverageHeader = 0;
        public const int CoveragePseudoHeaderAndMessage = 1;
        public const int CoverageMessage = 2;

        public bool HasChecksum => ChecksumField >= 0;
    }

    /// <summary>A location that can be compared by value and turned back into a Location.</summary>
    internal readonly record struct LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public Microsoft.CodeAnalysis.Location ToLocation() =>
            Microsoft.CodeAnalysis.Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(Microsoft.CodeAnalysis.Location? location)
        {
            if (location is null || location.SourceTree is null)
            {
                return null;
            }

            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }
    }

    /// <summary>A diagnostic as data: its stable id, the message arguments and where it points.</summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, LocationInfo? Location);

    /// <summary>What the parser produces for one [WireHeader] struct: a model when it is valid, and its diagnostics.</summary>
    internal sealed record ParseResult(HeaderModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
