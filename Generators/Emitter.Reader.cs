namespace Protocols.Generators
{
    // The Reader ref struct (a zero-copy view made by TryRead) and, for [Prefix] headers, the PrefixReader.
    internal static partial class Emitter
    {
        private static void EmitReader(CodeWriter w, HeaderModel model)
        {
            string layerXml = Xml(model.Layer);
            string type = model.TypeName;
            string headerLengthDoc = model.HeaderLengthField is FieldModel hl
                ? $"The header length in bytes: {Xml(HeaderLengthText(model, hl))}."
                : "The header length in bytes: FixedLength (the header has no length field).";
            string declaredLengthDoc = model.MessageLengthField is not null
                ? "The message length the header declares (header included), in bytes; more than Bytes.Length when TryReadHeader accepted a truncated message."
                : "The message length in bytes: the header has no total or payload length, so it is the whole buffer (Bytes.Length).";
            w.Template($$"""

                /// <summary>A zero-copy view of a validated {{layerXml}} message, made by TryRead. Getters read big-endian fields in place and never throw (a default Reader reads as all zeros).</summary>
                public readonly ref struct {{Names.Reader}}
                {
                    private readonly {{ReadOnlySpan}} {{Names.BytesField}};
                    private readonly int {{Names.HeaderLengthField}};
                    private readonly long {{Names.DeclaredLengthField}};

                    /// <summary>Wraps bytes already validated by TryRead or TryReadHeader.</summary>
                    /// <param name="bytes">The message as far as it is present.</param>
                    /// <param name="headerLength">The header length, from FixedLength to the length of <paramref name="bytes"/>.</param>
                    /// <param name="declaredLength">The message length the header declares, at least the length of <paramref name="bytes"/>.</param>
                    {{AggressiveInlining}}
                    internal {{Names.Reader}}({{ReadOnlySpan}} bytes, int headerLength, long declaredLength)
                    {
                        {{Names.BytesField}} = bytes;
                        {{Names.HeaderLengthField}} = headerLength;
                        {{Names.DeclaredLengthField}} = declaredLength;
                    }

                    /// <summary>The message: the buffer trimmed by the total or payload length when the header declares one.</summary>
                    public {{ReadOnlySpan}} {{Names.Bytes}} => {{Names.BytesField}};

                    /// <summary>{{headerLengthDoc}}</summary>
                    public int {{Names.HeaderLength}} => {{Names.HeaderLengthField}};

                    /// <summary>{{declaredLengthDoc}}</summary>
                    public long {{Names.DeclaredLength}} => {{Names.DeclaredLengthField}};

                    /// <summary>True when the declared message length runs past the bytes present (only from TryReadHeader).</summary>
                    public bool {{Names.IsTruncated}} => {{Names.DeclaredLengthField}} > {{Names.BytesField}}.Length;

                    /// <summary>The header, options included.</summary>
                    public {{ReadOnlySpan}} {{Names.Header}} => {{Names.BytesField}}.Slice(0, {{Names.HeaderLengthField}});

                    /// <summary>The options region between the fixed part and HeaderLength (empty without a header-length field).</summary>
                    public {{ReadOnlySpan}} {{Names.Options}} => {{Names.HeaderLengthField}} >= {{Names.FixedLength}} ? {{Names.BytesField}}.Slice({{Names.FixedLength}}, {{Names.HeaderLengthField}} - {{Names.FixedLength}}) : default;

                    /// <summary>What follows the header, up to the end of the message.</summary>
                    public {{ReadOnlySpan}} {{Names.Payload}} => {{Names.BytesField}}.Slice({{Names.HeaderLengthField}});
                """);
            w.Indent();
            EmitFieldGetters(w, model, Names.FixedLength, Names.FixedPart, model.FixedLength);
            w.Template($$"""

                /// <summary>Copies the fields into the value form.</summary>
                /// <returns>The header's fields.</returns>
                public {{type}} {{Names.ToValue}}()
                {
                    var result = default({{type}});
                    if ({{Names.BytesField}}.Length < {{Names.FixedLength}})
                    {
                        return result; // a default Reader
                    }

                    {{ReadOnlySpan}} bytes = {{type}}.{{Names.FixedPart}}({{Names.BytesField}});
                """);
            foreach (FieldModel f in model.Fields)
            {
                w.Line($"    result.{f.Identifier} = {type}.{Names.Getter(f.Name)}(bytes);");
            }

            w.Template("""
                    return result;
                }
                """);

            if (model.ChecksumField is not null)
            {
                w.Line();
                w.Line("/// <summary>Checks the checksum over the message (see the static VerifyChecksum).</summary>");
                EmitPseudoDoc(w, model);
                w.Template($$"""
                    /// <returns>Whether the checksum is right.</returns>
                    public bool {{Names.VerifyChecksum}}({{PseudoParameter(model).TrimStart(',', ' ')}}) => {{type}}.{{Names.VerifyChecksum}}({{Names.BytesField}}{{PseudoArgument(model)}});
                    """);
            }

            w.Template($$"""

                /// <summary>The layer name and every field as <c>Name=value</c>.</summary>
                /// <returns>One line of text.</returns>
                public override string {{Names.ToStringMethod}}() => {{Names.ToValue}}().ToString();
                """);
            w.Close();
        }

        /// <summary>
        /// One getter per field (and per fixed array its bytes) that lies within <paramref name="length"/>
        /// bytes: a read through a span of that constant length after one length check, default when
        /// the reader is a default one.
        /// </summary>
        private static void EmitFieldGetters(CodeWriter w, HeaderModel model, string lengthName, string partName, int length)
        {
            string type = model.TypeName;
            foreach (FieldModel f in model.Fields)
            {
                if (f.EndByte > length)
                {
                    continue;
                }

                w.Template($$"""

                    /// <summary>{{Xml(f.Name)}}: {{Describe(f)}}.</summary>
                    public {{f.AccessorType}} {{f.Identifier}} => {{Names.BytesField}}.Length >= {{lengthName}} ? {{type}}.{{Names.Getter(f.Name)}}({{type}}.{{partName}}({{Names.BytesField}})) : default;
                    """);
                if (f.Kind == FieldKind.FixedArray)
                {
                    w.Template($$"""

                        /// <summary>The {{f.ByteCount}} bytes of {{Xml(f.Name)}}, in place.</summary>
                        public {{ReadOnlySpan}} {{Names.BytesOf(f.Name)}} => {{Names.BytesField}}.Length >= {{lengthName}} ? {{type}}.{{partName}}({{Names.BytesField}}).Slice({{f.FirstByte}}, {{f.ByteCount}}) : default;
                        """);
                }
            }
        }

        /// <summary>The reader of a [Prefix] header's leading bytes: the fields that lie wholly within them.</summary>
        private static void EmitPrefixReader(CodeWriter w, HeaderModel model)
        {
            int prefix = model.PrefixLength!.Value;
            w.Template($$"""

                /// <summary>A zero-copy view of the first PrefixLength bytes of a {{Xml(model.Layer)}} header, made by TryReadPrefix: the fields that lie wholly within them. Getters never throw (a default PrefixReader reads as all zeros).</summary>
                public readonly ref struct {{Names.PrefixReader}}
                {
                    private readonly {{ReadOnlySpan}} {{Names.BytesField}};

                    /// <summary>Wraps a prefix already validated by TryReadPrefix.</summary>
                    /// <param name="bytes">Exactly PrefixLength bytes.</param>
                    {{AggressiveInlining}}
                    internal {{Names.PrefixReader}}({{ReadOnlySpan}} bytes) => {{Names.BytesField}} = bytes;

                    /// <summary>The prefix: the first PrefixLength bytes of the header.</summary>
                    public {{ReadOnlySpan}} {{Names.Bytes}} => {{Names.BytesField}};
                """);
            w.Indent();
            EmitFieldGetters(w, model, Names.PrefixLength, Names.PrefixPart, prefix);
            w.Template($$"""

                /// <summary>The layer name and every field of the prefix as <c>Name=value</c>.</summary>
                /// <returns>One line of text.</returns>
                public override string {{Names.ToStringMethod}}()
                {
                    var text = new global::System.Text.StringBuilder({{model.TypeName}}.{{Names.LayerName}});
                """);
            foreach (FieldModel f in model.Fields)
            {
                if (f.EndByte <= prefix)
                {
                    string value = f.Kind == FieldKind.Enum
                        ? $"{model.TypeName}.{Names.FormatEnum}(this.{f.Identifier})"
                        : Format(model, f, "this." + f.Identifier, $"this.{Names.BytesOf(f.Name)}");
                    w.Line($"    text.Append({Literal(" " + f.Name + "=")}).Append({value});");
                }
            }

            w.Template("""
                    return text.ToString();
                }
                """);
            w.Close();
        }
    }
}
