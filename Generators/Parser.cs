using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Protocols.Generators
{
    /// <summary>
    /// Turns a [WireHeader] struct symbol into an equatable <see cref="HeaderModel"/> plus diagnostics.
    /// Nothing of the compilation escapes this class.
    /// </summary>
    internal static class Parser
    {
        private const string WireNamespace = "Protocols.Wire.";
        private const string BitsAttribute = WireNamespace + "BitsAttribute";
        private const string ConstAttribute = WireNamespace + "ConstAttribute";
        private const string RangeAttribute = WireNamespace + "RangeAttribute";
        private const string LittleEndianAttribute = WireNamespace + "LittleEndianAttribute";
        private const string HeaderLengthAttribute = WireNamespace + "HeaderLengthAttribute";
        private const string TotalLengthAttribute = WireNamespace + "TotalLengthAttribute";
        private const string PayloadLengthAttribute = WireNamespace + "PayloadLengthAttribute";
        private const string ChecksumAttribute = WireNamespace + "ChecksumAttribute";
        private const string InlineArrayAttribute = "System.Runtime.CompilerServices.InlineArrayAttribute";

        // Members the generator adds to the header or its Reader/Writer; a field of the same name
        // would not compile, so it is reported as PROTO006 instead.
        private static readonly HashSet<string> ReservedNames = new HashSet<string>
        {
            "LayerName", "FixedLength", "Fields", "TryRead", "Read", "WriteTo", "TryWriteTo", "Annotate",
            "ComputeChecksum", "VerifyChecksum", "FillChecksum", "Reader", "Writer", "Bytes", "HeaderLength",
            "Header", "Options", "Payload", "ToValue", "WriteConstants", "ToString", "ChecksummedBytes",
            "SumWithoutChecksum", "ChecksumWord", "FormatEnum", "FirstFieldBeyond",
            "TryReadHeader", "ReadError", "FixedPart", "Fixed", "ThrowTooShort", "DeclaredLength", "IsTruncated",
            "SetAll",
        };

        private static readonly string[] LengthSourceNames =
        {
            "None", "Buffer", "HeaderLength", "TotalLength", "DataOffset", "OptionLength", "PayloadLength", "CaptureLength",
        };

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var diagnostics = new List<DiagnosticInfo>();
            var syntax = (TypeDeclarationSyntax)context.TargetNode;

            // PROTO001: the header and every type around it must be partial.
            if (!IsPartial(syntax))
            {
                diagnostics.Add(Diag(Diagnostics.NotPartial, syntax.Identifier.GetLocation(), "Struct", type.Name));
            }

            var containing = new List<ContainingTypeModel>();
            for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
            {
                foreach (SyntaxReference reference in outer.DeclaringSyntaxReferences)
                {
                    if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax outerSyntax && !IsPartial(outerSyntax))
                    {
                        diagnostics.Add(Diag(Diagnostics.NotPartial, outerSyntax.Identifier.GetLocation(), "Containing type", outer.Name));
                        break;
                    }
                }

                containing.Insert(0, new ContainingTypeModel(Keyword(outer), NameWithTypeParameters(outer)));
            }

            string layer = context.Attributes.Length > 0 && context.Attributes[0].ConstructorArguments.Length > 0
                ? context.Attributes[0].ConstructorArguments[0].Value as string ?? type.Name
                : type.Name;

            // Fields, in declaration order.
            var fields = new List<FieldModel>();
            var fieldLocations = new List<Location?>();
            int cursor = 0;
            bool layoutOk = true;
            foreach (ISymbol member in type.GetMembers())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (member is not IFieldSymbol field || field.IsStatic || field.IsConst || field.IsImplicitlyDeclared)
                {
                    continue;
                }

                Location? location = field.Locations.FirstOrDefault();
                FieldModel? model = ParseField(field, location, ref cursor, diagnostics);
                if (model is null)
                {
                    layoutOk = false;
                    continue;
                }

                if (ReservedNames.Contains(model.Name))
                {
                    diagnostics.Add(Diag(Diagnostics.Overlap, location,
                        $"Field '{model.Name}' has the name of a member the header compiler generates; rename it"));
                }

                fields.Add(model);
                fieldLocations.Add(location);
            }

            int totalBits = 0;
            if (layoutOk)
            {
                // PROTO006: explicit offsets must not make fields overlap.
                var byOffset = Enumerable.Range(0, fields.Count).OrderBy(i => fields[i].BitOffset).ToList();
                for (int k = 1; k < byOffset.Count; k++)
                {
                    FieldModel previous = fields[byOffset[k - 1]];
                    FieldModel current = fields[byOffset[k]];
                    if (current.BitOffset < previous.BitOffset + previous.BitWidth)
                    {
                        diagnostics.Add(Diag(Diagnostics.Overlap, fieldLocations[byOffset[k]],
                            $"Field '{current.Name}' (bits {current.BitOffset}..{current.BitOffset + current.BitWidth - 1}) overlaps field '{previous.Name}' (bits {previous.BitOffset}..{previous.BitOffset + previous.BitWidth - 1}); fix the [Bits(Offset = ...)] values"));
                    }
                }

                foreach (FieldModel f in fields)
                {
                    totalBits = System.Math.Max(totalBits, f.BitOffset + f.BitWidth);
                }

                // PROTO002: whole bytes.
                if (totalBits % 8 != 0)
                {
                    diagnostics.Add(Diag(Diagnostics.NotWholeBytes, syntax.Identifier.GetLocation(),
                        type.Name, totalBits.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        (8 - (totalBits % 8)).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                }
            }

            // Struct-level references.
            int headerLengthField = -1, totalLengthField = -1, payloadLengthField = -1, checksumField = -1;
            int unit = 1, bias = 0, coverage = 0;
            string headerLengthSource = "HeaderLength";
            bool zeroMeansNone = false;
            var roles = new Dictionary<int, string>();
            foreach (AttributeData attribute in type.GetAttributes())
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                if (name is not (HeaderLengthAttribute or TotalLengthAttribute or PayloadLengthAttribute or ChecksumAttribute))
                {
                    continue;
                }

                string shortName = name.Substring(WireNamespace.Length, name.Length - WireNamespace.Length - "Attribute".Length);
                Location? attributeLocation = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
                string? target = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as string : null;
                int index = target is null ? -1 : fields.FindIndex(f => f.Name == target);
                if (index < 0)
                {
                    if (layoutOk || !fieldLocations.Any())
                    {
                        diagnostics.Add(Diag(Diagnostics.UnknownReference, attributeLocation, shortName, target ?? "", type.Name));
                    }

                    continue;
                }

                FieldModel referenced = fields[index];
                if (roles.TryGetValue(index, out string? otherRole))
                {
                    diagnostics.Add(Diag(Diagnostics.Overlap, attributeLocation,
                        $"Field '{referenced.Name}' is used both by [{otherRole}] and by [{shortName}]; each role needs its own field"));
                    continue;
                }

                roles[index] = shortName;
                if (name == ChecksumAttribute)
                {
                    if (referenced.Kind != FieldKind.Unsigned || referenced.BitWidth != 16 || referenced.BitOffset % 16 != 0)
                    {
                        diagnostics.Add(Diag(Diagnostics.WrongReferenceType, attributeLocation, shortName, referenced.Name,
                            $"a checksum field must be a 16-bit unsigned integer (ushort, or [Bits(16)] on a wider one) at an even byte offset, since RFC 1071 sums 16-bit words, and it is a {referenced.BitWidth}-bit {Short(referenced)} at bit {referenced.BitOffset}"));
                        continue;
                    }

                    checksumField = index;
                    coverage = attribute.ConstructorArguments.Length > 1 && attribute.ConstructorArguments[1].Value is int c ? c : 0;
                    foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
                    {
                        if (named.Key == "ZeroMeansNone" && named.Value.Value is bool z)
                        {
                            zeroMeansNone = z;
                        }
                    }

                    if (coverage is < 0 or > 2)
                    {
                        diagnostics.Add(Diag(Diagnostics.WrongReferenceType, attributeLocation, shortName, referenced.Name,
                            $"the coverage value {coverage} is not a ChecksumCoverage member"));
                    }

                    continue;
                }

                if (referenced.Kind != FieldKind.Unsigned)
                {
                    diagnostics.Add(Diag(Diagnostics.WrongReferenceType, attributeLocation, shortName, referenced.Name,
                        $"a length field must be an unsigned integer (byte, ushort, uint, ulong), and it is a {Short(referenced)}"));
                    continue;
                }

                if (name == HeaderLengthAttribute)
                {
                    headerLengthField = index;
                    foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
                    {
                        if (named.Key == "Unit" && named.Value.Value is int u)
                        {
                            unit = u;
                        }
                        else if (named.Key == "Bias" && named.Value.Value is int b)
                        {
                            bias = b;
                        }
                        else if (named.Key == "Source" && named.Value.Value is int s && s >= 0 && s < LengthSourceNames.Length)
                        {
                            headerLengthSource = LengthSourceNames[s];
                        }
                    }

                    if (unit < 1)
                    {
                        diagnostics.Add(Diag(Diagnostics.WrongReferenceType, attributeLocation, shortName, referenced.Name,
                            $"Unit is {unit}; it must be at least 1 byte per unit"));
                    }

                    if (bias is < 0 or > 255)
                    {
                        diagnostics.Add(Diag(Diagnostics.WrongReferenceType, attributeLocation, shortName, referenced.Name,
                            $"Bias is {bias}; it must be 0 to 255 units (the units the field does not count, e.g. 1 for an IPv6 extension header)"));
                    }
                }
                else if (name == TotalLengthAttribute)
                {
                    totalLengthField = index;
                }
                else
                {
                    payloadLengthField = index;
                }
            }

            if (totalLengthField >= 0 && payloadLengthField >= 0)
            {
                diagnostics.Add(Diag(Diagnostics.Overlap, syntax.Identifier.GetLocation(),
                    $"'{type.Name}' declares both [TotalLength] and [PayloadLength]; keep the one the protocol defines"));
            }

            bool hasErrors = diagnostics.Count > 0;
            HeaderModel? header = hasErrors ? null : new HeaderModel(
                type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                NameWithTypeParameters(type),
                new EquatableArray<ContainingTypeModel>(containing.ToArray()),
                layer,
                new EquatableArray<FieldModel>(fields.ToArray()),
                totalBits / 8,
                headerLengthField,
                unit,
                bias,
                headerLengthSource,
                totalLengthField,
                payloadLengthField,
                checksumField,
                coverage,
                zeroMeansNone,
                Keyword(type));

            return new ParseResult(header, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));
        }

        private static FieldModel? ParseField(IFieldSymbol field, Location? location, ref int cursor, List<DiagnosticInfo> diagnostics)
        {
            ITypeSymbol type = field.Type;
            FieldKind kind;
            string storage = "";
            int naturalWidth;
            bool customToString = false;
            switch (type.SpecialType)
            {
                case SpecialType.System_Byte: kind = FieldKind.Unsigned; storage = "byte"; naturalWidth = 8; break;
                case SpecialType.System_UInt16: kind = FieldKind.Unsigned; storage = "ushort"; naturalWidth = 16; break;
                case SpecialType.System_UInt32: kind = FieldKind.Unsigned; storage = "uint"; naturalWidth = 32; break;
                case SpecialType.System_UInt64: kind = FieldKind.Unsigned; storage = "ulong"; naturalWidth = 64; break;
                case SpecialType.System_Boolean: kind = FieldKind.Bool; naturalWidth = 1; break;
                default:
                    if (type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying }
                        && UnsignedWidth(underlying.SpecialType) is int enumWidth)
                    {
                        kind = FieldKind.Enum;
                        storage = Keyword(underlying.SpecialType);
                        naturalWidth = enumWidth;
                    }
                    else if (type is INamedTypeSymbol named && InlineByteArrayLength(named) is int length)
                    {
                        kind = FieldKind.FixedArray;
                        naturalWidth = length * 8;
                        customToString = named.GetMembers("ToString").OfType<IMethodSymbol>()
                            .Any(m => m.IsOverride && m.Parameters.Length == 0);
                    }
                    else
                    {
                        diagnostics.Add(Diag(Diagnostics.UnsupportedType, location, field.Name, type.ToDisplayString()));
                        return null;
                    }

                    break;
            }

            int width = naturalWidth;
            int offset = cursor;
            bool hasConst = false, hasRange = false, littleEndian = false;
            ulong constValue = 0, min = 0, max = 0;
            foreach (AttributeData attribute in field.GetAttributes())
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                if (name == BitsAttribute)
                {
                    if (attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is int w)
                    {
                        width = w;
                    }

                    foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
                    {
                        if (named.Key == "Offset" && named.Value.Value is int o && o >= 0)
                        {
                            offset = o;
                        }
                    }
                }
                else if (name == ConstAttribute && attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is ulong v)
                {
                    hasConst = true;
                    constValue = v;
                }
                else if (name == LittleEndianAttribute)
                {
                    littleEndian = true;
                }
                else if (name == RangeAttribute && attribute.ConstructorArguments.Length > 1
                    && attribute.ConstructorArguments[0].Value is ulong lo && attribute.ConstructorArguments[1].Value is ulong hi)
                {
                    hasRange = true;
                    min = lo;
                    max = hi;
                }
            }

            // PROTO007: widths.
            string typeText = type.ToDisplayString();
            string? widthProblem = null;
            if (width < 1 || width > 64)
            {
                widthProblem = kind == FieldKind.FixedArray && width == naturalWidth
                    ? $"Field '{field.Name}' is a fixed array of {naturalWidth / 8} bytes; fields wider than 64 bits are not supported"
                    : $"Field '{field.Name}' is {width} bits wide; a width must be between 1 and 64";
                if (kind == FieldKind.FixedArray && width == naturalWidth)
                {
                    widthProblem = null; // arrays are copied byte by byte, any length is fine
                }
            }
            else if (kind == FieldKind.Bool && width != 1)
            {
                widthProblem = $"Field '{field.Name}' is a bool declared {width} bits wide; a bool is exactly 1 bit (use byte for a wider flag set)";
            }
            else if (kind == FieldKind.FixedArray && width != naturalWidth)
            {
                widthProblem = $"Field '{field.Name}' is a fixed array of {naturalWidth / 8} bytes ({naturalWidth} bits) but [Bits({width})] gives another width; remove [Bits]";
            }
            else if (width > naturalWidth)
            {
                widthProblem = $"Field '{field.Name}' is {width} bits wide but its type {typeText} holds {naturalWidth}; use a wider type or [Bits({naturalWidth})]";
            }

            if (widthProblem is null && kind == FieldKind.FixedArray && offset % 8 != 0)
            {
                widthProblem = $"Field '{field.Name}' is a fixed array starting at bit {offset}, which is not on a byte boundary; fixed arrays must be byte-aligned";
            }

            if (widthProblem is not null)
            {
                diagnostics.Add(Diag(Diagnostics.InvalidWidth, location, widthProblem));
                return null;
            }

            // PROTO009: byte order. Little-endian needs the field to own whole bytes of a word.
            if (littleEndian && (kind == FieldKind.Bool || kind == FieldKind.FixedArray || offset % 8 != 0 || width != naturalWidth || width < 16))
            {
                diagnostics.Add(Diag(Diagnostics.LittleEndianNotWhole, location, field.Name, width.ToString(System.Globalization.CultureInfo.InvariantCulture), offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return null;
            }

            // PROTO008: Const/Range values.
            ulong mask = width >= 64 ? ulong.MaxValue : (1UL << width) - 1;
            string? valueProblem = null;
            if ((hasConst || hasRange) && kind == FieldKind.FixedArray)
            {
                valueProblem = $"Field '{field.Name}' is a fixed array; [Const] and [Range] apply to numeric, bool and enum fields only";
            }
            else if (hasConst && constValue > mask)
            {
                valueProblem = $"[Const({constValue})] on field '{field.Name}' does not fit its {width} bits (largest value {mask})";
            }
            else if (hasRange && min > max)
            {
                valueProblem = $"[Range({min}, {max})] on field '{field.Name}' has its minimum above its maximum";
            }
            else if (hasRange && max > mask)
            {
                valueProblem = $"[Range({min}, {max})] on field '{field.Name}' goes beyond its {width} bits (largest value {mask})";
            }

            if (valueProblem is not null)
            {
                diagnostics.Add(Diag(Diagnostics.ValueDoesNotFit, location, valueProblem));
            }

            cursor = offset + width;
            return new FieldModel(
                field.Name,
                kind,
                type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                storage,
                offset,
                width,
                hasConst,
                constValue,
                hasRange,
                min,
                max,
                customToString,
                littleEndian);
        }

        private static int? InlineByteArrayLength(INamedTypeSymbol type)
        {
            if (type.TypeKind != TypeKind.Struct)
            {
                return null;
            }

            foreach (AttributeData attribute in type.GetAttributes())
            {
                if (attribute.AttributeClass?.ToDisplayString() == InlineArrayAttribute
                    && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is int length)
                {
                    IFieldSymbol? element = type.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => !f.IsStatic);
                    return element is not null && element.Type.SpecialType == SpecialType.System_Byte && length > 0 ? length : null;
                }
            }

            return null;
        }

        private static int? UnsignedWidth(SpecialType type) => type switch
        {
            SpecialType.System_Byte => 8,
            SpecialType.System_UInt16 => 16,
            SpecialType.System_UInt32 => 32,
            SpecialType.System_UInt64 => 64,
            _ => null,
        };

        private static string Keyword(SpecialType type) => type switch
        {
            SpecialType.System_Byte => "byte",
            SpecialType.System_UInt16 => "ushort",
            SpecialType.System_UInt32 => "uint",
            _ => "ulong",
        };

        private static string Short(FieldModel field) => field.Kind switch
        {
            FieldKind.Bool => "bool",
            FieldKind.Enum => "enum",
            FieldKind.FixedArray => "fixed array",
            _ => field.StorageType,
        };

        private static bool IsPartial(TypeDeclarationSyntax syntax) => syntax.Modifiers.Any(SyntaxKind.PartialKeyword);

        private static string Keyword(INamedTypeSymbol type)
        {
            if (type.IsRecord)
            {
                return type.TypeKind == TypeKind.Struct ? "record struct" : "record";
            }

            return type.TypeKind switch
            {
                TypeKind.Struct => "struct",
                TypeKind.Interface => "interface",
                _ => "class",
            };
        }

        private static string NameWithTypeParameters(INamedTypeSymbol type) =>
            type.TypeParameters.Length == 0
                ? type.Name
                : type.Name + "<" + string.Join(", ", type.TypeParameters.Select(p => p.Name)) + ">";

        private static DiagnosticInfo Diag(DiagnosticDescriptor descriptor, Location? location, params string[] args) =>
            new DiagnosticInfo(descriptor.Id, new EquatableArray<string>(args), LocationInfo.From(location));
    }
}
