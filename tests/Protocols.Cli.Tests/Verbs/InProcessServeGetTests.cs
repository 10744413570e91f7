using System.Net;
using System.Net.Http;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Net.Sockets;
using TcpListener = Protocols.Tcp.TcpListener;
using System.Text;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Get;
using Microsoft.AspNetCore.Builder;
using Protocols.Cli.Serve;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Tests.Verbs;

/// <summary>
/// <c>get</c>'s HttpClient against <c>serve</c>'s services, each on its own stack, the stacks running
/// their real loops (RunAsync) on a real-time in-memory link: the code paths of the verbs without a device.
/// </summary>
public sealed class InProcessServeGetTests : IAsyncLifetime
{
    private static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.9.0.1");
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.9.0.2");
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private NetworkStack _client = null!;
    private NetworkStack _server = null!;
    private TcpLayer _clientTcp = null!;
    private TcpListener _echo = null!;
    private X509Certificate2 _certificate = null!;
    private readonly ServeWebCounters _web = new();
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var network = new MemoryNetwork(7, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, null, DeviceMedium.Ip, 1500);
        _client = new NetworkStack(new NetworkStackOptions { Name = "get-test" });
        _server = new NetworkStack(new NetworkStackOptions { Name = "serve-test" });
        // Both families on one link, as serve/get --address A/24 --address B/64 set them up.
        _client.AddInterface(link.A, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ClientAddress, 24), InterfaceAddress.Parse("2001:db8:9::1/64")] });
        _server.AddInterface(link.B, new InterfaceConfiguration { Addresses = [new InterfaceAddress(ServerAddress, 24), InterfaceAddress.Parse("2001:db8:9::2/64")] });
        _clientTcp = _client.UseTcp();
        TcpLayer serverTcp = _server.UseTcp();
        _echo = serverTcp.Listen(7);
        _certificate = TlsCertificates.CreateSelfSigned(["server.test"], [IPAddress.Parse("10.9.0.2")]);
        _loops.Add(_client.RunAsync(_stop.Token));
        _loops.Add(_server.RunAsync(_stop.Token));
        _loops.Add(Task.Run(() => TcpServices.RunEchoAsync(_echo, _stop.Token)));
        _app = ServeWebApp.Create(serverTcp, new ServeWebOptions(8080, 8443, TlsCertificates.CreateContext(_certificate)), _web);
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _echo.Dispose();
        await Task.Delay(100);
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        _client.Dispose();
        _server.Dispose();
    }

    private FetchRequest Request(string path, string host = "10.9.0.2") =>
        new(new Uri($"http://{host}:8080{path}"), new Dictionary<string, IpAddress> { ["server.test"] = ServerAddress }, TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Get_fetches_bytes_from_serve_and_every_byte_is_right()
    {
        var body = new MemoryStream();
        FetchResult result = await StackHttpFetcher.FetchAsync(_clientTcp, Request("/bytes/2000000"), body, CancellationToken.None);
        Assert.True(result.Succeeded, GetVerb.Describe(result));
        Assert.Equal(2_000_000, result.Bytes);
        byte[] bytes = body.ToArray();
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != i % 251)
            {
                Assert.Fail($"byte {i} is {bytes[i]}");
            }
        }

        Assert.Matches(@"^get: 200 OK, 2000000 bytes in \d+\.\d{3} s \(\d+\.\d\d Mbit/s\), HTTP/1\.1$", GetVerb.Describe(result));
    }

    [Fact]
    public async Task Get_fetches_over_ipv6_from_a_literal_url_and_a_name_resolved_to_ipv6()
    {
        var body = new MemoryStream();
        FetchResult result = await StackHttpFetcher.FetchAsync(_clientTcp, Request("/bytes/300000", "[2001:db8:9::2]"), body, CancellationToken.None);
        Assert.True(result.Succeeded, GetVerb.Describe(result));
        Assert.Equal(300_000, result.Bytes);
        Assert.True(body.ToArray().Select((b, i) => b == i % 251).All(ok => ok));

        var request = new FetchRequest(new Uri("http://v6.test:8080/bytes/10"), new Dictionary<string, IpAddress> { ["v6.test"] = IpAddress.Parse("2001:db8:9::2") }, TimeSpan.FromSeconds(30));
        FetchResult named = await StackHttpFetcher.FetchAsync(_clientTcp, request, new MemoryStream(), CancellationToken.None);
        Assert.True(named.Succeeded, GetVerb.Describe(named));
        Assert.Contains(_clientTcp.GetConnections(), c => c.Remote.Address.IsIpv6);
        Assert.True(_server.Counters.Snapshot().Ipv6.Delivered > 0);
    }

    [Fact]
    public async Task Get_reports_a_404_and_resolves_names_given_with_resolve()
    {
        FetchResult missing = await StackHttpFetcher.FetchAsync(_clientTcp, Request("/nothing", "server.test"), new MemoryStream(), CancellationToken.None);
        Assert.Equal(404, missing.Status);
        Assert.False(missing.Succeeded);
    }

    [Fact]
    public async Task Get_to_a_closed_port_fails_with_connection_refused()
    {
        var request = new FetchRequest(new Uri("http://10.9.0.2:9/"), new Dictionary<string, IpAddress>(), TimeSpan.FromSeconds(30));
        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => StackHttpFetcher.FetchAsync(_clientTcp, request, new MemoryStream(), CancellationToken.None));
        Assert.Equal(System.Net.Http.HttpRequestError.ConnectionError, e.HttpRequestError);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(e.InnerException?.InnerException ?? e.InnerException, exactMatch: false).SocketErrorCode);
    }

    [Fact]
    public async Task HttpClient_over_the_stack_posts_to_echo_on_a_kept_alive_connection()
    {
        using var handler = StackHttpFetcher.CreateHandler(_clientTcp, Request("/echo"));
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        byte[] payload = new byte[300_000];
        new Random(3).NextBytes(payload);
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await client.PostAsync("http://10.9.0.2:8080/echo", new ByteArrayContent(payload));
            Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, _clientTcp.Counters.ActiveOpens);
        Assert.Equal(3, _web.Requests);
    }

    [Fact]
    public async Task Https_get_trusting_the_servers_certificate_reports_the_tls_version_and_cipher()
    {
        var request = new FetchRequest(new Uri("https://server.test:8443/bytes/100000"), new Dictionary<string, IpAddress> { ["server.test"] = ServerAddress },
            TimeSpan.FromSeconds(30), CaCertificates: [_certificate]);
        var body = new MemoryStream();
        FetchResult result = await StackHttpFetcher.FetchAsync(_clientTcp, request, body, CancellationToken.None);
        Assert.True(result.Succeeded, GetVerb.Describe(result));
        Assert.Equal(100_000, body.Length);
        Assert.Equal(99_999 % 251, body.ToArray()[^1]);
        Assert.Matches(@"^get: 200 OK, 100000 bytes in .*, TLS 1\.3 TLS_\w+$", GetVerb.Describe(result));

        var insecure = request with { CaCertificates = null, Insecure = true, Url = new Uri("https://10.9.0.2:8443/bytes/10") };
        Assert.True((await StackHttpFetcher.FetchAsync(_clientTcp, insecure, new MemoryStream(), CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Https_get_refuses_an_untrusted_certificate()
    {
        var request = new FetchRequest(new Uri("https://10.9.0.2:8443/"), new Dictionary<string, IpAddress>(), TimeSpan.FromSeconds(30));
        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => StackHttpFetcher.FetchAsync(_clientTcp, request, new MemoryStream(), CancellationToken.None));
        Assert.IsAssignableFrom<AuthenticationException>(e.InnerException);
        string line = GetVerb.Explain(e);
        Assert.StartsWith("The SSL connection could not be established: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public async Task Echo_service_returns_every_byte_and_answers_the_half_close()
    {
        using TcpStream stream = await _clientTcp.ConnectAsync(new IpEndpoint(ServerAddress, 7));
        byte[] data = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("echo me ", 20_000)));
        Task send = Task.Run(async () =>
        {
            await stream.WriteAsync(data);
            stream.CompleteWrites();
        });
        var back = new MemoryStream();
        await stream.CopyToAsync(back).WaitAsync(TimeSpan.FromSeconds(30)); // ends at the echo server's FIN
        await send;
        Assert.Equal(data, back.ToArray());
    }
    private GetSettings GetTo(string url, string? output) =>
        new(new FetchRequest(new Uri(url), new Dictionary<string, IpAddress>(), TimeSpan.FromSeconds(30)), new DeviceSettings(DeviceKind.Tun, "unused", ClientAddress, 24, null, null), output, null);

    [Fact]
    public async Task Get_to_a_closed_port_leaves_an_existing_output_file_untouched()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-get").FullName;
        try
        {
            string file = Path.Combine(directory, "existing");
            File.WriteAllText(file, "keep me");
            var stderr = new StringWriter();
            IOException e = await Assert.ThrowsAsync<IOException>(() => Task.Run(() =>
                GetVerb.Fetch(_clientTcp, GetTo("http://10.9.0.2:9/", file), new VerbConsole(TextWriter.Null, stderr), CancellationToken.None)));
            Assert.DoesNotContain('\n', e.Message);
            Assert.Equal(string.Empty, stderr.ToString()); // CliApp prints the exception's one line
            Assert.Equal("keep me", File.ReadAllText(file));
            Assert.Equal([file], Directory.GetFiles(directory)); // no temporary file left behind
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Get_of_a_404_prints_exactly_one_error_line_and_leaves_the_output_file_untouched()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-get").FullName;
        try
        {
            string file = Path.Combine(directory, "existing");
            File.WriteAllText(file, "keep me");
            var stderr = new StringWriter();
            int code = await Task.Run(() => GetVerb.Fetch(_clientTcp, GetTo("http://10.9.0.2:8080/nothing", file), new VerbConsole(TextWriter.Null, stderr), CancellationToken.None));
            Assert.Equal(1, code);
            string line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Matches(@"^error: HTTP 404 Not Found \(\d+ body bytes, not written\)\r?$", line);
            Assert.Equal("keep me", File.ReadAllText(file));
            Assert.Equal([file], Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Get_replaces_the_output_file_on_success_with_one_summary_line()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-get").FullName;
        try
        {
            string file = Path.Combine(directory, "existing");
            File.WriteAllText(file, "replace me");
            var stderr = new StringWriter();
            int code = await Task.Run(() => GetVerb.Fetch(_clientTcp, GetTo("http://10.9.0.2:8080/bytes/1000", file), new VerbConsole(TextWriter.Null, stderr), CancellationToken.None));
            Assert.Equal(0, code);
            Assert.StartsWith("get: 200 OK, 1000 bytes", Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            byte[] body = File.ReadAllBytes(file);
            Assert.Equal(1000, body.Length);
            Assert.Equal(999 % 251, body[^1]);
            Assert.Equal([file], Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Get_creates_an_output_file_that_does_not_exist_yet()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-get").FullName;
        try
        {
            string file = Path.Combine(directory, "new.bin");
            var stderr = new StringWriter();
            int code = await Task.Run(() => GetVerb.Fetch(_clientTcp, GetTo("http://10.9.0.2:8080/bytes/300", file), new VerbConsole(TextWriter.Null, stderr), CancellationToken.None));
            Assert.Equal(0, code);
            Assert.Equal(300, File.ReadAllBytes(file).Length);
            Assert.Equal([file], Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Flush_returns_only_once_the_peer_has_our_fin()
    {
        TcpLayer serverTcp = (TcpLayer)_server.GetTransport(IpProtocol.Tcp)!;
        TcpStream stream = await _clientTcp.ConnectAsync(new IpEndpoint(ServerAddress, 7));
        ushort port = stream.LocalEndPoint.Port;
        stream.Dispose(); // posts the close to the loop; the FIN takes 1 ms to arrive

        await TcpServices.FlushAsync(_clientTcp, TimeSpan.FromSeconds(10));

        IReadOnlyList<TcpConnectionInfo> rows = await serverTcp.GetConnectionsAsync();
        TcpConnectionInfo? row = rows.SingleOrDefault(r => r.Remote.Port == port);
        Assert.True(row is null || row.State is not (TcpState.Established or TcpState.SynReceived), row?.State.ToString());
        Assert.All(await _clientTcp.GetConnectionsAsync(), r => Assert.NotEqual(TcpState.FinWait1, r.State));
    }
    [Fact]
    public async Task Stopping_a_service_waits_for_its_connections_and_the_client_sees_them_aborted()
    {
        TcpLayer serverTcp = (TcpLayer)_server.GetTransport(IpProtocol.Tcp)!;
        using TcpListener listener = serverTcp.Listen(7070);
        var connections = new ServiceConnections();
        using var stop = new CancellationTokenSource();
        var cleanedUp = new TaskCompletionSource();
        Task service = Task.Run(() => TcpServices.AcceptLoopAsync(listener, connections, async (stream, token) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            finally
            {
                await Task.Delay(300, CancellationToken.None); // a slow cleanup, longer than the old fixed sleep
                cleanedUp.SetResult();
            }
        }, stop.Token));
        using TcpStream client = await _clientTcp.ConnectAsync(new IpEndpoint(ServerAddress, 7070));
        for (var wait = System.Diagnostics.Stopwatch.StartNew(); connections.Active == 0; await Task.Delay(5))
        {
            Assert.True(wait.Elapsed < TimeSpan.FromSeconds(10), "the connection was never accepted");
        }

        stop.Cancel();
        listener.Dispose();
        await service.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await connections.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(cleanedUp.Task.IsCompleted);
        Assert.Equal(0, connections.Active);
        Assert.Equal(0, connections.HandlerFaults); // cancellation is an expected end

        await TcpServices.FlushAsync(serverTcp, TimeSpan.FromSeconds(10));
        Exception? read = await Record.ExceptionAsync(() => client.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsAssignableFrom<IOException>(read);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_handler_bug_is_counted_and_logged_and_its_connection_aborted_while_network_errors_are_not(bool bug)
    {
        TcpLayer serverTcp = (TcpLayer)_server.GetTransport(IpProtocol.Tcp)!;
        ushort port = (ushort)(bug ? 7071 : 7072);
        using TcpListener listener = serverTcp.Listen(port);
        var log = new StringWriter();
        var connections = new ServiceConnections(log);
        using var stop = new CancellationTokenSource();
        Task service = Task.Run(() => TcpServices.AcceptLoopAsync(listener, connections, (stream, token) =>
            bug ? throw new NullReferenceException("a bug") : throw new IOException("the peer went away"), stop.Token));
        using TcpStream client = await _clientTcp.ConnectAsync(new IpEndpoint(ServerAddress, port));

        Exception? read = await Record.ExceptionAsync(() => client.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsAssignableFrom<IOException>(read); // aborted either way: RST
        Assert.True(await connections.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(bug ? 1 : 0, connections.HandlerFaults);
        string[] lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (bug)
        {
            Assert.Contains("NullReferenceException: a bug", Assert.Single(lines), StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(lines);
        }

        stop.Cancel();
        listener.Dispose();
        await service.WaitAsync(TimeSpan.FromSeconds(10));
    }
    [Fact]
    public async Task Get_writes_a_device_such_as_dev_null_in_place_instead_of_renaming_over_it()
    {
        var stderr = new StringWriter();
        int code = await Task.Run(() => GetVerb.Fetch(_clientTcp, GetTo("http://10.9.0.2:8080/bytes/1000", "/dev/null"), new VerbConsole(TextWriter.Null, stderr), CancellationToken.None));
        Assert.True(code == 0, stderr.ToString());
        Assert.Equal(0, new FileInfo("/dev/null").Length); // still the device, not a 1000-byte file
        Assert.Empty(File.ReadAllBytes("/dev/null"));
    }
}
