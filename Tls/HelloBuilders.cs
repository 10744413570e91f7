using System.Buffers;
using System.Text;

namespace Protocols.Tls;

/// <summary>
/// Builds ClientHello bodies (RFC 8446 4.1.2) with the common extensions, for tests and for
/// crafting hellos; no cryptography (key shares are whatever bytes you give).
/// Extensions are written in this order: server_name, supported_groups, signature_algorithms,
/// application_layer_protocol_negotiation, supported_versions, key_share, then
/// <see cref="AdditionalExtensions"/> as given (put pre_shared_key last, RFC 8446 4.2.11).
/// </summary>
/// <remarks>Throws <see cref="ArgumentException"/> when a value cannot be encoded (a vector outside its bounds).</remarks>
public sealed class ClientHelloBuilder
{
    /// <summary>legacy_version; 0x0303 (RFC 8446 4.1.2).</summary>
    public TlsVersion LegacyVersion { get; set; } = TlsVersion.Tls12;

    /// <summary>The 32-byte random.</summary>
    public TlsRandom Random { get; set; }

    /// <summary>legacy_session_id, 0..32 bytes.</summary>
    public byte[] LegacySessionId { get; set; } = [];

    /// <summary>Offered cipher suites (at least one).</summary>
    public IList<TlsCipherSuite> CipherSuites { get; set; } =
        [TlsCipherSuite.TlsAes128GcmSha256, TlsCipherSuite.TlsAes256GcmSha384, TlsCipherSuite.TlsChaCha20Poly1305Sha256];

    /// <summary>legacy_compression_methods (at least one; TLS 1.3 requires exactly [0]).</summary>
    public byte[] CompressionMethods { get; set; } = [0];

    /// <summary>The host for server_name (RFC 6066 3), ASCII without a trailing dot; null for no extension.</summary>
    public string? ServerName { get; set; }

    /// <summary>ALPN protocol names (RFC 7301), UTF-8 encoded; empty for no extension.</summary>
    public IList<string> ApplicationProtocols { get; set; } = [];

    /// <summary>supported_versions (RFC 8446 4.2.1); empty for no extension.</summary>
    public IList<TlsVersion> SupportedVersions { get; set; } = [];

    /// <summary>supported_groups (RFC 8446 4.2.7); empty for no extension.</summary>
    public IList<TlsNamedGroup> SupportedGroups { get; set; } = [];

    /// <summary>signature_algorithms (RFC 8446 4.2.3); empty for no extension.</summary>
    public IList<TlsSignatureScheme> SignatureAlgorithms { get; set; } = [];

    /// <summary>key_share client_shares (RFC 8446 4.2.8); null for no extension (an empty list is a valid extension).</summary>
    public IList<(TlsNamedGroup Group, byte[] KeyExchange)>? KeyShares { get; set; }

    /// <summary>Further extensions, written after the typed ones in the order given.</summary>
    public IList<(TlsExtensionType Type, byte[] Data)> AdditionalExtensions { get; set; } = [];

    /// <summary>When there is no extension at all: true omits the extension block (TLS 1.2 form), false writes an empty one.</summary>
    public bool OmitEmptyExtensionBlock { get; set; } = true;

    /// <summary>A typical TLS 1.3 offer for <paramref name="serverName"/>: TLS 1.3+1.2, x25519/P-256, common signature schemes, ALPN h2 + http/1.1.</summary>
    public static ClientHelloBuilder Tls13(string serverName, TlsRandom random = default) => new()
    {
        Random = random,
        ServerName = serverName,
        ApplicationProtocols = ["h2", "http/1.1"],
        SupportedVersions = [TlsVersion.Tls13, TlsVersion.Tls12],
        SupportedGroups = [TlsNamedGroup.X25519, TlsNamedGroup.Secp256r1],
        SignatureAlgorithms = [TlsSignatureScheme.EcdsaSecp256r1Sha256, TlsSignatureScheme.RsaPssRsaeSha256, TlsSignatureScheme.RsaPkcs1Sha256],
        KeyShares = [(TlsNamedGroup.X25519, new byte[32])],
    };

    /// <summary>The ClientHello body (without the handshake header).</summary>
    public byte[] BuildBody() => Write().ToArray();

