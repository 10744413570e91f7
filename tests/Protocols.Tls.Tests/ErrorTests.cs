using Protocols.Wire;

namespace Protocols.Tls.Tests;

/// <summary>Each malformation gives its own typed error: layer, field, kind, required/actual, source, offset.</summary>
public class ErrorTests
{
    private const int SessionIdOffset = 34;

    /// <summary>legacy_version 0x0303, a zero random, then the given tail.</summary>
    private static byte[] Body(params byte[][] parts) => [0x03, 0x03, .. new byte[32], .. parts.SelectMany(p => p)];

    private static readonly byte[] NoSession = [0];
    private static readonly byte[] OneSuite = [0, 2, 0x13, 0x01];
    private static readonly byte[] NullCompression = [1, 0];

    private static byte[] Extensions(params byte[][] extensions)
    {
        byte[] list = extensions.SelectMany(e => e).ToArray();
        return [(byte)(list.Length >> 8), (byte)list.Length, .. list];
    }

    private static byte[] Extension(ushort type, params byte[] data) =>
        [(byte)(type >> 8), (byte)type, (byte)(data.Length >> 8), (byte)data.Length, .. data];

    private static WireError ClientError(byte[] body)
    {
        Assert.False(ClientHelloReader.TryRead(body, out _, out WireError error));
        Assert.Equal("TLS", error.Layer);
        return error;
    }

