using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// HTTP/2 between kernel tools and the <c>protocols</c> processes over TUN: curl with
/// <c>--http2</c> and <c>--http1.1</c> against <c>serve --https</c> (Kestrel over the stack), h2c
/// with prior knowledge against <c>serve --http</c>, h2load with 100 concurrent streams over 10
/// connections, and our <c>get --http2</c> against nginx as an HTTP/2 server.
/// </summary>
public sealed class Http2ServeProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static readonly string Kernel = KernelPeer.KernelAddress.ToString();
    private static readonly string Stack = KernelPeer.StackAddress.ToString();

    [InteropFact(Tools = ["curl"])]
    public async Task Curl_speaks_HTTP2_and_HTTP11_to_serve_HTTPS_and_h2c_to_serve_HTTP()
    {
        const int Length = 1_000_000;
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(Stack);
        using ServeProcess serve = await link.ServeAsync(Limit, "--https", "443", "--http", "80", "--cert", certificate, "--key", key);
        string expected = TcpTestData.PatternSha256(Length);

        foreach ((string flag, string version, string url) in new[]
        {
            ("--http2", "2", $"https://{Stack}/bytes/{Length}"),
            ("--http1.1", "1.1", $"https://{Stack}/bytes/{Length}"),
            ("--http2-prior-knowledge", "2", $"http://{Stack}/bytes/{Length}"),
            ("--http1.1", "1.1", $"http://{Stack}/bytes/{Length}"),
        })
        {
            string file = dir[$"curl-{version}-{url.Split(':')[0]}.bin"];
            ToolResult curl = KernelTools.Shell(link.Kernel, Limit, $"curl -sS --fail --max-time 60 --cacert {ca.CertificateFile} {flag} -w '%{{http_version}}' -o {file} {url}");
            Assert.True(curl.ExitCode == 0, $"{flag} {url}: {TestNamespace.Describe(curl)}");
            Assert.Equal(version, curl.Output.Trim());
            Assert.Equal(expected, KernelTools.Sha256OfFile(file));
            output.WriteLine($"curl {flag} {url}: HTTP/{curl.Output.Trim()}, {Length} bytes verified");
        }

        // POST /echo over h2 streams the body back.
        string body = dir.WriteRandomFile("body.bin", 300_000);
        ToolResult echo = KernelTools.Shell(link.Kernel, Limit, $"curl -sS --fail --max-time 60 --cacert {ca.CertificateFile} --http2 --data-binary @{dir["body.bin"]} -o {dir["echo.bin"]} https://{Stack}/echo");
        Assert.True(echo.ExitCode == 0, TestNamespace.Describe(echo));
        Assert.Equal(body, KernelTools.Sha256OfFile(dir["echo.bin"]));

        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
    }

    [InteropFact(Tools = ["h2load"])]
    public async Task H2load_with_100_streams_over_10_connections_has_no_failures()
    {
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(Stack);
        using ServeProcess serve = await link.ServeAsync(Limit, "--https", "443", "--cert", certificate, "--key", key);

        ToolResult load = KernelTools.Shell(link.Kernel, Limit, $"timeout 100 h2load -n 20000 -c 10 -m 100 https://{Stack}/bytes/1000");
        output.WriteLine(load.Output);
        Assert.True(load.ExitCode == 0, TestNamespace.Describe(load));
        Assert.Contains("requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout", load.Output, StringComparison.Ordinal);
        Assert.Contains("status codes: 20000 2xx", load.Output, StringComparison.Ordinal);
        Assert.Contains("Application protocol: h2", load.Output, StringComparison.Ordinal);

        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
    }

    [InteropFact(Tools = ["nginx"])]
    public void Get_HTTP2_against_nginx()
    {
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 1 << 20);
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(Kernel);
        using KernelServer nginx = KernelTlsServers.NginxHttp2(link.Kernel, dir, certificate, key, Kernel, 8443, 8080);

        foreach ((string url, string[] extra) in new[]
        {
            ($"https://{Kernel}:8443/data.bin", new[] { "--http2" }),
            ($"http://{Kernel}:8080/data.bin", new[] { "--http2" }),
            ($"https://{Kernel}:8443/data.bin", Array.Empty<string>()),
        })
        {
            string file = dir[$"get-{url.Split(':')[0]}-{extra.Length}.bin"];
            string[] trust = url.StartsWith("https:", StringComparison.Ordinal) ? ["--cacert", ca.CertificateFile] : [];
            ToolResult get = link.Run(Limit, ["get", url, .. trust, "-o", file, "--timeout", "60", .. extra]);
            Assert.True(get.ExitCode == 0, $"{url} {string.Join(' ', extra)}: {TestNamespace.Describe(get)}");
            Assert.Equal(sha, KernelTools.Sha256OfFile(file));
            Assert.Contains(", HTTP/2", get.Error, StringComparison.Ordinal); // the version on stderr: h2 by ALPN when offered
            output.WriteLine($"get {url} {string.Join(' ', extra)}: {get.Error.Trim()}");
        }

        // --http2 against a server without h2: a one-line failure, exit 1.
        ToolResult refused = link.Run(Limit, ["get", $"https://{Kernel}:8444/data.bin", "--cacert", ca.CertificateFile, "-o", dir["no-h2.bin"], "--timeout", "60", "--http2"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Single(refused.Error.Trim().Split('\n'));
    }
}
