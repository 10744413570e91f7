using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Protocols.Generators
{
    /// <summary>
    /// The header compiler's diagnostics: one descriptor per mistake, each message saying what is
    /// wrong and how to fix it. IDs are stable: never renumber, only add (and list new ones in
    /// AnalyzerReleases.Unshipped.md).
    /// </summary>
    internal static class Diagnostics
    {
        private const string Category = "Protocols.HeaderCompiler";

        public static readonly DiagnosticDescriptor NotPartial = new DiagnosticDescriptor(
            id: "PROTO001",
            title: "Wire header must be partial",
            messageFormat: "{0} '{1}' must be declared 'partial' so the header compiler can add its reader and writer",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotWholeBytes = new DiagnosticDescriptor(
            id: "PROTO002",
            title: "Header fields do not fill whole bytes",
            messageFormat: "The fields of '{0}' cover {1} bits, which is not a whole number of bytes; add or widen a field, for example a reserved field of {2} bits",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedType = new DiagnosticDescriptor(
            id: "PROTO003",
            title: "Unsupported header field type",
            messageFormat: "Field '{0}' has type {1}, which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownReference = new DiagnosticDescriptor(
            id: "PROTO004",
            title: "Header attribute names no field",
            messageFormat: "[{0}] names '{1}', which is not an instance field of '{2}'; use nameof(...) on one of its fields",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LengthFieldNotUnsigned = new DiagnosticDescriptor(
            id: "PROTO005",
            title: "Length attribute names a field that is not an unsigned integer",
            messageFormat: "[{0}] names field '{1}', which is {2}; a length field must be an unsigned integer (byte, ushort, uint or ulong): change the field's type or name another field",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Overlap = new DiagnosticDescriptor(
            id: "PROTO006",
            title: "Header fields overlap",
            messageFormat: "Field '{0}' (bits {1}..{2}) overlaps field '{3}' (bits {4}..{5}); change the [Bits(Offset = ...)] values so that every bit belongs to one field",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor WidthDoesNotFitType = new DiagnosticDescriptor(
            id: "PROTO007",
            title: "Field width does not fit its type",
            messageFormat: "Field '{0}' is {1} bits wide but its type {2} holds 1 to {3}; use [Bits(n)] with n from 1 to {3}, or a wider type",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ValueDoesNotFit = new DiagnosticDescriptor(
            id: "PROTO008",
            title: "Const or Range value does not fit the field",
            messageFormat: "[{0}] on field '{1}' allows {2}, which does not fit its {3} bits (largest value {4}); use values up to {4} or a wider field",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LittleEndianNotWhole = new DiagnosticDescriptor(
            id: "PROTO009",
            title: "Little-endian field is not a whole word",
            messageFormat: "Field '{0}' is [LittleEndian] but is {1} bits wide at bit {2}; byte order applies only to a whole ushort, uint or ulong (or an enum over one) at a byte boundary, so remove [LittleEndian] or declare the field that way",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ReservedName = new DiagnosticDescriptor(
            id: "PROTO010",
            title: "Field has the name of a generated member",
            messageFormat: "Field '{0}' would collide with the member '{1}' the header compiler generates; rename the field",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor TwoRoles = new DiagnosticDescriptor(
            id: "PROTO011",
            title: "One field named by two header attributes",
            messageFormat: "Field '{0}' is named by both [{1}] and [{2}]; each role needs its own field, so name another field in one of them",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor TotalAndPayloadLength = new DiagnosticDescriptor(
            id: "PROTO012",
            title: "Header declares both a total and a payload length",
            messageFormat: "'{0}' declares both [TotalLength] and [PayloadLength]; keep only the one its protocol defines",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ChecksumFieldShape = new DiagnosticDescriptor(
            id: "PROTO013",
            title: "Checksum field is not a 16-bit word",
            messageFormat: "[Checksum] names field '{0}', a {1}-bit {2} at bit {3}; RFC 1071 sums 16-bit words, so the checksum must be a 16-bit unsigned integer (ushort, or [Bits(16)] on a wider type) at an even byte offset",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownCoverage = new DiagnosticDescriptor(
            id: "PROTO014",
            title: "Checksum coverage is not a ChecksumCoverage member",
            messageFormat: "[Checksum] on '{0}' has coverage {1}, which is not a ChecksumCoverage member; use ChecksumCoverage.Header, ChecksumCoverage.Message or ChecksumCoverage.PseudoHeaderAndMessage",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InvalidUnit = new DiagnosticDescriptor(
            id: "PROTO015",
            title: "Header length unit is below 1",
            messageFormat: "[HeaderLength] on '{0}' has Unit = {1}; the unit is the number of bytes one count of the field stands for, at least 1 (4 for IPv4 IHL and the TCP data offset)",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BoolWidth = new DiagnosticDescriptor(
            id: "PROTO016",
            title: "Bool field wider than one bit",
            messageFormat: "Field '{0}' is a bool declared {1} bits wide; a bool is exactly 1 bit, so remove [Bits] or use a byte for a wider flag set",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor FixedArrayWidth = new DiagnosticDescriptor(
            id: "PROTO017",
            title: "Bits on a fixed array",
            messageFormat: "Field '{0}' is a fixed array of {1} bytes, and [Bits({2})] would give it another width; a fixed array is as wide as its type, so remove [Bits] (or its width)",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor FixedArrayAlignment = new DiagnosticDescriptor(
            id: "PROTO018",
            title: "Fixed array not on a byte boundary",
            messageFormat: "Field '{0}' is a fixed array starting at bit {1}, which is not on a byte boundary; widen the fields before it to whole bytes or set [Bits(Offset = ...)] to a multiple of 8",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor EmptyRange = new DiagnosticDescriptor(
            id: "PROTO019",
            title: "Range minimum above its maximum",
            messageFormat: "[Range({0}, {1})] on field '{2}' has its minimum above its maximum, so no value passes; swap the two bounds",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ValueOnFixedArray = new DiagnosticDescriptor(
            id: "PROTO020",
            title: "Const or Range on a fixed array",
            messageFormat: "[{0}] on field '{1}', a fixed array; [Const] and [Range] apply to numeric, bool and enum fields, so remove it and check the bytes where they are used",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InvalidPrefix = new DiagnosticDescriptor(
            id: "PROTO021",
            title: "Prefix length outside the fixed part",
            messageFormat: "[Prefix({0})] on '{1}' must name a length from 1 to {2}, the header's fixed part, less than the whole of it; use TryReadHeader to read the whole header",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InvalidBias = new DiagnosticDescriptor(
            id: "PROTO022",
            title: "Header length bias out of range",
            messageFormat: "[HeaderLength] on '{0}' has Bias = {1}; the bias is the number of units the field does not count, from 0 to 255 (1 for an IPv6 extension header, whose length leaves out its first 8 octets)",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        private static readonly Dictionary<string, DiagnosticDescriptor> ById = new Dictionary<string, DiagnosticDescriptor>();

        static Diagnostics()
        {
            foreach (DiagnosticDescriptor descriptor in new[]
            {
                NotPartial, NotWholeBytes, UnsupportedType, UnknownReference, LengthFieldNotUnsigned, Overlap, WidthDoesNotFitType,
                ValueDoesNotFit, LittleEndianNotWhole, ReservedName, TwoRoles, TotalAndPayloadLength, ChecksumFieldShape, UnknownCoverage, InvalidUnit,
                BoolWidth, FixedArrayWidth, FixedArrayAlignment, EmptyRange, ValueOnFixedArray, InvalidPrefix, InvalidBias,
            })
            {
                ById.Add(descriptor.Id, descriptor);
            }
        }

        /// <summary>Every descriptor, by id.</summary>
        public static IReadOnlyDictionary<string, DiagnosticDescriptor> All => ById;

        public static Diagnostic Create(DiagnosticInfo info)
        {
            object[] args = new object[info.Arguments.Count];
            for (int i = 0; i < args.Length; i++)
            {
                args[i] = info.Arguments[i];
            }

            return Diagnostic.Create(ById[info.Id], info.Location ?? Location.None, args);
        }
    }
}
