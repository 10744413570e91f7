using Protocols.Wire;

namespace Protocols.Tls.Tests;

public class PropertyTests
{
    [Fact]
    public void ClientHello_round_trip()
    {
        var rng = new Random(1);
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            ClientHelloBuilder b = RandomHellos.Client(rng);
            byte[] body = b.BuildBody();
            Assert.True(ClientHelloReader.TryRead(body, out ClientHelloReader hello, out WireError error), $"#{iteration}: {error}");

            Assert.Equal(b.LegacyVersion, hello.LegacyVersion);
            TlsRandom random = b.Random;
            Assert.True(hello.Random.SequenceEqual(random));
            Assert.Equal(b.LegacySessionId, hello.LegacySessionId.ToArray());
            Assert.Equal(b.CipherSuites, hello.CipherSuites.ToArray());
            Assert.Equal(b.CompressionMethods, hello.CompressionMethods.ToArray());

            int expectedExtensions = (b.ServerName is null ? 0 : 1) + (b.ApplicationProtocols.Count > 0 ? 1 : 0)
                + (b.SupportedVersions.Count > 0 ? 1 : 0) + (b.SupportedGroups.Count > 0 ? 1 : 0)
                + (b.SignatureAlgorithms.Count > 0 ? 1 : 0) + (b.KeyShares is null ? 0 : 1) + b.AdditionalExtensions.Count;
            Assert.Equal(expectedExtensions, hello.Extensions.Count);
            Assert.Equal(expectedExtensions > 0 || !b.OmitEmptyExtensionBlock, hello.HasExtensions);

            Assert.True(hello.TryGetServerNameString(out string? sni, out error), error.ToString());
            Assert.Equal(b.ServerName, sni);
            Assert.True(hello.TryGetAlpn(out TlsAlpnList alpn, out error), error.ToString());
            Assert.Equal(b.ApplicationProtocols, alpn.ToStrings());
            Assert.True(hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out error), error.ToString());
            Assert.Equal(b.SupportedVersions, versions.ToArray());
            Assert.True(hello.TryGetSupportedGroups(out TlsUInt16List<TlsNamedGroup> groups, out error), error.ToString());
            Assert.Equal(b.SupportedGroups, groups.ToArray());
            Assert.True(hello.TryGetSignatureAlgorithms(out TlsUInt16List<TlsSignatureScheme> schemes, out error), error.ToString());
            Assert.Equal(b.SignatureAlgorithms, schemes.ToArray());
            Assert.True(hello.TryGetKeyShares(out TlsKeyShareList shares, out error), error.ToString());
            var actualShares = new List<string>();
            foreach (TlsKeyShareEntry s in shares)
            {
                actualShares.Add($"{s.Group}:{Convert.ToHexString(s.KeyExchange)}");
            }

