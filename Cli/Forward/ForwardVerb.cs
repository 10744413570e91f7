using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Nat;
using Protocols.Ip;
using Protocols.Relay;
using Protocols.Tcp;

namespace Protocols.Cli.Forward;

/// <summary>
/// <c>protocols forward</c>: every TCP connection and UDP flow that enters a TUN device, relayed to
/// its destination through the host's sockets or a SOCKS5 proxy (CLI.md), tun2socks-style.
/// </summary>
internal sealed class ForwardVerb : Verb
{
    private readonly Option<string?> _tun;
    private readonly Option<InterfaceAddress?> _address;
    private readonly Option<string?> _outboundInterface;
    private readonly Option<uint?> _fwmark;
    private readonly Option<string?> _socks5;
    private readonly Option<int> _udpTimeout;
    private readonly Option<string?> _pcap;
    private readonly Option<int> _maxConnections;

    /// <summary>Declares the verb's options.</summary>
    public ForwardVerb()
        : base("forward",
            "Relay every TCP connection and UDP flow entering a TUN device to its destination (tun2socks)",
            "Opens the TUN interface --tun (created if missing) with the stack's address --address and\n" +
            "accepts every TCP connection and UDP flow that enters it, whatever its destination, relaying\n" +
            "each to that destination through the host's sockets, or through the SOCKS5 proxy --socks5\n" +
            "(CONNECT for TCP, UDP ASSOCIATE for UDP). The host's sockets are bound to\n" +
            "--outbound-interface (SO_BINDTODEVICE) or marked with --fwmark (SO_MARK, for an 'ip rule\n" +
            "fwmark' policy route) so they do not loop back into the TUN device. A TCP connection is\n" +
            "answered only once its destination answered: a refused destination comes back as a reset,\n" +
            "an unreachable one as ICMP unreachable; UDP port unreachable comes back too. UDP flows idle\n" +
            "for --udp-timeout seconds are closed. Route traffic into it with e.g. 'ip route add default\n" +
            "dev tun0'. Prints 'ready'; exits 0 on SIGINT/SIGTERM.")
    {
        _tun = Add(CommonOptions.Value("--tun", "NAME", "the TUN interface to create or attach to (required)", OptionValues.InterfaceName));
        _address = Add(CommonOptions.Value("--address", "A.B.C.D/LEN", "the stack's own address on the TUN link (required)", OptionValues.Ipv4HostPrefix));
        _outboundInterface = Add(CommonOptions.Value("--outbound-interface", "IFACE", "bind the relay's sockets to IFACE (SO_BINDTODEVICE)", OptionValues.InterfaceName));
        _fwmark = Add(CommonOptions.Value<uint?>("--fwmark", "N", "mark the relay's sockets with N (SO_MARK)", r => (uint?)OptionValues.Integer(1, int.MaxValue)(r)));
        _socks5 = Add(CommonOptions.Value("--socks5", "HOST:PORT", "relay through this SOCKS5 proxy instead of direct sockets", OptionValues.HostAndPort));
        _udpTimeout = Add(CommonOptions.Value("--udp-timeout", "S", "close UDP flows idle for S seconds", OptionValues.Integer(1, 86400, "seconds"), () => 60));
        _pcap = Add(CommonOptions.Pcap());
        _maxConnections = Add(CommonOptions.Value("--max-connections", "N", "the most relayed TCP connections at once", OptionValues.Integer(1, 1 << 20), () => 4096));
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        string tun = parse.GetValue(_tun) ?? throw new UsageException("--tun: required (the TUN interface)");
        InterfaceAddress address = parse.GetValue(_address) ?? throw new UsageException("--address: required (the stack's own address, e.g. 10.66.0.2/24)");
        string? outboundInterface = parse.GetValue(_outboundInterface);
        uint? mark = parse.GetValue(_fwmark);
        if (outboundInterface is not null && mark is not null)
        {
            throw new UsageException("--fwmark: give either --outbound-interface or --fwmark, not both");
        }
        var direct = new DirectConnector { OutboundInterface = outboundInterface, FirewallMark = mark };
        IOutboundConnector outbound = direct;
        if (parse.GetValue(_socks5) is { } proxy)
        {
            outbound = new Socks5Connector(ResolveProxy(proxy)) { Sockets = direct };
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("forward runs on Linux (TUN devices)");
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStop);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStop);
        using var devices = new DevicePair(new DeviceSpec(DeviceKind.Tun, tun), null, parse.GetValue(_pcap));
        using var stack = new NetworkStack(new NetworkStackOptions { Name = "forward" });
        stack.AddInterface(devices.Inside, address.Address.ToIpv4(), address.PrefixLength).AcceptAnyDestination = true;
        stack.UseTcp(new TcpStackOptions { Name = "forward" });
        var forwarder = new TransparentForwarder(stack, outbound, new ForwarderOptions
        {
            UdpTimeout = TimeSpan.FromSeconds(parse.GetValue(_udpTimeout)),
            MaxConnections = parse.GetValue(_maxConnections),
        });
        forwarder.Start();
        using var loopStop = new CancellationTokenSource();
        Task loop = stack.RunAsync(loopStop.Token);
        Task relay = forwarder.RunAsync(stop.Token);
        console.Out.WriteLine("ready");
        console.Out.Flush();
        Task.WaitAny(loop, relay, Task.Delay(Timeout.Infinite, stop.Token));
        stop.Cancel();
        try
        {
            relay.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }

        loopStop.Cancel();
        try
        {
            loop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"forward: stopped; {forwarder.Counters}"));
        return CliApp.Success;

        void OnStop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static IpEndpoint ResolveProxy(string text)
    {
        if (IpEndpoint.TryParse(text, out IpEndpoint endpoint))
        {
            return endpoint;
        }

        int colon = text.LastIndexOf(':');
        string host = text[..colon];
        ushort port = ushort.Parse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture);
        try
        {
            IPAddress? first = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            return first is null
                ? throw new UsageException($"--socks5: {host} has no IPv4 address")
                : new IpEndpoint(Protocols.Wire.IpAddress.FromIPAddress(first), port);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new UsageException($"--socks5: cannot resolve {host}: {e.Message}");
        }
    }
}
