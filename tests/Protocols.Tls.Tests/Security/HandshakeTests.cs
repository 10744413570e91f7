using System.Net.Security;
using System.Security.Authentication;

namespace Protocols.Tls.Tests.Security;

public sealed class HandshakeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(SslProtocols.Tls13, "TLS 1.3")]
    [InlineData(SslProtocols.Tls12, "TLS 1.2")]
    public async Task Handshake_negotiates_the_requested_version_and_carries_data(SslProtocols version, string expected)
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        var seen = new List<TlsRecordEvent>();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions() with { EnabledProtocols = version });
        await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test",
            TestCertificates.TrustServer() with { EnabledProtocols = version, Trace = e => { lock (seen) { seen.Add(e); } } });
        await using SslStream accepted = await server.WaitAsync(Limit);

        Assert.Equal(version, client.SslProtocol);
        Assert.Equal(version, accepted.SslProtocol);
        TlsConnectionTrace trace = TlsHandshake.GetTrace(client)!;
        Assert.Equal(expected, TlsRecordEvent.VersionName(trace.NegotiatedVersion!.Value));
        Assert.Equal((ushort)client.NegotiatedCipherSuite, trace.CipherSuite);
        Assert.Equal("server.test", trace.ServerName);
        Assert.Equal("server.test", TlsHandshake.GetTrace(accepted)!.ServerName);
        Assert.StartsWith(expected, TlsHandshake.Describe(client), StringComparison.Ordinal);

        byte[] message = "hello over TLS"u8.ToArray();
        await client.WriteAsync(message);
        byte[] received = new byte[message.Length];
        await accepted.ReadExactlyAsync(received).AsTask().WaitAsync(Limit);
        Assert.Equal(message, received);

        lock (seen)
        {
            TlsRecordEvent hello = Assert.Single(seen, e => e.HandshakeMessages.Contains(TlsHandshakeType.ClientHello));
            Assert.Equal(TlsTraceDirection.Sent, hello.Direction);
            Assert.Contains("SNI server.test", hello.ToString(), StringComparison.Ordinal);
            TlsRecordEvent serverHello = Assert.Single(seen, e => e.HandshakeMessages.Contains(TlsHandshakeType.ServerHello));
            Assert.Equal(TlsTraceDirection.Received, serverHello.Direction);
            Assert.Contains(expected, serverHello.ToString(), StringComparison.Ordinal);
            Assert.Contains(client.NegotiatedCipherSuite.ToString(), serverHello.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// .NET clients check the server's certificate after OpenSSL finished the handshake, so in TLS 1.3
    /// the server may see a complete handshake and then the client's alert and close.
    /// </summary>
    private static async Task AssertClientWentAway(Task<SslStream> server)
    {
        SslStream accepted;
        try
        {
            accepted = await server.WaitAsync(Limit);
        }
        catch (TlsHandshakeException)
        {
            return;
        }

        await using (accepted)
        {
            try
            {
                Assert.Equal(0, await accepted.ReadAsync(new byte[16]).AsTask().WaitAsync(Limit));
            }
            catch (IOException)
            {
            }
            catch (AuthenticationException)
            {
            }
        }
    }

    [Fact]
    public async Task Alpn_picks_the_servers_preference_among_the_clients_offers()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server,
            TestCertificates.ServerOptions() with { ApplicationProtocols = [SslApplicationProtocol.Http11, new SslApplicationProtocol("echo")] });
        await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test",
            TestCertificates.TrustServer() with { ApplicationProtocols = [new SslApplicationProtocol("echo"), SslApplicationProtocol.Http11] });
        await using SslStream accepted = await server.WaitAsync(Limit);
        Assert.Equal(accepted.NegotiatedApplicationProtocol, client.NegotiatedApplicationProtocol);
        Assert.Contains(client.NegotiatedApplicationProtocol, new[] { SslApplicationProtocol.Http11, new SslApplicationProtocol("echo") });
        Assert.Equal(["echo", "http/1.1"], TlsHandshake.GetTrace(accepted)!.OfferedApplicationProtocols);
    }

    [Fact]
    public async Task Alpn_without_a_common_protocol_fails_with_NoApplicationProtocol()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions() with { ApplicationProtocols = [SslApplicationProtocol.Http2] });
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer() with { ApplicationProtocols = [new SslApplicationProtocol("echo")] }).WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.NoApplicationProtocol, error.Reason);
        TlsHandshakeException serverError = await Assert.ThrowsAsync<TlsHandshakeException>(() => server.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.NoApplicationProtocol, serverError.Reason);
        Assert.False(serverError.IsClient);
    }

    [Fact]
    public async Task No_common_version_fails_with_NoSharedProtocol_on_both_sides()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions() with { EnabledProtocols = SslProtocols.Tls12 });
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer() with { EnabledProtocols = SslProtocols.Tls13 }).WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.NoSharedProtocol, error.Reason);
        Assert.Contains("no TLS version in common", error.Message, StringComparison.Ordinal);
        TlsHandshakeException serverError = await Assert.ThrowsAsync<TlsHandshakeException>(() => server.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.NoSharedProtocol, serverError.Reason);
    }

    [Fact]
    public async Task Self_signed_certificate_is_untrusted_by_the_system_store()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test").WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.CertificateUntrusted, error.Reason);
        Assert.True(error.IsCertificateFailure);
        Assert.True(error.IsClient);
        Assert.True((error.PolicyErrors & SslPolicyErrors.RemoteCertificateChainErrors) != 0);
        await AssertClientWentAway(server);
    }

    [Fact]
    public async Task Certificate_for_another_name_fails_with_NameMismatch()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "wrong.test", TestCertificates.TrustServer()).WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.CertificateNameMismatch, error.Reason);
        await AssertClientWentAway(server);
    }

    [Fact]
    public async Task Ip_address_san_is_accepted_for_an_ip_host()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
        await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "10.0.0.2", TestCertificates.TrustServer()).WaitAsync(Limit);
        await using SslStream accepted = await server.WaitAsync(Limit);
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Pin_mismatch_fails_even_with_a_trusted_chain_and_a_matching_pin_passes_without_one()
    {
        using (LoopbackPair pair = await LoopbackPair.CreateAsync())
        {
            Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
            TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
                TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test",
                    TestCertificates.TrustServer() with { PinnedPublicKeys = [TlsCertificates.GetSpkiSha256(TestCertificates.Other)] }).WaitAsync(Limit));
            Assert.Equal(TlsHandshakeFailure.CertificatePinMismatch, error.Reason);
            Assert.Contains(TlsCertificates.GetSpkiSha256(TestCertificates.Server), error.Message, StringComparison.Ordinal);
            await AssertClientWentAway(server);
        }

        using (LoopbackPair pair = await LoopbackPair.CreateAsync())
        {
            Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
            await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "anything.test",
                new TlsClientOptions { InsecureSkipVerification = true, PinnedPublicKeys = [TlsCertificates.GetSpkiSha256(TestCertificates.Server)] }).WaitAsync(Limit);
            await using SslStream accepted = await server.WaitAsync(Limit);
            Assert.True(client.IsAuthenticated);
        }
    }

    [Fact]
    public async Task Insecure_accepts_an_untrusted_certificate_for_any_name()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions());
        await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "wrong.test", new TlsClientOptions { InsecureSkipVerification = true }).WaitAsync(Limit);
        await using SslStream accepted = await server.WaitAsync(Limit);
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Server_chooses_its_certificate_by_sni()
    {
        SslStreamCertificateContext server = TlsCertificates.CreateContext(TestCertificates.Server);
        SslStreamCertificateContext other = TlsCertificates.CreateContext(TestCertificates.Other);
        var options = new TlsServerOptions { CertificateSelector = name => name == "other.test" ? other : name == "server.test" ? server : null };
        foreach (string host in new[] { "other.test", "server.test" })
        {
            using LoopbackPair pair = await LoopbackPair.CreateAsync();
            Task<SslStream> accept = TlsHandshake.AuthenticateAsServerAsync(pair.Server, options);
            await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, host,
                new TlsClientOptions { TrustedCertificates = [TestCertificates.Server, TestCertificates.Other] }).WaitAsync(Limit);
            await using SslStream accepted = await accept.WaitAsync(Limit);
            Assert.Equal(host == "other.test" ? TestCertificates.Other.Thumbprint : TestCertificates.Server.Thumbprint, client.RemoteCertificate!.GetCertHashString());
        }

        using LoopbackPair unknown = await LoopbackPair.CreateAsync();
        Task<SslStream> refused = TlsHandshake.AuthenticateAsServerAsync(unknown.Server, options);
        await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(unknown.Client, "nobody.test", new TlsClientOptions { InsecureSkipVerification = true }).WaitAsync(Limit));
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() => refused.WaitAsync(Limit));
        Assert.Contains("nobody.test", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Peer_that_closes_after_the_client_hello_gives_PeerClosed()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> client = TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer());
        var peek = new TlsClientHelloPeekStream(pair.Server, leaveOpen: true);
        await peek.PeekClientHelloAsync(Limit);
        pair.ServerSocket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() => client.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.PeerClosed, error.Reason);
        Assert.Contains("closed the connection mid-handshake", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Peer_that_resets_after_the_client_hello_gives_ConnectionReset()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> client = TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer());
        var peek = new TlsClientHelloPeekStream(pair.Server, leaveOpen: true);
        await peek.PeekClientHelloAsync(Limit);
        pair.ResetServer();
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() => client.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.ConnectionReset, error.Reason);
        Assert.Contains("ConnectionReset", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silent_peer_gives_Timeout()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer() with { HandshakeTimeout = TimeSpan.FromMilliseconds(300) }).WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.Timeout, error.Reason);
    }

    [Fact]
    public async Task Caller_cancellation_is_an_OperationCanceledException()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer(), cts.Token).WaitAsync(Limit));
    }

    [Fact]
    public async Task Plain_http_answer_is_a_ProtocolError()
    {
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> client = TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer());
        byte[] buffer = new byte[4096];
        _ = await pair.Server.ReadAsync(buffer);
        await pair.Server.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() => client.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.ProtocolError, error.Reason);
    }
}
