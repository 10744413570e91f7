using System.Globalization;
using System.Text;

namespace Protocols.Wire;

/// <summary>Describes one field of a generated header: its name and where its bits are.</summary>
/// <param name="Name">The field name as declared.</param>
/// <param name="BitOffset">Offset of the field's most significant bit from the start of the header.</param>
/// <param name="BitWidth">Width in bits.</param>
public sealed record WireFieldInfo(string Name, int BitOffset, int BitWidth)
{
    /// <summary>First byte that holds any bit of the field.</summary>
    public int FirstByte => BitOffset / 8;

    /// <summary>One past the last byte that holds any bit of the field.</summary>
    public int EndByte => (BitOffset + BitWidth + 7) / 8;
}

/// <summary>A label for a byte range of a dump.</summary>
/// <param name="Offset">First byte the label describes.</param>
/// <param name="Length">Number of bytes described (at least 1).</param>
/// <param name="Text">What those bytes mean, e.g. <c>Ttl=64</c>.</param>
public readonly record struct HexAnnotation(int Offset, int Length, string Text);

/// <summary>Hex dumps, plain and annotated with field names and decoded values.</summary>
public static class HexDump
{
    private const int BytesPerLine = 8;

    /// <summary>A classic dump, 16 bytes a line: offset, hex, ASCII.</summary>
    public static string Plain(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder();
        for (int line = 0; line < data.Length; line += 16)
        {
            ReadOnlySpan<byte> chunk = data.Slice(line, Math.Min(16, data.Length - line));
            sb.Append(line.ToString("x4", CultureInfo.InvariantCulture)).Append("  ");
            for (int i = 0; i < 16; i++)
            {
                sb.Append(i < chunk.Length ? chunk[i].ToString("x2", CultureInfo.InvariantCulture) + " " : "   ");
            }

            sb.Append(' ');
            foreach (byte b in chunk)
            {
                sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>
    /// An annotated dump: one line per annotation (long ranges continue on following lines, 8 bytes
    /// a line), in offset order; bytes no annotation covers are shown unlabelled. Overlapping
    /// annotations are shown in the order given, each with its own bytes.
    /// </summary>
    public static string Annotated(ReadOnlySpan<byte> data, IEnumerable<HexAnnotation> annotations)
    {
        var sorted = annotations.OrderBy(a => a.Offset).ToList();
        var sb = new StringBuilder();
        int covered = 0;
        foreach (HexAnnotation a in sorted)
        {
            int start = Math.Clamp(a.Offset, 0, data.Length);
            int end = Math.Clamp(a.Offset + Math.Max(a.Length, 1), 0, data.Length);
            if (start > covered)
            {
                AppendRange(sb, data, covered, start, "");
            }

            AppendRange(sb, data, start, end, a.Text);
            covered = Math.Max(covered, end);
        }

        if (covered < data.Length)
        {
            AppendRange(sb, data, covered, data.Length, "");
        }

        return sb.ToString();
    }

    /// <summary>Annotations for the fields of a header, one per group of fields that share bytes, labelled with the given values.</summary>
    /// <param name="fields">The header's field layout (a generated <c>H.Fields</c>).</param>
    /// <param name="describe">Turns a field name into <c>Name=value</c> text.</param>
    /// <param name="baseOffset">Where the header starts in the dump.</param>
    public static List<HexAnnotation> FieldAnnotations(IReadOnlyList<WireFieldInfo> fields, Func<WireFieldInfo, string> describe, int baseOffset = 0)
    {
        var result = new List<HexAnnotation>();
        int groupStart = -1, groupEnd = -1;
        var text = new StringBuilder();
        foreach (WireFieldInfo f in fields.OrderBy(f => f.BitOffset))
        {
            if (groupStart >= 0 && f.FirstByte >= groupEnd)
            {
                result.Add(new HexAnnotation(baseOffset + groupStart, groupEnd - groupStart, text.ToString()));
                groupStart = -1;
                text.Clear();
            }

            if (groupStart < 0)
            {
                groupStart = f.FirstByte;
                groupEnd = f.EndByte;
            }
            else
            {
                groupEnd = Math.Max(groupEnd, f.EndByte);
                text.Append(' ');
            }

            text.Append(describe(f));
        }

        if (groupStart >= 0)
        {
            result.Add(new HexAnnotation(baseOffset + groupStart, groupEnd - groupStart, text.ToString()));
        }

        return result;
    }

    private static void AppendRange(StringBuilder sb, ReadOnlySpan<byte> data, int start, int end, string text)
    {
        for (int line = start; line < end; line += BytesPerLine)
        {
            int n = Math.Min(BytesPerLine, end - line);
            sb.Append(line.ToString("x4", CultureInfo.InvariantCulture)).Append("  ");
            for (int i = 0; i < BytesPerLine; i++)
            {
                sb.Append(i < n ? data[line + i].ToString("x2", CultureInfo.InvariantCulture) + " " : "   ");
            }

            if (line == start && text.Length > 0)
            {
                sb.Append(' ').Append(text);
            }

            // No trailing spaces: snapshots diff cleanly.
            while (sb.Length > 0 && sb[^1] == ' ')
            {
                sb.Length--;
            }

            sb.Append('\n');
        }
    }
}
