using System.Collections.Generic;
using System.Linq;

namespace Protocols.Generators
{
    // TryRead, TryReadHeader and ReadError (and TryReadPrefix and PrefixError for [Prefix]
    // headers), all emitted from the one list of checks in the model: the fast paths test every
    // check in one condition, the error paths test the same checks one at a time in the same order.
    internal static partial class Emitter
    {
        private static void EmitTryRead(CodeWriter w, HeaderModel model)
        {
            string layerXml = Xml(model.Layer);
            w.Line();
            w.Line("// The first field (in declaration order) that does not fit in `length` bytes.");
            w.Open($"private static string {Names.FirstFieldBeyond}(int length)");
            int covered = 0;
            foreach (FieldModel f in model.Fields)
            {
                if (f.EndByte <= covered)
                {
                    continue; // an earlier field already ends at or after this one
                }

                covered = f.EndByte;
                w.Template($$"""
                    if (length < {{f.EndByte}})
                    {
                        return {{Literal(f.Name)}};
                    }

                    """);
            }

            w.Line("return \"\";");
            w.Close();
            w.Template($$"""

                /// <summary>Validates one {{layerXml}} header at the start of <paramref name="buffer"/> and gives a zero-copy reader over it. Never throws.</summary>
                /// <param name="buffer">The bytes, starting at the header.</param>
                /// <param name="reader">On success, a view of the message (trimmed by its length field when there is one); no getter of it can throw.</param>
                /// <param name="error">On failure, what was wrong: the first failed check in the order fixed part, constants and ranges, header length, total or payload length.</param>
                /// <returns>Whether the header is valid.</returns>
                {{AggressiveInlining}}
                public static bool {{Names.TryRead}}({{ReadOnlySpan}} buffer, out {{Names.Reader}} reader, out {{WireError}} error)
                """);
            w.Open();
            EmitFastPath(w, model, lax: false, withError: true);
            w.Close();
            w.Template($$"""

                /// <summary>Validates one {{layerXml}} header like the TryRead that reports errors, for callers that only need to know whether it is valid
                /// (it skips building the error). Never throws.</summary>
                /// <param name="buffer">The bytes, starting at the header.</param>
                /// <param name="reader">On success, a view of the message (trimmed by its length field when there is one); no getter of it can throw.</param>
                /// <returns>Whether the header is valid.</returns>
                {{AggressiveInlining}}
                public static bool {{Names.TryRead}}({{ReadOnlySpan}} buffer, out {{Names.Reader}} reader)
                """);
            w.Open();
            EmitFastPath(w, model, lax: false, withError: false);
            w.Close();
            w.Template($$"""

                /// <summary>Validates one {{layerXml}} header like TryRead, except that a total or payload length running past the end of <paramref name="buffer"/> is accepted
                /// (a quoted or truncated message: an ICMP error's quoted datagram, a capture cut by its snap length, a first fragment). Never throws.</summary>
                /// <param name="buffer">The bytes, starting at the header.</param>
                /// <param name="reader">On success, a view of the message as far as it is present: Bytes = buffer[..min(DeclaredLength, buffer.Length)], IsTruncated when the declared length is longer; no getter of it can throw.</param>
                /// <param name="error">On failure, what was wrong, as for TryRead (a declared length smaller than the header is still an error).</param>
                /// <returns>Whether the header is valid.</returns>
                {{AggressiveInlining}}
                public static bool {{Names.TryReadHeader}}({{ReadOnlySpan}} buffer, out {{Names.Reader}} reader, out {{WireError}} error)
                """);
            w.Open();
            EmitFastPath(w, model, lax: true, withError: true);
            w.Close();
            w.Template($$"""

                // The checks of TryRead and TryReadHeader one at a time, in the documented order: the first that fails.
                // Out of line, and with no by-ref arguments, so that the inlined fast paths keep their readers in registers.
                {{NoInlining}}
                private static {{WireError}} {{Names.ReadError}}({{ReadOnlySpan}} buffer, bool lax)
                """);
            w.Open();
            EmitReadError(w, model);
            w.Close();

            if (model.PrefixLength is int prefix)
            {
                EmitTryReadPrefix(w, model, prefix);
            }
        }

