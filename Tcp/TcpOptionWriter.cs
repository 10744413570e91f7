using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Protocols.Tcp;

/// <summary>
/// Writes TCP options (RFC 9293 3.2, RFC 7323, RFC 2018) one after another into a span, then pads
/// the list with NOPs to a 4-byte boundary (<see cref="Complete"/>) so the data offset covers it
/// exactly. Writing more than the span holds throws <see cref="ArgumentException"/>: the caller
/// sizes the options (at most <see cref="TcpOptions.MaxLength"/> bytes) before writing.
/// </summary>
/// <example>
/// The options of a Linux SYN (MSS, SACK-permitted, timestamps, NOP, window scale; 20 bytes):
/// <code>
/// var w = new TcpOptionWriter(buffer);
/// w.WriteMss(1460);
/// w.WriteSackPermitted();
/// w.WriteTimestamps(tsVal, 0);
/// w.WriteNoOperation();
/// w.WriteWindowScale(7);
/// int length = w.Complete();
/// </code>
/// </example>
public ref struct TcpOptionWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    /// <summary>Writes into <paramref name="destination"/> from its start.</summary>
    public TcpOptionWriter(Span<byte> destination)
    {
        _buffer = destination;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>Bytes still free in the destination.</summary>
    public readonly int Remaining => _buffer.Length - _length;

    /// <summary>The bytes written so far.</summary>
    public readonly Span<byte> Written => _buffer[.._length];

    /// <summary>Writes an End of Option List octet (kind 0, RFC 9293 3.2). Nothing should follow but zero padding.</summary>
    public void WriteEndOfOptionList() => Reserve(1)[0] = (byte)TcpOptionKind.EndOfOptionList;

    /// <summary>Writes a No-Operation octet (kind 1, RFC 9293 3.2).</summary>
    public void WriteNoOperation() => Reserve(1)[0] = (byte)TcpOptionKind.NoOperation;

    /// <summary>Writes a Maximum Segment Size option (kind 2, length 4, RFC 9293 3.2; only on a SYN, 3.7.1).</summary>
    public void WriteMss(ushort mss)
    {
        Span<byte> o = Start(TcpOptionKind.MaximumSegmentSize, 4);
        BinaryPrimitives.WriteUInt16BigEndian(o[2..], mss);
    }

    /// <summary>Writes a Window Scale option (kind 3, length 3, RFC 7323 2.2; only on a SYN).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shift"/> is above 14 (RFC 7323 2.3).</exception>
    public void WriteWindowScale(byte shift)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shift, TcpOption.MaxWindowScaleShift);
        Start(TcpOptionKind.WindowScale, 3)[2] = shift;
    }

    /// <summary>Writes a SACK-Permitted option (kind 4, length 2, RFC 2018 2; only on a SYN).</summary>
    public void WriteSackPermitted() => Start(TcpOptionKind.SackPermitted, 2);

    /// <summary>Writes a SACK option (kind 5, length 2 + 8n, RFC 2018 3) with 1 to 4 blocks.</summary>
    /// <exception cref="ArgumentException">There are no blocks or more than 4.</exception>
    public void WriteSack(scoped ReadOnlySpan<TcpSackBlock> blocks)
    {
        if (blocks.Length is < 1 or > TcpOptions.MaxSackBlocks)
        {
            throw new ArgumentException($"A SACK option carries 1 to {TcpOptions.MaxSackBlocks} blocks, not {blocks.Length}.", nameof(blocks));
        }

        Span<byte> o = Start(TcpOptionKind.Sack, 2 + (8 * blocks.Length));
        for (int i = 0; i < blocks.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(o[(2 + (8 * i))..], blocks[i].LeftEdge);
            BinaryPrimitives.WriteUInt32BigEndian(o[(6 + (8 * i))..], blocks[i].RightEdge);
        }
    }

    /// <summary>Writes a Timestamps option (kind 8, length 10, RFC 7323 3.2).</summary>
    public void WriteTimestamps(uint tsVal, uint tsEcr)
    {
        Span<byte> o = Start(TcpOptionKind.Timestamps, 10);
        BinaryPrimitives.WriteUInt64BigEndian(o.Slice(2, 8), ((ulong)tsVal << 32) | tsEcr);
    }

    /// <summary>Writes a Timestamps option from its two values.</summary>
    public void WriteTimestamps(TcpTimestamps timestamps) => WriteTimestamps(timestamps.TsVal, timestamps.TsEcr);

    /// <summary>
    /// Writes any option as kind, length (2 + data length) and data, without checking the kind's
    /// rules: for experiments, options this library does not model, and tests of malformed input.
    /// </summary>
    /// <exception cref="ArgumentException">The option would be longer than 255 bytes.</exception>
    public void WriteOption(byte kind, scoped ReadOnlySpan<byte> data)
    {
        if (data.Length > 253)
        {
            throw new ArgumentException("An option is at most 255 bytes long.", nameof(data));
        }

        data.CopyTo(Start((TcpOptionKind)kind, 2 + data.Length)[2..]);
    }

    /// <summary>
    /// Pads with NOPs to the next multiple of 4 bytes (RFC 9293 3.1: the header ends on a 32-bit
    /// boundary) and returns the options length; the data offset is then 5 + length / 4.
    /// </summary>
    public int Complete()
    {
        while ((_length & 3) != 0)
        {
            WriteNoOperation();
        }

        return _length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Start(TcpOptionKind kind, int length)
    {
        Span<byte> o = Reserve(length);
        o[0] = (byte)kind;
        o[1] = (byte)length;
        return o;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int count)
    {
        if (count > Remaining)
        {
            ThrowNoRoom(Remaining, count);
        }

        Span<byte> s = _buffer.Slice(_length, count);
        _length += count;
        return s;
    }

    // Out of line so that Reserve stays small enough to inline into every Write method.
    [DoesNotReturn]
    private static void ThrowNoRoom(int remaining, int count) =>
        throw new ArgumentException($"The options buffer has {remaining} bytes left; {count} are needed.");
}
