using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Http;
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

    /// <inheritdoc/>
    public override string Name => "serve";

    /// <inheritdoc/>
    public override string Summary => "run the stack on a TUN device or an Ethernet interface (ping, HTTP(S), TCP and UDP echo)";

    /// <inheritdoc/>
    public override string Usage => "protocols serve (--tun NAME | --raw IFACE) --address A.B.C.D/LEN [--gateway G] [--mtu M] [--http PORT] [--https PORT] [--cert FILE --key FILE] [--echo PORT] [--udp-echo PORT] [--pcap FILE]";

    /// <inheritdoc/>
    public override string Description =>
        "Runs the user-space stack with the address --address on a Linux device: --tun opens the TUN\n" +
        "interface NAME (created if missing, attached if it exists, e.g. made with 'ip tuntap add');\n" +
        "--raw drives the existing Ethernet interface IFACE through an AF_PACKET socket, with ARP and\n" +
        "the interface's MAC address. The kernel side (address, up) is configured by the caller.\n" +
        "--http serves HTTP/1.1 (GET /bytes/N: N bytes where byte i is i % 251; POST /echo: the body\n" +
        "back; GET /: a text page), --https the same over TLS 1.2/1.3 with the PEM --cert/--key or a\n" +
        "self-signed certificate (for --address) made at start; --echo is a TCP echo server, --udp-echo\n" +
        "a UDP one. Prints 'ready' once listening and runs until SIGINT or SIGTERM, then closes the\n" +
        "connections and the device and exits 0. Needs root (or CAP_NET_ADMIN / CAP_NET_RAW).";

    /// <inheritdoc/>
    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--tun", OptionKind.Path, "NAME", "the TUN interface to create or attach to"),
        new("--raw", OptionKind.Path, "IFACE", "an existing Ethernet interface to drive through AF_PACKET"),
        new("--address", OptionKind.Path, "A.B.C.D/LEN", "the stack's own address and prefix length (required)"),
        new("--gateway", OptionKind.Path, "G", "the router for destinations off the subnet"),
        new("--mtu", OptionKind.PositiveInteger, "M", "the MTU to use (default: the interface's)"),
        new("--udp-echo", OptionKind.PositiveInteger, "PORT", "echo every UDP datagram received on PORT"),
        new("--pcap", OptionKind.Path, "FILE", "write every frame in and out to FILE as pcap"),
        new("--http", OptionKind.PositiveInteger, "PORT", "serve HTTP/1.1 on PORT (/, /bytes/N, /echo)"),
        new("--https", OptionKind.PositiveInteger, "PORT", "serve HTTPS on PORT (same resources as --http)"),
        new("--echo", OptionKind.PositiveInteger, "PORT", "a TCP echo server on PORT"),
        new("--cert", OptionKind.Path, "FILE", "--https: the PEM certificate (chain) to serve (default: self-signed)"),
        new("--key", OptionKind.Path, "FILE", "--https: the PEM private key of --cert"),
    ];

    /// <inheritdoc/>
    public override int Run(ParsedArguments arguments, VerbConsole console)
    {
        ServeSettings settings = ServeSettings.From(arguments);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("serve runs on Linux (TUN and AF_PACKET devices)");
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        using var server = ServeHost.Start(settings, arguments.Has(ArgumentParser.Verbose) ? console.Error : null);
        console.Out.WriteLine(ReadyLine);
        console.Out.Flush();

        server.RunUntil(stop.Token);
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

    /// <summary>The HTTP server of <c>--http</c> (its counters go into the summary).</summary>
    public HttpServer HttpServer { get; } = new();

    /// <summary>Opens the device, builds the stack and binds the services of <paramref name="settings"/>; <paramref name="log"/> (--verbose) gets handler faults.</summary>
    public static ServeHost Start(ServeSettings settings, TextWriter? log = null)
    {
        LinuxDevice device = settings.DeviceKind == ServeDeviceKind.Tun
            ? TunDevice.Open(settings.DeviceName, settings.Mtu)
            : RawPacketDevice.Open(settings.DeviceName, settings.Mtu);
        PcapTap? tap = null;
        NetworkStack? stack = null;
        try
        {
            tap = settings.PcapPath is null ? null : PcapTap.Create(device, settings.PcapPath);
            stack = new NetworkStack(new NetworkStackOptions { Name = "serve" });
            stack.AddInterface((INetworkDevice?)tap ?? device, settings.Address, settings.PrefixLength, settings.Gateway);
        }
        catch
        {
            stack?.Dispose();
            tap?.Dispose();
            device.Dispose();
            throw;
        }

        var host = new ServeHost(device, tap, stack, log);
        try
        {
            host.StartServices(settings);
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

    /// <summary>Runs the stack's loop until <paramref name="cancellationToken"/> is cancelled.</summary>
    public void RunUntil(CancellationToken cancellationToken)
    {
        using var loopStop = new CancellationTokenSource();
        Task loop = _stack.RunAsync(loopStop.Token);
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
        if (_stack.GetTransport(IpProtocol.Tcp) is TcpLayer tcp)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $"; TCP active opens {tcp.Counters.ActiveOpens}, passive {tcp.Counters.PassiveOpens}, retransmitted {tcp.Counters.SegmentsRetransmitted}, resets sent {tcp.Counters.ResetsSent}; " +
                $"HTTP requests {HttpServer.Counters.Requests} ({HttpServer.Counters.Rejected} rejected), body bytes {HttpServer.Counters.BodyBytesSent}; " +
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

    private void StartServices(ServeSettings settings)
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

        TcpLayer tcp = _stack.UseTcp(new TcpStackOptions { Name = "serve" });
        if (settings.HttpPort is { } httpPort)
        {
            TcpListener listener = tcp.Listen(httpPort, backlog: 1024);
            _services.Add(listener);
            _serviceTasks.Add(Task.Run(() => TcpServices.RunHttpAsync(listener, HttpServer, _servicesStop.Token, Connections)));
        }

        if (settings.HttpsPort is { } httpsPort)
        {
            var tls = new TlsServerOptions
            {
                CertificateContext = settings.Certificate ?? TlsCertificates.CreateContext(
                    TlsCertificates.CreateSelfSigned(["localhost"], [IPAddress.Parse(settings.Address.ToString())])),
            };
            TcpListener listener = tcp.Listen(httpsPort, backlog: 1024);
            _services.Add(listener);
            _serviceTasks.Add(Task.Run(() => TcpServices.RunHttpsAsync(listener, tls, HttpServer, _servicesStop.Token, Connections)));
        }

        if (settings.EchoPort is { } echoPort)
        {
            TcpListener listener = tcp.Listen(echoPort, backlog: 1024);
            _services.Add(listener);
            _serviceTasks.Add(Task.Run(() => TcpServices.RunEchoAsync(listener, _servicesStop.Token, Connections)));
        }
    }

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
