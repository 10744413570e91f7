using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Protocols.Cli.Http;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Demo;

/// <summary>What <c>protocols demo</c> is asked to do.</summary>
internal sealed record DemoSettings(long Bytes, double Loss, int Seed, string? Pcap, string? KeyLog, bool Quiet)
{
    /// <summary>The longest the whole exchange may take before the demo gives up.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>What the demo measured.</summary>
internal sealed record DemoResult(long Bytes, TimeSpan Elapsed, long Retransmissions, string TlsVersion, string CipherSuite, long Frames, long LostFrames);

/// <summary>
/// The demo itself: two stacks on an in-process link, an HTTPS server on one, HttpClient on the
/// other, over the stacks' TCP and .NET's TLS. Runs in real time (the stacks' own loops on the
/// system clock): TLS and HttpClient run on the thread pool, which a virtual clock cannot pause.
/// </summary>
internal static class DemoRun
{
    public const string ServerName = "demo.test";

    private static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.0.0.2");
    private const ushort HttpsPort = 443;
    private static readonly TimeSpan OneWayDelay = TimeSpan.FromMilliseconds(1);

    public static async Task<DemoResult> RunAsync(DemoSettings settings, DemoConsole console)
    {
        if (settings.KeyLog is not null)
        {
            // .NET appends; a fresh file holds this run's secrets only. Must precede the first SslStream.
            File.Delete(settings.KeyLog);
            TlsKeyLog.Enable(settings.KeyLog);
        }

        using var stop = new CancellationTokenSource(settings.Timeout);
        using X509Certificate2 certificate = TlsCertificates.CreateSelfSigned([ServerName], [IPAddress.Parse(ServerAddress.ToString())]);

        var network = new MemoryNetwork(settings.Seed, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Loss = settings.Loss, Delay = OneWayDelay }, medium: DeviceMedium.Ip, name: "link");
        INetworkDevice clientDevice = link.A;
        PcapTap? pcap = null;
        if (settings.Pcap is not null)
        {
            pcap = PcapTap.Create(clientDevice, settings.Pcap, TimeProvider.System);
            clientDevice = pcap;
        }

        var tracer = new DemoTraceDevice(clientDevice, console);
        clientDevice = tracer;

