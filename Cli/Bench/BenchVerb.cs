using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Protocols.Cli.CommandLine;

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

    /// <summary>Declares the verb's options.</summary>
    public BenchVerb()
        : base("bench",
            "Throughput of one TCP connection between two in-process stacks",
            "Two stacks (10.0.0.1 and 10.0.0.2) on an in-process simulated link transfer data over one TCP\n" +
            "connection for S seconds of wall-clock time and report the goodput (bytes the receiving\n" +
            "application read, per wall-clock second). Both stacks run on one thread in virtual time: the\n" +
            "link delay (--rtt, half each way) and loss shape TCP's behaviour, and time jumps over the\n" +
            "waits, so the figure is the stacks' own processing speed. --json prints one object:\n" +
            "{\"gbps\": G, \"bytes\": B, \"seconds\": S, \"retransmissions\": R, \"mtu\": M, \"loss\": P}.")
    {
        _seconds = Add(CommonOptions.Value("--seconds", "S", "wall-clock seconds to transfer (up to 3600)", OptionValues.Number(0, 3600, minimumExcluded: true), () => 5.0));
        _mtu = Add(CommonOptions.Mtu(576, "the link MTU (576 to 65535)", defaultMtu: 1500));
        _loss = Add(CommonOptions.Loss("fraction of frames dropped each way, below 1"));
        _rtt = Add(CommonOptions.Value("--rtt", "MS", "round-trip time of the link in milliseconds (0.01 to 10000)", OptionValues.Number(0.01, 10_000, unit: "milliseconds"), () => 1.0));
        _seed = Add(CommonOptions.Seed("seed of the link's randomness", maximum: int.MaxValue - 1));
        _json = Add(CommonOptions.Flag("--json", "print one JSON object instead of text"));
    }

    /// <summary>The settings of a parse result without errors.</summary>
    public BenchSettings Bind(ParseResult parse) =>
        new(TimeSpan.FromSeconds(parse.GetValue(_seconds)), parse.GetValue(_mtu) ?? 1500, parse.GetValue(_loss), TimeSpan.FromMilliseconds(parse.GetValue(_rtt)), parse.GetValue(_seed));

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        BenchSettings settings = Bind(parse);
        BenchResult result = TransferBench.Run(settings);
        console.Out.WriteLine(parse.GetValue(_json) ? ToJson(result) : ToText(result));
        return CliApp.Success;
    }

    /// <summary>The CLI.md object: gbps, bytes, seconds, retransmissions, mtu, loss.</summary>
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
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One human-readable line.</summary>
    public static string ToText(BenchResult result) => string.Create(CultureInfo.InvariantCulture,
        $"bench: {result.Bytes} bytes in {result.Seconds:0.000} s = {result.Gbps:0.000} Gbit/s goodput " +
        $"({result.VirtualSeconds:0.000} s of virtual time on the link); mtu {result.Settings.Mtu}, loss {result.Settings.Loss}, " +
        $"rtt {result.Settings.Rtt.TotalMilliseconds} ms, {result.Retransmissions} retransmissions");
}
