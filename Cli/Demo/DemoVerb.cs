using System.Globalization;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Demo;

namespace Protocols.Cli.Verbs;

/// <summary>
/// <c>protocols demo</c> (CLI.md): two user-space stacks in this process, HTTPS between them with
/// .NET's HttpClient and SslStream over the stacks' TCP, a readable trace and a summary line.
/// </summary>
internal sealed class DemoVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "demo";

    /// <inheritdoc/>
    public override string Summary => "two user-space stacks exchange HTTPS in-process, traced (no privileges needed)";

    /// <inheritdoc/>
    public override string Usage => "protocols demo [--bytes N] [--loss P] [--seed S] [--pcap FILE] [--keylog FILE] [--quiet] [--real-time]";

    /// <inheritdoc/>
    public override string Description =>
        "Two stacks (client 10.0.0.1, server 10.0.0.2) on an in-process simulated link. The server\n" +
        "runs HTTPS with a self-signed certificate; the client fetches /bytes/N over TLS 1.3 with\n" +
        ".NET's HttpClient running over this stack, checks every byte, and prints a tcpdump-style\n" +
        "trace (TCP handshake, TLS hellos, a data summary, the FIN exchange) and a summary line.\n" +
        "Time is simulated by default: the stacks' clock jumps over idle waits (retransmission\n" +
        "timeouts), so lossy runs finish in seconds; --real-time runs on the system clock.\n" +
        "Open the --pcap file in Wireshark with the --keylog file (Preferences > Protocols > TLS >\n" +
        "(Pre)-Master-Secret log filename) to see the decrypted HTTP.";

    /// <inheritdoc/>
    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--bytes", OptionKind.PositiveInteger, "N", "bytes to fetch (default 1M; suffixes k, M, G)"),
        new("--loss", OptionKind.Fraction, "P", "fraction of frames dropped on the link, each direction, 0 up to (not including) 1 (default 0); a run that cannot finish within 120 s (simulated) fails with exit 1"),
        new("--seed", OptionKind.Integer, "S", "seed of the link's randomness and the stacks' choices (default 1)"),
        new("--pcap", OptionKind.Path, "FILE", "write every frame of the client's link end to FILE as pcap"),
        new("--keylog", OptionKind.Path, "FILE", "write the TLS secrets to FILE in NSS key log format (SSLKEYLOGFILE)"),
        new("--quiet", OptionKind.Flag, string.Empty, "print only the summary line"),
        new("--real-time", OptionKind.Flag, string.Empty, "run the stacks on the system clock (default: simulated time, idle waits skipped)"),
    ];

    /// <inheritdoc/>
    public override int Run(ParsedArguments arguments, VerbConsole console)
    {
        long seed = arguments.GetInteger("--seed", 1);
        if (seed > int.MaxValue)
        {
            throw new UsageException($"--seed: {seed} is larger than {int.MaxValue}");
        }

        double loss = arguments.GetFraction("--loss", 0);
        if (loss >= 1)
        {
            throw new UsageException($"--loss: {loss} drops every frame; use a fraction from 0 up to (not including) 1");
        }

        var settings = new DemoSettings(
            arguments.GetInteger("--bytes", 1 << 20),
            loss,
            (int)seed,
            arguments.GetPath("--pcap"),
            arguments.GetPath("--keylog"),
            arguments.Has("--quiet"))
        {
            RealTime = arguments.Has("--real-time"),
        };
        var output = new DemoConsole(console.Out, settings.Quiet);
        DemoResult result = DemoRun.Run(settings, output);

        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
        string time = result.VirtualTime
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds:0.000} s simulated time, {result.WallClock.TotalSeconds:0.000} s real")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds:0.000} s");
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"demo: {result.Bytes} bytes over HTTPS verified in {time} ({result.Bytes * 8 / seconds / 1e6:0.0} Mbit/s), " +
            $"{result.Retransmissions} retransmissions ({result.LostFrames} frames lost), {result.TlsVersion} {result.CipherSuite}"));
        if (!settings.Quiet && (settings.Pcap is not null || settings.KeyLog is not null))
        {
            console.Out.WriteLine(settings.Pcap is not null && settings.KeyLog is not null
                ? $"decrypt it: tshark -r {settings.Pcap} -o tls.keylog_file:{settings.KeyLog} -o tcp.reassemble_out_of_order:TRUE -Y http"
                : $"wrote {settings.Pcap ?? settings.KeyLog}");
        }

        return CliApp.Success;
    }
}
