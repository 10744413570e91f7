using System.Diagnostics;
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
    /// <summary>Run both stacks on the system clock instead of the fast-forwarded virtual clock.</summary>
    public bool RealTime { get; init; }

    /// <summary>The most wall-clock time the whole exchange may take before the demo gives up.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The most simulated time the exchange may take (a link too lossy to finish gives up here).</summary>
    public TimeSpan SimulatedTimeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>What the demo measured.</summary>
/// <param name="Bytes">Body bytes received and verified.</param>
/// <param name="Elapsed">From the first SYN to the last body byte, on the stacks' clock.</param>
/// <param name="WallClock">The same span in real time.</param>
/// <param name="Retransmissions">Segments both stacks retransmitted.</param>
/// <param name="TlsVersion">"TLS 1.3".</param>
/// <param name="CipherSuite">"TLS_AES_256_GCM_SHA384".</param>
/// <param name="LostFrames">Frames the link dropped (both directions).</param>
/// <param name="VirtualTime">True when <paramref name="Elapsed"/> is simulated time.</param>
internal sealed record DemoResult(long Bytes, TimeSpan Elapsed, TimeSpan WallClock, long Retransmissions, string TlsVersion, string CipherSuite, long LostFrames, bool VirtualTime);

/// <summary>
/// The demo: two stacks on an in-process link, an HTTPS server (the CLI's HTTP server behind
/// SslStream) on one, HttpClient on the other, over the stacks' TCP and .NET's TLS.
/// </summary>
/// <remarks>
/// By default the stacks run on a virtual clock driven fast: whenever neither stack, the link nor
/// any continuation has work and nothing outside (TLS or HttpClient on the thread pool) has posted
/// work for a short quiet period of real time, the clock jumps to the next event. A 200 ms
/// retransmission timeout then costs a few real milliseconds, so even <c>--loss 0.05</c> finishes in
/// seconds. TcpStream completions continue on the simulation's context, so SslStream and the HTTP
/// code mostly run on the driving thread. Work that hops to the thread pool and takes longer than
/// the quiet period can let time jump early; that can only cause a spurious retransmission.
/// <c>--real-time</c> runs both stacks' own loops on the system clock instead.
/// </remarks>
internal static class DemoRun
{
    public const string ServerName = "demo.test";

    private const ushort HttpsPort = 443;
    private static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.0.0.2");
    private static readonly TimeSpan OneWayDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>How long the driver waits, in real time, for outside work before moving virtual time.</summary>
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(2);

    /// <summary>How long the driver waits when the process never stops computing (other work in the process).</summary>
    private static readonly TimeSpan BusyProcessQuietPeriod = TimeSpan.FromMilliseconds(20);

    /// <summary>The share of one core the process may use during a quiet period and still count as idle.</summary>
    private const double BusyCpuShare = 0.3;

    /// <summary>The most virtual time one fast-forward step skips towards a timer.</summary>
    private static readonly TimeSpan MaxJump = TimeSpan.FromMilliseconds(50);

    public static DemoResult Run(DemoSettings settings, DemoConsole console)
    {
        if (settings.KeyLog is not null)
        {
            // .NET appends; a fresh file holds this run's secrets only. Must precede the first SslStream.
            File.Delete(settings.KeyLog);
            TlsKeyLog.Enable(settings.KeyLog);
        }

        using X509Certificate2 certificate = TlsCertificates.CreateSelfSigned([ServerName], [IPAddress.Parse(ServerAddress.ToString())]);
        Simulation? sim = settings.RealTime ? null : new Simulation(settings.Seed);
        TimeProvider clock = sim?.Clock ?? TimeProvider.System;
        MemoryNetwork network = sim?.Network ?? new MemoryNetwork(settings.Seed, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Loss = settings.Loss, Delay = OneWayDelay }, medium: DeviceMedium.Ip, name: "link");

        INetworkDevice clientDevice = link.A;
        PcapTap? pcap = settings.Pcap is null ? null : PcapTap.Create(clientDevice, settings.Pcap, clock);
        var tracer = new DemoTraceDevice(pcap ?? clientDevice, console);

