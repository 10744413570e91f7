using System.Globalization;
using Protocols.Cli.CommandLine;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Verbs;

/// <summary>
/// <c>protocols demo</c>: the stack-to-stack HTTPS exchange of CLI.md. Until the TCP and TLS layers
/// exist it decodes a built-in capture of a real TLS handshake (tests/captures/tls-hello.pcap)
/// and says so.
/// </summary>
internal sealed class DemoVerb : Verb
{
    /// <summary>The manifest name of the embedded sample capture.</summary>
    public const string SampleResource = "Protocols.Cli.Samples.tls-hello.pcap";

    /// <inheritdoc/>
    public override string Name => "demo";

    /// <inheritdoc/>
    public override string Summary => "two stacks exchange HTTPS in-process (for now: decodes a built-in sample capture)";

    /// <inheritdoc/>
    public override string Usage => "protocols demo [--bytes N] [--loss P] [--seed S] [--pcap FILE] [--keylog FILE] [--quiet]";

    /// <inheritdoc/>
    public override string Description =>
        "Two stacks (client 10.0.0.1, server 10.0.0.2) on an in-process simulated network: the\n" +
        "client fetches /bytes/N over TLS 1.3 and verifies every byte. That exchange arrives with\n" +
        "the TCP and TLS layers; until then demo decodes a built-in capture of a real Linux TLS\n" +
        "handshake (ClientHello with SNI, ServerHello) with this project's decoder.";

    /// <inheritdoc/>
    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--bytes", OptionKind.PositiveInteger, "N", "bytes to fetch (default 1M; suffixes k, M, G)"),
        new("--loss", OptionKind.Fraction, "P", "fraction of frames dropped on the link, 0 to 1 (default 0)"),
        new("--seed", OptionKind.Integer, "S", "seed of the simulated link's randomness (default 1)"),
        new("--pcap", OptionKind.Path, "FILE", "write every frame to FILE as pcap"),
        new("--keylog", OptionKind.Path, "FILE", "write TLS secrets to FILE in NSS key log format"),
        new("--quiet", OptionKind.Flag, string.Empty, "print only the summary line"),
    ];

    /// <inheritdoc/>
    public override int Run(ParsedArguments arguments, VerbConsole console)
    {
        long bytes = arguments.GetInteger("--bytes", 1 << 20);
        double loss = arguments.GetFraction("--loss", 0);
        long seed = arguments.GetInteger("--seed", 1);
        string? pcap = arguments.GetPath("--pcap");
        string? keylog = arguments.GetPath("--keylog");
        bool quiet = arguments.Has("--quiet");

        console.Error.WriteLine("note: the stack-to-stack HTTPS exchange arrives with the TCP and TLS layers; " +
            "this demo decodes a built-in capture of a real Linux TLS handshake instead.");
        console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"note: --bytes {bytes}, --loss {loss}, --seed {seed}{(keylog is null ? string.Empty : $", --keylog {keylog}")} are accepted but not used yet."));

        using Stream sample = typeof(DemoVerb).Assembly.GetManifestResourceStream(SampleResource)
            ?? throw new InvalidOperationException($"the built-in sample capture {SampleResource} is missing from the assembly");
        using var buffered = new MemoryStream();
        sample.CopyTo(buffered);
        buffered.Position = 0;
        long frames = DecodeVerb.Decode(buffered, quiet ? TextWriter.Null : console.Out, json: false);

        if (pcap is not null)
        {
            buffered.Position = 0;
            using CaptureReader reader = CaptureFile.Open(buffered, leaveOpen: true);
            using PcapWriter writer = PcapWriter.Create(pcap, LinkType.Ethernet);
            foreach (CaptureFrame frame in reader)
            {
                writer.WriteFrame(frame);
            }
        }

        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"demo: decoded {frames} frames of the built-in TLS handshake capture{(pcap is null ? string.Empty : $", wrote them to {pcap}")}; no stack-to-stack transfer yet"));
        return CliApp.Success;
    }
}
