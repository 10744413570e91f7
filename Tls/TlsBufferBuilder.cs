using System.Buffers.Binary;

namespace Protocols.Tls;

/// <summary>
/// A growable byte buffer for the hello builders, with length-prefixed vectors whose prefix is
/// patched when the vector ends (RFC 8446 3.4). Builders may throw on impossible input; parsers
/// never use this type.
/// </summary>
internal sealed class TlsBufferBuilder
{
    private byte[] _buffer = new byte[256];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    public void WriteUInt8(byte value) => Grow(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), value);

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));

    /// <summary>Reserves a <paramref name="prefixBytes"/>-byte length prefix; returns a marker for <see cref="EndVector"/>.</summary>
    public int BeginVector(int prefixBytes)
    {
        Grow(prefixBytes).Clear();
        return Length;
    }

    /// <summary>Patches the prefix of the vector begun at <paramref name="marker"/>, checking &lt;min..max&gt;.</summary>
    /// <exception cref="ArgumentException">The vector's length is outside [min, max].</exception>
    public void EndVector(int marker, int prefixBytes, int min, int max, string field)
    {
        int length = Length - marker;
        if (length < min || length > max)
        {
            throw new ArgumentException($"TLS vector {field} must be {min}..{max} bytes long, got {length}.");
        }

        Span<byte> prefix = _buffer.AsSpan(marker - prefixBytes, prefixBytes);
        for (int i = prefixBytes - 1; i >= 0; i--)
        {
            prefix[i] = (byte)length;
            length >>= 8;
        }
    }

    /// <summary>A vector holding exactly <paramref name="bytes"/>.</summary>
    public void WriteVector(int prefixBytes, int min, int max, ReadOnlySpan<byte> bytes, string field)
    {
        int marker = BeginVector(prefixBytes);
        WriteBytes(bytes);
        EndVector(marker, prefixBytes, min, max, field);
    }

    public byte[] ToArray() => WrittenSpan.ToArray();

    private Span<byte> Grow(int count)
    {
        if (Length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        }

        Span<byte> span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}
