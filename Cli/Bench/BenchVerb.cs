using System.Globalization;
using System.Text;
using System.Text.Json;
using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Bench;

/// <summary><c>protocols bench</c>: goodput of one TCP connection between two in-process stacks (CLI.md).</summary>
internal sealed class BenchVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "bench";

    /// <inheritdoc/>
    public override string Summary => "throughput of one TCP connection between two in-process stacks";

    /// <inheritdoc/>
    public override string Usage => "protocols bench [--seconds S] [--mtu M] [--loss P] [--rtt MS] [--seed N] [--json]";

    /// <inheritdoc/>
    public override string Description =>
        "Two stacks (10.0.0.1 and 10.0.0.2) on an in-process simulated link transfer data over one TCP\n" +
        "connection for S seconds of wall-clock time and report the goodput (bytes the receiving\n" +
        "application read, per wall-clock second). Both stacks run on one thread in virtual time: the\n" +
        "link delay (--rtt, half each way) and loss shape TCP's behaviour, and time jumps over the\n" +
        "waits, so the figure is the stacks' own processing speed. --json prints one object:\n" +
        "{\"gbps\": G, \"bytes\": B, \"seconds\": S, \"retransmissions\": R, \"mtu\": M, \"loss\": P}.";

    /// <inheritdoc/>
    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--seconds", OptionKind.Number, "S", "wall-clock seconds to transfer (default 5; up to 3600)"),
        new("--mtu", OptionKind.PositiveInteger, "M", "the link MTU (default 1500; 576 to 65535)"),
        new("--loss", OptionKind.Fraction, "P", "fraction of frames dropped each way (default 0; below 1)"),
        new("--rtt", OptionKind.Number, "MS", "round-trip time of the link in milliseconds (default 1; 0.01 to 10000)"),
        new("--seed", OptionKind.Integer, "N", "seed of the link's randomness (default 1)"),
        new("--json", OptionKind.Flag, "", "print one JSON object instead of text"),
    ];

    /// <summary>Checks the options; throws <see cref="UsageException"/> naming the flag.</summary>
    public static BenchSettings Parse(ParsedArguments arguments)
    {
        double seconds = arguments.GetNumber("--seconds", 5);
        if (seconds is <= 0 or > 3600)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--seconds: expected more than 0 and at most 3600, got {seconds}"));
        }

        long mtu = arguments.GetInteger("--mtu", 1500);
        if (mtu is < 576 or > 65535)
        {
            throw new UsageException($"--mtu: expected 576 to 65535, got {mtu}");
        }

        double loss = arguments.GetFraction("--loss", 0);
        if (loss >= 1)
        {
            throw new UsageException("--loss: must be below 1 (nothing would get through)");
        }

        double rtt = arguments.GetNumber("--rtt", 1);
        if (rtt is < 0.01 or > 10_000)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--rtt: expected 0.01 to 10000 milliseconds, got {rtt}"));
        }

        long seed = arguments.GetInteger("--seed", 1);
        if (seed > int.MaxValue - 1)
        {
            throw new UsageException($"--seed: expected at most {int.MaxValue - 1}, got {seed}");
        }

        return new BenchSettings(TimeSpan.FromSeconds(seconds), (int)mtu, loss, TimeSpan.FromMilliseconds(rtt), (int)seed);
    }

    /// <inheritdoc/>
    public override int Run(ParsedArguments arguments, VerbConsole console)
    {
        BenchSettings settings = Parse(arguments);
        BenchResult result = TransferBench.Run(settings);
        console.Out.WriteLine(arguments.Has("--json") ? ToJson(result) : ToText(result));
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
