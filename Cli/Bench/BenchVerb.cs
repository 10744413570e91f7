using System.CommandLine;
using System.Runtime.InteropServices;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Protocols.Cli.CommandLine;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Cli.Bench;

/// <summary><c>protocols bench</c>: goodput of one TCP connection between two in-process stacks (CLI.md).</summary>
internal sealed class BenchVerb : Verb
{
    private readonly Option<double> _seconds;
    private readonly Option<int?> _mtu;
    private readonly Option<double> _loss;
    private readonly Option<double> _rtt;
    private readonly Option<int> _seed;
    private readonly Option<bool> _json;
    private readonly Option<double> _rate;
    private readonly Option<int?> _queue;
    private readonly Option<string?> _cc;
    private readonly Option<long?> _bytes;
    private readonly Option<double> _reorder;
    private readonly Option<double> _reorderDelay;
    private readonly Option<double> _jitter;
    private readonly Option<bool> _matrix;
    private readonly Option<bool> _autotune;
    private readonly Option<bool> _kernel;
    private readonly Option<bool> _raw;
    private readonly Option<bool> _reference;
    private readonly Option<bool> _noOffloads;
    private readonly Option<bool> _connections;
    private readonly Option<int> _clients;
    private readonly Option<bool> _ipv6;
    private readonly Option<bool> _gro;
    private readonly Option<int> _groRun;