        using var client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = settings.Seed, TimeProvider = clock });
        using var server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = settings.Seed + 1, TimeProvider = clock });
        client.AddInterface(tracer, ClientAddress, 24);
        server.AddInterface(link.B, ServerAddress, 24);
        var exchange = new Exchange(settings, console, certificate, client.UseTcp(new TcpStackOptions { Seed = settings.Seed }), server.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1 }), tracer);

        console.Line("protocols demo: HTTPS between two user-space TCP/IP stacks, inside this process");
        console.Line($"  client 10.0.0.1 <--- simulated link: 1 ms each way, {settings.Loss:0.###%} loss (seed {settings.Seed}) ---> server 10.0.0.2:443");
        console.Line($"  the server presents a self-signed ECDSA P-256 certificate for {ServerName}, made just now; the client trusts it");
        console.Line($"  the client runs .NET's HttpClient over this stack: GET https://{ServerName}/bytes/{settings.Bytes} with TLS 1.3");
        console.Line(settings.RealTime
            ? "  both stacks run in real time; lines read: seconds since the first SYN, 'client >' sent by the client, 'client <' received"
            : "  time is simulated (waits are skipped); lines read: seconds since the first SYN, 'client >' sent by the client, 'client <' received");
        console.Line();

        DateTimeOffset start = clock.GetUtcNow();
        console.UseClock(() => clock.GetUtcNow() - start);
        try
        {
            if (sim is not null)
            {
                sim.Register(client);
                sim.Register(server);
                Drive(sim, sim.Start(exchange.RunAsync), settings.Timeout, settings.SimulatedTimeout);
            }
            else
            {
                using var stop = new CancellationTokenSource();
                Task loops = Task.WhenAll(client.RunAsync(stop.Token), server.RunAsync(stop.Token));
                try
                {
                    exchange.RunAsync().WaitAsync(settings.Timeout).GetAwaiter().GetResult();
                }
                finally
                {
                    stop.Cancel();
                    try
                    {
                        loops.GetAwaiter().GetResult();
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
        }
        finally
        {
            pcap?.Dispose();
            link.A.Dispose();
            link.B.Dispose();
        }

        long lost = link.AToB.Statistics.Lost + link.BToA.Statistics.Lost;
        return new DemoResult(exchange.Received, exchange.Elapsed, exchange.WallClock, exchange.Retransmissions, exchange.TlsVersion, exchange.CipherSuite, lost, sim is not null);
    }

    /// <summary>
    /// Polls the simulation until <paramref name="task"/> completes, fast-forwarding idle time. A
    /// frame arrival is stepped to at once (delivering it early relative to outside work is like a
    /// faster application). A timer is approached only after a quiet period in which no simulation
    /// work ran and the process used little CPU (TLS or HTTP work on the thread pool would show up
    /// there), by at most <see cref="MaxJump"/> at a time; so work the driver cannot see can at
    /// worst let a retransmission or delayed-ACK timer fire early, never a 60 s FIN_WAIT_2 or
    /// TIME_WAIT timer. In a busy process (tests in parallel) it falls back to a longer quiet period.
    /// </summary>
    private static void Drive(Simulation sim, Task task, TimeSpan timeout, TimeSpan simulatedTimeout)
    {
        var wall = Stopwatch.StartNew();
        DateTimeOffset giveUp = sim.Now + simulatedTimeout;
        var idle = Stopwatch.StartNew();
        TimeSpan cpuAtIdle = Environment.CpuUsage.TotalTime;
        while (!task.IsCompleted)
        {
            if (wall.Elapsed > timeout)
            {
                throw new TimeoutException($"the demo did not finish within {timeout.TotalSeconds:0} s of real time");
            }

            if (sim.Now > giveUp)
            {
                throw new TimeoutException($"the transfer did not finish within {simulatedTimeout.TotalSeconds:0} s of simulated time (the link loses too many frames)");
            }

            if (sim.RunPending() > 0)
            {
                idle.Restart();
                cpuAtIdle = Environment.CpuUsage.TotalTime;
                continue;
            }

            DateTimeOffset now = sim.Now;
            DateTimeOffset? next = sim.NextEvent();
            if (next is DateTimeOffset due && sim.Network.NextDeliveryDue is DateTimeOffset frame && frame <= due)
            {
                sim.Step();
                continue;
            }

            TimeSpan quiet = idle.Elapsed;
            if (quiet < QuietPeriod)
            {
                Thread.Sleep(1);
                continue;
            }

            // This thread sleeps while it waits, so CPU the process used meanwhile is someone else's work.
            TimeSpan cpu = Environment.CpuUsage.TotalTime - cpuAtIdle;
            if (next is null || (cpu > quiet * BusyCpuShare && quiet < BusyProcessQuietPeriod))
            {
                Thread.Sleep(1);
                continue;
            }

            sim.RunFor(next.Value - now < MaxJump ? next.Value - now : MaxJump);
            idle.Restart();
            cpuAtIdle = Environment.CpuUsage.TotalTime;
        }

        task.GetAwaiter().GetResult();
    }

    /// <summary>The exchange itself, the same in both modes.</summary>
    private sealed class Exchange(DemoSettings settings, DemoConsole console, X509Certificate2 certificate, TcpLayer clientTcp, TcpLayer serverTcp, DemoTraceDevice tracer)
    {
        public long Received { get; private set; }

        public TimeSpan Start { get; private set; }

        public TimeSpan Elapsed { get; private set; }

        public TimeSpan WallClock { get; private set; }

        public long Retransmissions { get; private set; }

        public string TlsVersion { get; private set; } = "TLS ?";

        public string CipherSuite { get; private set; } = "?";

        public async Task RunAsync()
        {
            using var stop = new CancellationTokenSource();
            using TcpListener listener = serverTcp.Listen(HttpsPort);
            var serverOptions = new TlsServerOptions
            {
                CertificateContext = TlsCertificates.CreateContext(certificate),
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                EnabledProtocols = SslProtocols.Tls13,
            };
            var httpServer = new HttpServer();
            Task serving = ServeOneAsync(listener, serverOptions, httpServer, stop.Token);

            TlsConnectionTrace? tls = null;
            var wall = Stopwatch.StartNew();
            Start = console.Elapsed;
            console.Section("TCP three-way handshake, then the TLS 1.3 handshake");
            using (var http = new HttpClient(clientTcp.Stack.CreateHttpHandler(
                new TlsClientOptions { TrustedCertificates = [certificate], EnabledProtocols = SslProtocols.Tls13, Trace = console.TlsRecord },
                new StackHttpOptions
                {
                    Resolver = (name, _) => name == ServerName ? ValueTask.FromResult<IpAddress>(ServerAddress) : throw new HttpRequestException($"unknown host {name}"),
                    OnTlsConnection = trace => tls = trace,
                }))
            { Timeout = settings.Timeout })
            {
                http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("protocols-demo", "1.0"));
                using HttpResponseMessage response = await http.GetAsync(new Uri($"https://{ServerName}/bytes/{settings.Bytes}"), HttpCompletionOption.ResponseHeadersRead);
                tracer.FlushSkipped();
                console.Note($"HTTP: GET /bytes/{settings.Bytes} -> {(int)response.StatusCode} {response.ReasonPhrase}, Content-Length {response.Content.Headers.ContentLength}");
                response.EnsureSuccessStatusCode();
                console.Section("the response body streams in; every byte is checked (byte i must be i % 251)");
                await using Stream body = await response.Content.ReadAsStreamAsync();
                Received = await VerifyAsync(body, settings.Bytes);
                Elapsed = console.Elapsed - Start;
                WallClock = wall.Elapsed;
                tracer.FlushSkipped();
                (long records, long recordBytes) = console.BulkRecords;
                console.Note($"HTTP: body complete, {Received} bytes verified; {records} TLS application data records ({DemoConsole.Bytes(recordBytes)}) carried it");
                console.Section("connection close: the client hangs up, the server follows (FIN exchange)");
            }

            // Disposing HttpClient closed the connection (FIN); the server sees the end and closes its side.
            await serving;
            if (httpServer.Counters.BodyBytesSent != settings.Bytes)
            {
                throw new InvalidOperationException($"the server sent {httpServer.Counters.BodyBytesSent} bytes instead of {settings.Bytes}");
            }

            await WaitForCloseAsync();
            tracer.FlushSkipped();
            Retransmissions = clientTcp.Counters.SegmentsRetransmitted + serverTcp.Counters.SegmentsRetransmitted;
            TlsVersion = tls?.NegotiatedVersion is Protocols.Tls.TlsVersion v ? TlsRecordEvent.VersionName(v) : "TLS ?";
            CipherSuite = tls?.CipherSuite is ushort s ? TlsRecordEvent.CipherSuiteName(s) : "?";
        }

        private static async Task ServeOneAsync(TcpListener listener, TlsServerOptions options, HttpServer http, CancellationToken cancellationToken)
        {
            TcpStream connection = await listener.AcceptAsync(cancellationToken);
            connection.NoDelay = true;
            await using SslStream tls = await TlsHandshake.AuthenticateAsServerAsync(connection, options, cancellationToken);
            await http.ServeConnectionAsync(tls, cancellationToken);
        }

        private static async Task<long> VerifyAsync(Stream body, long expected)
        {
            byte[] buffer = new byte[64 * 1024];
            long position = 0;
            while (true)
            {
                int n = await body.ReadAsync(buffer);
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

        /// <summary>Waits (on the stacks' clock) until no connection still exchanges segments (TIME_WAIT is done talking).</summary>
        private async Task WaitForCloseAsync()
        {
            TimeProvider clock = clientTcp.Stack.Options.TimeProvider;
            DateTimeOffset give = clock.GetUtcNow() + TimeSpan.FromSeconds(10);
            while (clock.GetUtcNow() < give)
            {
                IReadOnlyList<TcpConnectionInfo> rows = [.. await clientTcp.GetConnectionsAsync(), .. await serverTcp.GetConnectionsAsync()];
                if (rows.All(r => r.State is TcpState.Listen or TcpState.TimeWait or TcpState.Closed))
                {
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(5), clock);
            }
        }
    }
}
