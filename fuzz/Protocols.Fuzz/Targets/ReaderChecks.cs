using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>What one generated reader call returned, for <see cref="ReaderChecks"/>.</summary>
internal readonly ref struct ReadOutcome
{
    public ReadOutcome(bool ok, WireError error, ReadOnlySpan<byte> bytes, int headerLength, long declaredLength, bool truncated, ReadOnlySpan<byte> header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload)
    {
        Ok = ok;
        Error = error;
        Bytes = bytes;
        HeaderLength = headerLength;
        DeclaredLength = declaredLength;
        Truncated = truncated;
        Header = header;
        Options = options;
        Payload = payload;
    }

    public bool Ok { get; }

    public WireError Error { get; }

    public ReadOnlySpan<byte> Bytes { get; }

    public int HeaderLength { get; }

    public long DeclaredLength { get; }

    public bool Truncated { get; }

    public ReadOnlySpan<byte> Header { get; }

    public ReadOnlySpan<byte> Options { get; }

    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>
/// The contract every generated header reader keeps (docs/header-compiler.md, "Generated members"),
/// checked on one input: <c>TryRead</c>, its error-less twin and <c>TryReadHeader</c> agree, the
/// views lie inside the input and partition it, a failure names the layer, and the value form
/// writes back the bytes it was read from.
/// </summary>
internal static class ReaderChecks
{
    public static void Agree(string layer, int fixedLength, ReadOnlySpan<byte> input, bool okWithoutError, in ReadOutcome strict, in ReadOutcome lax)
    {
        Check.Equal(strict.Ok, okWithoutError, $"{layer}: TryRead with and without an error disagree");
        Views(layer, fixedLength, input, strict);
        Views(layer, fixedLength, input, lax);
        if (strict.Ok)
        {
            // TryReadHeader skips only the two "past the buffer" checks: what TryRead accepts it accepts, with the same views.
            Check.True(lax.Ok, $"{layer}: TryRead accepted what TryReadHeader refused ({lax.Error})");
            Check.True(!strict.Truncated && strict.DeclaredLength == strict.Bytes.Length, $"{layer}: TryRead returned a truncated message (declared {strict.DeclaredLength}, have {strict.Bytes.Length})");
            Check.Equal(strict.Bytes.Length, lax.Bytes.Length, $"{layer}: message length from TryRead and TryReadHeader");
            Check.Equal(strict.HeaderLength, lax.HeaderLength, $"{layer}: header length from TryRead and TryReadHeader");
        }
        else if (lax.Ok)
        {
            Check.True(strict.Error.Kind == WireErrorKind.TooShort && strict.Error.Source == LengthSource.Buffer, $"{layer}: TryReadHeader accepted what TryRead refused for a reason other than a short buffer: {strict.Error}");
            Check.True(lax.Truncated && lax.DeclaredLength > input.Length, $"{layer}: TryRead refused a buffer that holds the declared {lax.DeclaredLength} bytes ({strict.Error})");
        }

        if (input.Length < fixedLength)
        {
            Check.True(!strict.Ok && !lax.Ok && strict.Error.Kind == WireErrorKind.TooShort, $"{layer}: {input.Length} bytes accepted below the fixed length {fixedLength}");
        }
    }

    /// <summary>The fixed part written back from the value form equals the bytes it was read from.</summary>
    public static void RoundTrip(string layer, ReadOnlySpan<byte> input, ReadOnlySpan<byte> written) =>
        Check.Equal(input[..written.Length], written, $"{layer}: value form written back");

    private static void Views(string layer, int fixedLength, ReadOnlySpan<byte> input, in ReadOutcome r)
    {
        if (!r.Ok)
        {
            Check.True(r.Error.IsError && r.Error.Layer == layer, $"{layer}: a failed read reports '{r.Error}'");
            Check.True(r.Error.ToString().Length > 0, $"{layer}: empty error text");
            return;
        }

        Check.True(!r.Error.IsError, $"{layer}: a successful read reports {r.Error}");
        Check.True(Check.Within(input, r.Bytes) && (r.Bytes.IsEmpty || input.Overlaps(r.Bytes, out int start) && start == 0), $"{layer}: the message is not a prefix of the input");
        Check.True(r.HeaderLength >= fixedLength && r.HeaderLength <= r.Bytes.Length, $"{layer}: header length {r.HeaderLength} outside [{fixedLength}, {r.Bytes.Length}]");
        Check.True(r.Header.Length == r.HeaderLength && r.Payload.Length == r.Bytes.Length - r.HeaderLength, $"{layer}: header {r.Header.Length} + payload {r.Payload.Length} do not make the message {r.Bytes.Length}");
        Check.True(r.Options.Length == r.HeaderLength - fixedLength, $"{layer}: options {r.Options.Length} bytes, header {r.HeaderLength}");
        Check.True(r.Truncated == (r.DeclaredLength > r.Bytes.Length), $"{layer}: IsTruncated {r.Truncated} with declared {r.DeclaredLength}, have {r.Bytes.Length}");
    }
}
