using System.Collections.Generic;
using System.Linq;

namespace Protocols.Generators
{
    // The value form (Read, WriteTo, TryWriteTo, ToString), the helpers every part shares
    // (FixedPart, ThrowTooShort) and Annotate for hex dumps.
    internal static partial class Emitter
    {
        private static void EmitValueForm(CodeWriter w, HeaderModel model)
        {
            string layerXml = Xml(model.Layer);
            string fixedPartSpan = $"{Marshal}.CreateSpan(ref {Marshal}.GetReference(destination), {Names.FixedLength})";
            w.Template($$"""

                /// <summary>Reads one {{layerXml}} header into its value form.</summary>
                /// <param name="buffer">The bytes, starting at the header.</param>
                /// <returns>The header's fields.</returns>
                /// <exception cref="global::Protocols.Wire.WireException">The bytes are not a valid header (see TryRead for the checks).</exception>
                public static {{model.TypeName}} {{Names.Read}}({{ReadOnlySpan}} buffer)
                {
                    if (!{{Names.TryRead}}(buffer, out {{Names.Reader}} reader, out {{WireError}} error))
                    {
                        throw new global::Protocols.Wire.WireException(error);
                    }

                    return reader.{{Names.ToValue}}();
                }

                /// <summary>Writes the fixed part of the header (FixedLength bytes; constant fields get their declared value).</summary>
                /// <param name="destination">Where to write; at least FixedLength bytes.</param>
                /// <returns>The number of bytes written: FixedLength.</returns>
                /// <exception cref="global::System.ArgumentException"><paramref name="destination"/> is shorter than FixedLength.</exception>
                {{AggressiveInlining}}
                public readonly int {{Names.WriteTo}}({{Span}} destination)
                """);
            w.Open();
            w.Template($$"""
                if (destination.Length < {{Names.FixedLength}})
                {
                    {{Names.ThrowTooShort}}("the destination", destination.Length, nameof(destination));
                }

                {{Span}} bytes = {{fixedPartSpan}};
                """);
            EmitWholeWrite(w, model);
            w.Line($"return {Names.FixedLength};");
            w.Close();

            string tooShort = Literal(model.Layer + " header needs " + Number(model.FixedLength) + " bytes, ");
            w.Template($$"""

                // The first FixedLength bytes as a span whose length the JIT sees as a constant, so that field accessors
                // given it need no bounds checks. Only for spans already checked to hold at least FixedLength bytes.
                {{AggressiveInlining}}
                private static {{ReadOnlySpan}} {{Names.FixedPart}}({{ReadOnlySpan}} checkedBytes) =>
                    {{Marshal}}.CreateReadOnlySpan(ref {{Marshal}}.GetReference(checkedBytes), {{Names.FixedLength}});

                // A separate method so that the constructors and WriteTo that check their buffer stay small enough to inline;
                // the JIT sees that it always throws and treats the call as a dead end.
                [global::System.Diagnostics.CodeAnalysis.DoesNotReturn]
                private static void {{Names.ThrowTooShort}}(string what, int length, string parameterName) =>
                    throw new global::System.ArgumentException({{tooShort}} + what + " has " + length.ToString({{Invariant}}), parameterName);

                /// <summary>Writes the fixed part of the header when it fits.</summary>
                /// <param name="destination">Where to write.</param>
                /// <param name="written">FixedLength on success, else 0.</param>
                /// <returns>Whether <paramref name="destination"/> was long enough.</returns>
                public readonly bool {{Names.TryWriteTo}}({{Span}} destination, out int written)
                {
                    if (destination.Length < {{Names.FixedLength}})
                    {
                        written = 0;
                        return false;
                    }

                    written = {{Names.WriteTo}}(destination);
                    return true;
                }

                /// <summary>The layer name and every field as <c>Name=value</c>, e.g. <c>{{Xml(model.Layer)}} {{Xml(model.Fields.Count > 0 ? model.Fields[0].Name : "")}}=...</c>.</summary>
                /// <returns>One line of text.</returns>
                public override string {{Names.ToStringMethod}}()
                """);
            w.Open();
            w.Line($"var text = new global::System.Text.StringBuilder({Names.LayerName});");
            foreach (FieldModel f in model.Fields)
            {
                w.Line($"text.Append({Literal(" " + f.Name + "=")}).Append({Format(model, f, "this." + f.Identifier, $"(({ReadOnlySpan})this.{f.Identifier})")});");
            }

            w.Line("return text.ToString();");
            w.Close();

            if (model.Fields.Any(f => f.Kind == FieldKind.Enum))
            {
                w.Template($$"""

                    // Enum values print by name when the enum defines them, else as their number.
                    private static string {{Names.FormatEnum}}<TEnum>(TEnum value) where TEnum : struct, global::System.Enum =>
                        global::System.Enum.IsDefined(value) ? value.ToString() : value.ToString("D");
                    """);
            }
        }

        /// <summary>Text for a field value: the checksum in hex (0x1a2b), else decimal, true/false, enum name, or the fixed array's own ToString (hex when it has none).</summary>
        private static string Format(HeaderModel model, FieldModel f, string value, string bytesForHex) => f.Kind switch
        {
            _ when f.Role == FieldRole.Checksum => $"\"0x\" + {value}.ToString(\"x4\", {Invariant})",
            FieldKind.Bool => $"{value} ? \"true\" : \"false\"",
            FieldKind.Enum => $"{Names.FormatEnum}({value})",
            FieldKind.FixedArray => f.HasCustomToString ? $"{value}.ToString()" : $"global::System.Convert.ToHexStringLower({bytesForHex})",
            _ => $"{value}.ToString({Invariant})",
        };

