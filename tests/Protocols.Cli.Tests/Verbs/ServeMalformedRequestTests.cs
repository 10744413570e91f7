using System.Text;
using Microsoft.AspNetCore.Builder;
using Protocols.Cli.Serve;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Tests.Verbs;

/// <summary>
/// Malformed and hostile requests against serve's web app (Kestrel over the stack): each gets
/// Kestrel's status and the connection closes. docs/serve.md lists where these differ from the
/// hand-written server serve used before.
/// </summary>
public sealed class ServeMalformedRequestTests : IAsyncLifetime
{
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.9.1.2");
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _stop = new();
    private NetworkStack _client = null!;
    private NetworkStack _server = null!;
    private Task _loops = Task.CompletedTask;
    private WebApplication _app = null!;

    public static TheoryData<string, int> HostileRequests => new()
    {
        { "GET / HTTP/1.1\r\n\r\n", 400 },                                                      // no Host
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
        { "GET /\r\nHost: x\r\n\r\n", 400 },                                                    // HTTP/0.9 style
        { "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },
        { "GET / http/1.1\r\nHost: x\r\n\r\n", 505 },
        { "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
        { "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", 405 },                                      // Kestrel takes it as a path no GET route has
        { "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },                                          // space before colon
        { "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },                               // obs-fold
        { "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 500 },  // Kestrel's chunk-size overflow reaches the app
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n", 413 },
        { "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('b', 40_000) + "\r\n\r\n", 431 },
        { "GET / HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-{i}: v\r\n")) + "\r\n", 431 },
        { "GET /bytes/2000000000 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },                           // the app's own limits
        { "GET /bytes/12x HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET /bytes/-1 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 200 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200 },
        { "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: teapot\r\n\r\n", 200 },
        { "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 200 },
        { "DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
    };

    public async Task InitializeAsync()
    {
        var network = new MemoryNetwork(9, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(0.2) }, null, DeviceMedium.Ip, 1500);
        _client = new NetworkStack(new NetworkStackOptions { Name = "probe" });
        _server = new NetworkStack(new NetworkStackOptions { Name = "serve" });
        _client.AddInterface(link.A, Ipv4Address.Parse("10.9.1.1"), 24);
        _server.AddInterface(link.B, ServerAddress, 24);
        _client.UseTcp();
        _loops = Task.WhenAll(_client.RunAsync(_stop.Token), _server.RunAsync(_stop.Token));
        _app = ServeWebApp.Create(_server.UseTcp(), new ServeWebOptions(8080, null, null), new ServeWebCounters());
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stop.Cancel();
        try
        {
            await _loops.WaitAsync(Limit);
        }
        catch (OperationCanceledException)
        {
        }

        _client.Dispose();
        _server.Dispose();
    }

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task Malformed_requests_get_kestrels_status(string request, int status)
    {
        using TcpStream stream = await _client.Tcp().ConnectAsync(new IpEndpoint(ServerAddress, 8080)).WaitAsync(Limit);
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        var response = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (!Encoding.Latin1.GetString(response.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(Limit);
            Assert.True(n > 0, "the connection closed without a response");
            response.Write(buffer, 0, n);
        }

        string head = Encoding.Latin1.GetString(response.ToArray());
        Assert.StartsWith($"HTTP/1.1 {status} ", head, StringComparison.Ordinal); // Kestrel answers HTTP/1.0 requests with an HTTP/1.1 status line
    }
}