    /// <summary>Declares the verb's options.</summary>
    public BenchVerb()
        : base("bench",
            "Throughput of one TCP connection between two in-process stacks",
            "Two stacks (10.0.0.1 and 10.0.0.2) on an in-process simulated link transfer data over one TCP\n" +
            "connection for S seconds of wall-clock time and report the goodput (bytes the receiving\n" +
            "application read, per wall-clock second). Both stacks run on one thread in virtual time: the\n" +
            "link delay (--rtt, half each way) and loss shape TCP's behaviour, and time jumps over the\n" +
            "waits, so the figure is the stacks' own processing speed (with fixed 256 KiB buffers: a link\n" +
            "without a rate has no bandwidth-delay product to autotune to; --autotune lets them grow).\n" +
            "--rate puts a bottleneck of that rate on the link with a drop-tail queue of --queue packets\n" +
            "(one bandwidth-delay product by default); --bytes transfers exactly N bytes (SHA-256 checked)\n" +
            "instead, so the goodput in the simulation's own time (simulated_gbps) shows how well TCP uses a\n" +
            "lossy link. --json prints one object: {\"gbps\": G, \"bytes\": B, \"seconds\": S,\n" +
            "\"retransmissions\": R, \"mtu\": M, \"loss\": P, \"simulated_seconds\": T, \"simulated_gbps\": SG, ...}.\n" +
            "--matrix runs the loss matrix of the README (100 Mbit/s, 20 ms, one BDP of queue; 0 to 10 % loss\n" +
            "and 5 % reordering) and prints it as a Markdown table (JSON lines with --json).\n" +
            "With --kernel (root): a private namespace with a TUN device (--raw: a veth pair driven through\n" +
            "AF_PACKET), the stack on one end, the kernel's own TCP socket on the other, one stream each way\n" +
            "for S seconds; --reference also measures the kernel to itself over veth, offloads on and off, in\n" +
            "the same run; --no-offloads opens the device in plain mode; --gro turns on the stack's own\n" +
            "receive coalescing (for devices that do not coalesce; off by default) and --gro-run N (implies\n" +
            "--gro) lets one run merge up to N segments under one ACK (default 2, RFC 5681's ACK per two); --ipv6 runs the stack's streams\n" +
            "over IPv6. --json then adds gbps_to_kernel, gbps_from_kernel, reference_gbps_offloads_on,\n" +
            "reference_gbps_offloads_off, offloads, cpu_ns_per_byte (cpu_user_ns_per_byte of it in user\n" +
            "mode; the text shows the user and kernel parts per stream) and family. The namespaces are removed\n" +
            "on every exit path, Ctrl-C included.\n" +
            "With --connections: connection churn instead of a stream; --clients clients each connect, send\n" +
            "100 bytes, read a 1000-byte answer and the server's FIN, and connect again; the figure is\n" +
            "connections opened and closed per wall-clock second, both stacks on one thread. --json prints\n" +
            "{\"connections_per_second\", \"connections\", \"seconds\", \"cpu_us_per_connection\",\n" +
            "\"bytes_allocated_per_connection\", \"failures\", \"clients\"}.")
    {
        _seconds = Add(CommonOptions.Value("--seconds", "S", "wall-clock seconds to transfer (up to 3600)", OptionValues.Number(0, 3600, minimumExcluded: true), () => 5.0));
        _mtu = Add(CommonOptions.Mtu(576, "the link MTU (576 to 65535)", defaultMtu: 1500));
        _loss = Add(CommonOptions.Loss("fraction of frames dropped each way, below 1"));
        _rtt = Add(CommonOptions.Value("--rtt", "MS", "round-trip time of the link in milliseconds (0.01 to 10000)", OptionValues.Number(0.01, 10_000, unit: "milliseconds"), () => 1.0));
        _seed = Add(CommonOptions.Seed("seed of the link's randomness", maximum: int.MaxValue - 1));
        _json = Add(CommonOptions.Flag("--json", "print one JSON object instead of text"));
        _rate = Add(CommonOptions.Value("--rate", "MBIT", "a bottleneck of this many Mbit/s each way (0.01 to 100000)", OptionValues.Number(0.01, 100_000, unit: "Mbit/s")));
        _queue = Add(CommonOptions.Value("--queue", "PACKETS", "the drop-tail queue at the bottleneck in packets (default one bandwidth-delay product)", OptionValues.OptionalInteger(1, 1_000_000)));
        _cc = Add(CommonOptions.CongestionControl());
        _bytes = Add(CommonOptions.Value("--bytes", "N", "transfer exactly N bytes, SHA-256 checked (suffixes k, M, G); --seconds is then the limit", OptionValues.OptionalSize));
        _reorder = Add(CommonOptions.Value("--reorder", "P", "fraction of frames held back by --reorder-delay each way", OptionValues.LossFraction, () => 0.0));
        _reorderDelay = Add(CommonOptions.Value("--reorder-delay", "MS", "extra delay of a reordered frame in milliseconds", OptionValues.Number(0, 10_000, unit: "milliseconds"), () => 1.0));
        _jitter = Add(CommonOptions.Value("--jitter", "MS", "up to this many milliseconds of extra delay per frame", OptionValues.Number(0, 10_000, unit: "milliseconds"), () => 0.0));
        _matrix = Add(CommonOptions.Flag("--matrix", "run the README's loss matrix (fixed seeds) and print it"));
        _autotune = Add(CommonOptions.Flag("--autotune", "autotune the buffers in a timed run without --rate too (they grow to their caps)"));
        _kernel = Add(CommonOptions.Flag("--kernel", "measure the stack against the kernel's TCP over a TUN device (root)"));
        _raw = Add(CommonOptions.Flag("--raw", "with --kernel: a veth pair driven through AF_PACKET instead of TUN"));
        _reference = Add(CommonOptions.Flag("--reference", "with --kernel: also measure the kernel to itself over veth, offloads on and off"));
        _noOffloads = Add(CommonOptions.Flag("--no-offloads", "with --kernel: open the device without offloads (plain mode)"));
        _connections = Add(CommonOptions.Flag("--connections", "measure connection setups and teardowns per second instead of a stream"));
        _clients = Add(CommonOptions.Value("--clients", "N", "with --connections: connections open at once (1 to 10000)", OptionValues.Integer(1, 10_000), () => 100));
        _ipv6 = Add(CommonOptions.Flag("--ipv6", "with --kernel: run the stack's streams over IPv6"));
        _gro = Add(CommonOptions.Flag("--gro", "turn on the stack's own receive coalescing (GRO) for devices that do not coalesce"));
        _groRun = Add(CommonOptions.Value("--gro-run", "N", "with coalescing on (implies --gro): segments one coalesced run (and its one ACK) may cover, 2 to 64", OptionValues.Integer(2, 64), () => 2));
    }

    /// <summary>The settings of a parse result without errors.</summary>
    public BenchSettings Bind(ParseResult parse)
    {
        long? bytes = parse.GetValue(_bytes);
        bool secondsGiven = parse.GetResult(_seconds) is { Implicit: false };
        if (parse.GetResult(_queue) is { Implicit: false } && parse.GetValue(_rate) <= 0)
        {
            throw new UsageException("--queue: only with --rate (the queue sits at the bottleneck)");
        }

        return new BenchSettings(
            bytes is not null && !secondsGiven ? TimeSpan.FromMinutes(10) : TimeSpan.FromSeconds(parse.GetValue(_seconds)),
            parse.GetValue(_mtu) ?? 1500,
            parse.GetValue(_loss),
            TimeSpan.FromMilliseconds(parse.GetValue(_rtt)),
            parse.GetValue(_seed))
        {
            RateMbit = parse.GetValue(_rate),
            QueuePackets = parse.GetValue(_queue),
            CongestionControl = parse.GetValue(_cc),
            Bytes = bytes,
            Reordering = parse.GetValue(_reorder),
            ReorderDelay = TimeSpan.FromMilliseconds(parse.GetValue(_reorderDelay)),
            Jitter = TimeSpan.FromMilliseconds(parse.GetValue(_jitter)),
            AutoTune = parse.GetValue(_autotune) ? true : null,
            ReceiveCoalescing = Gro(parse),
            CoalescedRunSegments = parse.GetValue(_groRun),
        };
    }

