using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Protocols.Cli.CommandLine;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Nat;
using Protocols.Wire;

namespace Protocols.Cli.Nat;

/// <summary>
/// <c>protocols nat</c>: the stack as a NAT gateway between an inside and an outside device
/// (CLI.md): routes between them and translates, static entries first, then the pool, then PAT
/// behind the outside address. Prints the translation table on SIGUSR1 (and every
/// <c>--table-every</c> seconds).
/// </summary>
internal sealed class NatVerb : Verb
{
    /// <summary>Linux's SIGUSR1 (PosixSignalRegistration takes raw signal numbers).</summary>
    private const int SigUsr1 = 10;

    private readonly Option<DeviceSpec?> _inside;
    private readonly Option<InterfaceAddress?> _insideAddress;
    private readonly Option<DeviceSpec?> _outside;
    private readonly Option<InterfaceAddress?> _outsideAddress;
    private readonly Option<Ipv4Address?> _gateway;
    private readonly Option<List<AddressPair>> _static;
    private readonly Option<AddressPair?> _pool;
    private readonly Option<NatFiltering> _filtering;
    private readonly Option<string?> _pcap;
    private readonly Option<int?> _tableEvery;
    private readonly Option<int> _maxMappings;

    /// <summary>Declares the verb's options.</summary>
    public NatVerb()
        : base("nat",
            "Run the stack as a NAT gateway between two devices (static, pool, PAT)",
            "Routes between the inside device and the outside device and translates what leaves through\n" +
            "the outside one: --static INSIDE=OUTSIDE entries first (1:1, every protocol, both ways),\n" +
            "then the --pool FIRST-LAST addresses (one per inside host while it has flows, ports kept),\n" +
            "then port translation (PAT) behind --outside-address for everything else. Behaviour per\n" +
            "RFC 4787/5382/5508: endpoint-independent mappings, --filtering (default\n" +
            "endpoint-independent), hairpinning, ICMP errors translated back. A device is tun:NAME (a TUN\n" +
            "interface, created or attached) or raw:IFACE (an Ethernet interface through AF_PACKET; the\n" +
            "gateway answers ARP for its pool and static addresses there). Answers ping on both\n" +
            "addresses. Prints 'ready' once both devices are open; prints the translation table (a line\n" +
            "'# N rows', then one line per mapping: protocol inside outside remote state idle-seconds) on\n" +
            "SIGUSR1 and every --table-every seconds; exits 0 on SIGINT/SIGTERM. --pcap FILE captures\n" +
            "the outside device to FILE and the inside one to FILE with '-inside' before its extension.")
    {
        _inside = Add(CommonOptions.Value("--inside", "tun:NAME|raw:IFACE", "the inside device (required)", OptionValues.Device));
        _insideAddress = Add(CommonOptions.Value("--inside-address", "A.B.C.D/LEN", "the gateway's address on the inside (required)", OptionValues.Ipv4HostPrefix));
        _outside = Add(CommonOptions.Value("--outside", "tun:NAME|raw:IFACE", "the outside device (required)", OptionValues.Device));
        _outsideAddress = Add(CommonOptions.Value("--outside-address", "A.B.C.D/LEN", "the gateway's address on the outside, the shared PAT address (required)", OptionValues.Ipv4HostPrefix));
        _gateway = Add(CommonOptions.Value("--gateway", "G", "the next router on the outside for everything off both subnets", OptionValues.Ipv4));
        _static = Add(new Option<List<AddressPair>>("--static")
        {
            Description = "a static 1:1 entry (repeatable)",
            HelpName = "INSIDE=OUTSIDE",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
            CustomParser = result =>
            {
                var entries = new List<AddressPair>();
                foreach (System.CommandLine.Parsing.Token token in result.Tokens)
                {
                    if (!OptionValues.TryParseAddressPair(token.Value, out AddressPair entry))
                    {
                        result.AddError($"--static: expected INSIDE=OUTSIDE (two IPv4 addresses), got '{token.Value}'");
                        return [];
                    }

                    entries.Add(entry);
                }

                return entries;
            },
        });
        _pool = Add(CommonOptions.Value("--pool", "FIRST-LAST", "the dynamic pool of outside addresses", OptionValues.AddressRange));
        _filtering = Add(CommonOptions.Value("--filtering", "MODE", "endpoint-independent, address-dependent or address-and-port-dependent", Filtering, () => NatFiltering.EndpointIndependent));
        _pcap = Add(CommonOptions.Pcap("capture the outside device to FILE (and the inside one to FILE-inside)"));
        _tableEvery = Add(CommonOptions.Value("--table-every", "S", "also print the table every S seconds", OptionValues.OptionalInteger(1, 86400, "seconds")));
        _maxMappings = Add(CommonOptions.Value("--max-mappings", "N", "the bound of the translation table", OptionValues.Integer(1, 1 << 24), () => 65536));
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        DeviceSpec inside = parse.GetValue(_inside) ?? throw new UsageException("--inside: required (tun:NAME or raw:IFACE)");
        InterfaceAddress insideAddress = parse.GetValue(_insideAddress) ?? throw new UsageException("--inside-address: required (e.g. 10.0.0.1/24)");
        DeviceSpec outside = parse.GetValue(_outside) ?? throw new UsageException("--outside: required (tun:NAME or raw:IFACE)");
        InterfaceAddress outsideAddress = parse.GetValue(_outsideAddress) ?? throw new UsageException("--outside-address: required (e.g. 203.0.113.1/24)");
        if (inside == outside)
        {
            throw new UsageException($"--outside: {outside} is also the inside device");
        }

        Ipv4Address? gateway = parse.GetValue(_gateway);
        if (gateway is { } gw && (!DeviceOptions.SameSubnet(outsideAddress, gw) || gw == outsideAddress.Address))
        {
            throw new UsageException($"--gateway: {gw} is not another host on the outside subnet {outsideAddress}");
        }

        List<AddressPair> statics = parse.GetValue(_static) ?? [];
        AddressPair? pool = parse.GetValue(_pool);
        var options = new NatOptions
        {
            OutsideAddress = outsideAddress.Address.ToIpv4(),
            Static = [.. statics.Select(s => new NatStaticEntry(s.Inside, s.Outside))],
            PoolFirst = pool?.Inside,
            PoolLast = pool?.Outside,
            Filtering = parse.GetValue(_filtering),
            MaxMappings = parse.GetValue(_maxMappings),
            MaxSessions = parse.GetValue(_maxMappings) * 2,
            Name = "nat",
        };
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("nat runs on Linux (TUN and AF_PACKET devices)");
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStop);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStop);
        using var devices = new DevicePair(inside, outside, parse.GetValue(_pcap));
        using var stack = new NetworkStack(new NetworkStackOptions { Name = "nat", Forwarding = true });
        stack.AddInterface(devices.Inside, insideAddress.Address.ToIpv4(), insideAddress.PrefixLength);
        NetworkInterface outsideNic = stack.AddInterface(devices.Outside, outsideAddress.Address.ToIpv4(), outsideAddress.PrefixLength, gateway);
        NatGateway nat;
        try
        {
            nat = new NatGateway(stack, outsideNic, options);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{(pool is not null && e.Message.Contains("pool", StringComparison.Ordinal) ? "--pool" : "--static")}: {e.Message}");
        }

        using (nat)
        {
            var print = new SemaphoreSlim(1, 1);
            using PosixSignalRegistration usr1 = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                _ = PrintTableAsync(nat, console.Out, print);
            });
            using var loopStop = new CancellationTokenSource();
            Task loop = stack.RunAsync(loopStop.Token);
            console.Out.WriteLine(ServeVerbReady);
            console.Out.Flush();
            Task? periodic = parse.GetValue(_tableEvery) is { } every ? PrintEveryAsync(nat, console.Out, print, TimeSpan.FromSeconds(every), stop.Token) : null;
            Task.WaitAny(loop, Task.Delay(Timeout.Infinite, stop.Token));
            loopStop.Cancel();
            try
            {
                loop.GetAwaiter().GetResult();
                periodic?.Wait(TimeSpan.FromSeconds(2));
            }
            catch (Exception e) when (e is OperationCanceledException or AggregateException)
            {
            }

            StackCountersSnapshot c = stack.Counters.Snapshot();
            console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"nat: stopped; forwarded {c.Forwarded}, delivered {c.Delivered}, dropped {c.TotalDropped} [{string.Join(", ", c.Drops.Select(kv => $"{kv.Key}={kv.Value}"))}]; " +
                $"translated out {nat.Counters.OutboundTranslated} in {nat.Counters.InboundTranslated} hairpin {nat.Counters.Hairpinned} icmp errors {nat.Counters.IcmpErrorsTranslated}; " +
                $"refused: exhausted {nat.Counters.Exhausted} filtered {nat.Counters.Filtered} no mapping {nat.Counters.NoMapping}; mappings {nat.Counters.MappingCount}"));
        }

        return CliApp.Success;

        void OnStop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private const string ServeVerbReady = "ready";

    private static async Task PrintEveryAsync(NatGateway nat, TextWriter output, SemaphoreSlim gate, TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await PrintTableAsync(nat, output, gate).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Prints the table: <c># N rows</c>, then one line per row.</summary>
    private static async Task PrintTableAsync(NatGateway nat, TextWriter output, SemaphoreSlim gate)
    {
        IReadOnlyList<NatTableRow> rows;
        try
        {
            rows = await nat.GetTableAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return; // the loop's request queue is full: the next signal will do
        }

        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {rows.Count} rows"));
            foreach (NatTableRow row in rows)
            {
                output.WriteLine(row.ToString());
            }

            output.Flush();
        }
        finally
        {
            gate.Release();
        }
    }

    private static NatFiltering Filtering(System.CommandLine.Parsing.ArgumentResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[^1].Value switch
        {
            "endpoint-independent" => NatFiltering.EndpointIndependent,
            "address-dependent" => NatFiltering.AddressDependent,
            "address-and-port-dependent" => NatFiltering.AddressAndPortDependent,
            _ => OptionValues.Fail<NatFiltering>(result, "endpoint-independent, address-dependent or address-and-port-dependent"),
        } : NatFiltering.EndpointIndependent;
}

/// <summary>The two devices of <c>nat</c> (or one of <c>forward</c>), each optionally captured.</summary>
internal sealed class DevicePair : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public DevicePair(DeviceSpec inside, DeviceSpec? outside, string? pcap)
    {
        try
        {
            Inside = Open(inside, outside is null ? pcap : Suffixed(pcap, "-inside"));
            Outside = outside is { } o ? Open(o, pcap) : null!;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public INetworkDevice Inside { get; }

    public INetworkDevice Outside { get; }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
    }

    private static string? Suffixed(string? path, string suffix) =>
        path is null ? null : Path.Combine(Path.GetDirectoryName(path) ?? string.Empty, Path.GetFileNameWithoutExtension(path) + suffix + Path.GetExtension(path));

    private INetworkDevice Open(DeviceSpec spec, string? pcap)
    {
        LinuxDevice device = spec.Kind == DeviceKind.Tun ? TunDevice.Open(spec.Name) : RawPacketDevice.Open(spec.Name);
        _owned.Add(device);
        if (pcap is null)
        {
            return device;
        }

        PcapTap tap = PcapTap.Create(device, pcap);
        _owned.Add(tap);
        return tap;
    }
}