        /// <summary>The step of the documented order a check belongs to (1 fixed part, 2 values, 3 header length, 4 message length).</summary>
        private static int Step(CheckKind kind) => kind switch
        {
            CheckKind.FixedPart => 1,
            CheckKind.Const or CheckKind.Range => 2,
            CheckKind.HeaderLengthCoversFixedPart or CheckKind.HeaderLengthFits => 3,
            _ => 4,
        };

        private static string RangeLocal(FieldModel f) => $"{Camel(f.Name)}Value";

        /// <summary>The local a check reads, declared before its first use (null when it reads none).</summary>
        private static (string Name, string Declaration)? Local(HeaderModel model, CheckModel check, string span)
        {
            FieldModel? f = check.Field;
            switch (check.Kind)
            {
                case CheckKind.Range:
                    return (RangeLocal(f!), $"ulong {RangeLocal(f!)} = {AsUlong(f!, $"{Names.Getter(f!.Name)}({span})")};");
                case CheckKind.HeaderLengthCoversFixedPart:
                case CheckKind.HeaderLengthFits:
                    return ("headerLength", $"long headerLength = {HeaderLengthExpression(model, f!, span)};");
                case CheckKind.TotalLengthCoversHeader:
                case CheckKind.MessageFits:
                    return ("messageLength", f!.Role == FieldRole.TotalLength
                        ? $"long messageLength = {LengthValue(f, span)};"
                        : $"long messageLength = headerLength + {LengthValue(f, span)};");
                default:
                    return null;
            }
        }

        /// <summary>The condition under which a check passes, over the locals of <see cref="Local"/> (the fast paths).</summary>
        private static string PassCondition(CheckModel check, string span) => check.Kind switch
        {
            CheckKind.FixedPart => $"buffer.Length >= {Names.FixedLength}",
            CheckKind.Const => $"{AsUlong(check.Field!, $"{Names.Getter(check.Field!.Name)}({span})")} == {Number(check.Minimum!.Value)}UL",
            CheckKind.Range => "!(" + string.Join(" || ", RangeFailures(check)) + ")",
            CheckKind.HeaderLengthCoversFixedPart => $"headerLength >= {Names.FixedLength}",
            CheckKind.HeaderLengthFits => "headerLength <= buffer.Length",
            CheckKind.TotalLengthCoversHeader => "messageLength >= headerLength",
            _ => "messageLength <= buffer.Length",
        };

        /// <summary>The condition under which a check fails (ReadError).</summary>
        private static string FailCondition(CheckModel check, string span) => check.Kind switch
        {
            CheckKind.FixedPart => $"buffer.Length < {Names.FixedLength}",
            CheckKind.Const => $"{AsUlong(check.Field!, $"{Names.Getter(check.Field!.Name)}({span})")} != {Number(check.Minimum!.Value)}UL",
            CheckKind.Range => string.Join(" || ", RangeFailures(check)),
            CheckKind.HeaderLengthCoversFixedPart => $"headerLength < {Names.FixedLength}",
            CheckKind.HeaderLengthFits => "headerLength > buffer.Length",
            CheckKind.TotalLengthCoversHeader => "messageLength < headerLength",
            _ => "!lax && messageLength > buffer.Length",
        };

        private static IEnumerable<string> RangeFailures(CheckModel check)
        {
            if (check.Minimum is ulong min)
            {
                yield return $"{RangeLocal(check.Field!)} < {Number(min)}UL";
            }

            if (check.Maximum is ulong max)
            {
                yield return $"{RangeLocal(check.Field!)} > {Number(max)}UL";
            }
        }

