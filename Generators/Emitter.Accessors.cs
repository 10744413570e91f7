using System.Collections.Generic;

namespace Protocols.Generators
{
    // Layout constants and the private static Get{Field}/Set{Field} pair of every field: explicit
    // big-endian shifts and masks over a span, which every other part of the output goes through.
    internal static partial class Emitter
    {
        private static void EmitLayout(CodeWriter w, HeaderModel model)
        {
            w.Template($$"""
                /// <summary>The layer name used in errors and traces: <c>{{Xml(model.Layer)}}</c>.</summary>
                public const string {{Names.LayerName}} = {{Literal(model.Layer)}};

                /// <summary>Length in bytes of the fixed part of the header ({{model.FixedLength * 8}} bits).</summary>
                public const int {{Names.FixedLength}} = {{model.FixedLength}};

                /// <summary>The layout: name, bit offset (most significant bit first) and width of each field, in declaration order.</summary>
                public static global::System.Collections.Generic.IReadOnlyList<global::Protocols.Wire.WireFieldInfo> {{Names.Fields}} { get; } = new global::Protocols.Wire.WireFieldInfo[]
                """);
            w.Open();
            foreach (FieldModel f in model.Fields)
            {
                w.Line($"new global::Protocols.Wire.WireFieldInfo({Literal(f.Name)}, {f.BitOffset}, {f.BitWidth}),");
            }

            w.Close(";");
        }

        private static void EmitAccessors(CodeWriter w, HeaderModel model)
        {
            foreach (FieldModel f in model.Fields)
            {
                w.Line();
                w.Line($"// {f.Name}: {Describe(f)}.");
                if (f.Kind == FieldKind.FixedArray)
                {
                    // One unaligned load/store of the whole array (e.g. a single 32-bit move for an IPv4 address).
                    w.Template($$"""
                        private static {{f.TypeName}} {{Names.Getter(f.Name)}}({{ReadOnlySpan}} bytes) =>
                            {{Marshal}}.Read<{{f.TypeName}}>(bytes.Slice({{f.FirstByte}}, {{f.ByteCount}}));

                        private static void {{Names.Setter(f.Name)}}({{Span}} bytes, {{f.TypeName}} value) =>
                            {{Marshal}}.Write(bytes.Slice({{f.FirstByte}}, {{f.ByteCount}}), in value);
                        """);
                    continue;
                }

                EmitGetter(w, f);
                w.Line();
                EmitSetter(w, f);
            }
        }

        /// <summary>The field's bytes as one big-endian unsigned word (uint up to 4 bytes, ulong up to 8).</summary>
        private static string ReadWord(int first, int count, string span)
        {
            switch (count)
            {
                case 1: return $"(uint){span}[{first}]";
                case 2: return $"(uint){Binary}.ReadUInt16BigEndian({span}.Slice({first}, 2))";
                case 4: return $"{Binary}.ReadUInt32BigEndian({span}.Slice({first}, 4))";
                case 8: return $"{Binary}.ReadUInt64BigEndian({span}.Slice({first}, 8))";
            }

            string type = WordType(count);
            var parts = new List<string>();
            for (int k = 0; k < count; k++)
            {
                int shift = 8 * (count - 1 - k);
                parts.Add(shift == 0 ? $"{span}[{first + k}]" : $"(({type}){span}[{first + k}] << {shift})");
            }

            return "(" + string.Join(" | ", parts) + ")";
        }

        private static void WriteWord(CodeWriter w, int first, int count, string word)
        {
            switch (count)
            {
                case 1: w.Line($"bytes[{first}] = (byte){word};"); return;
                case 2: w.Line($"{Binary}.WriteUInt16BigEndian(bytes.Slice({first}, 2), (ushort){word});"); return;
                case 4: w.Line($"{Binary}.WriteUInt32BigEndian(bytes.Slice({first}, 4), {word});"); return;
                case 8: w.Line($"{Binary}.WriteUInt64BigEndian(bytes.Slice({first}, 8), {word});"); return;
            }

            for (int k = 0; k < count; k++)
            {
                int shift = 8 * (count - 1 - k);
                w.Line(shift == 0 ? $"bytes[{first + k}] = (byte){word};" : $"bytes[{first + k}] = (byte)({word} >> {shift});");
            }
        }

        private static void EmitGetter(CodeWriter w, FieldModel f)
        {
            string signature = $"private static {f.AccessorType} {Names.Getter(f.Name)}({ReadOnlySpan} bytes)";
            if (f.ByteCount == 9)
            {
                // The field spans nine bytes (e.g. 64 bits at a 4-bit offset): take the first eight
                // as one word and the top bits of the ninth.
                int shift = f.Shift;
                string mask = f.BitWidth == 64 ? "" : $" & {Hex(f.Mask, 8)}";
                w.Template($$"""
                    {{signature}}
                    {
                        ulong high = {{Binary}}.ReadUInt64BigEndian(bytes.Slice({{f.FirstByte}}, 8));
                        ulong raw = ((high << {{8 - shift}}) | ((ulong)bytes[{{f.FirstByte + 8}}] >> {{shift}})){{mask}};
                        return {{FromRaw(f, "raw")}};
                    }
                    """);
                return;
            }

            if (IsWholeWord(f))
            {
                string read = f.ByteCount switch
                {
                    1 => $"bytes[{f.FirstByte}]",
                    2 => $"{Binary}.ReadUInt16{f.ByteOrder}(bytes.Slice({f.FirstByte}, 2))",
                    4 => $"{Binary}.ReadUInt32{f.ByteOrder}(bytes.Slice({f.FirstByte}, 4))",
                    _ => $"{Binary}.ReadUInt64{f.ByteOrder}(bytes.Slice({f.FirstByte}, 8))",
                };
                bool sameType = f.Kind == FieldKind.Unsigned && f.StorageKeyword == DirectType(f.ByteCount);
                w.Line($"{signature} => {(sameType ? read : FromRaw(f, read))};");
                return;
            }

            string raw = ReadWord(f.FirstByte, f.ByteCount, "bytes");
            if (f.Shift > 0)
            {
                raw = $"{raw} >> {f.Shift}";
            }

            if (f.BitOffset % 8 != 0)
            {
                raw = f.Shift > 0 ? $"({raw}) & {Hex(f.Mask, f.ByteCount)}" : $"{raw} & {Hex(f.Mask, f.ByteCount)}";
            }

            w.Line($"{signature} => {FromRaw(f, raw)};");
        }

