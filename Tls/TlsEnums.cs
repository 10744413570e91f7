namespace Protocols.Tls;

/// <summary>The record-layer content type (RFC 8446 5.1, RFC 6520 for heartbeat).</summary>
public enum TlsContentType : byte
{
    /// <summary>change_cipher_spec (20): a TLS 1.2 message; in TLS 1.3 only sent for middlebox compatibility (RFC 8446 D.4).</summary>
    ChangeCipherSpec = 20,

    /// <summary>alert (21).</summary>
    Alert = 21,

    /// <summary>handshake (22).</summary>
    Handshake = 22,

    /// <summary>application_data (23).</summary>
    ApplicationData = 23,

    /// <summary>heartbeat (24, RFC 6520).</summary>
    Heartbeat = 24,
}

/// <summary>Protocol versions as they appear on the wire (RFC 8446 4.1.2, 4.2.1; RFC 5246 6.2.1).</summary>
public enum TlsVersion : ushort
{
    /// <summary>SSL 3.0 (0x0300), seen only as a record version of very old peers.</summary>
    Ssl30 = 0x0300,

    /// <summary>TLS 1.0 (0x0301); the usual record version of an initial ClientHello (RFC 8446 5.1).</summary>
    Tls10 = 0x0301,

    /// <summary>TLS 1.1 (0x0302).</summary>
    Tls11 = 0x0302,

    /// <summary>TLS 1.2 (0x0303); also the legacy_version of every TLS 1.3 hello (RFC 8446 4.1.2).</summary>
    Tls12 = 0x0303,

    /// <summary>TLS 1.3 (0x0304); only negotiated through supported_versions (RFC 8446 4.2.1).</summary>
    Tls13 = 0x0304,
}

/// <summary>Handshake message types (RFC 8446 4, RFC 5246 7.4).</summary>
public enum TlsHandshakeType : byte
{
    /// <summary>client_hello (1).</summary>
    ClientHello = 1,

    /// <summary>server_hello (2); also a HelloRetryRequest in TLS 1.3 (RFC 8446 4.1.3).</summary>
    ServerHello = 2,

    /// <summary>new_session_ticket (4).</summary>
    NewSessionTicket = 4,

    /// <summary>end_of_early_data (5).</summary>
    EndOfEarlyData = 5,

    /// <summary>encrypted_extensions (8).</summary>
    EncryptedExtensions = 8,

    /// <summary>certificate (11).</summary>
    Certificate = 11,

    /// <summary>server_key_exchange (12, TLS 1.2).</summary>
    ServerKeyExchange = 12,

    /// <summary>certificate_request (13).</summary>
    CertificateRequest = 13,

    /// <summary>server_hello_done (14, TLS 1.2).</summary>
    ServerHelloDone = 14,

    /// <summary>certificate_verify (15).</summary>
    CertificateVerify = 15,

    /// <summary>client_key_exchange (16, TLS 1.2).</summary>
    ClientKeyExchange = 16,

    /// <summary>finished (20).</summary>
    Finished = 20,

    /// <summary>key_update (24).</summary>
    KeyUpdate = 24,

    /// <summary>message_hash (254): a synthetic message used in the transcript after a HelloRetryRequest.</summary>
    MessageHash = 254,
}

/// <summary>Extension types (IANA "TLS ExtensionType Values"; RFC 8446 4.2 and the RFCs cited per value).</summary>
public enum TlsExtensionType : ushort
{
    /// <summary>server_name (0, RFC 6066 3).</summary>
    ServerName = 0,

    /// <summary>max_fragment_length (1, RFC 6066 4).</summary>
    MaxFragmentLength = 1,

    /// <summary>status_request (5, RFC 6066 8).</summary>
    StatusRequest = 5,

    /// <summary>supported_groups (10, RFC 8422, RFC 7919).</summary>
    SupportedGroups = 10,

    /// <summary>ec_point_formats (11, RFC 8422).</summary>
    EcPointFormats = 11,

    /// <summary>signature_algorithms (13, RFC 8446 4.2.3).</summary>
    SignatureAlgorithms = 13,

    /// <summary>use_srtp (14, RFC 5764).</summary>
    UseSrtp = 14,

    /// <summary>heartbeat (15, RFC 6520).</summary>
    Heartbeat = 15,

    /// <summary>application_layer_protocol_negotiation (16, RFC 7301).</summary>
    ApplicationLayerProtocolNegotiation = 16,

    /// <summary>signed_certificate_timestamp (18, RFC 6962).</summary>
    SignedCertificateTimestamp = 18,

    /// <summary>client_certificate_type (19, RFC 7250).</summary>
    ClientCertificateType = 19,

    /// <summary>server_certificate_type (20, RFC 7250).</summary>
    ServerCertificateType = 20,

    /// <summary>padding (21, RFC 7685).</summary>
    Padding = 21,

    /// <summary>encrypt_then_mac (22, RFC 7366).</summary>
    EncryptThenMac = 22,

    /// <summary>extended_master_secret (23, RFC 7627).</summary>
    ExtendedMasterSecret = 23,

    /// <summary>compress_certificate (27, RFC 8879).</summary>
    CompressCertificate = 27,

    /// <summary>record_size_limit (28, RFC 8449).</summary>
    RecordSizeLimit = 28,

    /// <summary>session_ticket (35, RFC 5077).</summary>
    SessionTicket = 35,

    /// <summary>pre_shared_key (41, RFC 8446 4.2.11); must be the last extension of a ClientHello.</summary>
    PreSharedKey = 41,

    /// <summary>early_data (42, RFC 8446 4.2.10).</summary>
    EarlyData = 42,

    /// <summary>supported_versions (43, RFC 8446 4.2.1).</summary>
    SupportedVersions = 43,