        /// <summary>The WireError a failed check reports (docs/header-compiler.md, "TryRead order of checks").</summary>
        private static string Error(HeaderModel model, CheckModel check, string span)
        {
            FieldModel? f = check.Field;
            switch (check.Kind)
            {
                case CheckKind.FixedPart:
                    return $"{WireError}.TooShort({Names.LayerName}, {Names.FirstFieldBeyond}(buffer.Length), {Names.FixedLength}, buffer.Length, {LengthSourceType}.Buffer)";
                case CheckKind.Const:
                    string value = AsUlong(f!, $"{Names.Getter(f!.Name)}({span})");
                    return $"{WireError}.InvalidValue({Names.LayerName}, {Literal(f.Name)}, {LongLiteral(check.Minimum!.Value)}, (long){value}, {f.FirstByte})";
                case CheckKind.Range:
                    // Required is the bound that was crossed: the minimum below it, the maximum above it.
                    string local = RangeLocal(f!);
                    string required = check.Minimum is ulong min && check.Maximum is ulong max
                        ? $"{local} < {Number(min)}UL ? {LongLiteral(min)} : {LongLiteral(max)}"
                        : LongLiteral(check.Minimum ?? check.Maximum!.Value);
                    return $"{WireError}.InvalidValue({Names.LayerName}, {Literal(f!.Name)}, {required}, (long){local}, {f.FirstByte})";
                case CheckKind.HeaderLengthCoversFixedPart:
                    return $"{WireError}.LengthTooSmall({Names.LayerName}, {Literal(f!.Name)}, {Names.FixedLength}, headerLength, {LengthSourceType}.{model.HeaderLengthSource}, {f.FirstByte})";
                case CheckKind.HeaderLengthFits:
                    return $"{WireError}.TooShort({Names.LayerName}, {Literal(f!.Name)}, headerLength, buffer.Length, {LengthSourceType}.Buffer)";
                case CheckKind.TotalLengthCoversHeader:
                    return $"{WireError}.LengthTooSmall({Names.LayerName}, {Literal(f!.Name)}, headerLength, messageLength, {LengthSourceType}.TotalLength, {f.FirstByte})";
                default:
                    return $"{WireError}.TooShort({Names.LayerName}, {Literal(f!.Name)}, messageLength, buffer.Length, {LengthSourceType}.Buffer)";
            }
        }

        /// <summary>
        /// The success path of TryRead / TryReadHeader: every check as one condition, and the
        /// out-of-line ReadError (which repeats them in order) only when one fails. No WireError is
        /// built on success beyond clearing the out parameter.
        /// </summary>
        private static void EmitFastPath(CodeWriter w, HeaderModel model, bool lax, bool withError)
        {
            w.Open($"if ({PassCondition(model.Checks[0], "fixedPart")})");
            w.Line($"{ReadOnlySpan} fixedPart = {Names.FixedPart}(buffer);");
            var checks = model.Checks.Skip(1).Where(c => !(lax && c.SkippedWhenLax)).ToList();
            DeclareLocals(w, model, model.Checks.Skip(1), "fixedPart", inFastPath: true);
            var conditions = checks.Select(c => PassCondition(c, "fixedPart")).ToList();
            if (conditions.Count == 0)
            {
                w.Open();
            }
            else
            {
                for (int i = 0; i < conditions.Count; i++)
                {
                    w.Line((i == 0 ? "if (" : "    && ") + conditions[i] + (i == conditions.Count - 1 ? ")" : ""));
                }

                w.Open();
            }

            FieldModel? declared = model.MessageLengthField;
            string span = $"{Marshal}.CreateReadOnlySpan(ref {Marshal}.GetReference(buffer), {{0}})";
            if (declared is not null && lax)
            {
                w.Template($$"""
                    // Lax: the message is what is present of the declared length.
                    int present = (int)global::System.Math.Min(messageLength, buffer.Length);
                    reader = new {{Names.Reader}}({{string.Format(span, "present")}}, (int)headerLength, messageLength);
                    """);
            }
            else if (declared is null)
            {
                w.Template($$"""
                    // No length field: the message is the buffer itself (whose length the JIT has just seen checked).
                    reader = new {{Names.Reader}}(buffer, (int)headerLength, buffer.Length);
                    """);
            }
            else
            {
                w.Template($$"""
                    // Every length was checked against the buffer: no second bounds check for the slice.
                    reader = new {{Names.Reader}}({{string.Format(span, "(int)messageLength")}}, (int)headerLength, messageLength);
                    """);
            }

            if (withError)
            {
                w.Line("error = default;");
            }

            w.Line("return true;");
            w.Close();
            w.Close();
            w.Line();
            w.Line("reader = default;");
            if (withError)
            {
                w.Line($"error = {Names.ReadError}(buffer, {(lax ? "true" : "false")});");
            }

            w.Line("return false;");
        }

