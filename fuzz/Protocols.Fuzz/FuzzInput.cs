using System.Buffers.Binary;

namespace Protocols.Fuzz;

/// <summary>
/// Reads the fuzzer's bytes as a sequence of small decisions (for targets driven by a script of
/// operations). Past the end every read returns zero, so any input is a complete script.
/// </summary>
public ref struct FuzzInput
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Starts reading at the first byte of <paramref name="data"/>.</summary>
    public FuzzInput(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>True once every byte has been read.</summary>
    public readonly bool IsEmpty => _position >= _data.Length;

    /// <summary>The next byte, or 0 past the end.</summary>
    public byte Byte() => _position < _data.Length ? _data[_position++] : (byte)0;

    /// <summary>The next two bytes, big-endian.</summary>
    public ushort UInt16() => (ushort)((Byte() << 8) | Byte());

    /// <summary>The next four bytes, big-endian.</summary>
    public uint UInt32() => ((uint)UInt16() << 16) | UInt16();

    /// <summary>The next <paramref name="count"/> bytes (fewer at the end).</summary>
    public ReadOnlySpan<byte> Bytes(int count)
    {
        int n = Math.Clamp(count, 0, Remaining);
        ReadOnlySpan<byte> bytes = _data.Slice(_position, n);
        _position += n;
        return bytes;
    }

    /// <summary>Everything not read yet.</summary>
    public ReadOnlySpan<byte> Rest() => Bytes(Remaining);

    /// <summary>A 32-bit big-endian value at <paramref name="offset"/> of <paramref name="bytes"/>, or 0 when it does not fit.</summary>
    public static uint UInt32At(ReadOnlySpan<byte> bytes, int offset) =>
        offset >= 0 && offset + 4 <= bytes.Length ? BinaryPrimitives.ReadUInt32BigEndian(bytes[offset..]) : 0;
}
