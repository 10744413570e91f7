using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// The real <c>protocols serve --http/--echo</c> and <c>protocols get</c> processes against the
/// kernel's curl, socat, nginx and python's http.server (CLI.md), over TUN and over the raw device.
/// </summary>
public sealed class TcpServeProcessTests(ITestOutputHelper output)
{
    private const int Megabytes20 = 20 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static readonly string Kernel = KernelPeer.KernelAddress.ToString();
    private static readonly string Stack = KernelPeer.StackAddress.ToString();

    public static TheoryData<string> Media => ["tun", "raw"];

    /// <summary>Both media, each over IPv4 and IPv6.</summary>
    public static TheoryData<string, string> MediaAndFamilies => new() { { "tun", "v4" }, { "tun", "v6" }, { "raw", "v4" }, { "raw", "v6" } };

    [InteropTheory(Tools = ["curl", "socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Curl_and_socat_against_serve(string medium, string family)
    {
        bool ipv6 = KernelPeer.IsIpv6(family);
        string stack = ipv6 ? KernelPeer.Host(KernelPeer.StackAddress6) : KernelPeer.StackAddress.ToString();
        string curlFamily = ipv6 ? "-6g" : "-4"; // -g: the brackets of an IPv6 URL are no glob
        using var link = CliLink.Create(medium, ipv6);
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("up.bin", Megabytes20);
        using ServeProcess serve = await link.ServeAsync(Limit, "--http", "80", "--echo", "7");

        // GET /bytes/N: 20 MiB of i % 251 down to curl.
        var clock = Stopwatch.StartNew();
        ToolResult get = link.Kernel.Exec(Limit, "curl", curlFamily, "-sS", "--fail", "--max-time", "100", "-o", dir["bytes.bin"], $"http://{stack}:80/bytes/{Megabytes20}");
        TimeSpan getTime = clock.Elapsed;
        Assert.True(get.ExitCode == 0, TestNamespace.Describe(get));
        Assert.Equal(TcpTestData.PatternSha256(Megabytes20), KernelTools.Sha256OfFile(dir["bytes.bin"]));

        // POST /echo: 20 MiB up and the same 20 MiB back.
        clock.Restart();
        ToolResult post = link.Kernel.Exec(Limit, "curl", curlFamily, "-sS", "--fail", "--max-time", "100", "-H", "Expect:", "--data-binary", "@" + dir["up.bin"], "-o", dir["echo.bin"], $"http://{stack}:80/echo");
        TimeSpan postTime = clock.Elapsed;
        Assert.True(post.ExitCode == 0, TestNamespace.Describe(post));
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["echo.bin"]));

        // The TCP echo server, through socat (half-close: socat shuts its write side at EOF).
        ToolResult socat = KernelTools.Shell(link.Kernel, Limit, $"socat -b 65536 -t 30 - TCP:{stack}:7 < {dir["up.bin"]} > {dir["socat.bin"]}");
        Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["socat.bin"]));

