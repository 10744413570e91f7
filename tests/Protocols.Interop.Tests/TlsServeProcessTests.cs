using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// HTTPS between the kernel's TLS tools and the <c>protocols</c> processes over TUN (issue 5):
/// our <c>get</c> against <c>openssl s_server</c> and nginx pinned to TLS 1.2 and to TLS 1.3;
/// <c>curl --cacert</c> and <c>openssl s_client</c> against our <c>serve --https</c>, captured and
/// decrypted by tshark with curl's key log.
/// </summary>
public sealed class TlsServeProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private static readonly string Kernel = KernelPeer.KernelAddress.ToString();
    private static readonly string Stack = KernelPeer.StackAddress.ToString();

    [InteropFact(Tools = ["openssl", "nginx", "ss"])]
    public void Get_against_OpenSSL_server_and_nginx_with_TLS_12_and_13()
    {
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 1 << 20);
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(Kernel);
        using KernelServer s12 = KernelTlsServers.OpenSslServer(link.Kernel, dir["www"], certificate, key, Kernel, 4412, "1.2");
        using KernelServer s13 = KernelTlsServers.OpenSslServer(link.Kernel, dir["www"], certificate, key, Kernel, 4413, "1.3");
        using KernelServer nginx = KernelTlsServers.Nginx(link.Kernel, dir, certificate, key, Kernel, 8412, 8413);

        foreach ((string server, int port, string version) in new[] { ("openssl s_server", 4412, "1.2"), ("openssl s_server", 4413, "1.3"), ("nginx", 8412, "1.2"), ("nginx", 8413, "1.3") })
        {
            string file = dir[$"get-{port}.bin"];
            ToolResult get = link.Run(Limit, "get", $"https://{Kernel}:{port}/data.bin", "--cacert", ca.CertificateFile, "-o", file, "--timeout", "60");
            Assert.True(get.ExitCode == 0, $"{server} TLS {version}: {TestNamespace.Describe(get)}");
            Assert.Equal(sha, KernelTools.Sha256OfFile(file));
            Assert.Contains(version, get.Error, StringComparison.Ordinal);
            output.WriteLine($"get from {server} (TLS {version} only): {get.Error.Trim().Replace('\n', ' ')}");
        }

        // Without the CA, the kernel's certificate is not trusted: a one-line failure, exit 1.
        ToolResult untrusted = link.Run(Limit, "get", $"https://{Kernel}:8413/data.bin", "-o", dir["untrusted.bin"], "--timeout", "60");
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Single(untrusted.Error.Trim().Split('\n'));
    }

    [InteropFact(Tools = ["openssl", "curl", "tcpdump", "tshark"])]
    public async Task Curl_and_OpenSSL_client_against_serve_HTTPS_and_tshark_decrypts_the_capture()
    {
        const int Length = 1_000_000;
        using var link = CliLink.Create("tun");
        using var dir = new TempDir();
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue(Stack);
        using ServeProcess serve = await link.ServeAsync(Limit, "--https", "443", "--cert", certificate, "--key", key);
        string keys = dir["keys.log"];
        string expected = TcpTestData.PatternSha256(Length);

        using (PacketCapture capture = PacketCapture.Start(link.Kernel, "ptun0", dir["https.pcap"], "tcp port 443"))
        {
            foreach ((string version, string flags) in new[] { ("1.2", "--http1.1 --tlsv1.2 --tls-max 1.2"), ("1.3", "--http1.1 --tlsv1.3") })
            {
                string file = dir[$"curl-{version}.bin"];
                ToolResult curl = KernelTools.Shell(link.Kernel, Limit, $"SSLKEYLOGFILE={keys} curl -sSv --fail --max-time 60 --cacert {ca.CertificateFile} {flags} -o {file} https://{Stack}/bytes/{Length}");
                Assert.True(curl.ExitCode == 0, $"TLS {version}: {TestNamespace.Describe(curl)}");
                Assert.Contains($"SSL connection using TLSv{version}", curl.Error, StringComparison.Ordinal);
                Assert.Equal(expected, KernelTools.Sha256OfFile(file));
            }

            foreach (string flag in new[] { "-tls1_2", "-tls1_3" })
            {
                ToolResult client = KernelTools.Shell(
                    link.Kernel,
                    Limit,
                    $"printf 'GET / HTTP/1.1\\r\\nHost: {Stack}\\r\\nConnection: close\\r\\n\\r\\n' | timeout 60 openssl s_client -quiet -ignore_unexpected_eof -connect {Stack}:443 -CAfile {ca.CertificateFile} -verify_return_error {flag}");
                // Kestrel ends a TLS connection with FIN and no close_notify (on any transport); OpenSSL 3
                // calls that "unexpected eof" unless told to accept it. The response is complete either way.
                Assert.True(client.ExitCode == 0, $"s_client {flag}: {TestNamespace.Describe(client)}");
                Assert.Contains("verify return:1", client.Error, StringComparison.Ordinal);
                Assert.StartsWith("HTTP/1.1 200", client.Output, StringComparison.Ordinal);
                Assert.Contains("GET /bytes/N", client.Output, StringComparison.Ordinal);
            }

            capture.Stop();
        }

        string[] http = KernelTlsServers.DecryptedHttp(dir["https.pcap"], keys, 443);
        output.WriteLine("tshark decrypted: " + string.Join("; ", http));
        Assert.Equal(2, http.Count(static l => l.StartsWith($"GET|/bytes/{Length}||", StringComparison.Ordinal)));
        Assert.Equal(2, http.Count(static l => l == "||200|443"));
        (int code, string errors) = serve.Stop();
        Assert.True(code == 0, errors);
    }
}
