using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Protocols.AspNetCore;
using Protocols.Cli.Serve;
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

    /// <summary>
    /// How long, in real time, the driver waits for thread-pool work to finish before it moves
    /// virtual time anyway. In the <c>protocols</c> process the pool is the demo's alone, so it
    /// waits long (10 s: a starved machine only slows the run, one seed still gives one trace);
    /// hosted in another process (a test host running other tests) the pool is shared and never
    /// idle for long, so it waits 200 ms, and such a run may differ from the next.
    /// </summary>
    public TimeSpan MaxOutsideWait { get; init; } = System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name == "protocols"
        ? TimeSpan.FromSeconds(10)
        : TimeSpan.FromMilliseconds(200);
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
/// The demo: two stacks on an in-process link, an HTTPS server (serve's ASP.NET Core app on
/// Kestrel over the stack transport) on one, HttpClient on the other, over the stacks' TCP and .NET's TLS.
/// </summary>
/// <remarks>
/// By default the stacks run on a virtual clock that moves only when everything waits (see
/// <see cref="Drive"/>): TcpStream completions, SslStream, HttpClient and Kestrel's pipe
/// continuations run on the simulation's context, on the driving thread, and the clock jumps to
/// the next event only once that context and the thread pool are idle. Times in the trace are the
/// link's and the stacks' alone (CPU time costs no virtual time), and one seed gives one TCP
/// trace. <c>--real-time</c> runs both stacks' own loops on the system clock instead.
/// </remarks>
internal static class DemoRun
{
    public const string ServerName = "demo.test";

    private const ushort HttpsPort = 443;
    private static readonly Ipv4Address ClientAddress = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address ServerAddress = Ipv4Address.Parse("10.0.0.2");
    private static readonly TimeSpan OneWayDelay = TimeSpan.FromMilliseconds(1);

    public static DemoResult Run(DemoSettings settings, DemoConsole console)
    {
        if (settings.KeyLog is not null)
        {
            // .NET appends; a fresh file holds this run's secrets only. Must precede the first SslStream.
            File.Delete(settings.KeyLog);
            TlsKeyLog.Enable(settings.KeyLog);
        }

        using X509Certificate2 certificate = DemoCertificate.Create(ServerName, IPAddress.Parse(ServerAddress.ToString()));
        NetworkSimulator? sim = settings.RealTime ? null : new NetworkSimulator(settings.Seed);
        TimeProvider clock = sim?.Clock ?? TimeProvider.System;
        MemoryNetwork network = sim?.Network ?? new MemoryNetwork(settings.Seed, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Loss = settings.Loss, Delay = OneWayDelay }, medium: DeviceMedium.Ip, name: "link");

        INetworkDevice clientDevice = link.A;
        PcapTap? pcap = settings.Pcap is null ? null : PcapTap.Create(clientDevice, settings.Pcap, clock);
        using var client = new NetworkStack(new NetworkStackOptions { Name = "client", Seed = settings.Seed, TimeProvider = clock });
        var tracer = new DemoTraceDevice(pcap ?? clientDevice, console, client.PacketFormatter);
        using var server = new NetworkStack(new NetworkStackOptions { Name = "server", Seed = settings.Seed + 1, TimeProvider = clock });
        client.AddInterface(tracer, ClientAddress, 24);
        server.AddInterface(link.B, ServerAddress, 24);
        var exchange = new Exchange(settings, console, certificate, client.UseTcp(new TcpStackOptions { Seed = settings.Seed }), server.UseTcp(new TcpStackOptions { Seed = settings.Seed + 1 }), tracer);

        console.Line("protocols demo: HTTPS between two user-space TCP/IP stacks, inside this process");
        console.Line($"  client 10.0.0.1 <--- simulated link: 1 ms each way, {settings.Loss:0.###%} loss (seed {settings.Seed}) ---> server 10.0.0.2:443");
        console.Line($"  the server presents a self-signed RSA 2048 certificate for {ServerName}, made just now; the client trusts it");
        console.Line($"  the client runs .NET's HttpClient over this stack: GET https://{ServerName}/bytes/{settings.Bytes} with TLS 1.3");
        console.Line(settings.RealTime
            ? "  both stacks run in real time; lines read: seconds since the first SYN, 'client >' sent by the client, 'client <' received"
            : "  time is simulated (it moves only when every task waits); lines read: seconds since the first SYN, 'client >' sent by the client, 'client <' received");
        console.Line();

