using System.Buffers.Binary;
using System.Globalization;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>Conveniences over the generated <see cref="TcpHeader.Reader"/> and <see cref="TcpHeader.Writer"/>.</summary>
public static class TcpHeaderExtensions
{
    /// <summary>Byte 13 of the header holds the eight control bits, CWR (MSB) to FIN (LSB) (RFC 9293 3.1).</summary>
    private const int FlagsOffset = 13;

    /// <summary>The eight control bits as one value.</summary>
    public static TcpFlags GetFlags(this TcpHeader.Reader reader) => (TcpFlags)reader.Bytes[FlagsOffset];

    /// <summary>The eight control bits as one value.</summary>
    public static TcpFlags GetFlags(this TcpHeader.Writer writer) => (TcpFlags)writer.Bytes[FlagsOffset];

    /// <summary>Sets all eight control bits at once (the checksum is not updated).</summary>
    public static void SetFlags(this TcpHeader.Writer writer, TcpFlags flags) => writer.Bytes[FlagsOffset] = (byte)flags;

    /// <summary>
    /// Sets all eight control bits and updates the checksum incrementally (RFC 1624 eqn. 3) over the
    /// 16-bit word they share with the data offset (bytes 12..13), e.g. for a middlebox clearing ECE/CWR.
    /// </summary>
    public static void SetFlagsUpdatingChecksum(this TcpHeader.Writer writer, TcpFlags flags)
    {
        Span<byte> word = writer.Bytes.Slice(FlagsOffset - 1, 2);
        ushort before = BinaryPrimitives.ReadUInt16BigEndian(word);
        word[1] = (byte)flags;
        writer.Checksum = Checksum.Update(writer.Checksum, before, BinaryPrimitives.ReadUInt16BigEndian(word));
    }

    /// <summary>A reader over the header's options region (error offsets are relative to that region).</summary>
    public static TcpOptionReader GetOptionReader(this TcpHeader.Reader reader) => new(reader.Options);

    /// <summary>
    /// Parses the header's options (<see cref="TcpOptions.TryParse"/>); on failure the error's offset
    /// is relative to the start of the TCP header.
    /// </summary>
    public static bool TryParseOptions(this TcpHeader.Reader reader, out TcpOptions options, out WireError error)
    {
        if (TcpOptions.TryParse(reader.Options, out options, out error))
        {
            return true;
        }

        error = error.WithOffset(TcpHeader.FixedLength);
        return false;
    }
}

/// <summary>Segment-level helpers declared next to the generated header code.</summary>
public partial struct TcpHeader
{
    /// <summary>
    /// Annotations for a whole segment: the header fields (<see cref="Annotate"/>), one line per option
    /// (<see cref="TcpOptionReader.Annotate"/>) and the payload length. When the header cannot be read,
    /// one annotation with the error.
    /// </summary>
    /// <param name="segment">The TCP segment, header first.</param>
    /// <param name="baseOffset">Where the segment starts in the dump.</param>
    /// <param name="into">Receives the annotations.</param>
    public static void AnnotateSegment(ReadOnlySpan<byte> segment, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!TryRead(segment, out Reader reader, out WireError error))
        {
            into.Add(new HexAnnotation(baseOffset, Math.Max(segment.Length, 1), "Unreadable TCP header: " + error.ToString()));
            return;
        }

        Annotate(reader.Header[..FixedLength], baseOffset, into);
        TcpOptionReader.Annotate(reader.Options, baseOffset + FixedLength, into);
        if (!reader.Payload.IsEmpty)
        {
            into.Add(new HexAnnotation(baseOffset + reader.HeaderLength, reader.Payload.Length, string.Create(CultureInfo.InvariantCulture, $"Payload {reader.Payload.Length} bytes")));
        }
    }
}
