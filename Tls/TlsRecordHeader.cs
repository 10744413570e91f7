using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// The 5-byte TLS record header (RFC 8446 5.1, RFC 5246 6.2.1): content type, legacy record
/// version, and the length of the fragment that follows.
/// </summary>
/// <remarks>
/// The reader rejects (with <see cref="WireErrorKind.InvalidValue"/>) a content type outside
/// 20..24 (RFC 8446 5: an unexpected record type is fatal) and a length above
/// <see cref="MaxCiphertextLength"/> = 2^14 + 256 (RFC 8446 5.2). TLS 1.2 allowed ciphertexts up
/// to 2^14 + 2048 (RFC 5246 6.2.3); this codec deliberately applies the stricter TLS 1.3 bound to
/// every record. The legacy record version is not checked: RFC 8446 5.1 says to ignore it.
/// </remarks>
[WireHeader("TLS")]
[PayloadLength(nameof(Length))]
public partial struct TlsRecordHeader
{
    /// <summary>The largest plaintext fragment, 2^14 bytes (RFC 8446 5.1).</summary>
    public const int MaxPlaintextLength = 16384;

    /// <summary>The largest record payload accepted, 2^14 + 256 bytes (RFC 8446 5.2).</summary>
    public const int MaxCiphertextLength = 16640;

    /// <summary>The higher-level protocol carried by the record.</summary>
    [Range(20, 24)]
    public TlsContentType ContentType;

    /// <summary>legacy_record_version: 0x0301 in an initial ClientHello, 0x0303 elsewhere (RFC 8446 5.1).</summary>
    public TlsVersion LegacyRecordVersion;

    /// <summary>Length of the fragment that follows, at most <see cref="MaxCiphertextLength"/> (RFC 8446 5.2).</summary>
    [Range(0, MaxCiphertextLength)]
    public ushort Length;
}

/// <summary>The 4-byte handshake message header (RFC 8446 4): message type and a 24-bit body length.</summary>
[WireHeader("TLS")]
[PayloadLength(nameof(Length))]
public partial struct HandshakeHeader
{
    /// <summary>The handshake message type.</summary>
    public TlsHandshakeType HandshakeType;

    /// <summary>Length of the message body that follows (uint24).</summary>
    [Bits(24)]
    public uint Length;
}

/// <summary>
/// The fixed 34-byte start of a ClientHello or ServerHello body (RFC 8446 4.1.2, 4.1.3):
/// legacy_version and the 32-byte random.
/// </summary>
[WireHeader("TLS")]
public partial struct TlsHelloPrefix
{
    /// <summary>legacy_version: 0x0303 for TLS 1.3 hellos (RFC 8446 4.1.2).</summary>
    public TlsVersion LegacyVersion;

    /// <summary>The 32-byte random.</summary>
    public TlsRandom Random;
}