        DateTimeOffset start = clock.GetUtcNow();
        console.UseClock(() => clock.GetUtcNow() - start);
        try
        {
            if (sim is not null)
            {
                sim.Register(client);
                sim.Register(server);
                Drive(sim, sim.Start(exchange.RunAsync), settings.Timeout, settings.SimulatedTimeout, settings.MaxOutsideWait);
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
    /// Runs the simulation until <paramref name="task"/> completes. Virtual time moves only when
    /// everything waits: the stacks and the link have nothing to do at this instant, no
    /// continuation is queued on the simulation's context (where HttpClient's, SslStream's and
    /// Kestrel's continuations run), and the thread pool has no work queued or running (what hops
    /// there anyway: HttpClient's connection set-up, Kestrel's dispatch, and the
    /// <c>ConfigureAwait(false)</c> continuations of SslStream that .NET queues there). The
    /// simulation waits for the pool after every continuation and before every poll
    /// (<see cref="NetworkSimulator.Settle"/>), so TLS records written on a pool thread are all in
    /// the stream before the stack cuts them into segments, whatever the machine's load. Then the
    /// clock jumps to the next event, a frame arrival or a timer. So a segment and its answer are
    /// exactly the link's delay apart, and one seed gives one TCP trace. Thread-pool work that
    /// outlasts <paramref name="maxOutsideWait"/> (see <see cref="DemoSettings.MaxOutsideWait"/>)
    /// no longer holds the simulation back.
    /// </summary>
    private static void Drive(NetworkSimulator sim, Task task, TimeSpan timeout, TimeSpan simulatedTimeout, TimeSpan maxOutsideWait)
    {
        var wall = Stopwatch.StartNew();
        DateTimeOffset giveUp = sim.Now + simulatedTimeout;
        sim.Settle = new ThreadPoolSettle(sim, maxOutsideWait).Wait;
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
                continue;
            }

            if (!sim.Step())
            {
                Thread.Sleep(1); // nothing scheduled: only outside work (a real-time timer) can go on
            }
        }

        task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Waits until the thread pool has no work queued or running, for at most a limit of real time
    /// at each instant of virtual time: once the pool has stayed busy that long at one instant (it
    /// is shared with other work, or pool work waits for the simulation), waits return at once
    /// until it is seen idle or the clock moves.
    /// </summary>
    private sealed class ThreadPoolSettle(NetworkSimulator sim, TimeSpan limit)
    {
        private readonly Stopwatch _busy = new();
        private DateTimeOffset _instant = sim.Now;

        public void Wait()
        {
            if (sim.Now != _instant)
            {
                _instant = sim.Now;
                _busy.Reset();
            }

            while (!ThreadPoolIdle())
            {
                if (!_busy.IsRunning)
                {
                    _busy.Start();
                }

                if (_busy.Elapsed >= limit)
                {
                    return;
                }

                Thread.Yield();
            }

            _busy.Reset();
        }
    }

    /// <summary>True when no thread-pool work is queued or running (the calling thread, when it is a pool thread, aside).</summary>
    private static bool ThreadPoolIdle()
    {
        ThreadPool.GetMaxThreads(out int max, out _);
        ThreadPool.GetAvailableThreads(out int available, out _);
        int self = Thread.CurrentThread.IsThreadPoolThread ? 1 : 0;
        return ThreadPool.PendingWorkItemCount == 0 && max - available - self <= 0;
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
            // The server is serve's ASP.NET Core app: Kestrel over the server stack's TCP, HTTPS by Kestrel.
            var counters = new ServeWebCounters();
            // In simulated time Kestrel's reads and flushes continue on the simulation's context too.
            SynchronizationContext? simulation = SynchronizationContext.Current;
            WebApplication app = ServeWebApp.Create(serverTcp, new ServeWebOptions(null, HttpsPort, TlsCertificates.CreateContext(certificate))
            {
                Transport = simulation is null ? null : transport => transport.ApplicationScheduler = new SynchronizationContextPipeScheduler(simulation),
            }, counters);
            await using var appScope = app.ConfigureAwait(false);
            await app.StartAsync();

            TlsConnectionTrace? tls = null;
            var wall = Stopwatch.StartNew();
            Start = console.Elapsed;
            console.Section("TCP three-way handshake, then the TLS 1.3 handshake");
            using (var http = new HttpClient(clientTcp.Stack.CreateHttpHandler(
                new TlsClientOptions { TrustedCertificates = [certificate], EnabledProtocols = SslProtocols.Tls13, Trace = console.TlsRecord },
                new StackHttpOptions
                {
                    OfferHttp2 = false, // the demo traces HTTP/1.1 over TLS 1.3
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

            // Disposing HttpClient closed the connection (FIN); Kestrel sees the end and closes its side.
            if (counters.BodyBytesSent != settings.Bytes)
            {
                throw new InvalidOperationException($"the server sent {counters.BodyBytesSent} bytes instead of {settings.Bytes}");
            }

            await WaitForCloseAsync();
            tracer.FlushSkipped();
            Retransmissions = clientTcp.Counters.SegmentsRetransmitted + serverTcp.Counters.SegmentsRetransmitted;
            TlsVersion = tls?.NegotiatedVersion is Protocols.Tls.TlsVersion v ? TlsRecordEvent.VersionName(v) : "TLS ?";
            CipherSuite = tls?.CipherSuite is ushort s ? TlsRecordEvent.CipherSuiteName(s) : "?";
            await app.StopAsync();
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
                    if (buffer[i] != ServeWebApp.PatternByte(position + i))
                    {
                        throw new InvalidDataException($"byte {position + i} of the body is {buffer[i]}, expected {ServeWebApp.PatternByte(position + i)}");
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
