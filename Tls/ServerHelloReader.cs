using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// A zero-copy view of a ServerHello body (RFC 8446 4.1.3, RFC 5246 7.4.1.3), which in TLS 1.3
/// is also the HelloRetryRequest. After <see cref="TryRead"/> succeeds no member throws.
/// </summary>
/// <remarks>
/// <code>
/// struct {
///     ProtocolVersion legacy_version = 0x0303;
///     Random random;                                       // HRR: the magic value
///     opaque legacy_session_id_echo&lt;0..32&gt;;
///     CipherSuite cipher_suite;
///     uint8 legacy_compression_method = 0;
///     Extension extensions&lt;6..2^16-1&gt;;                  // may be absent entirely (RFC 5246)
/// } ServerHello;
/// </code>
/// <see cref="TryRead"/> also decodes supported_versions when present (exactly one selected
/// version, RFC 8446 4.2.1) so that <see cref="NegotiatedVersion"/> cannot fail. The extension
/// block is accepted from 0 bytes, as in TLS 1.2.
/// </remarks>
public readonly ref struct ServerHelloReader
{
    /// <summary>Smallest possible body: version, random, empty session id, suite, compression method.</summary>
    public const int MinLength = 2 + TlsRandom.Length + 1 + 2 + 1;

    private readonly TlsHelloPrefix.Reader _prefix;
    private readonly TlsExtensionBlock _extensions;

    private ServerHelloReader(ReadOnlySpan<byte> body, TlsHelloPrefix.Reader prefix, ReadOnlySpan<byte> sessionId, int suiteOffset, bool hasExtensions, TlsExtensionBlock extensions, TlsVersion? selected)
    {
        Bytes = body;
        _prefix = prefix;
        LegacySessionIdEcho = sessionId;
        CipherSuite = (TlsCipherSuite)BinaryPrimitives.ReadUInt16BigEndian(body.Slice(suiteOffset));
        LegacyCompressionMethod = body[suiteOffset + 2];
        HasExtensions = hasExtensions;
        _extensions = extensions;
        SelectedVersion = selected;
    }

    /// <summary>The whole body.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>legacy_version (0x0303 for TLS 1.3, RFC 8446 4.1.3).</summary>
    public TlsVersion LegacyVersion => _prefix.LegacyVersion;

    /// <summary>The 32-byte random.</summary>
    public ReadOnlySpan<byte> Random => _prefix.RandomBytes;

    /// <summary>The fixed start of the body (legacy_version and random), as the generated header view.</summary>
    public TlsHelloPrefix.Reader Prefix => _prefix;

    /// <summary>True when the random is the HelloRetryRequest magic value (RFC 8446 4.1.3).</summary>
    public bool IsHelloRetryRequest => Random.SequenceEqual(TlsRandom.HelloRetryRequestMagic);

    /// <summary>
    /// The downgrade sentinel a TLS 1.3-capable server puts in the last 8 bytes of its random when
    /// it negotiates an older version (RFC 8446 4.1.3): <see cref="TlsVersion.Tls12"/> for
    /// "DOWNGRD" 01, <see cref="TlsVersion.Tls11"/> for "DOWNGRD" 00 (TLS 1.1 or below); null when absent.
    /// A TLS 1.3 client that sees one while negotiating below 1.3 must abort.
    /// </summary>
    public TlsVersion? DowngradeSentinel
    {
        get
        {
            ReadOnlySpan<byte> tail = Random.Slice(TlsRandom.Length - 8);
            if (!tail.StartsWith("DOWNGRD"u8))
            {
                return null;
            }

            return tail[7] switch
            {
                1 => TlsVersion.Tls12,
                0 => TlsVersion.Tls11,
                _ => null,
            };
        }
    }

    /// <summary>legacy_session_id_echo (0..32 bytes).</summary>
    public ReadOnlySpan<byte> LegacySessionIdEcho { get; }

    /// <summary>The selected cipher suite.</summary>
    public TlsCipherSuite CipherSuite { get; }

    /// <summary>legacy_compression_method (0 in TLS 1.3).</summary>
    public byte LegacyCompressionMethod { get; }

    /// <summary>False when the body ends after the compression method (allowed before TLS 1.3).</summary>
    public bool HasExtensions { get; }

    /// <summary>The validated extensions.</summary>
    public TlsExtensionBlock Extensions => _extensions;

    /// <summary>The supported_versions selected_version, when the extension is present.</summary>
    public TlsVersion? SelectedVersion { get; }

    /// <summary>The negotiated version: supported_versions when present, else legacy_version (RFC 8446 4.2.1).</summary>
    public TlsVersion NegotiatedVersion => SelectedVersion ?? LegacyVersion;

    /// <summary>Parses a ServerHello body. Never throws.</summary>
    /// <param name="body">The handshake message body (after the 4-byte handshake header).</param>
    /// <param name="reader">The view, valid when this returns true.</param>
    /// <param name="error">What is wrong, when this returns false.</param>
    public static bool TryRead(ReadOnlySpan<byte> body, out ServerHelloReader reader, out WireError error)
    {
        reader = default;

        // RFC 8446 4.1.3: legacy_version, random (the generated fixed prefix), legacy_session_id_echo<0..32>,
        // cipher_suite, compression method.
        if (!ClientHelloReader.TryReadPrefix(body, out TlsHelloPrefix.Reader prefix, out error))
        {
            return false;
        }

        var cursor = new TlsCursor(body, LengthSource.PayloadLength);
        if (!cursor.TryReadBytes("prefix", TlsHelloPrefix.FixedLength, out _, out error)
            || !cursor.TryReadVector("legacy_session_id_echo", 1, 0, 32, out ReadOnlySpan<byte> sessionId, out _, out error))
        {
            return false;
        }

        int suiteOffset = cursor.Position;
        if (!cursor.TryReadUInt16("cipher_suite", out _, out error)
            || !cursor.TryReadUInt8("legacy_compression_method", out _, out error)
            || !ClientHelloReader.TryReadOptionalExtensions(ref cursor, pskMustBeLast: false, out bool hasExtensions, out TlsExtensionBlock extensions, out error))
        {
            return false;
        }

        TlsVersion? selected = null;
        foreach (TlsExtension e in extensions)
        {
            if (e.Type == TlsExtensionType.SupportedVersions)
            {
                // RFC 8446 4.2.1: the ServerHello form carries exactly one selected_version.
                if (!TlsExtensionDecoder.TryReadSelectedVersion(e.Data, out TlsVersion v, out error, e.Offset + 4))
                {
                    return false;
                }

                selected = v;
            }
        }

        reader = new ServerHelloReader(body, prefix, sessionId, suiteOffset, hasExtensions, extensions, selected);
        return true;
    }

    /// <summary>The data of an extension, if present.</summary>
    public bool TryGetExtension(TlsExtensionType type, out ReadOnlySpan<byte> data) => _extensions.TryGet(type, out data);

    /// <summary>"ServerHello version=TLS 1.3 suite=0x1301 extensions=2" (or "HelloRetryRequest ...").</summary>
    public override string ToString() =>
        $"{(IsHelloRetryRequest ? "HelloRetryRequest" : "ServerHello")} negotiated=0x{(ushort)NegotiatedVersion:x4} suite=0x{(ushort)CipherSuite:x4} extensions={_extensions.Count}";
}
