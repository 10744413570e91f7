using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// Walks the complete records at the start of a buffer (RFC 8446 5.1), each as the generated
/// <see cref="TlsRecordHeader.Reader"/>. Stops at the end of the buffer, at a partial record, or at
/// an invalid header; <see cref="Consumed"/> and <see cref="Error"/> then say which. Never throws.
/// Drive it with <see cref="MoveNext"/> (it deliberately has no <c>GetEnumerator</c>: a <c>foreach</c>
/// copy would hide <see cref="Consumed"/> and <see cref="Error"/>).
/// </summary>
/// <example><code>
/// var records = new TlsRecordEnumerator(buffer);
/// while (records.MoveNext()) { TlsRecordHeader.Reader record = records.Current; ... record.ContentType, record.Payload ... }
/// // records.Consumed bytes were whole records; records.Error.Kind == TooShort means "wait for more".
/// </code></example>
public ref struct TlsRecordEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private TlsRecordHeader.Reader _current;

    /// <summary>Enumerates the records of <paramref name="buffer"/>.</summary>
    public TlsRecordEnumerator(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _current = default;
        Consumed = 0;
        Error = default;
    }

    /// <summary>The current record.</summary>
    public readonly TlsRecordHeader.Reader Current => _current;

    /// <summary>Bytes taken by the records returned so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>
    /// Why enumeration stopped: no error at a record boundary at the end of the buffer; a
    /// <see cref="WireErrorKind.TooShort"/> with <see cref="LengthSource.Buffer"/> for a partial record
    /// (Required = bytes needed from <see cref="Consumed"/>); anything else for an invalid header.
    /// Offsets are relative to the start of the buffer.
    /// </summary>
    public WireError Error { get; private set; }

    /// <summary>True when the buffer ends inside a record that is valid so far: more bytes will complete it.</summary>
    public readonly bool NeedsMoreData => Error.Kind == WireErrorKind.TooShort && Error.Source == LengthSource.Buffer;

    /// <summary>Advances to the next complete record.</summary>
    public bool MoveNext()
    {
        ReadOnlySpan<byte> rest = _buffer.Slice(Consumed);
        if (rest.IsEmpty || Error.IsError)
        {
            return false;
        }

        if (!TlsRecordHeader.TryRead(rest, out _current, out WireError error))
        {
            Error = error.WithOffset(Consumed);
            return false;
        }

        Consumed += _current.Bytes.Length;
        return true;
    }
}

/// <summary>
/// Walks the complete handshake messages (RFC 8446 4) in a buffer of handshake bytes (record
/// payloads of type handshake, concatenated), each as the generated <see cref="HandshakeHeader.Reader"/>.
/// Stops like <see cref="TlsRecordEnumerator"/>. Never throws.
/// </summary>
public ref struct TlsHandshakeEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private HandshakeHeader.Reader _current;

    /// <summary>Enumerates the handshake messages of <paramref name="handshakeBytes"/>.</summary>
    public TlsHandshakeEnumerator(ReadOnlySpan<byte> handshakeBytes)
    {
        _buffer = handshakeBytes;
        _current = default;
        Consumed = 0;
        Error = default;
    }

    /// <summary>The current message.</summary>
    public readonly HandshakeHeader.Reader Current => _current;

    /// <summary>Bytes taken by the messages returned so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>Why enumeration stopped (see <see cref="TlsRecordEnumerator.Error"/>).</summary>
    public WireError Error { get; private set; }

    /// <summary>True when the buffer ends inside a message: more bytes will complete it.</summary>
    public readonly bool NeedsMoreData => Error.Kind == WireErrorKind.TooShort && Error.Source == LengthSource.Buffer;

    /// <summary>Advances to the next complete message.</summary>
    public bool MoveNext()
    {
        ReadOnlySpan<byte> rest = _buffer.Slice(Consumed);
        if (rest.IsEmpty || Error.IsError)
        {
            return false;
        }

        if (!HandshakeHeader.TryRead(rest, out _current, out WireError error))
        {
            Error = error.WithOffset(Consumed);
            return false;
        }

        Consumed += _current.Bytes.Length;
        return true;
    }
}