            Assert.Equal((b.KeyShares ?? []).Select(s => $"{s.Group}:{Convert.ToHexString(s.KeyExchange)}"), actualShares);
            foreach ((TlsExtensionType type, byte[] data) in b.AdditionalExtensions)
            {
                Assert.True(hello.TryGetExtension(type, out ReadOnlySpan<byte> actual));
                Assert.Equal(data, actual.ToArray());
            }
        }
    }

    [Fact]
    public void ClientHello_info_round_trip_any_fragmentation()
    {
        var rng = new Random(2);
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            ClientHelloBuilder b = RandomHellos.Client(rng);
            byte[] message = b.BuildHandshakeMessage();
            int fragment = rng.Next(3) == 0 ? TlsRecordHeader.MaxPlaintextLength : 1 + rng.Next(message.Length);
            byte[] records = b.BuildRecords(TlsVersion.Tls10, fragment);

            // Bytes after the hello (the rest of the connection) are not the hello's business.
            byte[] stream = [.. records, .. RandomHellos.Bytes(rng, rng.Next(20))];
            TlsClientHelloStatus status = TlsClientHelloInfo.TryParse(stream, out TlsClientHelloInfo? info, out int length, out WireError error);
            Assert.True(status == TlsClientHelloStatus.Complete, $"#{iteration}: {status} {error}");
            Assert.NotNull(info);
            Assert.Equal(records.Length, length);
            Assert.Equal(records.Length, info.Length);
            Assert.Equal((message.Length + fragment - 1) / fragment, info.RecordCount);
            Assert.Equal(b.ServerName, info.ServerName);
            Assert.Equal(b.ApplicationProtocols, info.ApplicationProtocols);
            Assert.Equal(b.SupportedVersions.Count > 0 ? b.SupportedVersions : [b.LegacyVersion], info.OfferedVersions);
            Assert.Equal(b.CipherSuites, info.CipherSuites);
        }
    }

    [Fact]
    public void ServerHello_round_trip()
    {
        var rng = new Random(3);
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            ServerHelloBuilder b = RandomHellos.Server(rng);
            byte[] body = b.BuildBody();
            Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error), $"#{iteration}: {error}");
            Assert.Equal(b.LegacyVersion, hello.LegacyVersion);
            TlsRandom random = b.Random;
            Assert.True(hello.Random.SequenceEqual(random));
            Assert.Equal(b.HelloRetryGroup is not null, hello.IsHelloRetryRequest);
            Assert.Equal(b.LegacySessionIdEcho, hello.LegacySessionIdEcho.ToArray());
            Assert.Equal(b.CipherSuite, hello.CipherSuite);
            Assert.Equal(b.CompressionMethod, hello.LegacyCompressionMethod);
            Assert.Equal(b.SelectedVersion, hello.SelectedVersion);
            Assert.Equal(b.SelectedVersion ?? b.LegacyVersion, hello.NegotiatedVersion);
            if (b.KeyShare is { } share)
            {
                Assert.True(hello.TryGetExtension(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> data));
                Assert.True(TlsExtensionDecoder.TryReadServerKeyShare(data, out TlsKeyShareEntry entry, out error), error.ToString());
                Assert.Equal(share.Group, entry.Group);
                Assert.Equal(share.KeyExchange, entry.KeyExchange.ToArray());
            }

            if (b.HelloRetryGroup is { } group)
            {
                Assert.True(hello.TryGetExtension(TlsExtensionType.KeyShare, out ReadOnlySpan<byte> data));
                Assert.True(TlsExtensionDecoder.TryReadHelloRetryKeyShare(data, out TlsNamedGroup selected, out error), error.ToString());
                Assert.Equal(group, selected);
            }

            if (b.ApplicationProtocol is not null)
            {
                Assert.True(hello.TryGetExtension(TlsExtensionType.ApplicationLayerProtocolNegotiation, out ReadOnlySpan<byte> data));
                Assert.True(TlsExtensionDecoder.TryReadSelectedAlpn(data, out ReadOnlySpan<byte> protocol, out error), error.ToString());
                Assert.Equal(b.ApplicationProtocol, System.Text.Encoding.UTF8.GetString(protocol));
            }
        }
    }

    /// <summary>
    /// Every strict prefix of a body fails with a length error, except the one that ends right after
    /// the compression methods: that is a valid extension-less (TLS 1.2) hello.
    /// </summary>
    [Fact]
    public void ClientHello_every_truncation_fails_with_length_error()
    {
        var rng = new Random(4);
        var bodies = new List<byte[]> { Fixtures.Split(Fixtures.Load("openssl_client_hello")).Body };
        for (int i = 0; i < 60; i++)
        {
            bodies.Add(RandomHellos.Client(rng).BuildBody());
        }

        AssertEveryTruncationFails(bodies, ReadClient);
    }

    [Fact]
    public void ServerHello_every_truncation_fails_with_length_error()
    {
        var rng = new Random(5);
        var bodies = new List<byte[]> { Fixtures.Split(Fixtures.Load("openssl_server_hello")).Body, Fixtures.Split(Fixtures.Load("openssl_hello_retry_request")).Body };
        for (int i = 0; i < 60; i++)
        {
            bodies.Add(RandomHellos.Server(rng).BuildBody());
        }

        AssertEveryTruncationFails(bodies, ReadServer);
    }

    /// <summary>A hello reader reduced to what the truncation tests look at.</summary>
    private delegate bool HelloRead(ReadOnlySpan<byte> body, out bool hasExtensions, out int extensionsLength, out WireError error);

    private static bool ReadClient(ReadOnlySpan<byte> body, out bool hasExtensions, out int extensionsLength, out WireError error)
    {
        bool ok = ClientHelloReader.TryRead(body, out ClientHelloReader hello, out error);
        hasExtensions = hello.HasExtensions;
        extensionsLength = hello.Extensions.Bytes.Length;
        return ok;
    }

    private static bool ReadServer(ReadOnlySpan<byte> body, out bool hasExtensions, out int extensionsLength, out WireError error)
    {
        bool ok = ServerHelloReader.TryRead(body, out ServerHelloReader hello, out error);
        hasExtensions = hello.HasExtensions;
        extensionsLength = hello.Extensions.Bytes.Length;
        return ok;
    }

    private static void AssertEveryTruncationFails(List<byte[]> bodies, HelloRead read)
    {
        foreach (byte[] body in bodies)
        {
            Assert.True(read(body, out bool fullHasExtensions, out int fullExtensionsLength, out _));
            int extensionsStart = body.Length - (fullHasExtensions ? 2 + fullExtensionsLength : 0);
            for (int cut = 0; cut < body.Length; cut++)
            {
                bool ok = read(body.AsSpan(0, cut), out bool hasExtensions, out _, out WireError error);
                if (cut == extensionsStart)
                {
                    Assert.True(ok, error.ToString());
                    Assert.False(hasExtensions);
                    continue;
                }

                Assert.False(ok, $"prefix {cut}/{body.Length} parsed");
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
                Assert.Equal(LengthSource.PayloadLength, error.Source);
                Assert.True(error.Required > error.Actual, error.ToString());
            }
        }
    }

    /// <summary>Every strict prefix of a (possibly fragmented) hello flight asks for more data, with a sound lower bound.</summary>
    [Fact]
    public void ClientHello_info_every_prefix_needs_more_data()
    {
        var rng = new Random(6);
        var flights = new List<byte[]> { Fixtures.Load("openssl_client_hello") };
        for (int i = 0; i < 40; i++)
        {
            ClientHelloBuilder b = RandomHellos.Client(rng);
            int fragment = i % 2 == 0 ? TlsRecordHeader.MaxPlaintextLength : 1 + rng.Next(64);
            flights.Add(b.BuildRecords(TlsVersion.Tls10, fragment));
        }

        foreach (byte[] flight in flights)
        {
            for (int cut = 0; cut < flight.Length; cut++)
            {
                TlsClientHelloStatus status = TlsClientHelloInfo.TryParse(flight.AsSpan(0, cut), out TlsClientHelloInfo? info, out int required, out WireError error);
                Assert.True(status == TlsClientHelloStatus.NeedMoreData, $"prefix {cut}/{flight.Length}: {status} {error}");
                Assert.Null(info);
                Assert.InRange(required, cut + 1, flight.Length);
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
                Assert.Equal(LengthSource.Buffer, error.Source);
            }
        }
    }

    /// <summary>The generated record and handshake header readers reject every strict prefix of a record with a buffer length error.</summary>
    [Fact]
    public void Record_and_handshake_every_truncation_fails_with_length_error()
    {
        var rng = new Random(9);
        var records = new List<byte[]> { Fixtures.Load("openssl_client_hello"), Fixtures.Load("openssl_server_hello"), Fixtures.Load("dotnet_client_hello") };
        for (int i = 0; i < 20; i++)
        {
            records.Add(RandomHellos.Client(rng).BuildRecords());
        }

        foreach (byte[] record in records)
        {
            Assert.True(TlsRecordHeader.TryRead(record, out TlsRecordHeader.Reader full, out WireError error), error.ToString());
            Assert.Equal(record.Length, full.Bytes.Length);
            Assert.True(HandshakeHeader.TryRead(full.Payload, out HandshakeHeader.Reader message, out error), error.ToString());
            Assert.Equal(full.Payload.Length, message.Bytes.Length);
            for (int cut = 0; cut < record.Length; cut++)
            {
                Assert.False(TlsRecordHeader.TryRead(record.AsSpan(0, cut), out _, out error));
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
                Assert.Equal(LengthSource.Buffer, error.Source);
                Assert.Equal(cut, error.Actual);
                Assert.Equal(cut < TlsRecordHeader.FixedLength ? TlsRecordHeader.FixedLength : record.Length, error.Required);
            }

            for (int cut = 0; cut < full.Payload.Length; cut++)
            {
                Assert.False(HandshakeHeader.TryRead(full.Payload.Slice(0, cut), out _, out error));
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
            }
        }
    }

    [Fact]
    public void RandomBytes_never_throw()
    {
        var rng = new Random(7);
        for (int i = 0; i < 30000; i++)
        {
            byte[] bytes = RandomHellos.Bytes(rng, rng.Next(300));
            if (i % 3 == 1 && bytes.Length >= 9)
            {
                // Plausible record and handshake headers, so the parsers get past the first checks.
                int recordLength = bytes.Length - 5;
                bytes[0] = 22;
                bytes[1] = 3;
                bytes[2] = 1;
                bytes[3] = (byte)(recordLength >> 8);
                bytes[4] = (byte)recordLength;
                bytes[5] = 1;
                bytes[6] = 0;
                bytes[7] = (byte)((recordLength - 4) >> 8);
                bytes[8] = (byte)(recordLength - 4);
            }

            Exercise(bytes);
            if (bytes.Length > 9)
            {
                Exercise(bytes.AsSpan(9));
            }
        }
    }

    [Fact]
    public void Mutated_hellos_never_throw()
    {
        var rng = new Random(8);
        var seeds = new List<byte[]>
        {
            Fixtures.Load("openssl_client_hello"),
            Fixtures.Load("openssl_server_hello"),
            Fixtures.Load("openssl_hello_retry_request"),
        };
        for (int i = 0; i < 20; i++)
        {
            seeds.Add(RandomHellos.Client(rng).BuildRecords(TlsVersion.Tls10, 1 + rng.Next(200)));
            seeds.Add(RandomHellos.Server(rng).BuildRecords());
        }

        int parsedAfterMutation = 0;
        for (int i = 0; i < 40000; i++)
        {
            byte[] bytes = (byte[])seeds[rng.Next(seeds.Count)].Clone();
            int mutations = 1 + rng.Next(4);
            for (int m = 0; m < mutations; m++)
            {
                int at = rng.Next(bytes.Length);
                switch (rng.Next(4))
                {
                    case 0:
                        bytes[at] ^= (byte)(1 << rng.Next(8));
                        break;
                    case 1:
                        bytes[at] = (byte)rng.Next(256);
                        break;
                    case 2:
                        bytes[at] = rng.Next(2) == 0 ? (byte)0 : (byte)0xff;
                        break;
                    default:
                        bytes = bytes.AsSpan(0, at).ToArray();
                        break;
                }

                if (bytes.Length == 0)
                {
                    break;
                }
            }

            parsedAfterMutation += Exercise(bytes);
            if (bytes.Length > 9)
            {
                parsedAfterMutation += Exercise(bytes.AsSpan(9));
            }
        }

        // The mutations must not all be caught trivially: many land in opaque bytes and still parse.
        Assert.InRange(parsedAfterMutation, 1000, 80000);
    }

    /// <summary>Runs every parser and, on success, every accessor and decoder. Returns how many parses succeeded.</summary>
    private static int Exercise(ReadOnlySpan<byte> bytes)
    {
        int ok = 0;
        TlsClientHelloInfo.TryParse(bytes, out TlsClientHelloInfo? info, out _, out _);
        _ = info?.ToString();
        if (ClientHelloReader.TryRead(bytes, out ClientHelloReader client, out _))
        {
            ok++;
            _ = client.ToString();
            _ = client.CipherSuites.ToArray();
            client.TryGetServerName(out ReadOnlySpan<byte> _, out _);
            client.TryGetServerNameString(out _, out _);
            if (client.TryGetAlpn(out TlsAlpnList alpn, out _))
            {
                _ = alpn.ToStrings();
            }

            if (client.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out _))
            {
                _ = versions.ToArray();
            }

            client.TryGetSupportedGroups(out _, out _);
            client.TryGetSignatureAlgorithms(out _, out _);
            if (client.TryGetKeyShares(out TlsKeyShareList shares, out _))
            {
                foreach (TlsKeyShareEntry s in shares)
                {
                    _ = s.KeyExchange.Length;
                }
            }

            var annotations = new List<HexAnnotation>();
            TlsAnnotations.AnnotateClientHello(bytes, 0, annotations);
            _ = HexDump.Annotated(bytes, annotations);
        }

        if (ServerHelloReader.TryRead(bytes, out ServerHelloReader server, out _))
        {
            ok++;
            _ = server.ToString();
            _ = server.NegotiatedVersion;
            foreach (TlsExtension e in server.Extensions)
            {
                _ = TlsAnnotations.DescribeExtension(e.Type, e.Data, client: false);
                _ = TlsAnnotations.DescribeExtension(e.Type, e.Data, client: true);
            }

            var annotations = new List<HexAnnotation>();
            TlsAnnotations.AnnotateServerHello(bytes, 0, annotations);
        }

        // The decoders on raw bytes too.
        TlsExtensionDecoder.TryReadServerName(bytes, out _, out _);
        TlsExtensionDecoder.TryGetHostNameString(bytes, out _, out _);
        TlsExtensionDecoder.TryReadAlpn(bytes, out _, out _);
        TlsExtensionDecoder.TryReadSelectedAlpn(bytes, out _, out _);
        TlsExtensionDecoder.TryReadSupportedVersions(bytes, out _, out _);
        TlsExtensionDecoder.TryReadSelectedVersion(bytes, out _, out _);
        TlsExtensionDecoder.TryReadSupportedGroups(bytes, out _, out _);
        TlsExtensionDecoder.TryReadSignatureAlgorithms(bytes, out _, out _);
        TlsExtensionDecoder.TryReadClientKeyShares(bytes, out _, out _);
        TlsExtensionDecoder.TryReadServerKeyShare(bytes, out _, out _);
        TlsExtensionDecoder.TryReadHelloRetryKeyShare(bytes, out _, out _);
        TlsExtensionBlock.TryRead(bytes, 0, true, out _, out _);
        return ok;
    }
}
