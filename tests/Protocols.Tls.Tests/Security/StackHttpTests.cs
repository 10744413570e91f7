using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Protocols.Ip;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tls.Tests.Security;

/// <summary>The HttpClient handler over a connect function, here kernel loopback sockets (the stack's own runs in StackTlsTests).</summary>
public sealed class StackHttpTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task HttpClient_fetches_over_the_connect_function_with_a_custom_ca_and_reports_tls()
    {
        await using var server = MiniHttpsServer.Start(TestCertificates.ServerOptions());
        var traces = new List<TlsConnectionTrace>();
        var connected = new List<IpEndpoint>();
        using var client = new HttpClient(StackHttp.CreateHttpHandler(
            async (endpoint, ct) =>
            {
                lock (connected)
                {
                    connected.Add(endpoint);
                }

                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            TestCertificates.TrustServer(),
            new StackHttpOptions
            {
                Resolver = (name, _) => name == "server.test" ? ValueTask.FromResult<IpAddress>(Ipv4Address.Parse("127.0.0.1")) : throw new HttpRequestException($"unknown {name}"),
                OnTlsConnection = t => { lock (traces) { traces.Add(t); } },
            }));

        byte[] body = await client.GetByteArrayAsync(new Uri($"https://server.test:{server.Port}/bytes/100000")).WaitAsync(Limit);
        Assert.Equal(100_000, body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            Assert.Equal((byte)(i % 251), body[i]);
        }

        Assert.Equal(new IpEndpoint(Ipv4Address.Parse("127.0.0.1"), (ushort)server.Port), Assert.Single(connected));
        TlsConnectionTrace trace = Assert.Single(traces);
        Assert.Equal(TlsVersion.Tls13, trace.NegotiatedVersion);
        Assert.Equal("server.test", trace.ServerName);
        Assert.True(trace.Received.ApplicationDataBytes > 100_000);
    }

    [Fact]
    public async Task HttpClient_refuses_an_untrusted_server_and_a_name_without_resolver()
    {
        await using var server = MiniHttpsServer.Start(TestCertificates.ServerOptions());
        using var client = new HttpClient(StackHttp.CreateHttpHandler(
            async (endpoint, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            new TlsClientOptions { PinnedPublicKeys = [TlsCertificates.GetSpkiSha256(TestCertificates.Other)], TrustedCertificates = [TestCertificates.Server] }));
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"https://127.0.0.1:{server.Port}/")).WaitAsync(Limit));
        Assert.IsType<AuthenticationException>(error.InnerException);
        HttpRequestException unresolved = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"https://server.test:{server.Port}/")).WaitAsync(Limit));
        Assert.Contains("cannot resolve 'server.test'", unresolved.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ipv6_literal_url_reaches_the_connect_function_as_an_ipv6_endpoint()
    {
        var connected = new List<IpEndpoint>();
        using var client = new HttpClient(StackHttp.CreateHttpHandler(
            (endpoint, ct) =>
            {
                lock (connected)
                {
                    connected.Add(endpoint);
                }

                return ValueTask.FromException<Stream>(new SocketException((int)SocketError.ConnectionRefused));
            },
            options: new StackHttpOptions { Resolver = (name, _) => ValueTask.FromResult(IpAddress.Parse("2001:db8::7")) }));
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("http://[2001:DB8::2]:8080/")).WaitAsync(Limit));
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("https://v6.test/")).WaitAsync(Limit));
        Assert.Equal([IpEndpoint.Parse("[2001:db8::2]:8080"), IpEndpoint.Parse("[2001:db8::7]:443")], connected);
    }

    [Fact]
    public async Task Over_a_stack_that_routes_ipv4_only_an_ipv6_url_fails_with_address_family_not_supported()
    {
        await using var pair = new RealTimeStackPair(seed: 12);
        using var client = new HttpClient(pair.Client.CreateHttpHandler());
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("http://[2001:db8::2]/")).WaitAsync(Limit));
        Protocols.Tcp.TcpException tcp = Assert.IsType<Protocols.Tcp.TcpException>(error.InnerException);
        Assert.Equal(SocketError.AddressFamilyNotSupported, tcp.SocketErrorCode);
    }
}

/// <summary>A tiny HTTPS/1.1 server on kernel loopback: GET /bytes/N answers N bytes of i % 251.</summary>
internal sealed class MiniHttpsServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private MiniHttpsServer(TlsServerOptions options)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(() => AcceptLoop(options));
    }

    public int Port { get; }

    public static MiniHttpsServer Start(TlsServerOptions options) => new(options);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    public static async Task ServeAsync(Stream connection, CancellationToken cancellationToken)
    {
        var request = new StringBuilder();
        byte[] buffer = new byte[4096];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await connection.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                return;
            }

            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        string path = request.ToString().Split(' ')[1];
        int length = path.StartsWith("/bytes/", StringComparison.Ordinal) ? int.Parse(path["/bytes/".Length..], System.Globalization.CultureInfo.InvariantCulture) : 2;
        byte[] body = path.StartsWith("/bytes/", StringComparison.Ordinal) ? Enumerable.Range(0, length).Select(i => (byte)(i % 251)).ToArray() : "ok"u8.ToArray();
        await connection.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), cancellationToken);
        await connection.WriteAsync(body, cancellationToken);
        await connection.FlushAsync(cancellationToken);
    }

    private async Task AcceptLoop(TlsServerOptions options)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                try
                {
                    await using SslStream tls = await TlsHandshake.AuthenticateAsServerAsync(new NetworkStream(socket, ownsSocket: true), options, _stop.Token);
                    await ServeAsync(tls, _stop.Token);
                }
                catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException)
                {
                }
            });
        }
    }
}
