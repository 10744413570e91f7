using System.Globalization;

namespace Protocols.Interop.Tests;

/// <summary>
/// A private CA made with the <c>openssl</c> command for one test, and ECDSA P-256 server
/// certificates it signs for IP addresses (subjectAltName IP:..., serverAuth), all PEM files in
/// the test's directory.
/// </summary>
public sealed class TestCa
{
    private readonly TempDir _dir;

    private TestCa(TempDir dir) => _dir = dir;

    /// <summary>The CA certificate (what <c>--cacert</c>/<c>-CAfile</c> trust).</summary>
    public string CertificateFile => _dir["ca.pem"];

    /// <summary>Makes the CA (bounded by the tool timeout).</summary>
    public static TestCa Create(TempDir dir)
    {
        OpenSsl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", dir["ca.key"], "-out", dir["ca.pem"], "-days", "2", "-subj", "/CN=protocols interop test CA");
        return new TestCa(dir);
    }

    /// <summary>Issues a server certificate for <paramref name="ip"/>; returns (certificate file, key file).</summary>
    public (string Certificate, string Key) Issue(string ip)
    {
        string name = "server-" + ip.Replace('.', '-');
        File.WriteAllText(_dir[name + ".ext"], $"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
        OpenSsl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", _dir[name + ".key"], "-out", _dir[name + ".csr"], "-subj", "/CN=" + ip);
        OpenSsl("x509", "-req", "-in", _dir[name + ".csr"], "-CA", _dir["ca.pem"], "-CAkey", _dir["ca.key"], "-CAcreateserial",
            "-out", _dir[name + ".pem"], "-days", "2", "-extfile", _dir[name + ".ext"]);
        return (_dir[name + ".pem"], _dir[name + ".key"]);
    }

    private static void OpenSsl(params string[] arguments)
    {
        ToolResult result = InteropEnvironment.Run("openssl", arguments, TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)}: {TestNamespace.Describe(result)}");
        }
    }
}

/// <summary>Kernel-side TLS servers for the interop tests.</summary>
public static class KernelTlsServers
{
    /// <summary>
    /// <c>openssl s_server -WWW</c> on <paramref name="address"/>:<paramref name="port"/> serving the
    /// files of <paramref name="www"/> over exactly TLS <paramref name="version"/> ("1.2" or "1.3").
    /// </summary>
    public static KernelServer OpenSslServer(TestNamespace ns, string www, string certificate, string key, string address, int port, string version)
    {
        string flag = version == "1.3" ? "-tls1_3" : "-tls1_2";
        string line = $"cd '{www}' && exec openssl s_server -quiet -accept {address}:{port} -cert '{certificate}' -key '{key}' {flag} -WWW";
        return KernelServer.Start(ns, port, $"openssl s_server {flag}", "sh", "-c", line);
    }

    /// <summary>
    /// nginx (no master, no daemon, files in <paramref name="dir"/>) serving <paramref name="dir"/>/www
    /// with TLS 1.2 only on <paramref name="tls12Port"/> and TLS 1.3 only on <paramref name="tls13Port"/>.
    /// </summary>
    public static KernelServer Nginx(TestNamespace ns, TempDir dir, string certificate, string key, string address, int tls12Port, int tls13Port)
    {
        string Server(int port, string protocol) => $$"""
              server {
                listen {{address}}:{{port}} ssl;
                ssl_certificate {{certificate}};
                ssl_certificate_key {{key}};
                ssl_protocols {{protocol}};
                root {{dir["www"]}};
              }
            """;
        string conf = KernelServer.WriteNginxConfig(dir, "nginx-tls", workerConnections: 256, $$"""
            {{Server(tls12Port, "TLSv1.2")}}
            {{Server(tls13Port, "TLSv1.3")}}
            """);
        KernelServer server = KernelServer.Start(ns, tls12Port, "nginx (TLS)", "nginx", "-c", conf, "-p", dir.Path, "-e", dir["nginx-tls-error.log"]);
        KernelTools.WaitForListener(ns, tls13Port, server.Process, () => server.Output);
        return server;
    }

    /// <summary>
    /// nginx as an HTTP/2 server for <paramref name="dir"/>/www: h2 and http/1.1 by ALPN over TLS on
    /// <paramref name="tlsPort"/>, HTTP/1.1 only over TLS on <paramref name="tlsPort"/> + 1, and
    /// HTTP/2 with prior knowledge (h2c) on <paramref name="cleartextPort"/>.
    /// </summary>
    public static KernelServer NginxHttp2(TestNamespace ns, TempDir dir, string certificate, string key, string address, int tlsPort, int cleartextPort)
    {
        string conf = KernelServer.WriteNginxConfig(dir, "nginx-h2", workerConnections: 256, $$"""
              ssl_certificate {{certificate}};
              ssl_certificate_key {{key}};
              server { listen {{address}}:{{tlsPort}} ssl http2; root {{dir["www"]}}; }
              server { listen {{address}}:{{tlsPort + 1}} ssl; root {{dir["www"]}}; }
              server { listen {{address}}:{{cleartextPort}} http2; root {{dir["www"]}}; }
            """);
        KernelServer server = KernelServer.Start(ns, tlsPort, "nginx (HTTP/2)", "nginx", "-c", conf, "-p", dir.Path, "-e", dir["nginx-h2-error.log"]);
        KernelTools.WaitForListener(ns, cleartextPort, server.Process, () => server.Output);
        KernelTools.WaitForListener(ns, tlsPort + 1, server.Process, () => server.Output);
        return server;
    }

    /// <summary>
    /// The HTTP messages tshark decrypts from a capture with an NSS key log, one line per message:
    /// <c>METHOD|URI||SRCPORT</c> for requests, <c>||CODE|SRCPORT</c> for responses.
    /// </summary>
    public static string[] DecryptedHttp(string pcap, string keyLog, params int[] tlsPorts)
    {
        var arguments = new List<string> { "-n", "-r", pcap, "-o", "tls.keylog_file:" + keyLog, "-o", "http.desegment_body:FALSE" };
        foreach (int port in tlsPorts)
        {
            arguments.AddRange(["-d", $"tcp.port=={port.ToString(CultureInfo.InvariantCulture)},tls"]);
        }

        arguments.AddRange(["-Y", "http.request || http.response", "-T", "fields", "-E", "separator=|", "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code", "-e", "tcp.srcport"]);
        ToolResult result = InteropEnvironment.Run("tshark", arguments, TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("tshark failed: " + TestNamespace.Describe(result));
        }

        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
