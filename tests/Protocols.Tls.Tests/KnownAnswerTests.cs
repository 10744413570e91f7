using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Protocols.Wire;

namespace Protocols.Tls.Tests;

public class KnownAnswerTests
{
    private static readonly byte[] OpenSslSessionId = Convert.FromHexString("6d00a87152c4e212ebfff0384108449816f4df00dbf152ec49d45ee93fa65156");

    [Fact]
    public void OpenSSL_ClientHello_fields()
    {
        byte[] bytes = Fixtures.Load("openssl_client_hello");
        Assert.Equal(335, bytes.Length);
        (_, _, byte[] body) = Fixtures.Split(bytes);

        Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out WireError error), error.ToString());
        Assert.Equal(TlsVersion.Tls12, hello.LegacyVersion);
        Assert.Equal(Convert.FromHexString("ca046ba9b16836f273046d67ba6a262b2003a09a5fd2239bb09fc1ce84af83e7"), hello.Random.ToArray());
        Assert.Equal(OpenSslSessionId, hello.LegacySessionId.ToArray());
        Assert.Equal(31, hello.CipherSuites.Count);
        Assert.Equal(TlsCipherSuite.TlsAes256GcmSha384, hello.CipherSuites[0]);
        Assert.Equal(TlsCipherSuite.TlsEmptyRenegotiationInfoScsv, hello.CipherSuites[30]);
        Assert.Equal([0], hello.CompressionMethods.ToArray());
        Assert.True(hello.HasExtensions);

        var types = new List<TlsExtensionType>();
        foreach (TlsExtension e in hello.Extensions)
        {
            types.Add(e.Type);
        }

        Assert.Equal(
            [
                TlsExtensionType.ServerName, TlsExtensionType.EcPointFormats, TlsExtensionType.SupportedGroups,
                TlsExtensionType.SessionTicket, TlsExtensionType.ApplicationLayerProtocolNegotiation, TlsExtensionType.EncryptThenMac,
                TlsExtensionType.ExtendedMasterSecret, TlsExtensionType.SignatureAlgorithms, TlsExtensionType.SupportedVersions,
                TlsExtensionType.PskKeyExchangeModes, TlsExtensionType.KeyShare,
            ],
            types);

        Assert.True(hello.TryGetServerNameString(out string? sni, out error), error.ToString());
        Assert.Equal("example.com", sni);
        Assert.True(hello.TryGetAlpn(out TlsAlpnList alpn, out error), error.ToString());
        Assert.Equal(["h2", "http/1.1"], alpn.ToStrings());
        Assert.True(alpn.Contains("h2"u8));
        Assert.True(hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out error), error.ToString());
        Assert.Equal([TlsVersion.Tls13, TlsVersion.Tls12, TlsVersion.Tls11, TlsVersion.Tls10], versions.ToArray());
        Assert.True(hello.TryGetSupportedGroups(out TlsUInt16List<TlsNamedGroup> groups, out error), error.ToString());
        Assert.Equal(TlsNamedGroup.X25519, groups[0]);
        Assert.Equal(10, groups.Count);
        Assert.True(hello.TryGetSignatureAlgorithms(out TlsUInt16List<TlsSignatureScheme> schemes, out error), error.ToString());
        Assert.Equal(20, schemes.Count);
        Assert.Equal(TlsSignatureScheme.EcdsaSecp256r1Sha256, schemes[0]);
        Assert.True(hello.TryGetKeyShares(out TlsKeyShareList shares, out error), error.ToString());
        Assert.Equal(1, shares.Count);
        foreach (TlsKeyShareEntry share in shares)
        {
            Assert.Equal(TlsNamedGroup.X25519, share.Group);
            Assert.Equal(32, share.KeyExchange.Length);
        }
    }

    [Fact]
    public void OpenSSL_ClientHello_info()
    {
        byte[] bytes = Fixtures.Load("openssl_client_hello");
        TlsClientHelloStatus status = TlsClientHelloInfo.TryParse(bytes, out TlsClientHelloInfo? info, out int length, out WireError error);
        Assert.Equal(TlsClientHelloStatus.Complete, status);
        Assert.Equal(default, error);
        Assert.NotNull(info);
        Assert.Equal(bytes.Length, length);
        Assert.Equal(bytes.Length, info.Length);
        Assert.Equal(1, info.RecordCount);
        Assert.Equal(TlsVersion.Tls10, info.RecordVersion);
        Assert.Equal("example.com", info.ServerName);
        Assert.Equal(["h2", "http/1.1"], info.ApplicationProtocols);
        Assert.Equal([TlsVersion.Tls13, TlsVersion.Tls12, TlsVersion.Tls11, TlsVersion.Tls10], info.OfferedVersions);
        Assert.True(info.OffersTls13);
    }

    [Fact]
    public void OpenSSL_ServerHello_Tls13()
    {
        byte[] bytes = Fixtures.Load("openssl_server_hello");
        (byte[] record, byte[] handshake, byte[] body) = Fixtures.Split(bytes);
        Assert.Equal([0x16, 0x03, 0x03, 0x00, 0x7a], record);
        Assert.Equal([0x02, 0x00, 0x00, 0x76], handshake);

        Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error), error.ToString());
        Assert.False(hello.IsHelloRetryRequest);
        Assert.Equal(TlsVersion.Tls12, hello.LegacyVersion);
        Assert.Equal(TlsVersion.Tls13, hello.SelectedVersion);
        Assert.Equal(TlsVersion.Tls13, hello.NegotiatedVersion);
        Assert.Equal(TlsCipherSuite.TlsAes256GcmSha384, hello.CipherSuite);
        Assert.Equal(0, hello.LegacyCompressionMethod);
        Assert.Equal(OpenSslSessionId, hello.LegacySessionIdEcho.ToArray());
        Assert.Equal(2, hello.Extensions.Count);
        Assert.True(hello.TryGetExtension(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> keyShare));
        Assert.True(TlsExtensionDecoder.TryReadServerKeyShare(keyShare, out TlsKeyShareEntry share, out error), error.ToString());
        Assert.Equal(TlsNamedGroup.X25519, share.Group);
        Assert.Equal(32, share.KeyExchange.Length);
    }

    [Fact]
    public void OpenSSL_hello_retry_request()
    {
        (_, _, byte[] body) = Fixtures.Split(Fixtures.Load("openssl_hello_retry_request"));
        Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error), error.ToString());
        Assert.True(hello.IsHelloRetryRequest);
        Assert.Equal(TlsVersion.Tls13, hello.NegotiatedVersion);
        Assert.True(hello.TryGetExtension(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> keyShare));
        Assert.True(TlsExtensionDecoder.TryReadHelloRetryKeyShare(keyShare, out TlsNamedGroup group, out error), error.ToString());
        Assert.Equal(TlsNamedGroup.Secp384r1, group);

        // The builder reproduces the HelloRetryRequest byte for byte.
        ServerHelloBuilder builder = ServerHelloBuilder.HelloRetryRequest(TlsNamedGroup.Secp384r1, TlsCipherSuite.TlsAes256GcmSha384);
        builder.LegacySessionIdEcho = OpenSslSessionId;
        Assert.Equal(body, builder.BuildBody());
    }

    [Fact]
    public void OpenSSL_ServerHello_rebuilt_byte_for_byte()
    {
        byte[] bytes = Fixtures.Load("openssl_server_hello");
        (_, _, byte[] body) = Fixtures.Split(bytes);
        Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error), error.ToString());
        Assert.True(hello.TryGetExtension(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> keyShare));
        Assert.True(TlsExtensionDecoder.TryReadServerKeyShare(keyShare, out TlsKeyShareEntry share, out error), error.ToString());
        var builder = new ServerHelloBuilder
        {
            Random = TlsRandom.From(hello.Random),
            LegacySessionIdEcho = hello.LegacySessionIdEcho.ToArray(),
            CipherSuite = hello.CipherSuite,
            SelectedVersion = TlsVersion.Tls13,
            KeyShare = (share.Group, share.KeyExchange.ToArray()),
        };
        Assert.Equal(bytes, builder.BuildRecords(TlsVersion.Tls12));
    }

    /// <summary>A real TLS 1.2 server flight: records, then handshake messages, then the ServerHello without supported_versions.</summary>
    [Fact]
    public void OpenSSL_TLS_12_server_flight()
    {
        byte[] flight = Fixtures.Load("openssl_tls12_server_flight");
        var handshake = new List<byte>();
        var records = new TlsRecordEnumerator(flight);
        while (records.MoveNext())
        {
            Assert.Equal(TlsContentType.Handshake, records.Current.ContentType);
            Assert.Equal(TlsVersion.Tls12, records.Current.LegacyRecordVersion);
            handshake.AddRange(records.Current.Payload);
        }

        Assert.Equal(flight.Length, records.Consumed);
        Assert.False(records.Error.IsError);

        byte[] messages = handshake.ToArray();
        var enumerator = new TlsHandshakeEnumerator(messages);
        var types = new List<TlsHandshakeType>();
        while (enumerator.MoveNext())
        {
            HandshakeHeader.Reader m = enumerator.Current;
            types.Add(m.HandshakeType);
            if (m.HandshakeType != TlsHandshakeType.ServerHello)
            {
                continue;
            }

            Assert.True(ServerHelloReader.TryRead(m.Payload, out ServerHelloReader hello, out WireError error), error.ToString());
            Assert.Null(hello.SelectedVersion);
            Assert.Equal(TlsVersion.Tls12, hello.NegotiatedVersion);
            Assert.Equal(TlsCipherSuite.TlsEcdheEcdsaWithAes256GcmSha384, hello.CipherSuite);
            Assert.Equal(0, hello.LegacySessionIdEcho.Length);
            Assert.False(hello.IsHelloRetryRequest);
            Assert.True(hello.TryGetExtension(TlsExtensionType.ApplicationLayerProtocolNegotiation, out ReadOnlySpan<byte> alpn));
            Assert.True(TlsExtensionDecoder.TryReadSelectedAlpn(alpn, out ReadOnlySpan<byte> protocol, out error), error.ToString());
            Assert.Equal("http/1.1"u8.ToArray(), protocol.ToArray());
            Assert.True(hello.TryGetExtension(TlsExtensionType.RenegotiationInfo, out ReadOnlySpan<byte> reneg));
            Assert.Equal([0], reneg.ToArray());
            Assert.True(hello.Extensions.Contains(TlsExtensionType.ExtendedMasterSecret));
        }

        Assert.Equal(
            [TlsHandshakeType.ServerHello, TlsHandshakeType.Certificate, TlsHandshakeType.ServerKeyExchange, TlsHandshakeType.ServerHelloDone],
            types);
        Assert.Equal(messages.Length, enumerator.Consumed);
    }

    [Fact]
    public void DotNet_ClientHello_fixture()
    {
        byte[] bytes = Fixtures.Load("dotnet_client_hello");
        Assert.Equal(TlsClientHelloStatus.Complete, TlsClientHelloInfo.TryParse(bytes, out TlsClientHelloInfo? info, out int length, out WireError error));
        Assert.Equal(default, error);
        Assert.Equal(bytes.Length, length);
        Assert.Equal("sni.example.test", info!.ServerName);
        Assert.Equal(["h2", "http/1.1"], info.ApplicationProtocols);
        Assert.Equal([TlsVersion.Tls13, TlsVersion.Tls12, TlsVersion.Tls11, TlsVersion.Tls10], info.OfferedVersions);
        Assert.Equal(12, info.CipherSuites.Count);

        (_, _, byte[] body) = Fixtures.Split(bytes);
        Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out error), error.ToString());
        Assert.Equal(32, hello.LegacySessionId.Length);
        Assert.True(hello.TryGetExtension(TlsExtensionType.StatusRequest, out ReadOnlySpan<byte> ocsp));
        Assert.Equal([1, 0, 0, 0, 0], ocsp.ToArray());
        Assert.True(hello.TryGetKeyShares(out TlsKeyShareList shares, out error), error.ToString());
        Assert.Equal(1, shares.Count);
    }

    /// <summary>
    /// Captures the first bytes a .NET SslStream client sends to a loopback listener (real OS TLS
    /// stack, no network), then checks SNI, ALPN and offered versions.
    /// </summary>
    [Fact]
    public async Task DotNet_SslStream_ClientHello()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var client = new TcpClient();
        Task connect = client.ConnectAsync(IPAddress.Loopback, port);
        using TcpClient server = await listener.AcceptTcpClientAsync();
        await connect;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        Task auth = ssl.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "sni.example.test",
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            },
            timeout.Token);

        NetworkStream serverStream = server.GetStream();
        var received = new List<byte>();
        byte[] chunk = new byte[4096];
        TlsClientHelloStatus status;
        TlsClientHelloInfo? info;
        WireError error;
        do
        {
            int n = await serverStream.ReadAsync(chunk, timeout.Token);
            Assert.True(n > 0, "the client closed before its ClientHello was complete");
            received.AddRange(chunk.AsSpan(0, n));
            status = TlsClientHelloInfo.TryParse(received.ToArray(), out info, out _, out error);
        }
        while (status == TlsClientHelloStatus.NeedMoreData);

        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => auth);
        ssl.Dispose();

        Assert.True(status == TlsClientHelloStatus.Complete, error.ToString());
        Assert.NotNull(info);
        Assert.Equal("sni.example.test", info.ServerName);
        Assert.Equal(["h2", "http/1.1"], info.ApplicationProtocols);
        Assert.Contains(TlsVersion.Tls13, info.OfferedVersions);
        Assert.Contains(TlsVersion.Tls12, info.OfferedVersions);

        // The raw bytes parse the same way through the lower-level readers.
        byte[] bytes = received.ToArray();
        Assert.Equal(TlsContentType.Handshake, (TlsContentType)bytes[0]);
        Assert.Equal(TlsHandshakeType.ClientHello, (TlsHandshakeType)bytes[5]);
        Assert.True(ClientHelloReader.TryRead(bytes.AsSpan(9, info.Length - 9), out ClientHelloReader hello, out error), error.ToString());
        Assert.True(hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out error), error.ToString());
        Assert.True(versions.Contains(TlsVersion.Tls13));
        Assert.True(versions.Contains(TlsVersion.Tls12));
    }
}