    /// <summary>Writes the body to <paramref name="destination"/>; returns its length.</summary>
    public int WriteBody(IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        TlsBufferBuilder b = Write();
        destination.Write(b.WrittenSpan);
        return b.Length;
    }

    /// <summary>The handshake message: header (client_hello, uint24 length) + body.</summary>
    public byte[] BuildHandshakeMessage() => TlsFraming.WrapHandshake(TlsHandshakeType.ClientHello, Write().WrittenSpan);

    /// <summary>The handshake message in handshake records of at most <paramref name="maxFragmentLength"/> bytes each.</summary>
    public byte[] BuildRecords(TlsVersion recordVersion = TlsVersion.Tls10, int maxFragmentLength = TlsRecordHeader.MaxPlaintextLength) =>
        TlsFraming.BuildRecords(TlsContentType.Handshake, BuildHandshakeMessage(), recordVersion, maxFragmentLength);

    private TlsBufferBuilder Write()
    {
        var b = new TlsBufferBuilder();

        // RFC 8446 4.1.2, in order.
        b.WriteUInt16((ushort)LegacyVersion);
        TlsRandom random = Random;
        b.WriteBytes(random);
        b.WriteVector(1, 0, 32, LegacySessionId, "legacy_session_id");
        int suites = b.BeginVector(2);
        foreach (TlsCipherSuite s in CipherSuites)
        {
            b.WriteUInt16((ushort)s);
        }

        b.EndVector(suites, 2, 2, ushort.MaxValue - 1, "cipher_suites");
        b.WriteVector(1, 1, byte.MaxValue, CompressionMethods, "legacy_compression_methods");

        bool any = ServerName is not null || ApplicationProtocols.Count > 0 || SupportedVersions.Count > 0
            || SupportedGroups.Count > 0 || SignatureAlgorithms.Count > 0 || KeyShares is not null || AdditionalExtensions.Count > 0;
        if (!any && OmitEmptyExtensionBlock)
        {
            return b;
        }

        int extensions = b.BeginVector(2);
        if (ServerName is not null)
        {
            // RFC 6066 3: server_name_list<1..2^16-1> of { name_type = host_name(0), HostName<1..2^16-1> }.
            int ext = BeginExtension(b, TlsExtensionType.ServerName);
            int list = b.BeginVector(2);
            b.WriteUInt8(TlsExtensionDecoder.HostNameType);
            foreach (char c in ServerName)
            {
                if (c is < '!' or > '~')
                {
                    throw new ArgumentException("server_name must be printable ASCII (RFC 6066 3).", nameof(ServerName));
                }
            }

            b.WriteVector(2, 1, ushort.MaxValue, Encoding.ASCII.GetBytes(ServerName), "host_name");
            b.EndVector(list, 2, 1, ushort.MaxValue, "server_name_list");
            EndExtension(b, ext);
        }

        if (SupportedGroups.Count > 0)
        {
            int ext = BeginExtension(b, TlsExtensionType.SupportedGroups);
            WriteUInt16Vector(b, SupportedGroups.Select(g => (ushort)g), 2, 2, ushort.MaxValue, "named_group_list");
            EndExtension(b, ext);
        }

        if (SignatureAlgorithms.Count > 0)
        {
            int ext = BeginExtension(b, TlsExtensionType.SignatureAlgorithms);
            WriteUInt16Vector(b, SignatureAlgorithms.Select(s => (ushort)s), 2, 2, ushort.MaxValue - 1, "supported_signature_algorithms");
            EndExtension(b, ext);
        }

        if (ApplicationProtocols.Count > 0)
        {
            int ext = BeginExtension(b, TlsExtensionType.ApplicationLayerProtocolNegotiation);
            HelloBuilderHelpers.WriteAlpn(b, ApplicationProtocols);
            EndExtension(b, ext);
        }

        if (SupportedVersions.Count > 0)
        {
            // RFC 8446 4.2.1: ProtocolVersion versions<2..254>.
            int ext = BeginExtension(b, TlsExtensionType.SupportedVersions);
            WriteUInt16Vector(b, SupportedVersions.Select(v => (ushort)v), 1, 2, 254, "versions");
            EndExtension(b, ext);
        }

        if (KeyShares is not null)
        {
            // RFC 8446 4.2.8: KeyShareEntry client_shares<0..2^16-1>.
            int ext = BeginExtension(b, TlsExtensionType.KeyShare);
            int list = b.BeginVector(2);
            foreach ((TlsNamedGroup group, byte[] key) in KeyShares)
            {
                b.WriteUInt16((ushort)group);
                b.WriteVector(2, 1, ushort.MaxValue, key, "key_exchange");
            }

            b.EndVector(list, 2, 0, ushort.MaxValue, "client_shares");
            EndExtension(b, ext);
        }

        foreach ((TlsExtensionType type, byte[] data) in AdditionalExtensions)
        {
            int ext = BeginExtension(b, type);
            b.WriteBytes(data);
            EndExtension(b, ext);
        }

        b.EndVector(extensions, 2, 0, ushort.MaxValue, "extensions");
        return b;
    }