        // A port serve does not listen on: refused.
        ToolResult refused = link.Kernel.Exec(Limit, "curl", curlFamily, "-sSv", "--max-time", "20", $"http://{stack}:81/");
        Assert.Equal(7, refused.ExitCode);
        Assert.Contains("Connection refused", refused.Error, StringComparison.Ordinal);

        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
        output.WriteLine($"{medium} {family}: curl GET /bytes/20MiB from serve {getTime.TotalSeconds:F2} s ({Megabytes20 * 8 / getTime.TotalSeconds / 1e6:F0} Mbit/s); POST /echo 20 MiB each way {postTime.TotalSeconds:F2} s");
    }

    [InteropTheory(Tools = ["nginx", "python3", "ss"])]
    [MemberData(nameof(MediaAndFamilies))]
    public void Get_against_nginx_and_python_HTTP_server(string medium, string family)
    {
        // Over IPv6 nginx listens on [::]:8080 and python on ::, and get fetches http://[2001:db8:66::1]:PORT/.
        bool ipv6 = KernelPeer.IsIpv6(family);
        string kernel = ipv6 ? KernelPeer.Host(KernelPeer.KernelAddress6) : KernelPeer.KernelAddress.ToString();
        using var link = CliLink.Create(medium, ipv6);
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        using KernelServer nginx = KernelServer.Nginx(link.Kernel, dir, ipv6 ? "[::]" : kernel, 8080);
        using KernelServer python = KernelServer.PythonHttp(link.Kernel, dir, ipv6 ? "::" : kernel, 8000);

        foreach ((string name, int port) in new[] { ("nginx", 8080), ("python3 -m http.server", 8000) })
        {
            string file = dir[$"get-{port}.bin"];
            var clock = Stopwatch.StartNew();
            ToolResult get = link.Run(Limit, "get", $"http://{kernel}:{port}/data.bin", "-o", file, "--timeout", "100");
            clock.Stop();
            Assert.True(get.ExitCode == 0, TestNamespace.Describe(get));
            Assert.Equal(sha, KernelTools.Sha256OfFile(file));
            output.WriteLine($"{medium} {family}: protocols get from {name}, 20 MiB: {clock.Elapsed.TotalSeconds:F2} s including process start; {get.Error.Trim().Replace('\n', ' ')}");
        }

        // Nothing listens on the kernel's port 9: get fails with a one-line reason.
        ToolResult refused = link.Run(Limit, "get", $"http://{kernel}:9/", "--timeout", "30");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("refused", refused.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Single(refused.Error.Trim().Split('\n'));
    }

    [InteropTheory(Tools = ["curl", "openssl"])]
    [MemberData(nameof(Media))]
    public async Task Curl_over_IPv6_against_serve_HTTPS(string medium)
    {
        using var link = CliLink.Create(medium, ipv6: true);
        using var dir = new TempDir();
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(KernelPeer.StackAddress6.ToString());
        using ServeProcess serve = await link.ServeAsync(Limit, "--https", "443", "--http", "80", "--cert", certificate, "--key", key);
        string url = $"https://{KernelPeer.Host(KernelPeer.StackAddress6)}";
        foreach (string version in new[] { "--tlsv1.2 --tls-max 1.2", "--tlsv1.3" })
        {
            string file = dir["https.bin"];
            ToolResult curl = KernelTools.Shell(link.Kernel, Limit, $"curl -6 -g -sSv --fail --max-time 60 --cacert {ca.CertificateFile} {version} -o {file} {url}/bytes/1000000");
            Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl));
            Assert.Equal(TcpTestData.PatternSha256(1_000_000), KernelTools.Sha256OfFile(file));
        }

        // HTTP/2 by ALPN over IPv6 too.
        ToolResult h2 = KernelTools.Shell(link.Kernel, Limit, $"curl -6 -g -sS --http2 --fail --max-time 60 --cacert {ca.CertificateFile} -o /dev/null -w '%{{http_version}}' {url}/bytes/100000");
        Assert.True(h2.ExitCode == 0, TestNamespace.Describe(h2));
        Assert.Equal("2", h2.Output.Trim());
        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
        Assert.Contains("IPv6 received", errors, StringComparison.Ordinal);
        output.WriteLine($"{medium}: {errors.Trim()}");
    }

    [InteropFact(Tools = ["python3"])]
    public async Task A_thousand_concurrent_kernel_connections_to_serve_HTTP()
    {
        const int Count = 1000;
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        File.WriteAllText(dir["clients.py"], TcpTestData.ConcurrentClientScript);
        using ServeProcess serve = await link.ServeAsync(Limit, "--http", "80");

        var clock = Stopwatch.StartNew();
        ToolResult clients = link.Kernel.Exec(Limit, "python3", dir["clients.py"], Stack, "80", Count.ToString(CultureInfo.InvariantCulture), "http");
        clock.Stop();
        Assert.True(clients.ExitCode == 0, TestNamespace.Describe(clients));
        Assert.Contains($"connected {Count}/{Count}", clients.Output, StringComparison.Ordinal);
        Assert.Contains($"answered {Count}/{Count}", clients.Output, StringComparison.Ordinal);
        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
        output.WriteLine($"tun: {Count} concurrent HTTP connections from the kernel to protocols serve answered in {clock.Elapsed.TotalSeconds:F2} s");
    }
}
