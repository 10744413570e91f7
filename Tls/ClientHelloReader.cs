using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// A zero-copy view of a ClientHello body (RFC 8446 4.1.2, RFC 5246 7.4.1.2): the bytes after
/// the 4-byte handshake header. <see cref="TryRead"/> checks every vector against its container;
/// after it succeeds no member throws.
/// </summary>
/// <remarks>
/// <code>
/// struct {
///     ProtocolVersion legacy_version = 0x0303;
///     Random random;                                       // 32 bytes
///     opaque legacy_session_id&lt;0..32&gt;;
///     CipherSuite cipher_suites&lt;2..2^16-2&gt;;
///     opaque legacy_compression_methods&lt;1..2^8-1&gt;;
///     Extension extensions&lt;8..2^16-1&gt;;                  // may be absent entirely (RFC 5246)
/// } ClientHello;
/// </code>
/// Errors use Layer "TLS", the RFC field name, offsets relative to the body, and Source
/// <see cref="LengthSource.PayloadLength"/> when the handshake length limits a top-level vector,
/// <see cref="LengthSource.OptionLength"/> inside the extension list. The extension block is
/// accepted from 0 bytes (RFC 5246's <c>&lt;0..2^16-1&gt;</c>) because TLS 1.2 clients may send
/// fewer than the 8 bytes TLS 1.3 requires; the structure, duplicates (RFC 8446 4.2) and the
/// position of pre_shared_key (RFC 8446 4.2.11) are always checked.
/// </remarks>
public readonly ref struct ClientHelloReader
{
    /// <summary>Smallest possible body: version, random, empty session id, one suite, one compression method.</summary>
    public const int MinLength = 2 + TlsRandom.Length + 1 + 2 + 2 + 1 + 1;

    /// <summary>
    /// Largest possible body: every vector at its ceiling (2 + 32 + 1+32 + 2+65534 + 1+255 + 2+65535).
    /// </summary>
    public const int MaxLength = 2 + TlsRandom.Length + 1 + 32 + 2 + 65534 + 1 + 255 + 2 + 65535;

    private readonly TlsHelloPrefix.Reader _prefix;
    private readonly TlsExtensionBlock _extensions;

    private ClientHelloReader(
        ReadOnlySpan<byte> body,
        TlsHelloPrefix.Reader prefix,
        ReadOnlySpan<byte> sessionId,
        ReadOnlySpan<byte> cipherSuites,
        ReadOnlySpan<byte> compressionMethods,
        bool hasExtensions,
        TlsExtensionBlock extensions)
    {
        Bytes = body;
        _prefix = prefix;
        LegacySessionId = sessionId;
        CipherSuiteBytes = cipherSuites;
        CompressionMethods = compressionMethods;
        HasExtensions = hasExtensions;
        _extensions = extensions;
    }

    /// <summary>The whole body.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>legacy_version (0x0303 for TLS 1.3 clients, RFC 8446 4.1.2).</summary>
    public TlsVersion LegacyVersion => _prefix.LegacyVersion;

    /// <summary>The 32-byte random.</summary>
    public ReadOnlySpan<byte> Random => _prefix.RandomBytes;

    /// <summary>The fixed start of the body (legacy_version and random), as the generated header view.</summary>
    public TlsHelloPrefix.Reader Prefix => _prefix;

    /// <summary>legacy_session_id (0..32 bytes).</summary>
    public ReadOnlySpan<byte> LegacySessionId { get; }

    /// <summary>The cipher_suites vector's bytes (2 per suite, no length prefix).</summary>
    public ReadOnlySpan<byte> CipherSuiteBytes { get; }

    /// <summary>The offered cipher suites in preference order.</summary>
    public TlsUInt16List<TlsCipherSuite> CipherSuites => new(CipherSuiteBytes);

    /// <summary>legacy_compression_methods (TLS 1.3 clients send exactly one 0).</summary>
    public ReadOnlySpan<byte> CompressionMethods { get; }

    /// <summary>False when the body ends after the compression methods (allowed before TLS 1.3, RFC 5246 7.4.1.2).</summary>
    public bool HasExtensions { get; }

    /// <summary>The validated extensions (empty when <see cref="HasExtensions"/> is false).</summary>
    public TlsExtensionBlock Extensions => _extensions;

    /// <summary>Parses a ClientHello body. Never throws.</summary>
    /// <param name="body">The handshake message body (after the 4-byte handshake header), exactly as long as the header's length.</param>
    /// <param name="reader">The view, valid when this returns true.</param>
    /// <param name="error">What is wrong, when this returns false.</param>
    public static bool TryRead(ReadOnlySpan<byte> body, out ClientHelloReader reader, out WireError error)
    {
        reader = default;

        // RFC 8446 4.1.2: legacy_version and random (the generated fixed prefix), then legacy_session_id<0..32>.
        if (!TryReadPrefix(body, out TlsHelloPrefix.Reader prefix, out error))
        {
            return false;
        }

        var cursor = new TlsCursor(body, LengthSource.PayloadLength);
        if (!cursor.TryReadBytes("prefix", TlsHelloPrefix.FixedLength, out _, out error)
            || !cursor.TryReadVector("legacy_session_id", 1, 0, 32, out ReadOnlySpan<byte> sessionId, out _, out error))
        {
            return false;
        }

        // RFC 8446 4.1.2: CipherSuite cipher_suites<2..2^16-2>, two bytes per suite.
        int suitesOffset = cursor.LayerOffset;
        if (!cursor.TryReadVector("cipher_suites", 2, 2, ushort.MaxValue - 1, out ReadOnlySpan<byte> suites, out _, out error)
            || !TlsExtensionDecoder.CheckEven("cipher_suites", suites.Length, suitesOffset, out error))
        {
            return false;
        }

        // RFC 8446 4.1.2: opaque legacy_compression_methods<1..2^8-1>.
        if (!cursor.TryReadVector("legacy_compression_methods", 1, 1, byte.MaxValue, out ReadOnlySpan<byte> compression, out _, out error))
        {
            return false;
        }

        if (!TryReadOptionalExtensions(ref cursor, pskMustBeLast: true, out bool hasExtensions, out TlsExtensionBlock extensions, out error))
        {
            return false;
        }

        reader = new ClientHelloReader(body, prefix, sessionId, suites, compression, hasExtensions, extensions);
        return true;
    }

    /// <summary>The data of an extension, if present.</summary>
    public bool TryGetExtension(TlsExtensionType type, out ReadOnlySpan<byte> data) => _extensions.TryGet(type, out data);

    /// <summary>
    /// The first host_name of server_name (RFC 6066 3). Returns true with an empty span when the
    /// extension is absent or names no host; false (with the error) when it is malformed.
    /// </summary>
    public bool TryGetServerName(out ReadOnlySpan<byte> hostName, out WireError error)
    {
        hostName = default;
        error = default;
        return !TryFind(TlsExtensionType.ServerName, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadServerName(data, out hostName, out error, offset);
    }

    /// <summary>server_name as a string (null when absent); false when malformed or not ASCII.</summary>
    public bool TryGetServerNameString(out string? hostName, out WireError error)
    {
        hostName = null;
        if (!TryFind(TlsExtensionType.ServerName, out ReadOnlySpan<byte> data, out int offset))
        {
            error = default;
            return true;
        }

        if (!TlsExtensionDecoder.TryReadServerName(data, out ReadOnlySpan<byte> name, out error, offset))
        {
            return false;
        }

        return name.IsEmpty || TlsExtensionDecoder.TryGetHostNameString(name, out hostName, out error, offset);
    }

    /// <summary>The ALPN protocol list (RFC 7301 3.1); empty when absent; false when malformed.</summary>
    public bool TryGetAlpn(out TlsAlpnList protocols, out WireError error)
    {
        protocols = default;
        error = default;
        return !TryFind(TlsExtensionType.ApplicationLayerProtocolNegotiation, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadAlpn(data, out protocols, out error, offset);
    }

    /// <summary>supported_versions (RFC 8446 4.2.1); empty when absent (a TLS 1.2-only client); false when malformed.</summary>
    public bool TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out WireError error)
    {
        versions = default;
        error = default;
        return !TryFind(TlsExtensionType.SupportedVersions, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadSupportedVersions(data, out versions, out error, offset);
    }

    /// <summary>supported_groups (RFC 8446 4.2.7); empty when absent; false when malformed.</summary>
    public bool TryGetSupportedGroups(out TlsUInt16List<TlsNamedGroup> groups, out WireError error)
    {
        groups = default;
        error = default;
        return !TryFind(TlsExtensionType.SupportedGroups, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadSupportedGroups(data, out groups, out error, offset);
    }

    /// <summary>signature_algorithms (RFC 8446 4.2.3); empty when absent; false when malformed.</summary>
    public bool TryGetSignatureAlgorithms(out TlsUInt16List<TlsSignatureScheme> schemes, out WireError error)
    {
        schemes = default;
        error = default;
        return !TryFind(TlsExtensionType.SignatureAlgorithms, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadSignatureAlgorithms(data, out schemes, out error, offset);
    }

    /// <summary>key_share client_shares (RFC 8446 4.2.8); empty when absent; false when malformed.</summary>
    public bool TryGetKeyShares(out TlsKeyShareList shares, out WireError error)
    {
        shares = default;
        error = default;
        return !TryFind(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> data, out int offset)
            || TlsExtensionDecoder.TryReadClientKeyShares(data, out shares, out error, offset);
    }

    /// <summary>"ClientHello legacy_version=0x0303 suites=17 extensions=15".</summary>
    public override string ToString() =>
        $"ClientHello legacy_version=0x{(ushort)LegacyVersion:x4} session_id={LegacySessionId.Length}B suites={CipherSuiteBytes.Length / 2} extensions={_extensions.Count}";

    /// <summary>
    /// The generated prefix reader; its length errors are re-labelled as limited by the handshake
    /// length (the body given to the hello readers is the handshake payload).
    /// </summary>
    internal static bool TryReadPrefix(ReadOnlySpan<byte> body, out TlsHelloPrefix.Reader prefix, out WireError error)
    {
        if (TlsHelloPrefix.TryRead(body, out prefix, out error))
        {
            return true;
        }

        error = error with { Source = LengthSource.PayloadLength };
        return false;
    }

    /// <summary>
    /// Reads the optional extension block that ends both hellos: absent when the body is
    /// exhausted (RFC 5246 7.4.1.2), otherwise a 2-byte-prefixed list that must end the body.
    /// </summary>
    internal static bool TryReadOptionalExtensions(scoped ref TlsCursor cursor, bool pskMustBeLast, out bool present, out TlsExtensionBlock block, out WireError error)
    {
        block = default;
        present = !cursor.IsEmpty;
        if (!present)
        {
            error = default;
            return true;
        }

        return cursor.TryReadVector("extensions", 2, 0, ushort.MaxValue, out ReadOnlySpan<byte> list, out int listOffset, out error)
            && cursor.EnsureConsumed("extensions", out error)
            && TlsExtensionBlock.TryRead(list, listOffset, pskMustBeLast, out block, out error);
    }

    private bool TryFind(TlsExtensionType type, out ReadOnlySpan<byte> data, out int dataOffset)
    {
        foreach (TlsExtension e in _extensions)
        {
            if (e.Type == type)
            {
                data = e.Data;
                dataOffset = e.Offset + 4;
                return true;
            }
        }

        data = default;
        dataOffset = 0;
        return false;
    }
}
