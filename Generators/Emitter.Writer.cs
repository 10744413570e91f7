namespace Protocols.Generators
{
    // The Writer ref struct: setters over a span, SetAll, the options and payload regions as
    // written, and the checksum fill with RFC 1624 incremental updates.
    internal static partial class Emitter
    {
        private static void EmitWriter(CodeWriter w, HeaderModel model)
        {
            string type = model.TypeName;
            w.Template($$"""

                /// <summary>Builds one {{Xml(model.Layer)}} header in place: each setter rewrites only its own field's bits.</summary>
                public readonly ref struct {{Names.Writer}}
                {
                    private readonly {{Span}} {{Names.BytesField}};

                    /// <summary>Writes into <paramref name="buffer"/>, which starts at the header.</summary>
                    /// <param name="buffer">The header and what follows it; at least FixedLength bytes.</param>
                    /// <exception cref="global::System.ArgumentException"><paramref name="buffer"/> is shorter than FixedLength.</exception>
                    {{AggressiveInlining}}
                    public {{Names.Writer}}({{Span}} buffer)
                    {
                        if (buffer.Length < {{Names.FixedLength}})
                        {
                            {{type}}.{{Names.ThrowTooShort}}("the buffer", buffer.Length, nameof(buffer));
                        }

                        {{Names.BytesField}} = buffer;
                    }

                    /// <summary>The whole buffer given to the constructor.</summary>
                    public {{Span}} {{Names.Bytes}} => {{Names.BytesField}};

                    // The fixed part as a span of constant length, so that setters need no bounds check of their own:
                    // the one length check here is the same in every accessor and the JIT folds the repeats away.
                    {{AggressiveInlining}}
                    private {{Span}} {{Names.Fixed}}()
                    {
                        if ({{Names.BytesField}}.Length < {{Names.FixedLength}})
                        {
                            {{type}}.{{Names.ThrowTooShort}}("the writer's buffer", {{Names.BytesField}}.Length, "this"); // only a default Writer
                        }

                        return {{Marshal}}.CreateSpan(ref {{Marshal}}.GetReference({{Names.BytesField}}), {{Names.FixedLength}});
                    }
                """);
            w.Indent();
            foreach (FieldModel f in model.Fields)
            {
                w.Template($$"""

                    /// <summary>{{Xml(f.Name)}}: {{Describe(f)}}.</summary>
                    public {{f.AccessorType}} {{f.Identifier}}
                    {
                        get => {{type}}.{{Names.Getter(f.Name)}}({{Names.Fixed}}());
                        set => {{type}}.{{Names.Setter(f.Name)}}({{Names.Fixed}}(), value);
                    }
                    """);
                if (f.Kind == FieldKind.FixedArray)
                {
                    w.Template($$"""

                        /// <summary>The {{f.ByteCount}} bytes of {{Xml(f.Name)}}, in place.</summary>
                        public {{Span}} {{Names.BytesOf(f.Name)}} => {{Names.Fixed}}().Slice({{f.FirstByte}}, {{f.ByteCount}});
                        """);
                }
            }

            w.Template($$"""

                /// <summary>Writes every field of <paramref name="value"/> at once, as <c>value.WriteTo(Bytes)</c> does: each byte stored once, [Const] fields forced.</summary>
                /// <param name="value">The header to write.</param>
                {{AggressiveInlining}}
                public void {{Names.SetAll}}(in {{type}} value) => value.{{Names.WriteTo}}({{Names.Fixed}}());

                /// <summary>Writes the declared value of every [Const] field.</summary>
                public void {{Names.WriteConstants}}()
                {
                """);
            foreach (FieldModel f in model.Fields)
            {
                if (f.ConstValue is ulong value)
                {
                    w.Line($"    {type}.{Names.Setter(f.Name)}({Names.Fixed}(), {Constant(f, value)});");
                }
            }

            w.Line("}");
            w.Line();
            if (model.HeaderLengthField is FieldModel hl)
            {
                w.Template($$"""
                    // The header length as written in {{hl.Name}}, clamped to [FixedLength, buffer length].
                    private int {{Names.WrittenHeaderLength}}() => (int)global::System.Math.Clamp({{HeaderLengthExpression(model, hl, Names.BytesField, type + ".")}}, {{Names.FixedLength}}, {{Names.BytesField}}.Length);
                    """);
            }
            else
            {
                w.Template($$"""
                    // No header-length field: the header is the fixed part.
                    private int {{Names.WrittenHeaderLength}}() => {{Names.FixedLength}};
                    """);
            }

            w.Template($$"""

                /// <summary>The options region, from FixedLength to the header length as written (clamped to the buffer).</summary>
                public {{Span}} {{Names.Options}} => {{Names.BytesField}}.Slice({{Names.FixedLength}}, {{Names.WrittenHeaderLength}}() - {{Names.FixedLength}});

                /// <summary>Everything after the header (as written) to the end of the buffer.</summary>
                public {{Span}} {{Names.Payload}} => {{Names.BytesField}}.Slice({{Names.WrittenHeaderLength}}());
                """);

            if (model.ChecksumField is FieldModel ck)
            {
                EmitIncrementalChecksum(w, model, ck);
            }

            w.Close();
        }

        /// <summary>FillChecksum over the writer's bytes and one RFC 1624 setter per field the checksum covers.</summary>
        private static void EmitIncrementalChecksum(CodeWriter w, HeaderModel model, FieldModel ck)
        {
            string type = model.TypeName;
            w.Line();
            w.Line($"/// <summary>Computes and stores {Xml(ck.Name)} over Bytes (trimmed by a declared length field when it fits).</summary>");
            EmitPseudoDoc(w, model);
            w.Line($"public void {Names.FillChecksum}({PseudoParameter(model).TrimStart(',', ' ')}) => {type}.{Names.FillChecksum}({Names.BytesField}{PseudoArgument(model)});");

            foreach (FieldModel f in model.Fields)
            {
                if (f.Role == FieldRole.Checksum)
                {
                    continue;
                }

                int firstWord = f.FirstByte / 2 * 2;
                int lastWord = (f.EndByte - 1) / 2 * 2;
                w.Line();
                w.Line($"/// <summary>Sets {Xml(f.Name)} and updates {Xml(ck.Name)} incrementally (RFC 1624), without summing the message again.</summary>");
                bool changesCoverage = f.Role == FieldRole.HeaderLength
                    || (model.ChecksumCoverage != ChecksumCoverage.Header && f.Role is FieldRole.TotalLength or FieldRole.PayloadLength);
                if (changesCoverage)
                {
                    w.Line("/// <remarks>This length decides which bytes the checksum covers; the update accounts only for the field's own bits, so call FillChecksum when the covered range changes.</remarks>");
                }
                else if (model.ChecksumCoverage == ChecksumCoverage.PseudoHeaderAndMessage)
                {
                    w.Line("/// <remarks>Only this header's words are accounted for: a pseudo-header value that changes with it (such as a length) is not.</remarks>");
                }

                w.Line("/// <param name=\"value\">The new value.</param>");
                w.Open($"public void {Names.UpdatingChecksum(f.Name)}({f.AccessorType} value)");
                if (model.ChecksumZeroMeansNone)
                {
                    w.Template($$"""
                        if ({{type}}.{{Names.Getter(ck.Name)}}({{Names.BytesField}}) == 0)
                        {
                            // No checksum was transmitted: nothing to update.
                            {{type}}.{{Names.Setter(f.Name)}}({{Names.BytesField}}, value);
                            return;
                        }

                        """);
                }

                w.Line("// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for each 16-bit word m the field touches.");
                for (int word = firstWord; word <= lastWord; word += 2)
                {
                    w.Line($"ushort old{word} = {type}.{Names.ChecksumWord}({Names.BytesField}, {word});");
                }

                w.Line($"{type}.{Names.Setter(f.Name)}({Names.BytesField}, value);");
                w.Line($"ushort checksum = (ushort){type}.{Names.Getter(ck.Name)}({Names.BytesField});");
                for (int word = firstWord; word <= lastWord; word += 2)
                {
                    w.Line($"checksum = {Checksum}.Update(checksum, old{word}, {type}.{Names.ChecksumWord}({Names.BytesField}, {word}));");
                }

                if (!HasPseudoHeader(model))
                {
                    // Without a pseudo-header every covered byte can be zero; the sum from scratch is then +0 and
                    // the checksum 0xFFFF, while eqn. 3 gives 0x0000 (which never verifies).
                    w.Template($$"""
                        if (checksum == 0 && {{type}}.{{Names.ComputeChecksum}}({{Names.BytesField}}) == 0xFFFF)
                        {
                            // RFC 1624 3: eqn. 3 yields 0x0000 where the checksum from scratch is 0xFFFF, when every covered byte is zero.
                            checksum = 0xFFFF;
                        }
                        """);
                }

                if (model.ChecksumZeroMeansNone)
                {
                    w.Template($$"""
                        // Zero on the wire would mean "no checksum": send all ones instead.
                        {{type}}.{{Names.Setter(ck.Name)}}({{Names.BytesField}}, checksum == 0 ? ({{ck.StorageKeyword}})0xFFFF : ({{ck.StorageKeyword}})checksum);
                        """);
                }
                else
                {
                    w.Line($"{type}.{Names.Setter(ck.Name)}({Names.BytesField}, ({ck.StorageKeyword})checksum);");
                }

                w.Close();
            }
        }
    }
}
