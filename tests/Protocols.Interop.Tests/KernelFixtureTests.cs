using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// The kernel-side fixtures of the TCP interop tests, checked kernel to kernel over a namespace's
/// loopback: when a TCP interop test fails, these say whether the tools or the stack are at fault.
/// </summary>
public sealed class KernelFixtureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [InteropFact(Tools = ["nginx", "python3", "socat", "curl", "ss"])]
    public void Nginx_python_and_socat_serve_a_file()
    {
        using var ns = new TestNamespace();
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 2 << 20);

        using KernelServer nginx = KernelServer.Nginx(ns, dir, "127.0.0.1", 8080);
        using KernelServer python = KernelServer.PythonHttp(ns, dir, "127.0.0.1", 8000);
        using KernelServer socat = KernelServer.Socat(ns, "127.0.0.1", 9000, $"OPEN:{dir["www/data.bin"]},rdonly", "-U");

        foreach ((string name, string url) in new[] { ("nginx", "http://127.0.0.1:8080/data.bin"), ("python", "http://127.0.0.1:8000/data.bin") })
        {
            string file = dir[name + ".out"];
            ToolResult curl = ns.Exec(Limit, "curl", "-sS", "--max-time", "50", "-o", file, url);
            Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl));
            Assert.Equal(sha, KernelTools.Sha256OfFile(file));
        }

        ToolResult fetch = KernelTools.Shell(ns, Limit, $"socat -u TCP:127.0.0.1:9000 CREATE:{dir["socat.out"]}");
        Assert.True(fetch.ExitCode == 0, TestNamespace.Describe(fetch));
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["socat.out"]));
        Assert.Equal(0, socat.WaitForExit(TimeSpan.FromSeconds(10)));
    }

    [InteropFact(Tools = ["nginx", "openssl", "curl", "tcpdump", "tshark", "ss"])]
    public void OpenSSL_server_and_nginx_serve_TLS_and_tshark_decrypts_with_the_key_log()
    {
        using var ns = new TestNamespace();
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 100_000);
        var ca = TestCa.Create(dir);
        (string certificate, string key) = ca.Issue("127.0.0.1");

        using KernelServer s12 = KernelTlsServers.OpenSslServer(ns, dir["www"], certificate, key, "127.0.0.1", 4412, "1.2");
        using KernelServer s13 = KernelTlsServers.OpenSslServer(ns, dir["www"], certificate, key, "127.0.0.1", 4413, "1.3");
        using KernelServer nginx = KernelTlsServers.Nginx(ns, dir, certificate, key, "127.0.0.1", 8412, 8413);
        string keys = dir["keys.log"];
        using (PacketCapture capture = PacketCapture.Start(ns, "lo", dir["tls.pcap"], "tcp"))
        {
            foreach ((int port, string version) in new[] { (4412, "1.2"), (4413, "1.3"), (8412, "1.2"), (8413, "1.3") })
            {
                string file = dir[$"out-{port}.bin"];
                ToolResult curl = KernelTools.Shell(ns, Limit, $"SSLKEYLOGFILE={keys} curl -sS --fail --max-time 30 --cacert {ca.CertificateFile} -o {file} https://127.0.0.1:{port}/data.bin");
                Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl));
                Assert.Equal(sha, KernelTools.Sha256OfFile(file));

                // Each server speaks exactly its version: curl limited to the other one fails.
                string other = version == "1.2" ? "--tlsv1.3" : "--tls-max 1.2";
                ToolResult refused = KernelTools.Shell(ns, Limit, $"curl -sS --max-time 30 --cacert {ca.CertificateFile} {other} -o /dev/null https://127.0.0.1:{port}/data.bin");
                Assert.NotEqual(0, refused.ExitCode);
            }

            capture.Stop();
        }

        string[] http = KernelTlsServers.DecryptedHttp(dir["tls.pcap"], keys, 4412, 4413, 8412, 8413);
        output.WriteLine(string.Join("; ", http));
        Assert.Equal(4, http.Count(static l => l.StartsWith("GET|/data.bin||", StringComparison.Ordinal)));
        foreach (int port in new[] { 4412, 4413, 8412, 8413 })
        {
            Assert.Contains($"||200|{port}", http);
        }
    }
}
