using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>One extension of a hello: its type and its opaque extension_data (RFC 8446 4.2).</summary>
public readonly ref struct TlsExtension
{
    /// <summary>Creates a view of one extension.</summary>
    public TlsExtension(TlsExtensionType type, ReadOnlySpan<byte> data, int offset)
    {
        Type = type;
        Data = data;
        Offset = offset;
    }

    /// <summary>The extension type.</summary>
    public TlsExtensionType Type { get; }

    /// <summary>extension_data, without its length prefix.</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>Offset of the extension's type field within the hello body.</summary>
    public int Offset { get; }

    /// <summary>True for a GREASE value (RFC 8701 2: 0x0a0a, 0x1a1a, ... 0xfafa).</summary>
    public bool IsGrease => TlsExtensionBlock.IsGrease((ushort)Type);

    /// <summary>"server_name(0) 14 bytes".</summary>
    public override string ToString() => $"{TlsExtensionBlock.Name(Type)}({(ushort)Type}) {Data.Length} bytes";
}

/// <summary>
/// The extensions of a hello after validation: every extension's length fits, the block is
/// consumed exactly, no type repeats (RFC 8446 4.2). Enumerating it cannot fail.
/// </summary>
public readonly ref struct TlsExtensionBlock
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _offset;

    private TlsExtensionBlock(ReadOnlySpan<byte> bytes, int offset, int count)
    {
        _bytes = bytes;
        _offset = offset;
        Count = count;
    }

    /// <summary>The block's bytes (the extension list without its 2-byte length prefix).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Number of extensions.</summary>
    public int Count { get; }

    /// <summary>
    /// Validates an extension list. <paramref name="offset"/> is where <paramref name="bytes"/>
    /// starts in the hello body (for error offsets).
    /// </summary>
    /// <param name="bytes">The extension list, without the 2-byte length prefix.</param>
    /// <param name="offset">Offset of <paramref name="bytes"/> within the layer.</param>
    /// <param name="pskMustBeLast">True for a ClientHello: pre_shared_key must be the last extension (RFC 8446 4.2.11).</param>
    /// <param name="block">The validated block.</param>
    /// <param name="error">What is wrong, when this returns false.</param>
    public static bool TryRead(ReadOnlySpan<byte> bytes, int offset, bool pskMustBeLast, out TlsExtensionBlock block, out WireError error)
    {
        block = default;

        // One bit per possible extension type: 8 KiB on the stack, linear time whatever the input.
        Span<ulong> seen = stackalloc ulong[65536 / 64];
        seen.Clear();
        var cursor = new TlsCursor(bytes, LengthSource.OptionLength, offset);
        int count = 0;
        bool pskSeen = false;
        while (!cursor.IsEmpty)
        {
            int start = cursor.LayerOffset;
            if (pskMustBeLast && pskSeen)
            {
                // RFC 8446 4.2.11: pre_shared_key MUST be the last extension in the ClientHello.
                error = WireError.Malformed(TlsCursor.Layer, "pre_shared_key", 0, cursor.Remaining, LengthSource.OptionLength, start);
                return false;
            }

            if (!cursor.TryReadUInt16("extension_type", out ushort type, out error)
                || !cursor.TryReadVector("extension_data", 2, 0, ushort.MaxValue, out _, out _, out error))
            {
                return false;
            }

            // RFC 8446 4.2: no more than one extension of the same type in a block. Reported as
            // InvalidValue on extension_type: Required = 1 occurrence allowed, Actual = 2.
            ref ulong word = ref seen[type >> 6];
            ulong bit = 1UL << (type & 63);
            if ((word & bit) != 0)
            {
                error = WireError.InvalidValue(TlsCursor.Layer, "extension_type", 1, 2, start);
                return false;
            }

            word |= bit;
            pskSeen = type == (ushort)TlsExtensionType.PreSharedKey;
            count++;
        }

        block = new TlsExtensionBlock(bytes, offset, count);
        error = default;
        return true;
    }

    /// <summary>The data of the extension of type <paramref name="type"/>, if present.</summary>
    public bool TryGet(TlsExtensionType type, out ReadOnlySpan<byte> data)
    {
        foreach (TlsExtension e in this)
        {
            if (e.Type == type)
            {
                data = e.Data;
                return true;
            }
        }

        data = default;
        return false;
    }

    /// <summary>True when an extension of type <paramref name="type"/> is present.</summary>
    public bool Contains(TlsExtensionType type) => TryGet(type, out _);

    /// <summary>Enumerates the extensions in wire order.</summary>
    public Enumerator GetEnumerator() => new(_bytes, _offset);

    /// <summary>RFC 8701 2: GREASE values have both bytes equal and of the form 0x?A.</summary>
    internal static bool IsGrease(ushort value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    /// <summary>The RFC name of an extension type, or "unknown".</summary>
    internal static string Name(TlsExtensionType type) => type switch
    {
        TlsExtensionType.ServerName => "server_name",
        TlsExtensionType.MaxFragmentLength => "max_fragment_length",
        TlsExtensionType.StatusRequest => "status_request",
        TlsExtensionType.SupportedGroups => "supported_groups",
        TlsExtensionType.EcPointFormats => "ec_point_formats",
        TlsExtensionType.SignatureAlgorithms => "signature_algorithms",
        TlsExtensionType.UseSrtp => "use_srtp",
        TlsExtensionType.Heartbeat => "heartbeat",
        TlsExtensionType.ApplicationLayerProtocolNegotiation => "application_layer_protocol_negotiation",
        TlsExtensionType.SignedCertificateTimestamp => "signed_certificate_timestamp",
        TlsExtensionType.ClientCertificateType => "client_certificate_type",
        TlsExtensionType.ServerCertificateType => "server_certificate_type",
        TlsExtensionType.Padding => "padding",
        TlsExtensionType.EncryptThenMac => "encrypt_then_mac",
        TlsExtensionType.ExtendedMasterSecret => "extended_master_secret",
        TlsExtensionType.CompressCertificate => "compress_certificate",
        TlsExtensionType.RecordSizeLimit => "record_size_limit",
        TlsExtensionType.SessionTicket => "session_ticket",
        TlsExtensionType.PreSharedKey => "pre_shared_key",
        TlsExtensionType.EarlyData => "early_data",
        TlsExtensionType.SupportedVersions => "supported_versions",
        TlsExtensionType.Cookie => "cookie",
        TlsExtensionType.PskKeyExchangeModes => "psk_key_exchange_modes",
        TlsExtensionType.CertificateAuthorities => "certificate_authorities",
        TlsExtensionType.OidFilters => "oid_filters",
        TlsExtensionType.PostHandshakeAuth => "post_handshake_auth",
        TlsExtensionType.SignatureAlgorithmsCert => "signature_algorithms_cert",
        TlsExtensionType.KeyShare => "key_share",
        TlsExtensionType.EncryptedClientHello => "encrypted_client_hello",
        TlsExtensionType.RenegotiationInfo => "renegotiation_info",
        _ when IsGrease((ushort)type) => "GREASE",
        _ => "unknown",
    };

    /// <summary>Walks a validated extension list.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private readonly int _offset;
        private int _next;
        private TlsExtension _current;

        internal Enumerator(ReadOnlySpan<byte> bytes, int offset)
        {
            _bytes = bytes;
            _offset = offset;
            _next = 0;
            _current = default;
        }

        /// <summary>The current extension.</summary>
        public readonly TlsExtension Current => _current;

        /// <summary>Advances to the next extension.</summary>
        public bool MoveNext()
        {
            // The block was validated by TryRead; the bounds checks below only guard a default instance.
            if (_next + 4 > _bytes.Length)
            {
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(_next));
            int length = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(_next + 2));
            if (_next + 4 + length > _bytes.Length)
            {
                return false;
            }

            _current = new TlsExtension((TlsExtensionType)type, _bytes.Slice(_next + 4, length), _offset + _next);
            _next += 4 + length;
            return true;
        }
    }
}
