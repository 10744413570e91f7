using System.Diagnostics;
using System.Text.RegularExpressions;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Tests;

/// <summary><c>protocols demo</c>: HTTPS between two user-space stacks, traced and verified.</summary>
public sealed class DemoTests
{
    private static readonly Regex Summary = new(
        @"^demo: (?<bytes>\d+) bytes over HTTPS verified in \d+\.\d{3} s(?<simulated> simulated time, \d+\.\d{3} s real)? \(\d+\.\d Mbit/s (?<kind>simulated|wall-clock) goodput\), (?<rtx>\d+) retransmissions \((?<lost>\d+) frames lost\), TLS 1\.3 TLS_[A-Z0-9_]+$",
        RegexOptions.CultureInvariant);

    [Fact]
    public void Demo_fetches_over_tls13_and_traces_handshake_hello_data_and_close()
    {
        (int code, string stdout, string stderr) = Captures.Run("demo", "--bytes", "200k");
        Assert.True(code == 0, stderr + stdout);
        string[] lines = Captures.Lines(stdout);
        Match summary = Summary.Match(lines[^1]);
        Assert.True(summary.Success, lines[^1]);
        Assert.Equal("204800", summary.Groups["bytes"].Value);

        // TCP handshake, both hellos with SNI and version, elided bulk, HTTP status, the close.
        Assert.Contains(lines, l => l.Contains("client > IP 10.0.0.1.", StringComparison.Ordinal) && l.Contains("> 10.0.0.2.443: Flags [S]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("client < IP 10.0.0.2.443 > 10.0.0.1.", StringComparison.Ordinal) && l.Contains("Flags [S.]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("TLS client -> server: Handshake ClientHello, SNI demo.test, offers TLS 1.3", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("TLS server -> client: Handshake ServerHello, TLS 1.3, TLS_", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("HTTP: GET /bytes/204800 -> 200 OK, Content-Length 204800", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("more segments", StringComparison.Ordinal) && l.Contains("not shown", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("HTTP: body complete, 204800 bytes verified", StringComparison.Ordinal));
        int close = Array.FindIndex(lines, l => l.Contains("connection close", StringComparison.Ordinal));
        Assert.True(close > 0);
        Assert.Contains(lines[close..], l => l.StartsWith(' ') && l.Contains("client > ", StringComparison.Ordinal) && l.Contains("Flags [F", StringComparison.Ordinal));
        Assert.Contains(lines[close..], l => l.Contains("client < ", StringComparison.Ordinal) && l.Contains("Flags [F", StringComparison.Ordinal));

        // Readable: the bulk of the body is summarised, not printed per segment (200k is ~140 segments each way).
        Assert.True(lines.Length < 140, $"{lines.Length} lines");
    }

    [Fact]
    public void Lossy_demo_marks_retransmissions_in_the_trace_and_still_verifies()
    {
        (int code, string stdout, string stderr) = Captures.Run("demo", "--bytes", "300k", "--loss", "0.05", "--seed", "5");
        Assert.True(code == 0, stderr + stdout);
        string[] lines = Captures.Lines(stdout);
        Match summary = Summary.Match(lines[^1]);
        Assert.True(summary.Success, lines[^1]);
        Assert.Contains("5% loss (seed 5)", stdout, StringComparison.Ordinal);

        // The seed decides which frames the link drops, whatever the machine's load; how TCP repairs
        // them (fast retransmit or timeout) and so the retransmission count may not be.
        Assert.True(int.Parse(summary.Groups["lost"].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, lines[^1]);
        Assert.Contains(lines, l => l.Contains("Flags [S]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("TLS server -> client: Handshake ServerHello, TLS 1.3, TLS_", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("HTTP: body complete, 307200 bytes verified", StringComparison.Ordinal));
    }

    [Fact]
    public void Quiet_prints_only_the_summary()
    {
        (int code, string stdout, string stderr) = Captures.Run("demo", "--bytes", "64k", "--quiet", "--seed", "4");
        Assert.True(code == 0, stderr);
        Assert.Matches(Summary, Assert.Single(Captures.Lines(stdout)));
    }

    [Fact]
    public void Real_time_mode_runs_on_the_system_clock()
    {
        (int code, string stdout, string stderr) = Captures.Run("demo", "--bytes", "64k", "--quiet", "--real-time");
        Assert.True(code == 0, stderr);
        string summary = Assert.Single(Captures.Lines(stdout));
        Assert.Matches(Summary, summary);
        Assert.DoesNotContain("simulated", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Loss_of_one_is_refused()
    {
        (int code, _, string stderr) = Captures.Run("demo", "--loss", "1");
        Assert.Equal(2, code);
        Assert.Contains("--loss", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Loss_too_high_to_finish_is_accepted_and_fails_with_one_line_in_bounded_time()
    {
        var wall = Stopwatch.StartNew();
        (int code, string stdout, string stderr) = Captures.Run("demo", "--bytes", "64k", "--loss", "0.9", "--seed", "3", "--quiet");
        Assert.True(code == 1, stderr + stdout);
        string line = Assert.Single(Captures.Lines(stderr));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.True(wall.Elapsed < TimeSpan.FromSeconds(100), $"took {wall.Elapsed}");
    }

    [Fact]
    public void Demo_under_5_percent_loss_completes_and_writes_pcap_and_key_log()
    {
        using DemoFiles files = DemoFiles.Run("--bytes", "256k", "--loss", "0.05", "--seed", "7", "--quiet");
        Match summary = Summary.Match(files.Summary);
        Assert.True(summary.Success, files.Summary);
        Assert.Equal("262144", summary.Groups["bytes"].Value);
        Assert.True(int.Parse(summary.Groups["lost"].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, "seed 7 at 5 % loss drops frames");

        using (CaptureReader reader = CaptureFile.Open(files.Pcap))
        {
            Assert.True(reader.Count() > 150);
        }

        string[] keys = File.ReadAllLines(files.KeyLog);
        Assert.Contains(keys, l => Regex.IsMatch(l, "^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64,}$", RegexOptions.IgnoreCase));
        Assert.Contains(keys, l => l.StartsWith("SERVER_HANDSHAKE_TRAFFIC_SECRET ", StringComparison.Ordinal));
    }

    [TsharkFact]
    public void Tshark_decrypts_the_demo_capture_with_its_key_log()
    {
        using DemoFiles files = DemoFiles.Run("--bytes", "100000", "--loss", "0.05", "--seed", "11", "--quiet");
        string output = DemoFiles.Tool(TsharkTheoryAttribute.Tshark!,
            // The capture is taken at the client: segments lost on the way in are missing and their
            // retransmissions come later, so tshark must reassemble out of order.
            "-r", files.Pcap, "-o", $"tls.keylog_file:{files.KeyLog}", "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "http", "-T", "fields",
            "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code", "-e", "http.content_length");
        Assert.Contains("GET\t/bytes/100000", output, StringComparison.Ordinal);
        Assert.Contains("200\t100000", output, StringComparison.Ordinal);

        string hello = DemoFiles.Tool(TsharkTheoryAttribute.Tshark!, "-r", files.Pcap, "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tls.handshake.extensions_server_name");
        Assert.Equal("demo.test", hello.Trim());
    }
}

/// <summary>A fact that needs tshark on PATH; reported skipped where it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class TsharkFactAttribute : FactAttribute
{
    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? (TsharkTheoryAttribute.Tshark is null ? "tshark is not installed" : null);
        set => base.Skip = value;
    }
}

/// <summary>
/// Runs the demo as its own process: .NET fixes the TLS key log file at the first SslStream of a
/// process, and this test process makes many, so --keylog is only honest in a fresh one.
/// </summary>
internal sealed class DemoFiles : IDisposable
{
    private readonly string _directory;

    private DemoFiles(string directory, string summary)
    {
        _directory = directory;
        Summary = summary;
    }

    public string Pcap => Path.Combine(_directory, "demo.pcap");

    public string KeyLog => Path.Combine(_directory, "demo.keys");

    public string Summary { get; }

    public static DemoFiles Run(params string[] args)
    {
        string directory = Directory.CreateTempSubdirectory("protocols-demo").FullName;
        string output = Tool(DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "protocols.dll"), "demo", .. args,
            "--pcap", Path.Combine(directory, "demo.pcap"), "--keylog", Path.Combine(directory, "demo.keys")]);
        return new DemoFiles(directory, Captures.Lines(output).Single());
    }

    public static string Tool(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), $"{program} did not finish");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {error.Result}");
        return output;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
}