        using var client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = settings.Seed });
        using var server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = settings.Seed + 1 });
        client.AddInterface(clientDevice, ClientAddress, 24);
        server.AddInterface(link.B, ServerAddress, 24);
        TcpLayer clientTcp = client.UseTcp(new TcpStackOptions { Seed = settings.Seed });
        TcpLayer serverTcp = server.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1 });

        console.Line("protocols demo: HTTPS between two user-space TCP/IP stacks, inside this process");
        console.Line($"  client 10.0.0.1 <--- simulated link: 1 ms each way, {settings.Loss:0.###%} loss (seed {settings.Seed}) ---> server 10.0.0.2:443");
        console.Line($"  the server presents a self-signed ECDSA P-256 certificate for {ServerName}, made just now; the client trusts it");
        console.Line($"  the client runs .NET's HttpClient over this stack: GET https://{ServerName}/bytes/{settings.Bytes} with TLS 1.3");
        console.Line($"  lines read: seconds since start, 'client >' sent by the client, 'client <' received (tcpdump-style)");
        console.Line();

        Task clientLoop = client.RunAsync(stop.Token);
        Task serverLoop = server.RunAsync(stop.Token);
        TcpListener listener = serverTcp.Listen(HttpsPort);
        var serverOptions = new TlsServerOptions
        {
            CertificateContext = TlsCertificates.CreateContext(certificate),
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            EnabledProtocols = SslProtocols.Tls13,
        };
        var httpServer = new HttpServer();
        Task serving = ServeOneAsync(listener, serverOptions, httpServer, stop.Token);

        TlsConnectionTrace? tls = null;
        console.Restart();
        TimeSpan begin = console.Elapsed;
        long received;
        TimeSpan elapsed;
        console.Section("TCP three-way handshake, then the TLS 1.3 handshake");
        using (var http = new HttpClient(client.CreateHttpHandler(
            new TlsClientOptions { TrustedCertificates = [certificate], EnabledProtocols = SslProtocols.Tls13, Trace = console.TlsRecord },
            new StackHttpOptions
            {
                Resolver = (name, _) => name == ServerName ? ValueTask.FromResult(ServerAddress) : throw new HttpRequestException($"unknown host {name}"),
                OnTlsConnection = trace => tls = trace,
            }))
        { Timeout = settings.Timeout })
        {
            http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("protocols-demo", "1.0"));
            using HttpResponseMessage response = await http.GetAsync(new Uri($"https://{ServerName}/bytes/{settings.Bytes}"), HttpCompletionOption.ResponseHeadersRead, stop.Token).ConfigureAwait(false);
            tracer.FlushSkipped();
            console.Note($"HTTP: GET /bytes/{settings.Bytes} -> {(int)response.StatusCode} {response.ReasonPhrase}, Content-Length {response.Content.Headers.ContentLength}");
            response.EnsureSuccessStatusCode();
            console.Section("the response body streams in; every byte is checked (byte i must be i % 251)");
            await using Stream body = await response.Content.ReadAsStreamAsync(stop.Token).ConfigureAwait(false);
            received = await VerifyAsync(body, settings.Bytes, stop.Token).ConfigureAwait(false);
            elapsed = console.Elapsed - begin;
            tracer.FlushSkipped();
            (long records, long recordBytes) = console.BulkRecords;
            console.Note($"HTTP: body complete, {received} bytes verified; {records} TLS application data records ({DemoConsole.Bytes(recordBytes)}) carried it");
            console.Section("connection close: the client hangs up, the server follows (FIN exchange)");
        }

        // Disposing HttpClient closed the connection (FIN); the server sees the end and closes its side.
        await serving.WaitAsync(stop.Token).ConfigureAwait(false);
        if (httpServer.Counters.BodyBytesSent != settings.Bytes)
        {
            throw new InvalidOperationException($"the server sent {httpServer.Counters.BodyBytesSent} bytes instead of {settings.Bytes}");
        }

        await WaitForCloseAsync(clientTcp, serverTcp, stop.Token).ConfigureAwait(false);
        tracer.FlushSkipped();
        listener.Dispose();

        long retransmissions = clientTcp.Counters.SegmentsRetransmitted + serverTcp.Counters.SegmentsRetransmitted;
        LinkStatistics ab = link.AToB.Statistics;
        LinkStatistics ba = link.BToA.Statistics;
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(Quietly(clientLoop), Quietly(serverLoop)).ConfigureAwait(false);
        pcap?.Dispose();
        link.A.Dispose();
        link.B.Dispose();

        string version = tls?.NegotiatedVersion is TlsVersion v ? TlsRecordEvent.VersionName(v) : "TLS ?";
        string cipher = tls?.CipherSuite is ushort s ? TlsRecordEvent.CipherSuiteName(s) : "?";
        return new DemoResult(received, elapsed, retransmissions, version, cipher, tracer.Frames, ab.Lost + ba.Lost);
    }

    private static async Task ServeOneAsync(TcpListener listener, TlsServerOptions options, HttpServer http, CancellationToken cancellationToken)
    {
        TcpStream connection = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        connection.NoDelay = true;
        await using SslStream tls = await TlsHandshake.AuthenticateAsServerAsync(connection, options, cancellationToken).ConfigureAwait(false);
        await http.ServeConnectionAsync(tls, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> VerifyAsync(Stream body, long expected, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        long position = 0;
        while (true)
        {
            int n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != HttpServer.PatternByte(position + i))
                {
                    throw new InvalidDataException($"byte {position + i} of the body is {buffer[i]}, expected {HttpServer.PatternByte(position + i)}");
                }
            }

            position += n;
        }

        if (position != expected)
        {
            throw new InvalidDataException($"the body has {position} bytes, expected {expected}");
        }

        return position;
    }

    /// <summary>Waits until neither stack has a connection left that still exchanges segments (TIME_WAIT is done talking).</summary>
    private static async Task WaitForCloseAsync(TcpLayer client, TcpLayer server, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            IReadOnlyList<TcpConnectionInfo> rows = [.. await client.GetConnectionsAsync().ConfigureAwait(false), .. await server.GetConnectionsAsync().ConfigureAwait(false)];
            if (rows.All(r => r.State is TcpState.Listen or TcpState.TimeWait or TcpState.Closed))
            {
                return;
            }

            try
            {
                await Task.Delay(10, limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static async Task Quietly(Task loop)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
