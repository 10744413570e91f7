using System.CommandLine;
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

    /// <summary>Declares the verb's options.</summary>
    public BenchVerb()
        : base("bench",
            "Throughput of one TCP connection between two in-process stacks",
            "Two stacks (10.0.0.1 and 10.0.0.2) on an in-process simulated link transfer data over one TCP\n" +
            "connection for S seconds of wall-clock time and report the goodput (bytes the receiving\n" +
            "application read, per wall-clock second). Both stacks run on one thread in virtual time: the\n" +
            "link delay (--rtt, half each way) and loss shape TCP's behaviour, and time jumps over the\n" +
            "waits, so the figure is the stacks' own processing speed (with fixed 256 KiB buffers: a link\n" +
            "without a rate has no bandwidth-delay product to autotune to; --autotune lets them grow). --rate puts a bottleneck of that rate\n" +
            "on the link with a drop-tail queue of --queue packets (one bandwidth-delay product by default);\n" +
            "--bytes transfers exactly N bytes (SHA-256 checked) instead, so the goodput in the simulation's\n" +
            "own time (simulated_gbps) shows how well TCP uses a lossy link. --json prints one object:\n" +
            "{\"gbps\": G, \"bytes\": B, \"seconds\": S, \"retransmissions\": R, \"mtu\": M, \"loss\": P,\n" +
            "\"simulated_seconds\": T, \"simulated_gbps\": SG, ...}. --matrix runs the loss matrix of the\n" +
            "README (100 Mbit/s, 20 ms, one BDP of queue; 0 to 10 % loss and 5 % reordering) and prints it\n" +
            "as a Markdown table (JSON lines with --json).")
    {
        _seconds = Add(CommonOptions.Value("--seconds", "S", "wall-clock seconds to transfer (up to 3600)", OptionValues.Number(0, 3600, minimumExcluded: true), () => 5.0));
        _mtu = Add(CommonOptions.Mtu(576, "the link MTU (576 to 65535)", defaultMtu: 1500));
        _loss = Add(CommonOptions.Loss("fraction of frames dropped each way, below 1"));
        _rtt = Add(CommonOptions.Value("--rtt", "MS", "round-trip time of the link in milliseconds (0.01 to 10000)", OptionValues.Number(0.01, 10_000, unit: "milliseconds"), () => 1.0));
        _seed = Add(CommonOptions.Seed("seed of the link's randomness", maximum: int.MaxValue - 1));
        _json = Add(CommonOptions.Flag("--json", "print one JSON object instead of text"));
        _rate = Add(CommonOptions.Value("--rate", "MBIT", "a bottleneck of this many Mbit/s each way (0.01 to 100000)", OptionValues.Number(0.01, 100_000, unit: "Mbit/s")));
        _queue = Add(CommonOptions.Value("--queue", "PACKETS", "the drop-tail queue at the bottleneck in packets (default one bandwidth-delay product)", OptionValues.OptionalInteger(1, 1_000_000)));
        _cc = Add(CommonOptions.Value("--cc", "NAME", "the congestion controller: " + string.Join(", ", CongestionControllerRegistry.Default.Names), OptionValues.OneOf(CongestionControllerRegistry.Default.Names)));
        _bytes = Add(CommonOptions.Value("--bytes", "N", "transfer exactly N bytes, SHA-256 checked (suffixes k, M, G); --seconds is then the limit", OptionValues.OptionalSize));
        _reorder = Add(CommonOptions.Value("--reorder", "P", "fraction of frames held back by --reorder-delay each way", OptionValues.LossFraction, () => 0.0));
        _reorderDelay = Add(CommonOptions.Value("--reorder-delay", "MS", "extra delay of a reordered frame in milliseconds", OptionValues.Number(0, 10_000, unit: "milliseconds"), () => 1.0));
        _jitter = Add(CommonOptions.Value("--jitter", "MS", "up to this many milliseconds of extra delay per frame", OptionValues.Number(0, 10_000, unit: "milliseconds"), () => 0.0));
        _matrix = Add(CommonOptions.Flag("--matrix", "run the README's loss matrix (fixed seeds) and print it"));
        _autotune = Add(CommonOptions.Flag("--autotune", "autotune the buffers in a timed run without --rate too (they grow to their caps)"));
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
        };
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
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
            $"bench: {result.Bytes} bytes in {result.Seconds:0.000} s = {result.Gbps:0.000} Gbit/s goodput ({result.VirtualSeconds:0.000} s of virtual time on the link = {result.SimulatedGbps * 1000:0.00} Mbit/s simulated); mtu {s.Mtu}, loss {s.Loss}, rtt {s.Rtt.TotalMilliseconds} ms, {rate}{result.CongestionControl}{buffers}, {result.Retransmissions} retransmissions, {result.DataFramesLost} data frames lost, {result.Timeouts} timeouts{verified}");
    }
}
