using System.CommandLine;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Net;
using System.Runtime.InteropServices;
using Protocols.Cli.CommandLine;
using Microsoft.AspNetCore.Builder;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Udp;

namespace Protocols.Cli.Serve;

/// <summary>
/// <c>protocols serve</c>: the user-space stack on a real Linux device (TUN or AF_PACKET), answering
/// ping and, with <c>--udp-echo</c>, echoing UDP, until SIGINT or SIGTERM (CLI.md).
/// </summary>
internal sealed class ServeVerb : Verb
{
    /// <summary>The line printed (and flushed) on standard output once the device is open and every service bound.</summary>
    public const string ReadyLine = "ready";

    private readonly DeviceOptions _device;
    private readonly Option<ushort?> _udpEcho;
    private readonly Option<string?> _pcap;
    private readonly Option<ushort?> _http;
    private readonly Option<ushort?> _https;
    private readonly Option<ushort?> _echo;
    private readonly Option<string?> _cert;
    private readonly Option<string?> _key;
    private readonly Option<string?> _cc;

    /// <summary>Declares the verb's options.</summary>
    public ServeVerb()
        : base("serve",
            "Run the stack on a TUN device or an Ethernet interface (ping, HTTP(S), TCP and UDP echo)",
            "Runs the user-space stack with the addresses --address (IPv4 and/or IPv6, repeatable) on a\n" +
            "Linux device: --tun opens the TUN interface NAME (created if missing, attached if it exists,\n" +
            "e.g. made with 'ip tuntap add'); --raw drives the existing Ethernet interface IFACE through an\n" +
            "AF_PACKET socket, with ARP, neighbour discovery and the interface's MAC address (give one of\n" +
            "the two). The kernel side (address, up) is configured by the caller. --http serves HTTP/1.1\n" +
            "(GET /bytes/N: N bytes where byte i is i % 251; POST /echo: the body back; GET /: a text\n" +
            "page), --https the same over TLS 1.2/1.3 with the PEM --cert/--key or a self-signed\n" +
            "certificate (for --address) made at start; --echo is a TCP echo server, --udp-echo a UDP one;\n" +
            "every service takes both families. --slaac (with --raw) autoconfigures IPv6 from router\n" +
            "advertisements. Prints 'ready' once listening (and past duplicate address detection) and runs\n" +
            "until SIGINT or SIGTERM, then closes the connections and the device and exits 0. Needs root\n" +
            "(or CAP_NET_ADMIN / CAP_NET_RAW).")
    {
        _device = new DeviceOptions(Command);
        _udpEcho = Add(CommonOptions.Port("--udp-echo", "echo every UDP datagram received on PORT"));
        _pcap = Add(CommonOptions.Pcap());
        _http = Add(CommonOptions.Port("--http", "serve HTTP/1.1 on PORT (/, /bytes/N, /echo)"));
        _https = Add(CommonOptions.Port("--https", "serve HTTPS on PORT (same resources as --http)"));
        _echo = Add(CommonOptions.Port("--echo", "a TCP echo server on PORT"));
        _cert = Add(CommonOptions.Value("--cert", "FILE", "--https: the PEM certificate (chain) to serve (default: self-signed)", OptionValues.Path));
        _key = Add(CommonOptions.Value("--key", "FILE", "--https: the PEM private key of --cert", OptionValues.Path));
        _cc = Add(CommonOptions.CongestionControl());
    }

    /// <summary>The settings of a parse result without errors; throws <see cref="UsageException"/> naming the flag for a bad combination.</summary>
    public ServeSettings Bind(ParseResult parse)
    {
        DeviceSettings device = _device.Read(parse);
        ushort? http = parse.GetValue(_http);
        ushort? tcpEcho = parse.GetValue(_echo);
        ushort? https = parse.GetValue(_https);
        if (http is not null && http == tcpEcho)
        {
            throw new UsageException($"--echo: port {tcpEcho} is already the --http port");
        }

        if (https is not null && (https == http || https == tcpEcho))
        {
            throw new UsageException($"--https: port {https} is already the {(https == http ? "--http" : "--echo")} port");
        }

        string? cert = parse.GetValue(_cert);
        string? key = parse.GetValue(_key);
        if ((cert is null) != (key is null))
        {
            throw new UsageException(cert is null ? "--cert: required with --key" : "--key: required with --cert");
        }

        SslStreamCertificateContext? certificate = null;
        if (cert is not null)
        {
            if (https is null)
            {
                throw new UsageException("--cert: only with --https");
            }

            try
            {
                certificate = TlsCertificates.LoadPemContext(cert, key!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new UsageException($"--cert: cannot load '{cert}' with the key '{key}': {e.Message}");
            }
        }

        return new ServeSettings(device, parse.GetValue(_udpEcho), parse.GetValue(_pcap), http, tcpEcho, https, certificate)
        {
            CongestionControl = parse.GetValue(_cc),
        };
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        ServeSettings settings = Bind(parse);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("serve runs on Linux (TUN and AF_PACKET devices)");
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        using var server = ServeHost.Start(settings, console.Verbose ? console.Error : null, console.Verbose);
        server.RunUntil(stop.Token, () =>
        {
            console.Out.WriteLine(ReadyLine);
            console.Out.Flush();
        });
        console.Error.WriteLine(server.Summary());
        return CliApp.Success;

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // shut down ourselves: close the device, then exit 0
            stop.Cancel();
        }
    }
}