        /// <summary>
        /// Declares what the checks read, once each, before the condition that tests them all: the
        /// [Range] values, the header length (the fixed part without a header-length field) and the
        /// declared message length.
        /// </summary>
        private static void DeclareLocals(CodeWriter w, HeaderModel model, IEnumerable<CheckModel> checks, string span, bool inFastPath)
        {
            var declared = new HashSet<string>();
            bool headerLengthDeclared = false;
            foreach (CheckModel check in checks)
            {
                if (Step(check.Kind) == 4 && !headerLengthDeclared && model.HeaderLengthField is null)
                {
                    w.Line($"long headerLength = {Names.FixedLength};");
                    headerLengthDeclared = true;
                }

                if (Local(model, check, span) is { } local && declared.Add(local.Name))
                {
                    w.Line(local.Declaration);
                    headerLengthDeclared |= local.Name == "headerLength";
                }
            }

            if (inFastPath && !headerLengthDeclared)
            {
                w.Line($"long headerLength = {Names.FixedLength};");
            }
        }

        /// <summary>The body of ReadError: each check of the list in order, returning the first failure.</summary>
        private static void EmitReadError(CodeWriter w, HeaderModel model)
        {
            CheckModel fixedPart = model.Checks[0];
            w.Template($$"""
                // 1. The fixed part must fit in the buffer.
                if ({{FailCondition(fixedPart, "buffer")}})
                {
                    return {{Error(model, fixedPart, "buffer")}};
                }
                """);

            // 2. [Const] and [Range] fields.
            List<CheckModel> values = model.Checks.Where(c => Step(c.Kind) == 2).ToList();
            w.Line();
            if (values.Count > 0)
            {
                w.Line("// 2. [Const] and [Range] fields, in declaration order.");
                EmitValueChecks(w, model, values, "buffer");
            }

            // 3. The header length.
            FieldModel? headerLength = model.HeaderLengthField;
            if (headerLength is not null)
            {
                w.Line($"// 3. The header length: {HeaderLengthText(model, headerLength)} bytes, at least the fixed part and within the buffer.");
                EmitSequentialChecks(w, model, model.Checks.Where(c => Step(c.Kind) == 3), "buffer");
            }
            else
            {
                w.Line("// 3. No header-length field: the header is the fixed part.");
                if (model.MessageLengthField is not null)
                {
                    w.Line($"long headerLength = {Names.FixedLength};");
                }
            }

            // 4. The total or payload length.
            w.Line();
            FieldModel? message = model.MessageLengthField;
            if (message is null)
            {
                w.Line("// 4. No length field: the message is the whole buffer.");
            }
            else
            {
                w.Line(message.Role == FieldRole.TotalLength
                    ? $"// 4. The total length ({message.Name}) covers the header and (unless lax) fits in the buffer."
                    : $"// 4. The payload length ({message.Name}) after the header (unless lax) fits in the buffer.");
                EmitSequentialChecks(w, model, model.Checks.Where(c => Step(c.Kind) == 4), "buffer");
            }

            w.Template("""

                // Every check passed: not reached from TryRead or TryReadHeader, which ask only after one failed.
                return default;
                """);
        }

        /// <summary>[Const] and [Range] checks one at a time, each followed by a blank line.</summary>
        private static void EmitValueChecks(CodeWriter w, HeaderModel model, IEnumerable<CheckModel> checks, string span)
        {
            foreach (CheckModel check in checks)
            {
                if (Local(model, check, span) is { } local)
                {
                    w.Line(local.Declaration);
                }

                w.Template($$"""
                    if ({{FailCondition(check, span)}})
                    {
                        return {{Error(model, check, span)}};
                    }

                    """);
            }
        }