    // --gro, or --gro-run given.
    private bool Gro(ParseResult parse) => parse.GetValue(_gro) || parse.GetResult(_groRun) is { Implicit: false };

    /// <summary>The <c>--kernel</c> settings of a parse result, or null without <c>--kernel</c>; throws <see cref="UsageException"/> for options that do not go together.</summary>
    public KernelBenchSettings? BindKernel(ParseResult parse)
    {
        if (!parse.GetValue(_kernel))
        {
            foreach (Option<bool> needsKernel in new[] { _raw, _reference, _noOffloads, _ipv6 })
            {
                if (parse.GetValue(needsKernel))
                {
                    throw new UsageException($"{needsKernel.Name}: only with --kernel");
                }
            }

            return null;
        }

        foreach (Option simulated in new Option[] { _mtu, _loss, _rtt, _seed, _rate, _queue, _cc, _bytes, _reorder, _reorderDelay, _jitter, _matrix, _autotune })
        {
            if (parse.GetResult(simulated) is { Implicit: false })
            {
                throw new UsageException($"{simulated.Name}: applies to the simulated link, not with --kernel");
            }
        }

        return new KernelBenchSettings(TimeSpan.FromSeconds(parse.GetValue(_seconds)), parse.GetValue(_raw), parse.GetValue(_reference), !parse.GetValue(_noOffloads), parse.GetValue(_ipv6), Gro(parse), parse.GetValue(_groRun));
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        if (BindConnections(parse) is { } churn)
        {
            ConnectionBenchResult measured = ConnectionBench.Run(churn);
            console.Out.WriteLine(parse.GetValue(_json) ? ToJson(measured) : ToText(measured));
            return CliApp.Success;
        }

        if (BindKernel(parse) is { } kernel)
        {
            return RunKernel(kernel, parse.GetValue(_json), console);
        }

        bool json = parse.GetValue(_json);
        if (parse.GetValue(_matrix))
        {
            return BenchMatrix.Run(console, json, parse.GetValue(_cc), parse.GetValue(_seed));
        }

        BenchSettings settings = Bind(parse);
        BenchResult result = TransferBench.Run(settings);
        console.Out.WriteLine(json ? ToJson(result) : ToText(result));
        if (result.Sha256Verified == false)
        {
            console.Error.WriteLine("bench: the bytes read differ from the bytes written (SHA-256)");
            return CliApp.Failure;
        }

        return CliApp.Success;
    }

    /// <summary>The <c>--connections</c> settings of a parse result, or null without it; throws <see cref="UsageException"/> for options that do not go together.</summary>
    public ConnectionBenchSettings? BindConnections(ParseResult parse)
    {
        if (!parse.GetValue(_connections))
        {
            if (parse.GetResult(_clients) is { Implicit: false })
            {
                throw new UsageException($"{_clients.Name}: only with --connections");
            }

            return null;
        }

        foreach (Option other in new Option[] { _kernel, _mtu, _loss, _rtt })
        {
            if (parse.GetResult(other) is { Implicit: false })
            {
                throw new UsageException($"{other.Name}: not with --connections");
            }
        }

        return new ConnectionBenchSettings(TimeSpan.FromSeconds(parse.GetValue(_seconds)), parse.GetValue(_clients), Seed: parse.GetValue(_seed));
    }

