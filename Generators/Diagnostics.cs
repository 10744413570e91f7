using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Protocols.Generators
{
    /// <summary>The header compiler's diagnostics. IDs are stable: never renumber, only add.</summary>
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

        public static readonly DiagnosticDescriptor WrongReferenceType = new DiagnosticDescriptor(
            id: "PROTO005",
            title: "Header attribute names a field of the wrong type",
            messageFormat: "[{0}] names field '{1}', but {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Overlap = new DiagnosticDescriptor(
            id: "PROTO006",
            title: "Overlapping or duplicate header layout",
            messageFormat: "{0}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InvalidWidth = new DiagnosticDescriptor(
            id: "PROTO007",
            title: "Invalid field width",
            messageFormat: "{0}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ValueDoesNotFit = new DiagnosticDescriptor(
            id: "PROTO008",
            title: "Const or Range value does not fit the field",
            messageFormat: "{0}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LittleEndianNotWhole = new DiagnosticDescriptor(
            id: "PROTO009",
            title: "Little-endian field is not a whole word",
            messageFormat: "Field '{0}' is [LittleEndian] but is {1} bits wide at bit {2}; byte order applies only to a ushort, uint or ulong (or an enum over one) at a byte boundary with its full width",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        private static readonly Dictionary<string, DiagnosticDescriptor> ById = new Dictionary<string, DiagnosticDescriptor>
        {
            [NotPartial.Id] = NotPartial,
            [NotWholeBytes.Id] = NotWholeBytes,
            [UnsupportedType.Id] = UnsupportedType,
            [UnknownReference.Id] = UnknownReference,
            [WrongReferenceType.Id] = WrongReferenceType,
            [Overlap.Id] = Overlap,
            [InvalidWidth.Id] = InvalidWidth,
            [ValueDoesNotFit.Id] = ValueDoesNotFit,
            [LittleEndianNotWhole.Id] = LittleEndianNotWhole,
        };

        public static DiagnosticDescriptor Get(string id) => ById[id];

        public static Diagnostic Create(DiagnosticInfo info)
        {
            object[] args = new object[info.Arguments.Count];
            for (int i = 0; i < args.Length; i++)
            {
                args[i] = info.Arguments[i];
            }

            return Diagnostic.Create(Get(info.Id), info.Location?.ToLocation() ?? Location.None, args);
        }
    }
}