        /// <summary>Length checks one at a time, their local declared before the first, blank lines between them.</summary>
        private static void EmitSequentialChecks(CodeWriter w, HeaderModel model, IEnumerable<CheckModel> checks, string span)
        {
            var declared = new HashSet<string>();
            bool first = true;
            foreach (CheckModel check in checks)
            {
                if (Local(model, check, span) is { } local && declared.Add(local.Name))
                {
                    w.Line(local.Declaration);
                }

                if (!first)
                {
                    w.Line();
                }

                first = false;
                w.Template($$"""
                    if ({{FailCondition(check, span)}})
                    {
                        return {{Error(model, check, span)}};
                    }
                    """);
            }
        }

        /// <summary>
        /// TryReadPrefix and PrefixError: the checks of the list whose field lies wholly within the
        /// prefix, after the prefix itself fits in the buffer.
        /// </summary>
        private static void EmitTryReadPrefix(CodeWriter w, HeaderModel model, int prefix)
        {
            string layerXml = Xml(model.Layer);
            List<CheckModel> checks = model.Checks.Where(c => Step(c.Kind) == 2 && c.Field!.EndByte <= prefix).ToList();
            w.Template($$"""

                /// <summary>The leading bytes of a {{layerXml}} header that TryReadPrefix reads: all that some protocols carry of it (an ICMP error quotes only 8 bytes of the offending datagram's data).</summary>
                public const int {{Names.PrefixLength}} = {{prefix}};

                /// <summary>Validates the first PrefixLength bytes of a {{layerXml}} header and gives a reader of the fields that lie wholly within them. Never throws.</summary>
                /// <param name="buffer">The bytes, starting at the header; what follows the prefix is ignored.</param>
                /// <param name="reader">On success, a view of the prefix; no getter of it can throw.</param>
                /// <param name="error">On failure, what was wrong: the prefix does not fit, or a [Const] or [Range] field within it is out of bounds.</param>
                /// <returns>Whether the prefix is valid.</returns>
                {{AggressiveInlining}}
                public static bool {{Names.TryReadPrefix}}({{ReadOnlySpan}} buffer, out {{Names.PrefixReader}} reader, out {{WireError}} error)
                """);
            w.Open();
            w.Open($"if (buffer.Length >= {Names.PrefixLength})");
            w.Line($"{ReadOnlySpan} prefix = {Names.PrefixPart}(buffer);");
            foreach (CheckModel check in checks)
            {
                if (Local(model, check, "prefix") is { } local)
                {
                    w.Line(local.Declaration);
                }
            }

            for (int i = 0; i < checks.Count; i++)
            {
                w.Line((i == 0 ? "if (" : "    && ") + PassCondition(checks[i], "prefix") + (i == checks.Count - 1 ? ")" : ""));
            }

            w.Open();
            w.Template($$"""
                reader = new {{Names.PrefixReader}}(prefix);
                error = default;
                return true;
                """);
            w.Close();
            w.Close();
            w.Template($$"""

                reader = default;
                error = {{Names.PrefixError}}(buffer);
                return false;
                """);
            w.Close();
            w.Template($$"""

                // The checks of TryReadPrefix one at a time: the first that fails.
                {{NoInlining}}
                private static {{WireError}} {{Names.PrefixError}}({{ReadOnlySpan}} buffer)
                """);
            w.Open();
            w.Template($$"""
                if (buffer.Length < {{Names.PrefixLength}})
                {
                    return {{WireError}}.TooShort({{Names.LayerName}}, {{Names.FirstFieldBeyond}}(buffer.Length), {{Names.PrefixLength}}, buffer.Length, {{LengthSourceType}}.Buffer);
                }

                """);
            EmitValueChecks(w, model, checks, "buffer");
            w.Line("return default;");
            w.Close();
            w.Template($$"""

                // The first PrefixLength bytes as a span whose length the JIT sees as a constant. Only for spans already checked to hold them.
                {{AggressiveInlining}}
                private static {{ReadOnlySpan}} {{Names.PrefixPart}}({{ReadOnlySpan}} checkedBytes) =>
                    {{Marshal}}.CreateReadOnlySpan(ref {{Marshal}}.GetReference(checkedBytes), {{Names.PrefixLength}});
                """);
        }
    }
}