    /// <summary>The <c>--connections</c> object.</summary>
    public static string ToJson(ConnectionBenchResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("connections_per_second", Math.Round(result.PerSecond, 1));
            json.WriteNumber("connections", result.Connections);
            json.WriteNumber("seconds", Math.Round(result.Seconds, 6));
            json.WriteNumber("cpu_us_per_connection", Math.Round(result.CpuMicrosPerConnection, 3));
            json.WriteNumber("bytes_allocated_per_connection", Math.Round(result.BytesPerConnection, 1));
            json.WriteNumber("failures", result.Failures);
            json.WriteNumber("clients", result.Settings.Clients);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The <c>--connections</c> result for people.</summary>
    public static string ToText(ConnectionBenchResult result) => string.Create(CultureInfo.InvariantCulture,
        $"bench --connections: {result.Connections} connections in {result.Seconds:0.000} s = {result.PerSecond:0} setups and teardowns per second " +
        $"({result.Settings.Clients} clients, {result.CpuMicrosPerConnection:0.0} us CPU and {result.BytesPerConnection:0} bytes allocated per connection, both ends on one thread; {result.Failures} failed)");

    /// <summary>The CLI.md object of <c>--kernel</c>: the two streams, the references, the offload mode, CPU per byte, and the batching figures.</summary>
    public static string ToJson(KernelBenchResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("gbps_to_kernel", Math.Round(result.ToKernel.Gbps, 6));
            json.WriteNumber("gbps_from_kernel", Math.Round(result.FromKernel.Gbps, 6));
            WriteOptional(json, "reference_gbps_offloads_on", result.ReferenceOn?.Gbps);
            WriteOptional(json, "reference_gbps_offloads_off", result.ReferenceOff?.Gbps);
            json.WriteString("offloads", result.Offloads);
            json.WriteNumber("cpu_ns_per_byte", Math.Round(result.CpuNsPerByte, 4));
            json.WriteNumber("cpu_user_ns_per_byte", Math.Round(result.UserNsPerByte, 4));
            WriteOptional(json, "reference_cpu_ns_per_byte", result.ReferenceOn?.CpuNsPerByte);
            json.WriteString("device", result.Settings.Raw ? "af_packet" : "tun");
            json.WriteString("family", result.Settings.Ipv6 ? "ipv6" : "ipv4");
            json.WriteNumber("bytes", result.ToKernel.Bytes + result.FromKernel.Bytes);
            json.WriteNumber("seconds", Math.Round(result.ToKernel.Seconds + result.FromKernel.Seconds, 6));
            json.WriteNumber("syscalls_per_mb", Math.Round(result.SystemCallsPerMegabyte, 3));
            json.WriteNumber("wakeups_per_mb", Math.Round(result.WakeUpsPerMegabyte, 3));
            json.WriteNumber("receive_direct_share", Math.Round(result.ReceiveDirectShare, 6));
            if (result.Note.Length > 0)
            {
                json.WriteString("note", result.Note);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());

        static void WriteOptional(Utf8JsonWriter json, string name, double? value)
        {
            if (value is { } v)
            {
                json.WriteNumber(name, Math.Round(v, 6));
            }
            else
            {
                json.WriteNull(name);
            }
        }
    }

    /// <summary>The <c>--kernel</c> result for people: one line per stream and reference, then the ratios.</summary>
    public static string ToText(KernelBenchResult result)
    {
        var text = new StringBuilder();
        string device = result.Settings.Raw ? "AF_PACKET on veth" : "TUN";
        text.Append(CultureInfo.InvariantCulture, $"bench --kernel over {device}, {(result.Settings.Ipv6 ? "IPv6" : "IPv4")} ({result.Offloads})\n");
        text.Append(CultureInfo.InvariantCulture, $"  stack -> kernel  {result.ToKernel.Gbps,8:0.000} Gbit/s  {result.ToKernel.CpuNsPerByte:0.000} ns CPU/byte ({result.ToKernel.UserNsPerByte:0.000} user, {result.ToKernel.KernelNsPerByte:0.000} kernel)\n");
        text.Append(CultureInfo.InvariantCulture, $"  kernel -> stack  {result.FromKernel.Gbps,8:0.000} Gbit/s  {result.FromKernel.CpuNsPerByte:0.000} ns CPU/byte ({result.FromKernel.UserNsPerByte:0.000} user, {result.FromKernel.KernelNsPerByte:0.000} kernel)  {result.ReceiveDirectShare:0.0%} read in one copy\n");
        text.Append(CultureInfo.InvariantCulture, $"  {result.SystemCallsPerMegabyte:0.0} device system calls and {result.WakeUpsPerMegabyte:0.0} loop wake-ups per MB\n");
        if (result.ReferenceOn is { } on)
        {
            text.Append(CultureInfo.InvariantCulture, $"  kernel -> kernel over veth, offloads on   {on.Gbps,8:0.000} Gbit/s  {on.CpuNsPerByte:0.000} ns CPU/byte ({on.UserNsPerByte:0.000} user, {on.KernelNsPerByte:0.000} kernel)\n");
        }

        if (result.ReferenceOff is { } off)
        {
            text.Append(CultureInfo.InvariantCulture, $"  kernel -> kernel over veth, offloads off  {off.Gbps,8:0.000} Gbit/s  {off.CpuNsPerByte:0.000} ns CPU/byte ({off.UserNsPerByte:0.000} user, {off.KernelNsPerByte:0.000} kernel)\n");
        }

        if (result.Note.Length > 0)
        {
            text.Append("  ").Append(result.Note).Append('\n');
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>
    /// The CLI.md object: gbps, bytes, seconds, retransmissions, mtu, loss, simulated_seconds,
    /// simulated_gbps; and the link, the controller, what the link dropped and the sender's timeouts.
    /// </summary>
    public static string ToJson(BenchResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("gbps", Math.Round(result.Gbps, 6));
            json.WriteNumber("bytes", result.Bytes);
            json.WriteNumber("seconds", Math.Round(result.Seconds, 6));
            json.WriteNumber("retransmissions", result.Retransmissions);
            json.WriteNumber("mtu", result.Settings.Mtu);
            json.WriteNumber("loss", result.Settings.Loss);
            json.WriteNumber("simulated_seconds", Math.Round(result.VirtualSeconds, 6));
            json.WriteNumber("simulated_gbps", Math.Round(result.SimulatedGbps, 6));
            if (result.SecondHalfGbps is double secondHalf)
            {
                json.WriteNumber("simulated_gbps_second_half", Math.Round(secondHalf, 6));
            }

            if (result.Sha256Verified is bool verified)
            {
                json.WriteBoolean("sha256_verified", verified);
            }

            json.WriteString("cc", result.CongestionControl);
            json.WriteBoolean("autotune", result.Settings.EffectiveAutoTune);
            json.WriteNumber("rtt_ms", result.Settings.Rtt.TotalMilliseconds);
            json.WriteNumber("rate_mbit", result.Settings.RateMbit);
            json.WriteNumber("queue_packets", result.Settings.EffectiveQueuePackets);
            json.WriteNumber("reordering", result.Settings.Reordering);
            json.WriteNumber("jitter_ms", result.Settings.Jitter.TotalMilliseconds);
            json.WriteNumber("segments_sent", result.SegmentsSent);
            json.WriteNumber("data_frames_lost", result.DataFramesLost);
            json.WriteNumber("queue_drops", result.QueueDrops);
            json.WriteNumber("ack_frames_lost", result.AckFramesLost);
            json.WriteNumber("fast_retransmits", result.FastRetransmits);
            json.WriteNumber("timeouts", result.Timeouts);
            json.WriteNumber("receive_direct_share", Math.Round(result.DirectShare, 6));
            json.WriteNumber("receive_copies_per_byte", Math.Round(result.ReceiveCopiesPerByte, 6));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One human-readable line.</summary>
    public static string ToText(BenchResult result)
    {
        BenchSettings s = result.Settings;
        string rate = s.RateMbit > 0 ? FormattableString.Invariant($"rate {s.RateMbit} Mbit/s, queue {s.EffectiveQueuePackets} packets, ") : string.Empty;
        string verified = result.Sha256Verified switch
        {
            true => ", SHA-256 verified",
            false => ", SHA-256 MISMATCH",
            null => string.Empty,
        };
        string buffers = s.EffectiveAutoTune ? string.Empty : " (fixed 256 KiB buffers)";
        return string.Create(CultureInfo.InvariantCulture,
            $"bench: {result.Bytes} bytes in {result.Seconds:0.000} s = {result.Gbps:0.000} Gbit/s goodput ({result.VirtualSeconds:0.000} s of virtual time on the link = {result.SimulatedGbps * 1000:0.00} Mbit/s simulated); mtu {s.Mtu}, loss {s.Loss}, rtt {s.Rtt.TotalMilliseconds} ms, {rate}{result.CongestionControl}{buffers}, {result.Retransmissions} retransmissions, {result.DataFramesLost} data frames lost, {result.Timeouts} timeouts{verified}; {result.DirectShare:0.0%} of the bytes read went straight from the segment into a waiting read ({result.ReceiveCopiesPerByte:0.00} copies per byte received)");
    }

    private static int RunKernel(KernelBenchSettings settings, bool json, VerbConsole console)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("bench --kernel runs on Linux (namespaces, TUN, AF_PACKET)");
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            KernelBenchResult result = KernelBench.Run(settings, console.Verbose ? console.Error.WriteLine : null, stop.Token);
            console.Out.WriteLine(json ? ToJson(result) : ToText(result));
            return CliApp.Success;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            console.Error.WriteLine("bench: interrupted; namespaces removed");
            return 130;
        }

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // unwind: the namespaces are removed on the way out
            stop.Cancel();
        }
    }
}
