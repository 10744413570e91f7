using System.Buffers;

namespace Protocols.Tls;

/// <summary>Wraps handshake bodies in handshake headers and payloads in records (RFC 8446 4, 5.1).</summary>
public static class TlsFraming
{
    /// <summary>Size of a record header.</summary>
    public const int RecordHeaderLength = TlsRecordHeader.FixedLength;

    /// <summary>Size of a handshake header.</summary>
    public const int HandshakeHeaderLength = HandshakeHeader.FixedLength;

    /// <summary>Largest handshake body a uint24 length can describe.</summary>
    public const int MaxHandshakeBodyLength = (1 << 24) - 1;

    /// <summary>A handshake message: the 4-byte header (type, uint24 length) followed by <paramref name="body"/>.</summary>
    /// <exception cref="ArgumentException">The body is longer than 2^24 - 1 bytes.</exception>
    public static byte[] WrapHandshake(TlsHandshakeType type, ReadOnlySpan<byte> body)
    {
        if (body.Length > MaxHandshakeBodyLength)
        {
            throw new ArgumentException("A handshake body is at most 2^24 - 1 bytes.", nameof(body));
        }

        byte[] message = new byte[HandshakeHeaderLength + body.Length];
        WriteHandshakeHeader(message, type, body.Length);
        body.CopyTo(message.AsSpan(HandshakeHeaderLength));
        return message;
    }

    /// <summary>Writes a handshake header into the first 4 bytes of <paramref name="destination"/>.</summary>
    public static void WriteHandshakeHeader(Span<byte> destination, TlsHandshakeType type, int bodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, HandshakeHeaderLength, nameof(destination));
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bodyLength, MaxHandshakeBodyLength);
        // RFC 8446 4: msg_type, uint24 length.
        new HandshakeHeader { HandshakeType = type, Length = (uint)bodyLength }.WriteTo(destination);
    }

    /// <summary>Writes a record header into the first 5 bytes of <paramref name="destination"/>.</summary>
    public static void WriteRecordHeader(Span<byte> destination, TlsContentType type, TlsVersion version, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, RecordHeaderLength, nameof(destination));
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, TlsRecordHeader.MaxCiphertextLength);
        // RFC 8446 5.1: type, legacy_record_version, uint16 length.
        new TlsRecordHeader { ContentType = type, LegacyRecordVersion = version, Length = (ushort)length }.WriteTo(destination);
    }

    /// <summary>
    /// Splits <paramref name="payload"/> into records of at most <paramref name="maxFragmentLength"/>
    /// bytes each (RFC 8446 5.1: handshake messages may span records) and writes them.
    /// An empty payload produces no record: zero-length handshake fragments are forbidden (RFC 8446 5.1).
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    public static int WriteRecords(IBufferWriter<byte> destination, TlsContentType type, ReadOnlySpan<byte> payload, TlsVersion recordVersion = TlsVersion.Tls10, int maxFragmentLength = TlsRecordHeader.MaxPlaintextLength)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFragmentLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxFragmentLength, TlsRecordHeader.MaxPlaintextLength);
        int written = 0;
        while (!payload.IsEmpty)
        {
            int n = Math.Min(payload.Length, maxFragmentLength);
            Span<byte> span = destination.GetSpan(RecordHeaderLength + n);
            WriteRecordHeader(span, type, recordVersion, n);
            payload.Slice(0, n).CopyTo(span.Slice(RecordHeaderLength));
            destination.Advance(RecordHeaderLength + n);
            written += RecordHeaderLength + n;
            payload = payload.Slice(n);
        }

        return written;
    }

    /// <summary>The records carrying <paramref name="payload"/> as one array (see <see cref="WriteRecords"/>).</summary>
    public static byte[] BuildRecords(TlsContentType type, ReadOnlySpan<byte> payload, TlsVersion recordVersion = TlsVersion.Tls10, int maxFragmentLength = TlsRecordHeader.MaxPlaintextLength)
    {
        var writer = new ArrayBufferWriter<byte>(payload.Length + RecordHeaderLength);
        WriteRecords(writer, type, payload, recordVersion, maxFragmentLength);
        return writer.WrittenSpan.ToArray();
    }
}
