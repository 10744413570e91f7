using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Protocols.Generators
{
    /// <summary>
    /// Turns a [WireHeader] struct symbol into an equatable <see cref="HeaderModel"/> plus diagnostics.
    /// Every decision the emitter acts on (layout, roles, the list of checks) is made here; nothing of
    /// the compilation escapes into the model.
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
        private const string PrefixAttribute = WireNamespace + "PrefixAttribute";
        private const string InlineArrayAttribute = "System.Runtime.CompilerServices.InlineArrayAttribute";

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var diagnostics = new List<DiagnosticInfo>();
            var syntax = (TypeDeclarationSyntax)context.TargetNode;
            Location typeLocation = syntax.Identifier.GetLocation();

            // PROTO001: the header and every type around it must be partial.
            if (!IsPartial(syntax))
            {
                diagnostics.Add(Diag(Diagnostics.NotPartial, typeLocation, "Struct", type.Name));
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
            var fields = new List<ParsedField>();
            int cursor = 0;
            bool layoutOk = true;
            foreach (ISymbol member in type.GetMembers())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (member is not IFieldSymbol field || field.IsStatic || field.IsConst || field.IsImplicitlyDeclared)
                {
                    continue;
                }

                ParsedField? parsed = ParseField(field, ref cursor, diagnostics);
                if (parsed is null)
                {
                    layoutOk = false;
                    continue;
                }

                fields.Add(parsed);
            }

            int totalBits = 0;
            if (layoutOk)
            {
                // PROTO006: explicit offsets must not make fields overlap.
                var byOffset = fields.OrderBy(f => f.Model.BitOffset).ToList();
                for (int k = 1; k < byOffset.Count; k++)
                {
                    FieldModel previous = byOffset[k - 1].Model;
                    FieldModel current = byOffset[k].Model;
                    if (current.BitOffset < previous.BitOffset + previous.BitWidth)
                    {
                        diagnostics.Add(Diag(Diagnostics.Overlap, byOffset[k].Location,
                            current.Name, Number(current.BitOffset), Number(current.BitOffset + current.BitWidth - 1),
                            previous.Name, Number(previous.BitOffset), Number(previous.BitOffset + previous.BitWidth - 1)));
                    }
                }

                foreach (ParsedField f in fields)
                {
                    totalBits = System.Math.Max(totalBits, f.Model.BitOffset + f.Model.BitWidth);
                }

                // PROTO002: whole bytes.
                if (totalBits % 8 != 0)
                {
                    diagnostics.Add(Diag(Diagnostics.NotWholeBytes, typeLocation, type.Name, Number(totalBits), Number(8 - (totalBits % 8))));
                }
            }

            // Struct-level references: each gives its field a role.
            int unit = 1, bias = 0;
            LengthSource headerLengthSource = LengthSource.HeaderLength;
            ChecksumCoverage coverage = ChecksumCoverage.Header;
            bool zeroMeansNone = false;
            int? prefixLength = null;
            Location? prefixLocation = null;
            foreach (AttributeData attribute in type.GetAttributes())
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                Location? attributeLocation = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
                if (name == PrefixAttribute)
                {
                    prefixLength = attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is int n ? n : 0;
                    prefixLocation = attributeLocation;
                    continue;
                }

                FieldRole role = name switch
                {
                    HeaderLengthAttribute => FieldRole.HeaderLength,
                    TotalLengthAttribute => FieldRole.TotalLength,
                    PayloadLengthAttribute => FieldRole.PayloadLength,
                    ChecksumAttribute => FieldRole.Checksum,
                    _ => FieldRole.None,
                };
                if (role == FieldRole.None)
                {
                    continue;
                }

                string shortName = role.ToString();
                string? target = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as string : null;
                int index = target is null ? -1 : fields.FindIndex(f => f.Model.Name == target);
                if (index < 0)
                {
                    if (layoutOk || fields.Count == 0)
                    {
                        diagnostics.Add(Diag(Diagnostics.UnknownReference, attributeLocation, shortName, target ?? "", type.Name));
                    }

                    continue;
                }

                FieldModel referenced = fields[index].Model;
                if (referenced.Role != FieldRole.None)
                {
                    diagnostics.Add(Diag(Diagnostics.TwoRoles, attributeLocation, referenced.Name, referenced.Role.ToString(), shortName));
                    continue;
                }

                if (role == FieldRole.Checksum)
                {
                    if (referenced.Kind != FieldKind.Unsigned || referenced.BitWidth != 16 || referenced.BitOffset % 16 != 0)
                    {
                        diagnostics.Add(Diag(Diagnostics.ChecksumFieldShape, attributeLocation,
                            referenced.Name, Number(referenced.BitWidth), Short(referenced), Number(referenced.BitOffset)));
                        continue;
                    }

                    int rawCoverage = attribute.ConstructorArguments.Length > 1 && attribute.ConstructorArguments[1].Value is int c ? c : 0;
                    if (rawCoverage is < (int)ChecksumCoverage.Header or > (int)ChecksumCoverage.Message)
                    {
                        diagnostics.Add(Diag(Diagnostics.UnknownCoverage, attributeLocation, type.Name, Number(rawCoverage)));
                    }

                    coverage = (ChecksumCoverage)rawCoverage;
                    zeroMeansNone = attribute.NamedArguments.Any(a => a.Key == "ZeroMeansNone" && a.Value.Value is true);
                }
                else if (referenced.Kind != FieldKind.Unsigned)
                {
                    diagnostics.Add(Diag(Diagnostics.LengthFieldNotUnsigned, attributeLocation, shortName, referenced.Name, (referenced.Kind == FieldKind.Enum ? "an " : "a ") + Short(referenced)));
                    continue;
                }
                else if (role == FieldRole.HeaderLength)
                {
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
                        else if (named.Key == "Source" && named.Value.Value is int s && s >= (int)LengthSource.None && s <= (int)LengthSource.CaptureLength)
                        {
                            headerLengthSource = (LengthSource)s;
                        }
                    }

                    if (unit < 1)
                    {
                        diagnostics.Add(Diag(Diagnostics.InvalidUnit, attributeLocation, type.Name, Number(unit)));
                    }

                    if (bias is < 0 or > 255)
                    {
                        diagnostics.Add(Diag(Diagnostics.InvalidBias, attributeLocation, type.Name, Number(bias)));
                    }
                }

                fields[index] = fields[index] with { Model = referenced with { Role = role } };
            }

            if (fields.Any(f => f.Model.Role == FieldRole.TotalLength) && fields.Any(f => f.Model.Role == FieldRole.PayloadLength))
            {
                diagnostics.Add(Diag(Diagnostics.TotalAndPayloadLength, typeLocation, type.Name));
            }

            // PROTO021: a prefix is a part of the fixed part.
            if (prefixLength is int prefix && layoutOk && (prefix < 1 || prefix >= totalBits / 8))
            {
                diagnostics.Add(Diag(Diagnostics.InvalidPrefix, prefixLocation, Number(prefix), type.Name, Number(totalBits / 8)));
            }

            // PROTO010: a field may not take the name of a generated member.
            bool hasChecksum = fields.Any(f => f.Model.Role == FieldRole.Checksum);
            var perField = new HashSet<string>(fields.SelectMany(f => Names.PerField(f.Model, hasChecksum)));
            foreach (ParsedField f in fields)
            {
                if (Names.IsReserved(f.Model.Name, prefixLength is not null) || perField.Contains(f.Model.Name))
                {
                    diagnostics.Add(Diag(Diagnostics.ReservedName, f.Location, f.Model.Name, f.Model.Name));
                }
            }

            if (diagnostics.Count > 0)
            {
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));
            }

            FieldModel[] models = fields.Select(f => f.Model).ToArray();
            var header = new HeaderModel(
                type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                NameWithTypeParameters(type),
                new EquatableArray<ContainingTypeModel>(containing.ToArray()),
                layer,
                new EquatableArray<FieldModel>(models),
                new EquatableArray<CheckModel>(Checks(fields).ToArray()),
                totalBits / 8,
                unit,
                bias,
                headerLengthSource,
                coverage,
                zeroMeansNone,
                prefixLength,
                Keyword(type));
            return new ParseResult(header, EquatableArray<DiagnosticInfo>.Empty);
        }

        /// <summary>
        /// The checks TryRead makes, in the documented order: the fixed part fits; [Const] and
        /// [Range] fields in declaration order; the header length; the total or payload length.
        /// </summary>
        private static IEnumerable<CheckModel> Checks(List<ParsedField> fields)
        {
            yield return new CheckModel(CheckKind.FixedPart, null, null, null);
            foreach (ParsedField parsed in fields)
            {
                FieldModel f = parsed.Model;
                if (f.ConstValue is ulong value)
                {
                    yield return new CheckModel(CheckKind.Const, f, value, value);
                }

                // A bound the field's width cannot cross is no check at all.
                ulong? minimum = parsed.RangeMin > 0 ? parsed.RangeMin : null;
                ulong? maximum = parsed.RangeMax < f.Mask ? parsed.RangeMax : null;
                if (minimum is not null || maximum is not null)
                {
                    yield return new CheckModel(CheckKind.Range, f, minimum, maximum);
                }
            }

            FieldModel? headerLength = fields.Select(f => f.Model).FirstOrDefault(f => f.Role == FieldRole.HeaderLength);
            if (headerLength is not null)
            {
                yield return new CheckModel(CheckKind.HeaderLengthCoversFixedPart, headerLength, null, null);
                yield return new CheckModel(CheckKind.HeaderLengthFits, headerLength, null, null);
            }

            FieldModel? total = fields.Select(f => f.Model).FirstOrDefault(f => f.Role == FieldRole.TotalLength);
            FieldModel? payload = fields.Select(f => f.Model).FirstOrDefault(f => f.Role == FieldRole.PayloadLength);
            if (total is not null)
            {
                yield return new CheckModel(CheckKind.TotalLengthCoversHeader, total, null, null);
                yield return new CheckModel(CheckKind.MessageFits, total, null, null);
            }
            else if (payload is not null)
            {
                yield return new CheckModel(CheckKind.MessageFits, payload, null, null);
            }
        }

        private static ParsedField? ParseField(IFieldSymbol field, ref int cursor, List<DiagnosticInfo> diagnostics)
        {
            Location? location = field.Locations.FirstOrDefault();
            ITypeSymbol type = field.Type;
            FieldKind kind;
            StorageType storage = StorageType.None;
            int naturalWidth;
            bool customToString = false;
            switch (type.SpecialType)
            {
                case SpecialType.System_Byte: kind = FieldKind.Unsigned; storage = StorageType.Byte; naturalWidth = 8; break;
                case SpecialType.System_UInt16: kind = FieldKind.Unsigned; storage = StorageType.UInt16; naturalWidth = 16; break;
                case SpecialType.System_UInt32: kind = FieldKind.Unsigned; storage = StorageType.UInt32; naturalWidth = 32; break;
                case SpecialType.System_UInt64: kind = FieldKind.Unsigned; storage = StorageType.UInt64; naturalWidth = 64; break;
                case SpecialType.System_Boolean: kind = FieldKind.Bool; naturalWidth = 1; break;
                default:
                    if (type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying }
                        && Storage(underlying.SpecialType) is StorageType enumStorage)
                    {
                        kind = FieldKind.Enum;
                        storage = enumStorage;
                        naturalWidth = Bits(enumStorage);
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
            ulong? constValue = null;
            ulong? rangeMin = null, rangeMax = null;
            bool littleEndian = false;
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
                    constValue = v;
                }
                else if (name == LittleEndianAttribute)
                {
                    littleEndian = true;
                }
                else if (name == RangeAttribute && attribute.ConstructorArguments.Length > 1
                    && attribute.ConstructorArguments[0].Value is ulong lo && attribute.ConstructorArguments[1].Value is ulong hi)
                {
                    rangeMin = lo;
                    rangeMax = hi;
                }
            }

            // Widths: PROTO016 (bools), PROTO017 and PROTO018 (fixed arrays), PROTO007 (numbers).
            // Arrays are copied whole, so any length is fine when no [Bits] changes it.
            DiagnosticInfo? widthProblem = null;
            if (kind == FieldKind.Bool && width != 1)
            {
                widthProblem = Diag(Diagnostics.BoolWidth, location, field.Name, Number(width));
            }
            else if (kind == FieldKind.FixedArray && width != naturalWidth)
            {
                widthProblem = Diag(Diagnostics.FixedArrayWidth, location, field.Name, Number(naturalWidth / 8), Number(width));
            }
            else if (kind == FieldKind.FixedArray && offset % 8 != 0)
            {
                widthProblem = Diag(Diagnostics.FixedArrayAlignment, location, field.Name, Number(offset));
            }
            else if (kind != FieldKind.FixedArray && (width < 1 || width > naturalWidth))
            {
                widthProblem = Diag(Diagnostics.WidthDoesNotFitType, location, field.Name, Number(width), type.ToDisplayString(), Number(naturalWidth));
            }

            if (widthProblem is not null)
            {
                diagnostics.Add(widthProblem);
                return null;
            }

            // PROTO009: byte order applies to a field that owns the whole bytes of a word.
            if (littleEndian && (kind is FieldKind.Bool or FieldKind.FixedArray || offset % 8 != 0 || width != naturalWidth || width < 16))
            {
                diagnostics.Add(Diag(Diagnostics.LittleEndianNotWhole, location, field.Name, Number(width), Number(offset)));
                return null;
            }

            // Const/Range values: PROTO020, PROTO019, PROTO008.
            ulong mask = width >= 64 ? ulong.MaxValue : (1UL << width) - 1;
            if (kind == FieldKind.FixedArray && (constValue is not null || rangeMin is not null))
            {
                diagnostics.Add(Diag(Diagnostics.ValueOnFixedArray, location, constValue is not null ? "Const" : "Range", field.Name));
            }
            else if (constValue is ulong c && c > mask)
            {
                diagnostics.Add(Diag(Diagnostics.ValueDoesNotFit, location, $"Const({Number(c)})", field.Name, Number(c), Number(width), Number(mask)));
            }
            else if (rangeMin is ulong min && rangeMax is ulong max && min > max)
            {
                diagnostics.Add(Diag(Diagnostics.EmptyRange, location, Number(min), Number(max), field.Name));
            }
            else if (rangeMax is ulong high && high > mask)
            {
                diagnostics.Add(Diag(Diagnostics.ValueDoesNotFit, location, $"Range({Number(rangeMin ?? 0)}, {Number(high)})", field.Name, Number(high), Number(width), Number(mask)));
            }

            cursor = offset + width;
            var model = new FieldModel(
                field.Name,
                kind,
                type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                storage,
                offset,
                width,
                constValue,
                FieldRole.None,
                customToString,
                littleEndian);
            return new ParsedField(model, location, rangeMin ?? 0, rangeMax ?? ulong.MaxValue);
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

        private static StorageType? Storage(SpecialType type) => type switch
        {
            SpecialType.System_Byte => StorageType.Byte,
            SpecialType.System_UInt16 => StorageType.UInt16,
            SpecialType.System_UInt32 => StorageType.UInt32,
            SpecialType.System_UInt64 => StorageType.UInt64,
            _ => null,
        };

        private static int Bits(StorageType storage) => storage switch
        {
            StorageType.Byte => 8,
            StorageType.UInt16 => 16,
            StorageType.UInt32 => 32,
            _ => 64,
        };

        private static string Short(FieldModel field) => field.Kind switch
        {
            FieldKind.Bool => "bool",
            FieldKind.Enum => "enum",
            FieldKind.FixedArray => "fixed array",
            _ => field.StorageKeyword,
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

        private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

        private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);

        private static DiagnosticInfo Diag(DiagnosticDescriptor descriptor, Location? location, params string[] args) =>
            new DiagnosticInfo(descriptor.Id, new EquatableArray<string>(args), location);

        /// <summary>A field as parsed: its model, where it is declared, and its declared [Range] (0..ulong.MaxValue without one).</summary>
        private sealed record ParsedField(FieldModel Model, Location? Location, ulong RangeMin, ulong RangeMax);
    }
}
