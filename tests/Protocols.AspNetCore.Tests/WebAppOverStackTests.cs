using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tests.Shared;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.AspNetCore.Tests;

/// <summary>
/// A WebApplication with routing and middleware served through the stack (Kestrel over the stack
/// transport) on a simulated link, and .NET's HttpClient over the other stack as the client.
/// </summary>
public sealed class WebAppOverStackTests : IAsyncLifetime
{
    private const string ServerName = "server.test";
    private readonly RealTimeStackPair _pair = new(seed: 3, new LinkOptions { Delay = TimeSpan.FromMilliseconds(0.2) });
    private readonly X509Certificate2 _certificate = TlsCertificates.CreateSelfSigned([ServerName], [IPAddress.Parse("10.0.0.2")]);
    private readonly TaskCompletionSource _slowAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _bytesAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseProtocolsStack(_pair.ServerTcp, o => o.LingerTimeout = TimeSpan.FromSeconds(1));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenHttp1AndH2c(new IPEndPoint(IPAddress.Any, 80));
            kestrel.Listen(IPAddress.Any, 443, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(_certificate);
            });
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        _app = builder.Build();
        _app.Use(async (context, next) =>
        {
            context.Response.Headers["X-Served-By"] = "protocols-stack";
            await next(context);
        });
        _app.MapGet("/hello/{name}", (string name, HttpContext context) => $"hello {name} over {context.Request.Protocol} from {context.Connection.LocalIpAddress}:{context.Connection.LocalPort}");
        _app.MapPost("/echo", async context =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Request.Body.CopyToAsync(context.Response.Body, context.RequestAborted);
        });
        _app.MapGet("/slow", async context =>
        {
            context.RequestAborted.Register(() => _slowAborted.TrySetResult());
            await context.Response.WriteAsync("first line\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        _app.MapGet("/bytes/{count:long}", async (long count, HttpContext context) =>
        {
            context.RequestAborted.Register(() => _bytesAborted.TrySetResult());
            context.Response.ContentLength = count;
            byte[] chunk = new byte[16 * 1024];
            for (long sent = 0; sent < count; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, count - sent)), context.RequestAborted);
            }
        });
        await _app.StartAsync().WaitAsync(RealTimeStackPair.Limit);
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(RealTimeStackPair.Limit);
        await _app.DisposeAsync();
        await _pair.DisposeAsync();
        _certificate.Dispose();
    }

    private HttpClient Client() => new(_pair.Client.CreateHttpHandler(
        new TlsClientOptions { TrustedCertificates = [_certificate] },
        new StackHttpOptions { Resolver = (name, _) => name == ServerName ? ValueTask.FromResult<IpAddress>(RealTimeStackPair.ServerAddress) : throw new HttpRequestException(name) }))
    { Timeout = RealTimeStackPair.Limit };

    [Fact]
    public async Task Http11_runs_routing_middleware_and_request_bodies()
    {
        using HttpClient client = Client();
        using HttpResponseMessage hello = await client.GetAsync(new Uri("http://10.0.0.2/hello/stack"));
        Assert.Equal(HttpVersion.Version11, hello.Version);
        Assert.Equal("hello stack over HTTP/1.1 from 10.0.0.2:80", await hello.Content.ReadAsStringAsync());
        Assert.Equal("protocols-stack", Assert.Single(hello.Headers.GetValues("X-Served-By")));

        byte[] payload = new byte[1_000_000];
        new Random(1).NextBytes(payload);
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage echo = await client.PostAsync(new Uri("http://10.0.0.2/echo"), new ByteArrayContent(payload));
            Assert.Equal(payload, await echo.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(new Uri("http://10.0.0.2/nothing"))).StatusCode);
        Assert.Equal(1, _pair.ClientTcp.Counters.ActiveOpens); // keep-alive: one connection
    }

    [Fact]
    public async Task Https_negotiates_h2_by_alpn_and_multiplexes_requests_with_bodies()
    {
        using HttpClient client = Client();
        using HttpResponseMessage hello = await client.GetAsync(new Uri($"https://{ServerName}/hello/tls"));
        Assert.Equal(HttpVersion.Version20, hello.Version);
        Assert.Equal("hello tls over HTTP/2 from 10.0.0.2:443", await hello.Content.ReadAsStringAsync());

        // Each echo stays within HTTP/2's initial flow-control windows: HttpClient reads a response only
        // once its request body is sent, so a larger echo stalls on any transport (kernel sockets too).
        byte[] payload = new byte[40_000];
        new Random(2).NextBytes(payload);
        Task<byte[]>[] echoes = [.. Enumerable.Range(0, 8).Select(async _ =>
        {
            using HttpResponseMessage echo = await client.PostAsync(new Uri($"https://{ServerName}/echo"), new ByteArrayContent(payload));
            Assert.Equal(HttpVersion.Version20, echo.Version);
            return await echo.Content.ReadAsByteArrayAsync();
        })];
        foreach (byte[] echoed in await Task.WhenAll(echoes).WaitAsync(RealTimeStackPair.Limit))
        {
            Assert.Equal(payload, echoed);
        }

        Assert.Equal(1, _pair.ClientTcp.Counters.ActiveOpens); // every stream on one connection

        // A client that asks for HTTP/1.1 exactly gets it from the same endpoint (ALPN http/1.1).
        using var exact = new HttpRequestMessage(HttpMethod.Get, new Uri($"https://{ServerName}/hello/one")) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage http11 = await client.SendAsync(exact);
        Assert.Equal("hello one over HTTP/1.1 from 10.0.0.2:443", await http11.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Cleartext_h2_with_prior_knowledge_is_served()
    {
        using HttpClient client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("http://10.0.0.2/hello/h2c")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("hello h2c over HTTP/2 from 10.0.0.2:80", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("http://10.0.0.2/slow")]
    [InlineData("https://server.test/slow")]
    public async Task A_cancelled_request_aborts_the_handler(string url)
    {
        using HttpClient client = Client();
        using var cancel = new CancellationTokenSource();
        using HttpResponseMessage response = await client.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Stream body = await response.Content.ReadAsStreamAsync(cancel.Token);
        byte[] line = new byte[11];
        await body.ReadExactlyAsync(line, cancel.Token);
        Assert.Equal("first line\n", Encoding.ASCII.GetString(line));
        Task pending = body.ReadExactlyAsync(new byte[1], cancel.Token).AsTask(); // waits: the handler sends nothing more
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(RealTimeStackPair.Limit));
        response.Dispose();
        await _slowAborted.Task.WaitAsync(RealTimeStackPair.Limit); // HTTP/1.1: the connection closes; HTTP/2: RST_STREAM
    }

    [Fact]
    public async Task Stopping_the_server_with_connections_open_closes_them_with_fin_not_rst()
    {
        using HttpClient client = Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("http://10.0.0.2/hello/a"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri($"https://{ServerName}/hello/b"))).StatusCode);
        IReadOnlyList<TcpConnectionInfo> open = await _pair.ClientTcp.GetConnectionsAsync();
        Assert.Equal(2, open.Count(c => c.State == TcpState.Established)); // kept alive by HttpClient's pool

        await _app.StopAsync().WaitAsync(RealTimeStackPair.Limit);

        // Both connections got the server's FIN (the client is in CLOSE_WAIT or beyond) and no RST went out.
        await RealTimeStackPair.WaitUntilAsync(async () => (await _pair.ClientTcp.GetConnectionsAsync()).All(c => c.State != TcpState.Established), "the server's FINs arrive");
        Assert.Equal(0, _pair.ServerTcp.Counters.ResetsSent);
        Assert.Equal(0, _pair.ClientTcp.Counters.ResetsReceived);
    }

    [Fact]
    public async Task A_client_that_vanishes_mid_response_aborts_the_request_and_the_server_goes_on()
    {
        TcpStream raw = await _pair.ClientTcp.ConnectAsync(new IpEndpoint(RealTimeStackPair.ServerAddress, 80)).WaitAsync(RealTimeStackPair.Limit);
        await raw.WriteAsync(Encoding.ASCII.GetBytes("GET /bytes/100000000 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n"));
        byte[] some = new byte[64 * 1024];
        await raw.ReadExactlyAsync(some).AsTask().WaitAsync(RealTimeStackPair.Limit);
        Assert.StartsWith("HTTP/1.1 200 OK", Encoding.ASCII.GetString(some), StringComparison.Ordinal);
        raw.Abort(); // RST: the client is gone
        raw.Dispose();

        await _bytesAborted.Task.WaitAsync(RealTimeStackPair.Limit);
        await RealTimeStackPair.WaitUntilAsync(async () => (await _pair.ServerConnectionsAsync()).All(c => c.State is TcpState.Listen or TcpState.Closed or TcpState.TimeWait), "the server forgets the connection");
        using HttpClient client = Client();
        Assert.Equal("hello again over HTTP/1.1 from 10.0.0.2:80", await client.GetStringAsync(new Uri("http://10.0.0.2/hello/again")));
    }

    [Fact]
    public async Task Kestrels_and_the_stacks_meters_both_publish()
    {
        var seen = new HashSet<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name is "Microsoft.AspNetCore.Server.Kestrel" or "Protocols.Tcp")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, _, _) => { lock (seen) { seen.Add(instrument.Meter.Name + "/" + instrument.Name); } });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => { lock (seen) { seen.Add(instrument.Meter.Name + "/" + instrument.Name); } });
        listener.SetMeasurementEventCallback<int>((instrument, _, _, _) => { lock (seen) { seen.Add(instrument.Meter.Name + "/" + instrument.Name); } });
        listener.Start();

        using (HttpClient client = Client())
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("http://10.0.0.2/hello/meters"))).StatusCode);
        }

        await RealTimeStackPair.WaitUntilAsync(() => { lock (seen) { return seen.Contains("Microsoft.AspNetCore.Server.Kestrel/kestrel.connection.duration"); } }, "Kestrel records the connection");
        listener.RecordObservableInstruments();
        lock (seen)
        {
            Assert.Contains("Microsoft.AspNetCore.Server.Kestrel/kestrel.active_connections", seen);
            Assert.Contains("Protocols.Tcp/protocols.tcp.passive_opens", seen);
        }
    }
}
