namespace Protocols.Generators
{
    // The RFC 1071 checksum helpers of a [Checksum] header: the covered bytes, compute, verify, fill.
    internal static partial class Emitter
    {
        private static bool HasPseudoHeader(HeaderModel model) => model.ChecksumCoverage == ChecksumCoverage.PseudoHeaderAndMessage;

        private static string PseudoParameter(HeaderModel model) => HasPseudoHeader(model) ? ", uint pseudoHeaderSum" : "";

        private static string PseudoArgument(HeaderModel model) => HasPseudoHeader(model) ? ", pseudoHeaderSum" : "";

        private static string PseudoInitial(HeaderModel model) => HasPseudoHeader(model) ? "pseudoHeaderSum" : "0";

        private static void EmitPseudoDoc(CodeWriter w, HeaderModel model)
        {
            if (HasPseudoHeader(model))
            {
                w.Line("/// <param name=\"pseudoHeaderSum\">The partial sum of the pseudo-header from the layer below (e.g. Checksum.PseudoHeaderSum).</param>");
            }
        }

        private static string CoverageText(HeaderModel model) => model.ChecksumCoverage switch
        {
            ChecksumCoverage.Header => "the header, options included",
            ChecksumCoverage.PseudoHeaderAndMessage => "the pseudo-header, then the whole message",
            _ => "the whole message",
        };

        private static void EmitChecksum(CodeWriter w, HeaderModel model)
        {
            FieldModel ck = model.ChecksumField!;
            int at = ck.FirstByte;
            string coverageText = CoverageText(model);

            w.Line();
            w.Line($"// The bytes {ck.Name} covers: {coverageText}. `message` is at least FixedLength long.");
            w.Open($"private static {ReadOnlySpan} {Names.ChecksummedBytes}({ReadOnlySpan} message)");
            string headerLength = model.HeaderLengthField is FieldModel hl
                ? $"global::System.Math.Clamp({HeaderLengthExpression(model, hl, "message")}, {Names.FixedLength}, message.Length)"
                : Names.FixedLength;
            if (model.ChecksumCoverage == ChecksumCoverage.Header)
            {
                w.Template($$"""
                    long headerLength = {{headerLength}};
                    return message.Slice(0, (int)headerLength);
                    """);
            }
            else if (model.TotalLengthField is FieldModel tl)
            {
                w.Template($$"""
                    // Trimmed to {{tl.Name}} when it fits.
                    long messageLength = {{LengthValue(tl, "message")}};
                    return messageLength >= {{Names.FixedLength}} && messageLength <= message.Length ? message.Slice(0, (int)messageLength) : message;
                    """);
            }
            else if (model.PayloadLengthField is FieldModel pl)
            {
                w.Template($$"""
                    // Trimmed to the header plus {{pl.Name}} when it fits.
                    long messageLength = {{headerLength}} + {{LengthValue(pl, "message")}};
                    return messageLength <= message.Length ? message.Slice(0, (int)messageLength) : message;
                    """);
            }
            else
            {
                w.Line("return message;");
            }

            w.Close();

            string pseudoParam = PseudoParameter(model);
            string tooShort = Literal(model.Layer + " checksum needs at least " + Number(model.FixedLength) + " bytes, the message has ");
            w.Template($$"""

                // RFC 1071: the ones'-complement sum of the covered bytes as if {{ck.Name}} (bytes {{at}}..{{at + 1}}) were zero:
                // the words before the field plus the words after it (the field sits at an even offset).
                private static uint {{Names.SumWithoutChecksum}}({{ReadOnlySpan}} covered, uint initial)
                {
                    uint before = {{Checksum}}.Sum(covered.Slice(0, {{at}}), initial);
                    uint after = {{Checksum}}.Sum(covered.Slice({{at + 2}}));
                    return {{Checksum}}.Add(before, after);
                }

                // A big-endian 16-bit word of the message; past the end the missing byte counts as zero (RFC 1071 padding).
                private static ushort {{Names.ChecksumWord}}({{ReadOnlySpan}} bytes, int offset) =>
                    offset + 1 < bytes.Length ? {{Binary}}.ReadUInt16BigEndian(bytes.Slice(offset, 2)) : (ushort)(bytes[offset] << 8);

                /// <summary>Computes {{Xml(ck.Name)}} over {{coverageText}}, treating the field as zero (RFC 1071).</summary>
                /// <param name="message">The whole layer, starting at the header.</param>
                """);
            EmitPseudoDoc(w, model);
            w.Line(model.ChecksumZeroMeansNone
                ? "/// <returns>The checksum to transmit; a computed 0x0000 is returned as 0xFFFF, since 0 means \"no checksum\".</returns>"
                : "/// <returns>The checksum to transmit.</returns>");
            w.Template($$"""
                /// <exception cref="global::System.ArgumentException"><paramref name="message"/> is shorter than FixedLength.</exception>
                public static ushort {{Names.ComputeChecksum}}({{ReadOnlySpan}} message{{pseudoParam}})
                {
                    if (message.Length < {{Names.FixedLength}})
                    {
                        throw new global::System.ArgumentException({{tooShort}} + message.Length.ToString({{Invariant}}), nameof(message));
                    }

                    ushort checksum = {{Checksum}}.Finish({{Names.SumWithoutChecksum}}({{Names.ChecksummedBytes}}(message), {{PseudoInitial(model)}}));
                """);
            if (model.ChecksumZeroMeansNone)
            {
                w.Template("""
                        // A computed zero is sent as all ones: zero on the wire means "no checksum" (RFC 768).
                        return checksum == 0 ? (ushort)0xFFFF : checksum;
                    }
                    """);
            }
            else
            {
                w.Template("""
                        return checksum;
                    }
                    """);
            }

            w.Template($$"""

                /// <summary>Checks {{Xml(ck.Name)}}: the ones'-complement sum of {{coverageText}}, field included, must be all ones (RFC 1071). Never throws.</summary>
                /// <param name="message">The whole layer, starting at the header.</param>
                """);
            EmitPseudoDoc(w, model);
            w.Line(model.ChecksumZeroMeansNone
                ? "/// <returns>Whether the checksum is right, or zero (\"no checksum\"); false when the message is shorter than FixedLength.</returns>"
                : "/// <returns>Whether the checksum is right; false when the message is shorter than FixedLength.</returns>");
            w.Template($$"""
                public static bool {{Names.VerifyChecksum}}({{ReadOnlySpan}} message{{pseudoParam}})
                {
                    if (message.Length < {{Names.FixedLength}})
                    {
                        return false;
                    }

                """);
            if (model.ChecksumZeroMeansNone)
            {
                w.Template($$"""
                        if ({{Names.Getter(ck.Name)}}(message) == 0)
                        {
                            return true; // transmitted without a checksum
                        }

                    """);
            }

            w.Template($$"""
                    return {{Checksum}}.Sum({{Names.ChecksummedBytes}}(message), {{PseudoInitial(model)}}) == 0xFFFF;
                }

                /// <summary>Computes {{Xml(ck.Name)}} and stores it in the message.</summary>
                /// <param name="message">The whole layer, starting at the header.</param>
                """);
            EmitPseudoDoc(w, model);
            w.Template($$"""
                /// <exception cref="global::System.ArgumentException"><paramref name="message"/> is shorter than FixedLength.</exception>
                public static void {{Names.FillChecksum}}({{Span}} message{{pseudoParam}}) =>
                    {{Names.Setter(ck.Name)}}(message, ({{ck.StorageKeyword}}){{Names.ComputeChecksum}}(message{{PseudoArgument(model)}}));
                """);
        }
    }
}
