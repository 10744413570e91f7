using System.CommandLine;
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
    private readonly Option<long> _bytes;
    private readonly Option<double> _loss;
    private readonly Option<int> _seed;
    private readonly Option<string?> _pcap;
    private readonly Option<string?> _keyLog;
    private readonly Option<bool> _quiet;
    private readonly Option<bool> _realTime;

    /// <summary>Declares the verb's options.</summary>
    public DemoVerb()
        : base("demo",
            "Two user-space stacks exchange HTTPS in-process, traced (no privileges needed)",
            "Two stacks (client 10.0.0.1, server 10.0.0.2) on an in-process simulated link. The server\n" +
            "runs HTTPS with a self-signed certificate; the client fetches /bytes/N over TLS 1.3 with\n" +
            ".NET's HttpClient running over this stack, checks every byte, and prints a tcpdump-style\n" +
            "trace (TCP handshake, TLS hellos, a data summary, the FIN exchange) and a summary line.\n" +
            "Time is simulated by default: the clock moves only when every task waits, so the trace\n" +
            "shows the link's delays (1 ms each way) and one seed gives one TCP trace; the summary\n" +
            "gives the simulated goodput. --real-time runs on the system clock (wall-clock goodput).\n" +
            "Open the --pcap file in Wireshark with the --keylog file (Preferences > Protocols > TLS >\n" +
            "(Pre)-Master-Secret log filename) to see the decrypted HTTP.")
    {
        _bytes = Add(CommonOptions.Value("--bytes", "N", "bytes to fetch (suffixes k, M, G)", OptionValues.Size, () => 1L << 20));
        _loss = Add(CommonOptions.Loss("fraction of frames dropped on the link, each direction, 0 up to (not including) 1; a run that cannot finish within 120 s (simulated) fails with exit 1"));
        _seed = Add(CommonOptions.Seed("seed of the link's randomness and the stacks' choices"));
        _pcap = Add(CommonOptions.Pcap("write every frame of the client's link end to FILE as pcap"));
        _keyLog = Add(CommonOptions.Value("--keylog", "FILE", "write the TLS secrets to FILE in NSS key log format (SSLKEYLOGFILE)", OptionValues.Path));
        _quiet = Add(CommonOptions.Flag("--quiet", "print only the summary line"));
        _realTime = Add(CommonOptions.Flag("--real-time", "run the stacks on the system clock (default: simulated time, idle waits skipped)"));
    }

    /// <summary>The settings of a parse result without errors.</summary>
    public DemoSettings Bind(ParseResult parse) =>
        new(parse.GetValue(_bytes), parse.GetValue(_loss), parse.GetValue(_seed), parse.GetValue(_pcap), parse.GetValue(_keyLog), parse.GetValue(_quiet))
        {
            RealTime = parse.GetValue(_realTime),
        };

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        DemoSettings settings = Bind(parse);
        var output = new DemoConsole(console.Out, settings.Quiet);
        DemoResult result = DemoRun.Run(settings, output);

        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
        double wallSeconds = Math.Max(result.WallClock.TotalSeconds, 1e-6);
        string time = result.VirtualTime
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds:0.000} s simulated time, {result.WallClock.TotalSeconds:0.000} s real")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds:0.000} s");
        string goodput = result.VirtualTime
            ? string.Create(CultureInfo.InvariantCulture, $"{result.Bytes * 8 / seconds / 1e6:0.0} Mbit/s simulated goodput")
            : string.Create(CultureInfo.InvariantCulture, $"{result.Bytes * 8 / wallSeconds / 1e6:0.0} Mbit/s wall-clock goodput");
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"demo: {result.Bytes} bytes over HTTPS verified in {time} ({goodput}), " +
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
