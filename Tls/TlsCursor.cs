using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// A forward-only reader over one TLS container (a handshake body, an extension, a vector) that
/// checks every length against the container and reports failures as <see cref="WireError"/>s.
/// Offsets in errors are relative to the start of the layer (<c>baseOffset</c> + position).
/// </summary>
internal ref struct TlsCursor
{
    internal const string Layer = "TLS";

    private readonly ReadOnlySpan<byte> _buffer;
    private readonly LengthSource _source;
    private readonly int _baseOffset;
    private int _position;

    /// <param name="buffer">The container.</param>
    /// <param name="source">What limits the container (reported when something does not fit).</param>
    /// <param name="baseOffset">Offset of <paramref name="buffer"/> within the layer, for errors.</param>
    public TlsCursor(ReadOnlySpan<byte> buffer, LengthSource source, int baseOffset = 0)
    {
        _buffer = buffer;
        _source = source;
        _baseOffset = baseOffset;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly bool IsEmpty => _position == _buffer.Length;

    /// <summary>Offset of the cursor within the layer.</summary>
    public readonly int LayerOffset => _baseOffset + _position;

    public bool TryReadUInt8(string field, out byte value, out WireError error)
    {
        if (!Ensure(field, 1, out error))
        {
            value = 0;
            return false;
        }

        value = _buffer[_position++];
        return true;
    }

    public bool TryReadUInt16(string field, out ushort value, out WireError error)
    {
        if (!Ensure(field, 2, out error))
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt16BigEndian(_buffer.Slice(_position));
        _position += 2;
        return true;
    }

    public bool TryReadUInt24(string field, out int value, out WireError error)
    {
        if (!Ensure(field, 3, out error))
        {
            value = 0;
            return false;
        }

        value = (_buffer[_position] << 16) | (_buffer[_position + 1] << 8) | _buffer[_position + 2];
        _position += 3;
        return true;
    }

    public bool TryReadBytes(string field, int count, out ReadOnlySpan<byte> bytes, out WireError error)
    {
        if (!Ensure(field, count, out error))
        {
            bytes = default;
            return false;
        }

        bytes = _buffer.Slice(_position, count);
        _position += count;
        return true;
    }

    /// <summary>
    /// Reads a vector <c>T field&lt;min..max&gt;</c> (RFC 8446 3.4) whose length prefix is
    /// <paramref name="prefixBytes"/> bytes wide. The declared length must lie in [min, max]
    /// and fit in what is left of the container.
    /// </summary>
    /// <param name="field">The vector's name, used in errors.</param>
    /// <param name="prefixBytes">Width of the length prefix: 1, 2 or 3 bytes.</param>
    /// <param name="min">Smallest allowed body length.</param>
    /// <param name="max">Largest allowed body length.</param>
    /// <param name="body">The vector's body.</param>
    /// <param name="offsetOfBody">Offset of the vector's body within the layer.</param>
    /// <param name="error">Why the vector could not be read.</param>
    /// <returns>Whether the vector was read.</returns>
    public bool TryReadVector(string field, int prefixBytes, int min, int max, out ReadOnlySpan<byte> body, out int offsetOfBody, out WireError error)
    {
        body = default;
        offsetOfBody = 0;
        int start = LayerOffset;
        int length;
        switch (prefixBytes)
        {
            case 1:
                if (!TryReadUInt8(field, out byte b, out error))
                {
                    return false;
                }

                length = b;
                break;
            case 2:
                if (!TryReadUInt16(field, out ushort s, out error))
                {
                    return false;
                }

                length = s;
                break;
            default:
                if (!TryReadUInt24(field, out length, out error))
                {
                    return false;
                }

                break;
        }

        // RFC 8446 3.4: the length prefix must respect the vector's declared floor and ceiling.
        if (length < min)
        {
            error = WireError.LengthTooSmall(Layer, field, min, length, LengthSource.OptionLength, start);
            return false;
        }

        if (length > max)
        {
            error = WireError.InvalidValue(Layer, field, max, length, start);
            return false;
        }

        if (length > Remaining)
        {
            // The vector claims more than its container holds.
            error = WireError.TooShort(Layer, field, length, Remaining, _source, LayerOffset);
            return false;
        }

        offsetOfBody = LayerOffset;
        body = _buffer.Slice(_position, length);
        _position += length;
        error = default;
        return true;
    }

    /// <summary>Fails with <see cref="WireErrorKind.Malformed"/> when bytes are left over.</summary>
    public readonly bool EnsureConsumed(string field, out WireError error)
    {
        if (_position != _buffer.Length)
        {
            // Required = the container's end, Actual = where its content ended.
            error = WireError.Malformed(Layer, field, _position, _buffer.Length, _source, LayerOffset);
            return false;
        }

        error = default;
        return true;
    }

    private readonly bool Ensure(string field, int count, out WireError error)
    {
        if (count > Remaining)
        {
            error = WireError.TooShort(Layer, field, count, Remaining, _source, LayerOffset);
            return false;
        }

        error = default;
        return true;
    }
}