/// <summary>A running <c>serve</c>: the device, the optional capture, the stack and its services.</summary>
internal sealed class ServeHost : IDisposable
{
    private readonly LinuxDevice _device;
    private readonly PcapTap? _tap;
    private readonly NetworkStack _stack;
    private readonly List<IDisposable> _services = [];
    private readonly List<Task> _serviceTasks = [];
    private readonly CancellationTokenSource _servicesStop = new();

    private ServeHost(LinuxDevice device, PcapTap? tap, NetworkStack stack, TextWriter? log)
    {
        _device = device;
        _tap = tap;
        _stack = stack;
        Connections = new ServiceConnections(log);
    }

    /// <summary>The TCP services' connections (awaited at shutdown; their handler faults go into the summary).</summary>
    public ServiceConnections Connections { get; }

    /// <summary>The stack (for tests and summaries).</summary>
    public NetworkStack Stack => _stack;

    /// <summary>What the web app of <c>--http</c>/<c>--https</c> served (its counters go into the summary).</summary>
    public ServeWebCounters WebCounters { get; } = new();

    /// <summary>The web app of <c>--http</c>/<c>--https</c>, once started.</summary>
    public WebApplication? WebApp { get; private set; }

    /// <summary>
    /// Opens the device, builds the stack and binds the services of <paramref name="settings"/>;
    /// <paramref name="log"/> (--verbose) gets handler faults and the stack's Debug lines (what it
    /// drops, and why), <paramref name="verbose"/> turns on the web app's console log.
    /// </summary>
    public static ServeHost Start(ServeSettings settings, TextWriter? log = null, bool verbose = false)
    {
        LinuxDevice device = settings.Device.Open();
        PcapTap? tap = null;
        NetworkStack? stack = null;
        try
        {
            tap = settings.PcapPath is null ? null : PcapTap.Create(device, settings.PcapPath);
            stack = new NetworkStack(new NetworkStackOptions { Name = "serve", Logger = log is null ? null : new VerboseLogger(log) });
            stack.AddInterface((INetworkDevice?)tap ?? device, settings.Device.Configuration);
        }
        catch
        {
            stack?.Dispose();
            tap?.Dispose();
            device.Dispose();
            throw;
        }

        // --verbose: which offload mode the device is in (on, or refused and running plain).
        log?.WriteLine($"{device.Name}: {device.OffloadStatus.Description}");
        var host = new ServeHost(device, tap, stack, log);
        try
        {
            host.StartServices(settings, verbose);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return host;
    }

    /// <summary>How long shutdown waits for the connections to end, and then for the loop to send their last segments.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long <see cref="RunUntil"/> waits for duplicate address detection before calling the stack ready anyway.</summary>
    public static readonly TimeSpan AddressWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Runs the stack's loop until <paramref name="cancellationToken"/> is cancelled; calls
    /// <paramref name="ready"/> once the loop runs and the IPv6 addresses have passed duplicate
    /// address detection (RFC 4862 5.4: a tentative address cannot be used yet).
    /// </summary>
    public void RunUntil(CancellationToken cancellationToken, Action? ready = null)
    {
        using var loopStop = new CancellationTokenSource();
        Task loop = _stack.RunAsync(loopStop.Token);
        Task addresses = _stack.WaitForAddressesAsync(cancellationToken);
        Task.WaitAny(loop, addresses, Task.Delay(AddressWait, cancellationToken));
        if (!loop.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            ready?.Invoke();
        }

        Task.WaitAny(loop, Task.Delay(Timeout.Infinite, cancellationToken));

        // Stop the services while the loop still runs, so their connections' FINs and RSTs go out:
        // wait for every connection's task, then until the loop has sent what they left.
        StopServices(ShutdownGrace);
        if (_stack.GetTransport(IpProtocol.Tcp) is TcpLayer tcp)
        {
            TcpServices.FlushAsync(tcp, ShutdownGrace).GetAwaiter().GetResult();
        }

        loopStop.Cancel();
        try
        {
            loop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (loopStop.IsCancellationRequested)
        {
        }
    }

    /// <summary>One line of what happened, for standard error at exit.</summary>
    public string Summary()
    {
        var counters = _stack.Counters.Snapshot();
        string line = string.Create(CultureInfo.InvariantCulture,
            $"serve: stopped; {_device.Name}: {_device.ReceivedFrames} frames in, {_device.SentFrames} out ({_device.SendsRejected} refused by a full queue); " +
            $"IP received {counters.Received}, delivered {counters.Delivered}, dropped {counters.TotalDropped}; " +
            $"echo requests answered {counters.IcmpOutOf(IcmpType.EchoReply)}");
        if (_stack.HasIpv6)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $"; IPv6 received {counters.Ipv6.Received}, delivered {counters.Ipv6.Delivered}, echo requests answered {counters.Icmpv6OutOf(Icmpv6Type.EchoReply)}, " +
                $"addresses {string.Join(" ", _stack.Interfaces.SelectMany(n => n.Ipv6Addresses).Select(a => $"{a.Address}/{a.PrefixLength}({a.State.ToString().ToLowerInvariant()})"))}");
        }

        if (_stack.GetTransport(IpProtocol.Tcp) is TcpLayer tcp)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $"; TCP active opens {tcp.Counters.ActiveOpens}, passive {tcp.Counters.PassiveOpens}, retransmitted {tcp.Counters.SegmentsRetransmitted}, resets sent {tcp.Counters.ResetsSent}, listen overflows {tcp.Counters.ListenOverflows}, listen drops {tcp.Counters.ListenDrops}; " +
                $"HTTP requests {WebCounters.Requests}, body bytes {WebCounters.BodyBytesSent}; " +
                $"connection handler faults {Connections.HandlerFaults}");
        }

        return line;
    }

    /// <summary>Stops the services and closes the capture and the device.</summary>
    public void Dispose()
    {
        StopServices(TimeSpan.FromSeconds(5));
        _stack.Dispose();
        _tap?.Dispose();
        _device.Dispose();
        _servicesStop.Dispose();
    }

    /// <summary>Cancels the services, closes their sockets and waits up to <paramref name="grace"/> for their tasks and then as long again for their connections. Idempotent.</summary>
    private void StopServices(TimeSpan grace)
    {
        if (_servicesStop.IsCancellationRequested)
        {
            return;
        }

        _servicesStop.Cancel();
        if (WebApp is { } app)
        {
            // Kestrel's graceful stop: no new connections, idle ones closed (FIN), busy ones
            // finish their request; whatever is left after the grace period is aborted.
            using var graceful = new CancellationTokenSource(grace);
            try
            {
                app.StopAsync(graceful.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
            }

            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            WebApp = null;
        }

        foreach (IDisposable service in _services)
        {
            service.Dispose();
        }

        try
        {
            Task.WaitAll([.. _serviceTasks], grace);
        }
        catch (AggregateException)
        {
            // The services end by cancellation; their errors are of no use at shutdown.
        }

        // Each connection sees the cancellation and aborts; its task ends once the stream is disposed.
        Connections.WaitAsync(grace).GetAwaiter().GetResult();
    }

    private void StartServices(ServeSettings settings, bool verbose)
    {
        if (settings.UdpEchoPort is { } port)
        {
            UdpSocket socket = UdpSocket.Bind(_stack, port);
            _services.Add(socket);
            _serviceTasks.Add(Task.Run(() => EchoUdpAsync(socket, _servicesStop.Token)));
        }

        if (settings.HttpPort is null && settings.EchoPort is null && settings.HttpsPort is null)
        {
            return;
        }

        TcpLayer tcp = _stack.UseTcp(new TcpStackOptions { Name = "serve", Defaults = ConnectionDefaults(settings.CongestionControl) });
        if (settings.HttpPort is not null || settings.HttpsPort is not null)
        {
            SslStreamCertificateContext? certificate = settings.HttpsPort is null ? null : settings.Certificate ?? TlsCertificates.CreateContext(
                TlsCertificates.CreateSelfSigned(["localhost"], [.. settings.Device.Addresses.Select(a => a.Address.ToIPAddress())]));
            WebApplication app = ServeWebApp.Create(tcp, new ServeWebOptions(settings.HttpPort, settings.HttpsPort, certificate) { Verbose = verbose }, WebCounters);
            WebApp = app;
            app.StartAsync().GetAwaiter().GetResult(); // binds the listeners; the loop need not run yet
        }

        if (settings.EchoPort is { } echoPort)
        {
            TcpListener listener = tcp.Listen(echoPort, backlog: 1024);
            _services.Add(listener);
            _serviceTasks.Add(Task.Run(() => TcpServices.RunEchoAsync(listener, _servicesStop.Token, Connections)));
        }
    }

    /// <summary>The connection options of a stack whose connections use the controller <paramref name="congestionControl"/> (--cc), or the defaults for null.</summary>
    internal static TcpConnectionOptions ConnectionDefaults(string? congestionControl) =>
        congestionControl is null ? TcpConnectionOptions.Default : new TcpConnectionOptions { CongestionControl = congestionControl };

    /// <summary>The UDP echo service: every datagram goes back to its sender, unchanged.</summary>
    private static async Task EchoUdpAsync(UdpSocket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[UdpPacket.MaxPayloadLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                UdpReceiveResult received = await socket.ReceiveFromAsync(buffer, cancellationToken).ConfigureAwait(false);
                await socket.SendToAsync(buffer.AsMemory(0, received.BytesReceived), received.RemoteEndpoint, cancellationToken).ConfigureAwait(false);
            }
            catch (UdpException)
            {
                // An ICMP error about an earlier reply, or a full queue: the service goes on.
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