    [Fact]
    public void Minimal_body_parses()
    {
        byte[] body = Body(NoSession, OneSuite, NullCompression);
        Assert.Equal(ClientHelloReader.MinLength, body.Length);
        Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out WireError error), error.ToString());
        Assert.False(hello.HasExtensions);
        Assert.Equal(0, hello.Extensions.Count);
        Assert.True(hello.TryGetServerNameString(out string? sni, out _));
        Assert.Null(sni);
    }

    [Fact]
    public void Too_short_for_prefix()
    {
        WireError e = ClientError(new byte[10]);
        Assert.Equal(new WireError(WireErrorKind.TooShort, "TLS", "Random", TlsHelloPrefix.FixedLength, 10, LengthSource.PayloadLength), e);
    }

    [Fact]
    public void Session_id_longer_than_32()
    {
        WireError e = ClientError(Body([33, .. new byte[33]], OneSuite, NullCompression));
        Assert.Equal(WireError.InvalidValue("TLS", "legacy_session_id", 32, 33, SessionIdOffset), e);
    }

    [Fact]
    public void Session_id_beyond_body()
    {
        WireError e = ClientError(Body([20, 1, 2, 3]));
        Assert.Equal(WireError.TooShort("TLS", "legacy_session_id", 20, 3, LengthSource.PayloadLength, SessionIdOffset + 1), e);
    }

    [Fact]
    public void CipherSuites_empty_odd_beyond()
    {
        Assert.Equal(
            WireError.LengthTooSmall("TLS", "cipher_suites", 2, 0, LengthSource.OptionLength, SessionIdOffset + 1),
            ClientError(Body(NoSession, [0, 0], NullCompression)));
        Assert.Equal(
            WireError.Malformed("TLS", "cipher_suites", 4, 3, LengthSource.OptionLength, SessionIdOffset + 1),
            ClientError(Body(NoSession, [0, 3, 0x13, 0x01, 0x13], NullCompression)));
        Assert.Equal(
            WireError.TooShort("TLS", "cipher_suites", 0x100, 2, LengthSource.PayloadLength, SessionIdOffset + 3),
            ClientError(Body(NoSession, [1, 0, 0x13, 0x01])));
    }

    [Fact]
    public void CompressionMethods_empty()
    {
        Assert.Equal(
            WireError.LengthTooSmall("TLS", "legacy_compression_methods", 1, 0, LengthSource.OptionLength, SessionIdOffset + 5),
            ClientError(Body(NoSession, OneSuite, [0])));
    }

    [Fact]
    public void Extensions_beyond_body_trailing_inner()
    {
        int extOffset = SessionIdOffset + 1 + 4 + 2;
        Assert.Equal(
            WireError.TooShort("TLS", "extensions", 10, 4, LengthSource.PayloadLength, extOffset + 2),
            ClientError(Body(NoSession, OneSuite, NullCompression, [0, 10, 0, 0, 0, 0])));

        // One byte of length is not a block.
        Assert.Equal(
            WireError.TooShort("TLS", "extensions", 2, 1, LengthSource.PayloadLength, extOffset),
            ClientError(Body(NoSession, OneSuite, NullCompression, [0])));

        // Bytes after the extension block.
        Assert.Equal(
            WireError.Malformed("TLS", "extensions", extOffset + 2, extOffset + 3, LengthSource.PayloadLength, extOffset + 2),
            ClientError(Body(NoSession, OneSuite, NullCompression, Extensions(), [0xee])));

        // An extension whose data runs past the block: limited by the block's own length.
        Assert.Equal(
            WireError.TooShort("TLS", "extension_data", 9, 1, LengthSource.OptionLength, extOffset + 6),
            ClientError(Body(NoSession, OneSuite, NullCompression, [0, 5, 0, 23, 0, 9, 0])));
    }

    [Fact]
    public void Duplicate_extension()
    {
        int extOffset = SessionIdOffset + 1 + 4 + 2 + 2;
        byte[] body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(23), Extension(0xff01, 0), Extension(23)));
        Assert.Equal(WireError.InvalidValue("TLS", "extension_type", 1, 2, extOffset + 4 + 5), ClientError(body));

        // The same types once each are fine; GREASE values are ordinary distinct types.
        body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(0x0a0a), Extension(23), Extension(0xfafa, 0)));
        Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out _));
        var grease = new List<bool>();
        foreach (TlsExtension e in hello.Extensions)
        {
            grease.Add(e.IsGrease);
        }

        Assert.Equal([true, false, true], grease);
    }

    [Fact]
    public void Pre_shared_key_must_be_last()
    {
        int extOffset = SessionIdOffset + 1 + 4 + 2 + 2;
        byte[] body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(41, 1, 2), Extension(23)));
        Assert.Equal(WireError.Malformed("TLS", "pre_shared_key", 0, 4, LengthSource.OptionLength, extOffset + 6), ClientError(body));

        body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(23), Extension(41, 1, 2)));
        Assert.True(ClientHelloReader.TryRead(body, out _, out WireError error), error.ToString());

        // ServerHello: pre_shared_key carries the selected identity and may be anywhere.
        byte[] server = [0x03, 0x03, .. new byte[32], 0, 0x13, 0x01, 0, .. Extensions(Extension(41, 0, 0), Extension(43, 3, 4))];
        Assert.True(ServerHelloReader.TryRead(server, out ServerHelloReader sh, out error), error.ToString());
        Assert.Equal(TlsVersion.Tls13, sh.NegotiatedVersion);
    }

    [Fact]
    public void ServerName_errors()
    {
        // Two host names (RFC 6066 3).
        byte[] twice = [0, 8, 0, 0, 1, (byte)'a', 0, 0, 1, (byte)'b'];
        Assert.False(TlsExtensionDecoder.TryReadServerName(twice, out _, out WireError e));
        Assert.Equal(WireError.InvalidValue("TLS", "name_type", 1, 2, 6), e);

        // Empty host name.
        Assert.False(TlsExtensionDecoder.TryReadServerName([0, 3, 0, 0, 0], out _, out e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "host_name", 1, 0, LengthSource.OptionLength, 3), e);

        // Empty list.
        Assert.False(TlsExtensionDecoder.TryReadServerName([0, 0], out _, out e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "server_name_list", 1, 0, LengthSource.OptionLength, 0), e);

        // List longer than the extension, and bytes after the list.
        Assert.False(TlsExtensionDecoder.TryReadServerName([0, 9, 0, 0, 1, (byte)'a'], out _, out e));
        Assert.Equal(WireError.TooShort("TLS", "server_name_list", 9, 4, LengthSource.OptionLength, 2), e);
        Assert.False(TlsExtensionDecoder.TryReadServerName([0, 4, 0, 0, 1, (byte)'a', 7], out _, out e));
        Assert.Equal(WireErrorKind.Malformed, e.Kind);

        // An unknown name type is skipped; the host name is still found.
        Assert.True(TlsExtensionDecoder.TryReadServerName([0, 8, 7, 0, 1, (byte)'x', 0, 0, 1, (byte)'h'], out ReadOnlySpan<byte> host, out e), e.ToString());
        Assert.Equal("h"u8.ToArray(), host.ToArray());

        // String form: ASCII only, no trailing dot.
        Assert.False(TlsExtensionDecoder.TryGetHostNameString("example.com."u8, out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "host_name", 0, '.', 11), e);
        Assert.False(TlsExtensionDecoder.TryGetHostNameString([(byte)'a', 0xc3, 0xa9], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "host_name", 0x21, 0xc3, 1), e);
        Assert.True(TlsExtensionDecoder.TryGetHostNameString("Example.COM"u8, out string? s, out _));
        Assert.Equal("Example.COM", s);
    }

    [Fact]
    public void ServerName_error_offsets_are_body_relative()
    {
        int extOffset = SessionIdOffset + 1 + 4 + 2 + 2;
        byte[] body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(0, 0, 3, 0, 0, 0)));
        Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out _));
        Assert.False(hello.TryGetServerName(out ReadOnlySpan<byte> _, out WireError e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "host_name", 1, 0, LengthSource.OptionLength, extOffset + 4 + 3), e);
    }

    [Fact]
    public void Alpn_errors()
    {
        Assert.False(TlsExtensionDecoder.TryReadAlpn([0, 0], out _, out WireError e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "protocol_name_list", 2, 0, LengthSource.OptionLength, 0), e);
        Assert.False(TlsExtensionDecoder.TryReadAlpn([0, 3, 2, (byte)'h', (byte)'2', 0], out _, out e));
        Assert.Equal(WireError.Malformed("TLS", "application_layer_protocol_negotiation", 5, 6, LengthSource.OptionLength, 5), e);
        Assert.False(TlsExtensionDecoder.TryReadAlpn([0, 4, 2, (byte)'h', (byte)'2', 0], out _, out e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "protocol_name", 1, 0, LengthSource.OptionLength, 5), e);
        Assert.False(TlsExtensionDecoder.TryReadAlpn([0, 3, 5, (byte)'h', (byte)'2'], out _, out e));
        Assert.Equal(WireError.TooShort("TLS", "protocol_name", 5, 2, LengthSource.OptionLength, 3), e);

        // A server selects exactly one protocol (RFC 7301 3.1).
        Assert.False(TlsExtensionDecoder.TryReadSelectedAlpn([0, 6, 2, (byte)'h', (byte)'2', 2, (byte)'h', (byte)'3'], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "protocol_name_list", 1, 2, 0), e);
    }

    [Fact]
    public void SupportedVersions_errors()
    {
        Assert.False(TlsExtensionDecoder.TryReadSupportedVersions([0], out _, out WireError e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "versions", 2, 0, LengthSource.OptionLength, 0), e);
        Assert.False(TlsExtensionDecoder.TryReadSupportedVersions([3, 3, 4, 3], out _, out e));
        Assert.Equal(WireError.Malformed("TLS", "versions", 4, 3, LengthSource.OptionLength, 0), e);
        Assert.False(TlsExtensionDecoder.TryReadSupportedVersions([255, .. new byte[255]], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "versions", 254, 255, 0), e);
        Assert.False(TlsExtensionDecoder.TryReadSupportedVersions([4, 3, 4], out _, out e));
        Assert.Equal(WireError.TooShort("TLS", "versions", 4, 2, LengthSource.OptionLength, 1), e);

        // ServerHello form: exactly one version, checked by the reader itself.
        byte[] server = [0x03, 0x03, .. new byte[32], 0, 0x13, 0x01, 0, .. Extensions(Extension(43, 3, 4, 3, 3))];
        Assert.False(ServerHelloReader.TryRead(server, out _, out e));
        Assert.Equal(WireError.Malformed("TLS", "supported_versions", 2, 4, LengthSource.OptionLength, SessionIdOffset + 1 + 3 + 2 + 4 + 2), e);
    }

    [Fact]
    public void KeyShare_errors()
    {
        Assert.False(TlsExtensionDecoder.TryReadClientKeyShares([0, 10, 0, 29, 0, 1, 9, 0, 29, 0, 1, 9], out _, out WireError e));
        Assert.Equal(WireError.InvalidValue("TLS", "group", 1, 2, 7), e);
        Assert.False(TlsExtensionDecoder.TryReadClientKeyShares([0, 4, 0, 29, 0, 0], out _, out e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "key_exchange", 1, 0, LengthSource.OptionLength, 4), e);
        Assert.True(TlsExtensionDecoder.TryReadClientKeyShares([0, 0], out TlsKeyShareList empty, out _));
        Assert.Equal(0, empty.Count);
        Assert.False(TlsExtensionDecoder.TryReadHelloRetryKeyShare([0, 29, 0], out _, out e));
        Assert.Equal(WireErrorKind.Malformed, e.Kind);
    }

    [Fact]
    public void Groups_and_signatures_errors()
    {
        Assert.False(TlsExtensionDecoder.TryReadSupportedGroups([0, 0], out _, out WireError e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "named_group_list", 2, 0, LengthSource.OptionLength, 0), e);
        Assert.False(TlsExtensionDecoder.TryReadSignatureAlgorithms([0xff, 0xff, .. new byte[0xffff]], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "supported_signature_algorithms", 0xfffe, 0xffff, 0), e);
        Assert.True(TlsExtensionDecoder.TryReadSignatureAlgorithms([0, 4, 8, 4, 4, 3], out TlsUInt16List<TlsSignatureScheme> s, out _));
        Assert.Equal([TlsSignatureScheme.RsaPssRsaeSha256, TlsSignatureScheme.EcdsaSecp256r1Sha256], s.ToArray());
    }

    [Fact]
    public void ServerHello_errors()
    {
        Assert.False(ServerHelloReader.TryRead([0x03, 0x03, .. new byte[32], 0, 0x13], out _, out WireError e));
        Assert.Equal(WireError.TooShort("TLS", "cipher_suite", 2, 1, LengthSource.PayloadLength, 35), e);
        Assert.False(ServerHelloReader.TryRead([0x03, 0x03, .. new byte[32], 0, 0x13, 0x01], out _, out e));
        Assert.Equal(WireError.TooShort("TLS", "legacy_compression_method", 1, 0, LengthSource.PayloadLength, 37), e);
        Assert.True(ServerHelloReader.TryRead([0x03, 0x03, .. new byte[32], 0, 0x13, 0x01, 0], out ServerHelloReader sh, out e), e.ToString());
        Assert.Equal(ServerHelloReader.MinLength, sh.Bytes.Length);
        Assert.Equal(TlsVersion.Tls12, sh.NegotiatedVersion);
        Assert.Null(sh.SelectedVersion);
    }

    [Fact]
    public void ServerHello_DowngradeSentinel()
    {
        byte[] random = new byte[32];
        "DOWNGRD\u0001"u8.CopyTo(random.AsSpan(24));
        byte[] body = new ServerHelloBuilder { Random = TlsRandom.From(random) }.BuildBody();
        Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader sh, out WireError e), e.ToString());
        Assert.Equal(TlsVersion.Tls12, sh.DowngradeSentinel);

        random[31] = 0;
        body = new ServerHelloBuilder { Random = TlsRandom.From(random) }.BuildBody();
        Assert.True(ServerHelloReader.TryRead(body, out sh, out e), e.ToString());
        Assert.Equal(TlsVersion.Tls11, sh.DowngradeSentinel);

        random[31] = 2;
        body = new ServerHelloBuilder { Random = TlsRandom.From(random) }.BuildBody();
        Assert.True(ServerHelloReader.TryRead(body, out sh, out e), e.ToString());
        Assert.Null(sh.DowngradeSentinel);

        (_, _, byte[] real) = Fixtures.Split(Fixtures.Load("openssl_server_hello"));
        Assert.True(ServerHelloReader.TryRead(real, out sh, out e), e.ToString());
        Assert.Null(sh.DowngradeSentinel);
    }

    private static TlsClientHelloStatus Info(byte[] bytes, out WireError error) =>
        TlsClientHelloInfo.TryParse(bytes, out _, out _, out error);

    [Fact]
    public void Info_NotTls()
    {
        Assert.Equal(TlsClientHelloStatus.Malformed, Info("GET"u8.ToArray(), out WireError e));
        Assert.Equal(WireError.InvalidValue("TLS", "ContentType", 22, 'G', 0), e);

        // SSL 2.0-compatible hello (RFC 5246 E.2): not supported.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([0x80, 0x2e, 0x01, 0x03, 0x01], out e));

        // An alert instead of a hello.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([21, 3, 1, 0, 2, 2, 40], out e));
        Assert.Equal(WireError.InvalidValue("TLS", "ContentType", 22, 21, 0), e);
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, Info([], out e));
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, Info([22], out e));
    }

    [Fact]
    public void Info_record_errors()
    {
        // RFC 8446 5.2: at most 2^14 + 256 bytes, rejected before the bytes arrive.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([22, 3, 1, 0x41, 0x01], out WireError e));
        Assert.Equal(WireErrorKind.InvalidValue, e.Kind);
        Assert.Equal("Length", e.Field);
        Assert.Equal(0x4101, e.Actual);
        Assert.Equal(3, e.Offset);

        // RFC 8446 5.1: no zero-length handshake fragment.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([22, 3, 1, 0, 0, 22, 3, 1], out e));
        Assert.Equal(WireError.LengthTooSmall("TLS", "Length", 1, 0, LengthSource.PayloadLength, 3), e);

        // Not a ClientHello.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([22, 3, 1, 0, 4, 2, 0, 0, 0], out e));
        Assert.Equal(WireError.InvalidValue("TLS", "HandshakeType", 1, 2, 5), e);

        // The type byte alone is enough to reject, even when it arrives in a 1-byte record.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([22, 3, 1, 0, 1, 11], out e));
        Assert.Equal(WireError.InvalidValue("TLS", "HandshakeType", 1, 11, 5), e);
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, Info([22, 3, 1, 0, 1, 1], out e));

        // Longer than any ClientHello can be.
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([22, 3, 1, 0, 4, 1, 0x10, 0, 0], out e));
        Assert.Equal(WireError.InvalidValue("TLS", "Length", ClientHelloReader.MaxLength, 0x100000, 6), e);
    }

    [Fact]
    public void Info_hello_errors_point_into_the_connection()
    {
        byte[] body = Body(NoSession, OneSuite, NullCompression, Extensions(Extension(23), Extension(23)));
        byte[] records = TlsFraming.BuildRecords(TlsContentType.Handshake, TlsFraming.WrapHandshake(TlsHandshakeType.ClientHello, body));
        Assert.Equal(TlsClientHelloStatus.Malformed, Info(records, out WireError e));
        Assert.Equal(WireError.InvalidValue("TLS", "extension_type", 1, 2, 9 + SessionIdOffset + 1 + 4 + 2 + 2 + 4), e);

        // Fragmented: offsets are relative to the reassembled handshake message.
        records = TlsFraming.BuildRecords(TlsContentType.Handshake, TlsFraming.WrapHandshake(TlsHandshakeType.ClientHello, body), maxFragmentLength: 7);
        Assert.Equal(TlsClientHelloStatus.Malformed, Info(records, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "extension_type", 1, 2, 4 + SessionIdOffset + 1 + 4 + 2 + 2 + 4), e);
    }

    [Fact]
    public void Info_trailing_data_and_interleaving()
    {
        byte[] message = ClientHelloBuilder.Tls13("a.example").BuildHandshakeMessage();

        // Something after the ClientHello inside its record.
        byte[] records = TlsFraming.BuildRecords(TlsContentType.Handshake, [.. message, 1, 2]);
        Assert.Equal(TlsClientHelloStatus.Malformed, Info(records, out WireError e));
        Assert.Equal(WireError.Malformed("TLS", "Length", message.Length, message.Length + 2, LengthSource.PayloadLength, 5 + message.Length), e);

        // Another record type between two fragments of the hello (RFC 8446 5.1).
        byte[] first = TlsFraming.BuildRecords(TlsContentType.Handshake, message.AsSpan(0, 20));
        byte[] ccs = TlsFraming.BuildRecords(TlsContentType.ChangeCipherSpec, [1]);
        byte[] rest = TlsFraming.BuildRecords(TlsContentType.Handshake, message.AsSpan(20));
        Assert.Equal(TlsClientHelloStatus.Malformed, Info([.. first, .. ccs, .. rest], out e));
        Assert.Equal(WireError.InvalidValue("TLS", "ContentType", 22, 20, first.Length), e);

        // Without the interloper the same fragments parse.
        Assert.Equal(TlsClientHelloStatus.Complete, TlsClientHelloInfo.TryParse([.. first, .. rest], out TlsClientHelloInfo? info, out int length, out e));
        Assert.Equal("a.example", info!.ServerName);
        Assert.Equal(2, info.RecordCount);
        Assert.Equal(first.Length + rest.Length, length);
    }

    [Fact]
    public void Info_required_length_is_exact_once_known()
    {
        byte[] records = ClientHelloBuilder.Tls13("b.example").BuildRecords();
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, TlsClientHelloInfo.TryParse(records.AsSpan(0, 3), out _, out int required, out _));
        Assert.Equal(5, required);
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, TlsClientHelloInfo.TryParse(records.AsSpan(0, 5), out _, out required, out WireError e));
        Assert.Equal(records.Length, required);
        Assert.Equal(WireError.TooShort("TLS", "Length", records.Length, 5, LengthSource.Buffer), e);

        // Split in two records: after the first, the bound is the second header plus what the hello still lacks.
        byte[] message = ClientHelloBuilder.Tls13("b.example").BuildHandshakeMessage();
        byte[] split = TlsFraming.BuildRecords(TlsContentType.Handshake, message, maxFragmentLength: 50);
        int firstRecord = 5 + 50;
        Assert.Equal(TlsClientHelloStatus.NeedMoreData, TlsClientHelloInfo.TryParse(split.AsSpan(0, firstRecord), out _, out required, out _));
        Assert.Equal(firstRecord + 5 + (message.Length - 50), required);
    }
}
