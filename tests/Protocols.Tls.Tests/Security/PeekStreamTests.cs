using System.Net.Security;

namespace Protocols.Tls.Tests.Security;

public sealed class PeekStreamTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Peek_reads_sni_alpn_and_versions_then_the_handshake_replays_every_byte()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> client = TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test",
            TestCertificates.TrustServer() with { ApplicationProtocols = [SslApplicationProtocol.Http11] });
        var peek = new TlsClientHelloPeekStream(pair.Server);
        TlsClientHelloInfo hello = await peek.PeekClientHelloAsync(Limit);
        Assert.Equal("server.test", hello.ServerName);
        Assert.Equal(["http/1.1"], hello.ApplicationProtocols);
        Assert.True(hello.OffersTls13);
        Assert.Contains(TlsVersion.Tls12, hello.OfferedVersions);
        Assert.Equal(hello.Length, peek.Buffered.Length);
        Assert.Same(hello, await peek.PeekClientHelloAsync());

        await using SslStream accepted = await TlsHandshake.AuthenticateAsServerAsync(peek, TestCertificates.ServerOptions() with { ApplicationProtocols = [SslApplicationProtocol.Http11] }).WaitAsync(Limit);
        await using SslStream connected = await client.WaitAsync(Limit);
        Assert.Equal(SslApplicationProtocol.Http11, accepted.NegotiatedApplicationProtocol);
        Assert.Equal("server.test", TlsHandshake.GetTrace(accepted)!.ServerName);
    }

    [Fact]
    public async Task Sni_routing_picks_the_server_options_by_name_before_the_handshake()
    {
        var routes = new Dictionary<string, TlsServerOptions>
        {
            ["server.test"] = new TlsServerOptions { Certificate = TestCertificates.Server },
            ["other.test"] = new TlsServerOptions { Certificate = TestCertificates.Other },
        };
        foreach (string host in routes.Keys)
        {
            using LoopbackPair pair = await LoopbackPair.CreateAsync();
            Task<SslStream> client = TlsHandshake.AuthenticateAsClientAsync(pair.Client, host,
                new TlsClientOptions { TrustedCertificates = [TestCertificates.Server, TestCertificates.Other] });
            var peek = new TlsClientHelloPeekStream(pair.Server);
            TlsClientHelloInfo hello = await peek.PeekClientHelloAsync(Limit);
            await using SslStream accepted = await TlsHandshake.AuthenticateAsServerAsync(peek, routes[hello.ServerName!]).WaitAsync(Limit);
            await using SslStream connected = await client.WaitAsync(Limit);
            Assert.Equal(routes[host].Certificate!.Thumbprint, connected.RemoteCertificate!.GetCertHashString());
        }
    }

    [Fact]
    public async Task Hello_fragmented_into_tiny_tcp_writes_is_reassembled()
    {
        byte[] hello = ClientHelloBuilder.Tls13("split.test").BuildRecords(maxFragmentLength: 40);
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        var peek = new TlsClientHelloPeekStream(pair.Server);
        ValueTask<TlsClientHelloInfo> peeking = peek.PeekClientHelloAsync(Limit);
        foreach (byte[] chunk in hello.Chunk(7))
        {
            await pair.Client.WriteAsync(chunk);
        }

        TlsClientHelloInfo info = await peeking;
        Assert.Equal("split.test", info.ServerName);
        Assert.True(info.RecordCount > 1);
        byte[] replay = new byte[hello.Length];
        await peek.ReadExactlyAsync(replay);
        Assert.Equal(hello, replay);
    }

    [Fact]
    public async Task Partial_hello_then_close_is_Truncated()
    {
        byte[] hello = ClientHelloBuilder.Tls13("cut.test").BuildRecords();
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        await pair.Client.WriteAsync(hello.AsMemory(0, hello.Length / 2));
        pair.ClientSocket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        var peek = new TlsClientHelloPeekStream(pair.Server);
        TlsClientHelloException error = await Assert.ThrowsAsync<TlsClientHelloException>(() => peek.PeekClientHelloAsync(Limit).AsTask());
        Assert.Equal(TlsClientHelloProblem.Truncated, error.Problem);
        Assert.Equal(hello.Length / 2, error.BytesSeen);
        Assert.Equal(Protocols.Wire.WireErrorKind.TooShort, error.Error.Kind);

        // Nothing was lost: the bytes read are still there for whoever reads next.
        byte[] replay = new byte[hello.Length / 2];
        await peek.ReadExactlyAsync(replay);
        Assert.Equal(hello.AsSpan(0, hello.Length / 2).ToArray(), replay);
        Assert.Equal(0, await peek.ReadAsync(new byte[1]));
    }

    [Fact]
    public async Task Plain_http_is_Malformed_at_the_first_byte()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        await pair.Client.WriteAsync("GET / HTTP/1.1\r\n"u8.ToArray());
        var peek = new TlsClientHelloPeekStream(pair.Server);
        TlsClientHelloException error = await Assert.ThrowsAsync<TlsClientHelloException>(() => peek.PeekClientHelloAsync(Limit).AsTask());
        Assert.Equal(TlsClientHelloProblem.Malformed, error.Problem);
        Assert.Equal("ContentType", error.Error.Field);
        Assert.Equal(0, error.Error.Offset);
    }

    [Fact]
    public async Task Corrupt_hello_body_is_Malformed_with_the_field()
    {
        byte[] hello = ClientHelloBuilder.Tls13("bad.test").BuildRecords();

        // The session id length (after record header 5, handshake header 4, version 2, random 32) claims 200 bytes.
        hello[5 + 4 + 2 + 32] = 200;
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        await pair.Client.WriteAsync(hello);
        var peek = new TlsClientHelloPeekStream(pair.Server);
        TlsClientHelloException error = await Assert.ThrowsAsync<TlsClientHelloException>(() => peek.PeekClientHelloAsync(Limit).AsTask());
        Assert.Equal(TlsClientHelloProblem.Malformed, error.Problem);
        Assert.Equal("legacy_session_id", error.Error.Field);
    }

    [Fact]
    public async Task Hello_larger_than_the_limit_is_TooLarge_and_a_silent_client_is_Timeout()
    {
        byte[] hello = ClientHelloBuilder.Tls13("big.test").BuildRecords();
        using (LoopbackPair pair = await LoopbackPair.CreateAsync())
        {
            await pair.Client.WriteAsync(hello.AsMemory(0, 20));
            var peek = new TlsClientHelloPeekStream(pair.Server, maxHelloBytes: 64);
            TlsClientHelloException error = await Assert.ThrowsAsync<TlsClientHelloException>(() => peek.PeekClientHelloAsync(Limit).AsTask());
            Assert.Equal(TlsClientHelloProblem.TooLarge, error.Problem);
        }

        using (LoopbackPair pair = await LoopbackPair.CreateAsync())
        {
            await pair.Client.WriteAsync(hello.AsMemory(0, 20));
            var peek = new TlsClientHelloPeekStream(pair.Server);
            TlsClientHelloException error = await Assert.ThrowsAsync<TlsClientHelloException>(() => peek.PeekClientHelloAsync(TimeSpan.FromMilliseconds(200)).AsTask());
            Assert.Equal(TlsClientHelloProblem.Timeout, error.Problem);
            Assert.Equal(20, error.BytesSeen);
        }
    }
}
