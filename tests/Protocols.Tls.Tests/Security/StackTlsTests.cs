using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tls.Tests.Security;

/// <summary>TLS over two user-space stacks (TcpStream under SslStream), in real time on an in-process link.</summary>
public class StackTlsTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(SslProtocols.Tls13)]
    [InlineData(SslProtocols.Tls12)]
    public async Task Tls_between_two_stacks_negotiates_the_version_and_echoes(SslProtocols version)
    {
        await using var pair = new RealTimeStackPair(seed: 1);
        using TcpListener listener = pair.ServerTcp.Listen(443);
        Task<SslStream> accept = listener.AcceptTlsAsync(TestCertificates.ServerOptions() with { EnabledProtocols = version, ApplicationProtocols = [new SslApplicationProtocol("echo")] });
        await using SslStream client = await pair.ClientTcp.ConnectTlsAsync("server.test", pair.ServerEndpoint(443),
            TestCertificates.TrustServer() with { EnabledProtocols = version, ApplicationProtocols = [new SslApplicationProtocol("echo")] }).WaitAsync(Limit);
        await using SslStream server = await accept.WaitAsync(Limit);

        Assert.Equal(version, client.SslProtocol);
        Assert.Equal(version, server.SslProtocol);
        Assert.Equal("echo", client.NegotiatedApplicationProtocol.ToString());
        Assert.Equal("server.test", TlsHandshake.GetTrace(server)!.ServerName);

        byte[] message = RandomNumberGenerator.GetBytes(50_000);
        Task echo = Task.Run(async () =>
        {
            byte[] buffer = new byte[message.Length];
            await server.ReadExactlyAsync(buffer);
            await server.WriteAsync(buffer);
        });
        await client.WriteAsync(message);
        byte[] back = new byte[message.Length];
        await client.ReadExactlyAsync(back).AsTask().WaitAsync(Limit);
        await echo.WaitAsync(Limit);
        Assert.Equal(message, back);
    }

    [Fact]
    public async Task Sni_routing_over_the_stack_picks_the_certificate_before_the_handshake()
    {
        await using var pair = new RealTimeStackPair(seed: 2);
        using TcpListener listener = pair.ServerTcp.Listen(443);
        foreach (string host in new[] { "other.test", "server.test" })
        {
            Task<SslStream> connect = pair.ClientTcp.ConnectTlsAsync(host, pair.ServerEndpoint(443),
                new TlsClientOptions { TrustedCertificates = [TestCertificates.Server, TestCertificates.Other] });
            TcpStream accepted = await listener.AcceptAsync().WaitAsync(Limit);
            var peek = new TlsClientHelloPeekStream(accepted);
            TlsClientHelloInfo hello = await peek.PeekClientHelloAsync(Limit);
            Assert.Equal(host, hello.ServerName);
            var options = new TlsServerOptions { Certificate = hello.ServerName == "other.test" ? TestCertificates.Other : TestCertificates.Server };
            await using SslStream server = await TlsHandshake.AuthenticateAsServerAsync(peek, options).WaitAsync(Limit);
            await using SslStream client = await connect.WaitAsync(Limit);
            Assert.Equal(options.Certificate!.Thumbprint, client.RemoteCertificate!.GetCertHashString());
        }
    }

    [Theory]
    [InlineData("untrusted", TlsHandshakeFailure.CertificateUntrusted)]
    [InlineData("wrong-name", TlsHandshakeFailure.CertificateNameMismatch)]
    [InlineData("pin", TlsHandshakeFailure.CertificatePinMismatch)]
    public async Task Certificate_failures_over_the_stack_are_typed(string problem, TlsHandshakeFailure expected)
    {
        await using var pair = new RealTimeStackPair(seed: 3);
        using TcpListener listener = pair.ServerTcp.Listen(443);
        Task<SslStream> accept = listener.AcceptTlsAsync(TestCertificates.ServerOptions());
        (string host, TlsClientOptions options) = problem switch
        {
            "untrusted" => ("server.test", new TlsClientOptions()),
            "wrong-name" => ("wrong.test", TestCertificates.TrustServer()),
            _ => ("server.test", TestCertificates.TrustServer() with { PinnedPublicKeys = [TlsCertificates.GetSpkiSha256(TestCertificates.Other)] }),
        };
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() =>
            pair.ClientTcp.ConnectTlsAsync(host, pair.ServerEndpoint(443), options).WaitAsync(Limit));
        Assert.Equal(expected, error.Reason);
        Assert.True(error.IsCertificateFailure);
        try
        {
            await using SslStream server = await accept.WaitAsync(Limit);
        }
        catch (TlsHandshakeException)
        {
        }
    }

    [Fact]
    public async Task Server_that_resets_mid_handshake_gives_ConnectionReset()
    {
        await using var pair = new RealTimeStackPair(seed: 4);
        using TcpListener listener = pair.ServerTcp.Listen(443);
        Task<SslStream> connect = pair.ClientTcp.ConnectTlsAsync("server.test", pair.ServerEndpoint(443), TestCertificates.TrustServer());
        TcpStream accepted = await listener.AcceptAsync().WaitAsync(Limit);
        var peek = new TlsClientHelloPeekStream(accepted);
        await peek.PeekClientHelloAsync(Limit);
        accepted.Abort();
        TlsHandshakeException error = await Assert.ThrowsAsync<TlsHandshakeException>(() => connect.WaitAsync(Limit));
        Assert.Equal(TlsHandshakeFailure.ConnectionReset, error.Reason);
        Assert.Contains("ConnectionReset", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Large_transfer_under_loss_arrives_intact()
    {
        await using var pair = new RealTimeStackPair(seed: 5, new LinkOptions { Loss = 0.03, Delay = TimeSpan.FromMilliseconds(1) });
        using TcpListener listener = pair.ServerTcp.Listen(443);
        Task<SslStream> accept = listener.AcceptTlsAsync(TestCertificates.ServerOptions());
        await using SslStream client = await pair.ClientTcp.ConnectTlsAsync("server.test", pair.ServerEndpoint(443), TestCertificates.TrustServer()).WaitAsync(Limit);
        await using SslStream server = await accept.WaitAsync(Limit);

        byte[] data = RandomNumberGenerator.GetBytes(1 << 20);
        Task send = Task.Run(async () =>
        {
            await server.WriteAsync(data);
            await server.ShutdownAsync();
        });
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[65536];
        long total = 0;
        int n;
        while ((n = await client.ReadAsync(buffer).AsTask().WaitAsync(Limit)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            total += n;
        }

        await send.WaitAsync(Limit);
        Assert.Equal(data.Length, total);
        Assert.Equal(SHA256.HashData(data), sha.GetHashAndReset());
        Assert.True(pair.Link.AToB.Statistics.Lost + pair.Link.BToA.Statistics.Lost > 0);
        Assert.True(pair.ServerTcp.Counters.SegmentsRetransmitted > 0);

        // SslStream reads its records through the TcpStream: while its read waits, the records come
        // straight from the segments into its buffer (one copy); holes filled after a loss, and
        // data that arrives before the next read, come through the receive ring. SslStream has read
        // up to the close_notify, the last thing sent, so every byte the client's TCP received in
        // order was read exactly once, one way or the other. (How many go each way follows the
        // threads' timing here, so the split is not asserted; the virtual-time DirectReadTests and
        // TcpDirectReadTests check the direct path itself.)
        TcpConnectionInfo connection = Assert.Single(await pair.ClientTcp.GetConnectionsAsync().WaitAsync(Limit));
        TcpCounters read = pair.ClientTcp.Counters;
        Assert.Equal(connection.BytesReceived, read.BytesReadDirect + read.BytesReadFromRing);
        Assert.True(connection.BytesReceived > data.Length, "the records, with their overhead, are more than the data");
    }

    [Fact]
    public async Task HttpClient_over_the_stack_fetches_https_and_plain_http()
    {
        await using var pair = new RealTimeStackPair(seed: 6);
        using TcpListener tlsListener = pair.ServerTcp.Listen(443);
        using TcpListener plainListener = pair.ServerTcp.Listen(80);
        using var stop = new CancellationTokenSource();
        Task tlsServer = Task.Run(async () =>
        {
            await using SslStream tls = await tlsListener.AcceptTlsAsync(TestCertificates.ServerOptions(), stop.Token);
            await MiniHttpsServer.ServeAsync(tls, stop.Token);
        });
        Task plainServer = Task.Run(async () =>
        {
            await using TcpStream plain = await plainListener.AcceptAsync(stop.Token);
            await MiniHttpsServer.ServeAsync(plain, stop.Token);
        });

        TlsConnectionTrace? trace = null;
        using var http = new HttpClient(pair.Client.CreateHttpHandler(TestCertificates.TrustServer(), new StackHttpOptions
        {
            Resolver = (name, _) => ValueTask.FromResult<IpAddress>(name == "server.test" ? RealTimeStackPair.ServerAddress : throw new HttpRequestException("unknown")),
            OnTlsConnection = t => trace = t,
        }));
        byte[] body = await http.GetByteArrayAsync(new Uri("https://server.test/bytes/300000")).WaitAsync(Limit);
        Assert.Equal(300_000, body.Length);
        Assert.True(body.Select((b, i) => b == (byte)(i % 251)).All(x => x));
        Assert.Equal(TlsVersion.Tls13, trace!.NegotiatedVersion);

        string text = await http.GetStringAsync(new Uri($"http://{RealTimeStackPair.UrlHost}/")).WaitAsync(Limit);
        Assert.Equal("ok", text);
        await Task.WhenAll(tlsServer, plainServer).WaitAsync(Limit);
    }
}