        private static void EmitAnnotate(CodeWriter w, HeaderModel model)
        {
            w.Template($$"""

                /// <summary>Labels the fixed part of a header for an annotated hex dump: one annotation per group of fields that share bytes, e.g. <c>Version=4 Ihl=5</c>.</summary>
                /// <param name="header">The header bytes; groups that do not fit are left out (never throws).</param>
                /// <param name="baseOffset">Where the header starts in the dump.</param>
                /// <param name="into">Receives the annotations.</param>
                public static void {{Names.Annotate}}({{ReadOnlySpan}} header, int baseOffset, global::System.Collections.Generic.ICollection<global::Protocols.Wire.HexAnnotation> into)
                """);
            w.Open();
            foreach (List<FieldModel> group in Groups(model))
            {
                int start = group.Min(f => f.FirstByte);
                int end = group.Max(f => f.EndByte);
                var parts = new List<string>();
                foreach (FieldModel f in group)
                {
                    parts.Add(Literal((parts.Count > 0 ? " " : "") + f.Name + "="));
                    string value = Format(model, f, $"{Names.Getter(f.Name)}(header)", $"header.Slice({f.FirstByte}, {f.ByteCount})");
                    parts.Add(f.Kind == FieldKind.Bool ? $"({value})" : value);
                }

                w.Template($$"""
                    if (header.Length < {{end}})
                    {
                        return;
                    }

                    into.Add(new global::Protocols.Wire.HexAnnotation(baseOffset + {{start}}, {{end - start}}, {{string.Join(" + ", parts)}}));
                    """);
            }

            w.Close();
        }

        /// <summary>
        /// The body of WriteTo: every byte of <c>bytes</c> stored exactly once, no read-modify-write.
        /// A field that owns its bytes is stored directly; a run of bytes shared by bit fields is
        /// assembled into one integer from all its fields (constants folded, values masked to their
        /// width) and stored with as few big-endian writes as fit; bytes no field covers are zeroed.
        /// </summary>
        private static void EmitWholeWrite(CodeWriter w, HeaderModel model)
        {
            int covered = 0;
            foreach (List<FieldModel> group in Groups(model))
            {
                int start = group[0].FirstByte;
                int end = group.Max(f => f.EndByte);
                if (start > covered)
                {
                    EmitZeros(w, covered, start - covered);
                }

                covered = end;
                FieldModel first = group[0];
                if (group.Count == 1 && (first.Kind == FieldKind.FixedArray || IsWholeWord(first)))
                {
                    w.Line(SetFromValue(first));
                    continue;
                }

                int count = end - start;
                if (count > 8)
                {
                    // Wider than one register (a field spanning nine bytes): clear, then the per-field setters.
                    w.Line($"bytes.Slice({start}, {count}).Clear();");
                    foreach (FieldModel f in group)
                    {
                        w.Line(SetFromValue(f));
                    }

                    continue;
                }

                string word = WordType(count);
                ulong constants = 0;
                var parts = new List<string>();
                foreach (FieldModel f in group)
                {
                    int shift = (end * 8) - (f.BitOffset + f.BitWidth);
                    if (f.ConstValue is ulong value)
                    {
                        constants |= (value & f.Mask) << shift;
                        continue;
                    }

                    string raw = ToRaw(f, "this." + f.Identifier, word);
                    if (f.Kind != FieldKind.Bool && f.BitWidth < f.StorageBits)
                    {
                        raw = $"({raw} & {Hex(f.Mask, count)})";
                    }

                    parts.Add(shift == 0 ? raw : $"({raw} << {shift})");
                }

                if (constants != 0 || parts.Count == 0)
                {
                    parts.Add(Hex(constants, count));
                }

                string name = $"word{start}";
                w.Line($"{word} {name} = {string.Join(" | ", parts)}; // {string.Join(", ", group.Select(f => f.Name))}");
                EmitStores(w, start, count, name);
            }

            if (covered < model.FixedLength)
            {
                EmitZeros(w, covered, model.FixedLength - covered);
            }
        }

        /// <summary>One field's setter call with the struct's value, or its [Const] value.</summary>
        private static string SetFromValue(FieldModel f) => f.ConstValue is ulong value
            ? $"{Names.Setter(f.Name)}(bytes, {Constant(f, value)}); // [Const({Number(value)})]"
            : $"{Names.Setter(f.Name)}(bytes, this.{f.Identifier});";

        /// <summary>Stores the low <paramref name="count"/> bytes of <paramref name="word"/> big-endian at <paramref name="first"/>, widest writes first.</summary>
        private static void EmitStores(CodeWriter w, int first, int count, string word)
        {
            int done = 0;
            while (done < count)
            {
                int left = count - done;
                int chunk = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
                int shift = 8 * (left - chunk);
                string part = shift == 0 ? word : $"({word} >> {shift})";
                int at = first + done;
                switch (chunk)
                {
                    case 8: w.Line($"{Binary}.WriteUInt64BigEndian(bytes.Slice({at}, 8), {part});"); break;
                    case 4: w.Line($"{Binary}.WriteUInt32BigEndian(bytes.Slice({at}, 4), (uint){part});"); break;
                    case 2: w.Line($"{Binary}.WriteUInt16BigEndian(bytes.Slice({at}, 2), (ushort){part});"); break;
                    default: w.Line($"bytes[{at}] = (byte){part};"); break;
                }

                done += chunk;
            }
        }

        private static void EmitZeros(CodeWriter w, int first, int count)
        {
            w.Line(count == 1 ? $"bytes[{first}] = 0; // no field" : $"bytes.Slice({first}, {count}).Clear(); // no field");
        }
    }
}