    /// <summary>cookie (44, RFC 8446 4.2.2).</summary>
    Cookie = 44,

    /// <summary>psk_key_exchange_modes (45, RFC 8446 4.2.9).</summary>
    PskKeyExchangeModes = 45,

    /// <summary>certificate_authorities (47, RFC 8446 4.2.4).</summary>
    CertificateAuthorities = 47,

    /// <summary>oid_filters (48, RFC 8446 4.2.5).</summary>
    OidFilters = 48,

    /// <summary>post_handshake_auth (49, RFC 8446 4.2.6).</summary>
    PostHandshakeAuth = 49,

    /// <summary>signature_algorithms_cert (50, RFC 8446 4.2.3).</summary>
    SignatureAlgorithmsCert = 50,

    /// <summary>key_share (51, RFC 8446 4.2.8).</summary>
    KeyShare = 51,

    /// <summary>encrypted_client_hello (0xfe0d, draft-ietf-tls-esni).</summary>
    EncryptedClientHello = 0xfe0d,

    /// <summary>renegotiation_info (0xff01, RFC 5746).</summary>
    RenegotiationInfo = 0xff01,
}

/// <summary>Named groups for key exchange (RFC 8446 4.2.7; RFC 7919 for FFDHE).</summary>
public enum TlsNamedGroup : ushort
{
    /// <summary>secp256r1 (23).</summary>
    Secp256r1 = 0x0017,

    /// <summary>secp384r1 (24).</summary>
    Secp384r1 = 0x0018,

    /// <summary>secp521r1 (25).</summary>
    Secp521r1 = 0x0019,

    /// <summary>x25519 (29).</summary>
    X25519 = 0x001d,

    /// <summary>x448 (30).</summary>
    X448 = 0x001e,

    /// <summary>ffdhe2048 (256).</summary>
    Ffdhe2048 = 0x0100,

    /// <summary>ffdhe3072 (257).</summary>
    Ffdhe3072 = 0x0101,

    /// <summary>ffdhe4096 (258).</summary>
    Ffdhe4096 = 0x0102,

    /// <summary>ffdhe6144 (259).</summary>
    Ffdhe6144 = 0x0103,

    /// <summary>ffdhe8192 (260).</summary>
    Ffdhe8192 = 0x0104,

    /// <summary>X25519MLKEM768 (0x11ec, draft-ietf-tls-ecdhe-mlkem).</summary>
    X25519MlKem768 = 0x11ec,
}

/// <summary>Signature schemes (RFC 8446 4.2.3).</summary>
public enum TlsSignatureScheme : ushort
{
    /// <summary>rsa_pkcs1_sha1 (legacy).</summary>
    RsaPkcs1Sha1 = 0x0201,

    /// <summary>ecdsa_sha1 (legacy).</summary>
    EcdsaSha1 = 0x0203,

    /// <summary>rsa_pkcs1_sha256.</summary>
    RsaPkcs1Sha256 = 0x0401,

    /// <summary>ecdsa_secp256r1_sha256.</summary>
    EcdsaSecp256r1Sha256 = 0x0403,

    /// <summary>rsa_pkcs1_sha384.</summary>
    RsaPkcs1Sha384 = 0x0501,

    /// <summary>ecdsa_secp384r1_sha384.</summary>
    EcdsaSecp384r1Sha384 = 0x0503,

    /// <summary>rsa_pkcs1_sha512.</summary>
    RsaPkcs1Sha512 = 0x0601,

    /// <summary>ecdsa_secp521r1_sha512.</summary>
    EcdsaSecp521r1Sha512 = 0x0603,

    /// <summary>rsa_pss_rsae_sha256.</summary>
    RsaPssRsaeSha256 = 0x0804,

    /// <summary>rsa_pss_rsae_sha384.</summary>
    RsaPssRsaeSha384 = 0x0805,

    /// <summary>rsa_pss_rsae_sha512.</summary>
    RsaPssRsaeSha512 = 0x0806,

    /// <summary>ed25519.</summary>
    Ed25519 = 0x0807,

    /// <summary>ed448.</summary>
    Ed448 = 0x0808,

    /// <summary>rsa_pss_pss_sha256.</summary>
    RsaPssPssSha256 = 0x0809,

    /// <summary>rsa_pss_pss_sha384.</summary>
    RsaPssPssSha384 = 0x080a,

    /// <summary>rsa_pss_pss_sha512.</summary>
    RsaPssPssSha512 = 0x080b,
}

/// <summary>A few well-known cipher suites (RFC 8446 B.4, RFC 5289); any other 16-bit value is carried as is.</summary>
public enum TlsCipherSuite : ushort
{
    /// <summary>TLS_AES_128_GCM_SHA256 (TLS 1.3).</summary>
    TlsAes128GcmSha256 = 0x1301,

    /// <summary>TLS_AES_256_GCM_SHA384 (TLS 1.3).</summary>
    TlsAes256GcmSha384 = 0x1302,

    /// <summary>TLS_CHACHA20_POLY1305_SHA256 (TLS 1.3).</summary>
    TlsChaCha20Poly1305Sha256 = 0x1303,

    /// <summary>TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).</summary>
    TlsEcdheEcdsaWithAes128GcmSha256 = 0xc02b,

    /// <summary>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).</summary>
    TlsEcdheRsaWithAes128GcmSha256 = 0xc02f,

    /// <summary>TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).</summary>
    TlsEcdheEcdsaWithAes256GcmSha384 = 0xc02c,

    /// <summary>TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).</summary>
    TlsEcdheRsaWithAes256GcmSha384 = 0xc030,

    /// <summary>TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 3.3).</summary>
    TlsEmptyRenegotiationInfoScsv = 0x00ff,
}