    internal static int BeginExtension(TlsBufferBuilder b, TlsExtensionType type)
    {
        b.WriteUInt16((ushort)type);
        return b.BeginVector(2);
    }

    internal static void EndExtension(TlsBufferBuilder b, int marker) => b.EndVector(marker, 2, 0, ushort.MaxValue, "extension_data");

    internal static void WriteUInt16Vector(TlsBufferBuilder b, IEnumerable<ushort> values, int prefixBytes, int min, int max, string field)
    {
        int marker = b.BeginVector(prefixBytes);
        foreach (ushort v in values)
        {
            b.WriteUInt16(v);
        }

        b.EndVector(marker, prefixBytes, min, max, field);
    }
}

/// <summary>
/// Builds ServerHello (or HelloRetryRequest) bodies (RFC 8446 4.1.3). Extensions are written in
/// this order: supported_versions, key_share, application_layer_protocol_negotiation (TLS 1.2
/// style; TLS 1.3 servers send ALPN in EncryptedExtensions), then <see cref="AdditionalExtensions"/>.
/// </summary>
/// <remarks>Throws <see cref="ArgumentException"/> when a value cannot be encoded.</remarks>
public sealed class ServerHelloBuilder
{
    /// <summary>legacy_version; 0x0303 (RFC 8446 4.1.3).</summary>
    public TlsVersion LegacyVersion { get; set; } = TlsVersion.Tls12;

    /// <summary>The 32-byte random; see <see cref="HelloRetryRequest"/>.</summary>
    public TlsRandom Random { get; set; }

    /// <summary>legacy_session_id_echo, 0..32 bytes.</summary>
    public byte[] LegacySessionIdEcho { get; set; } = [];

    /// <summary>The selected suite.</summary>
    public TlsCipherSuite CipherSuite { get; set; } = TlsCipherSuite.TlsAes128GcmSha256;

    /// <summary>legacy_compression_method (0).</summary>
    public byte CompressionMethod { get; set; }

    /// <summary>supported_versions selected_version; null for no extension.</summary>
    public TlsVersion? SelectedVersion { get; set; }

    /// <summary>key_share server_share (group and key); null for no extension.</summary>
    public (TlsNamedGroup Group, byte[] KeyExchange)? KeyShare { get; set; }

    /// <summary>key_share selected_group of a HelloRetryRequest; null for none. Exclusive with <see cref="KeyShare"/>.</summary>
    public TlsNamedGroup? HelloRetryGroup { get; set; }

    /// <summary>The selected ALPN protocol (a one-name list, RFC 7301 3.1); null for no extension.</summary>
    public string? ApplicationProtocol { get; set; }

    /// <summary>Further extensions, written after the typed ones.</summary>
    public IList<(TlsExtensionType Type, byte[] Data)> AdditionalExtensions { get; set; } = [];

    /// <summary>When there is no extension at all: true omits the extension block (TLS 1.2 form), false writes an empty one.</summary>
    public bool OmitEmptyExtensionBlock { get; set; } = true;

    /// <summary>A HelloRetryRequest builder: the magic random (RFC 8446 4.1.3), TLS 1.3, asking for <paramref name="group"/>.</summary>
    public static ServerHelloBuilder HelloRetryRequest(TlsNamedGroup group, TlsCipherSuite suite = TlsCipherSuite.TlsAes128GcmSha256) => new()
    {
        Random = TlsRandom.From(TlsRandom.HelloRetryRequestMagic),
        CipherSuite = suite,
        SelectedVersion = TlsVersion.Tls13,
        HelloRetryGroup = group,
    };