        private static void EmitSetter(CodeWriter w, FieldModel f)
        {
            string signature = $"private static void {Names.Setter(f.Name)}({Span} bytes, {f.AccessorType} value)";
            if (f.ByteCount == 9)
            {
                int shift = f.Shift;
                ulong keepHigh = ~(f.Mask >> (8 - shift));
                int keepLow = (1 << shift) - 1;
                string raw = f.BitWidth == 64 ? ToRaw(f, "value", "ulong") : $"{ToRaw(f, "value", "ulong")} & {Hex(f.Mask, 8)}";
                w.Template($$"""
                    {{signature}}
                    {
                        ulong raw = {{raw}};
                        ulong high = {{Binary}}.ReadUInt64BigEndian(bytes.Slice({{f.FirstByte}}, 8));
                        high = (high & {{Hex(keepHigh, 8)}}) | (raw >> {{8 - shift}});
                        {{Binary}}.WriteUInt64BigEndian(bytes.Slice({{f.FirstByte}}, 8), high);
                        bytes[{{f.FirstByte + 8}}] = (byte)((bytes[{{f.FirstByte + 8}}] & 0x{{keepLow:X}}) | (int)((raw << {{shift}}) & 0xFFUL));
                    }
                    """);
                return;
            }

            if (IsWholeWord(f))
            {
                string direct = DirectType(f.ByteCount);
                string value = ToRaw(f, "value", direct);
                string write = f.ByteCount switch
                {
                    1 => $"bytes[{f.FirstByte}] = {value}",
                    2 => $"{Binary}.WriteUInt16{f.ByteOrder}(bytes.Slice({f.FirstByte}, 2), {value})",
                    4 => $"{Binary}.WriteUInt32{f.ByteOrder}(bytes.Slice({f.FirstByte}, 4), {value})",
                    _ => $"{Binary}.WriteUInt64{f.ByteOrder}(bytes.Slice({f.FirstByte}, 8), {value})",
                };
                w.Line($"{signature} => {write};");
                return;
            }

            if (f.ByteCount > 1)
            {
                EmitBytewiseSetter(w, f, signature);
                return;
            }

            string word = WordType(f.ByteCount);
            ulong wordMask = f.ByteCount >= 8 ? ulong.MaxValue : (1UL << (8 * f.ByteCount)) - 1;
            ulong keep = ~(f.Mask << f.Shift) & wordMask;
            string shifted = f.Shift > 0 ? $"(({ToRaw(f, "value", word)} & {Hex(f.Mask, f.ByteCount)}) << {f.Shift})" : $"({ToRaw(f, "value", word)} & {Hex(f.Mask, f.ByteCount)})";
            w.Open(signature);
            if (keep == 0)
            {
                // The field fills its bytes: no neighbouring bits to keep.
                w.Line($"{word} word = {ToRaw(f, "value", word)};");
            }
            else
            {
                w.Line($"{word} word = {ReadWord(f.FirstByte, f.ByteCount, "bytes")};");
                w.Line($"word = (word & {Hex(keep, f.ByteCount)}) | {shifted};");
            }

            WriteWord(w, f.FirstByte, f.ByteCount, "word");
            w.Close();
        }

        /// <summary>
        /// A bit field spread over several bytes, stored one byte at a time: bytes the field fills
        /// are plain stores, only the edge bytes it shares are read-modify-written. A whole-word
        /// read-modify-write would load bytes a neighbouring setter has just stored one by one,
        /// which stalls store-to-load forwarding.
        /// </summary>
        private static void EmitBytewiseSetter(CodeWriter w, FieldModel f, string signature)
        {
            string word = WordType(f.ByteCount);
            ulong fieldMask = f.Mask << f.Shift;
            w.Open(signature);
            w.Line($"{word} word = ({ToRaw(f, "value", word)} & {Hex(f.Mask, f.ByteCount)}){(f.Shift > 0 ? $" << {f.Shift}" : "")};");
            for (int k = 0; k < f.ByteCount; k++)
            {
                int b = f.FirstByte + k;
                int shift = 8 * (f.ByteCount - 1 - k);
                ulong mask = (fieldMask >> shift) & 0xFF;
                string part = shift == 0 ? "word" : $"(word >> {shift})";
                if (mask == 0xFF)
                {
                    w.Line($"bytes[{b}] = (byte){part};");
                }
                else
                {
                    w.Line($"bytes[{b}] = (byte)((({word})bytes[{b}] & 0x{(~mask & 0xFF):X2}{Suffix(f.ByteCount)}) | ({part} & 0x{mask:X2}{Suffix(f.ByteCount)}));");
                }
            }

            w.Close();
        }
    }
}