    /// <summary>The ServerHello body (without the handshake header).</summary>
    public byte[] BuildBody() => Write().ToArray();

    /// <summary>Writes the body to <paramref name="destination"/>; returns its length.</summary>
    public int WriteBody(IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        TlsBufferBuilder b = Write();
        destination.Write(b.WrittenSpan);
        return b.Length;
    }

    /// <summary>The handshake message: header (server_hello, uint24 length) + body.</summary>
    public byte[] BuildHandshakeMessage() => TlsFraming.WrapHandshake(TlsHandshakeType.ServerHello, Write().WrittenSpan);

    /// <summary>The handshake message in handshake records.</summary>
    public byte[] BuildRecords(TlsVersion recordVersion = TlsVersion.Tls12, int maxFragmentLength = TlsRecordHeader.MaxPlaintextLength) =>
        TlsFraming.BuildRecords(TlsContentType.Handshake, BuildHandshakeMessage(), recordVersion, maxFragmentLength);

    private TlsBufferBuilder Write()
    {
        if (KeyShare is not null && HelloRetryGroup is not null)
        {
            throw new ArgumentException("A ServerHello carries either a key share or a HelloRetryRequest selected_group, not both.");
        }

        var b = new TlsBufferBuilder();

        // RFC 8446 4.1.3, in order.
        b.WriteUInt16((ushort)LegacyVersion);
        TlsRandom random = Random;
        b.WriteBytes(random);
        b.WriteVector(1, 0, 32, LegacySessionIdEcho, "legacy_session_id_echo");
        b.WriteUInt16((ushort)CipherSuite);
        b.WriteUInt8(CompressionMethod);

        bool any = SelectedVersion is not null || KeyShare is not null || HelloRetryGroup is not null
            || ApplicationProtocol is not null || AdditionalExtensions.Count > 0;
        if (!any && OmitEmptyExtensionBlock)
        {
            return b;
        }

        int extensions = b.BeginVector(2);
        if (SelectedVersion is { } version)
        {
            int ext = ClientHelloBuilder.BeginExtension(b, TlsExtensionType.SupportedVersions);
            b.WriteUInt16((ushort)version);
            ClientHelloBuilder.EndExtension(b, ext);
        }

        if (KeyShare is { } share)
        {
            int ext = ClientHelloBuilder.BeginExtension(b, TlsExtensionType.KeyShare);
            b.WriteUInt16((ushort)share.Group);
            b.WriteVector(2, 1, ushort.MaxValue, share.KeyExchange, "key_exchange");
            ClientHelloBuilder.EndExtension(b, ext);
        }
        else if (HelloRetryGroup is { } group)
        {
            int ext = ClientHelloBuilder.BeginExtension(b, TlsExtensionType.KeyShare);
            b.WriteUInt16((ushort)group);
            ClientHelloBuilder.EndExtension(b, ext);
        }

        if (ApplicationProtocol is not null)
        {
            int ext = ClientHelloBuilder.BeginExtension(b, TlsExtensionType.ApplicationLayerProtocolNegotiation);
            HelloBuilderHelpers.WriteAlpn(b, [ApplicationProtocol]);
            ClientHelloBuilder.EndExtension(b, ext);
        }

        foreach ((TlsExtensionType type, byte[] data) in AdditionalExtensions)
        {
            int ext = ClientHelloBuilder.BeginExtension(b, type);
            b.WriteBytes(data);
            ClientHelloBuilder.EndExtension(b, ext);
        }

        b.EndVector(extensions, 2, 0, ushort.MaxValue, "extensions");
        return b;
    }
}

internal static class HelloBuilderHelpers
{
    /// <summary>RFC 7301 3.1: ProtocolName protocol_name_list&lt;2..2^16-1&gt;, each opaque&lt;1..2^8-1&gt;.</summary>
    public static void WriteAlpn(TlsBufferBuilder b, IEnumerable<string> protocols)
    {
        int list = b.BeginVector(2);
        foreach (string p in protocols)
        {
            b.WriteVector(1, 1, byte.MaxValue, Encoding.UTF8.GetBytes(p), "protocol_name");
        }

        b.EndVector(list, 2, 2, ushort.MaxValue, "protocol_name_list");
    }
}
