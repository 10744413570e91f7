using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Protocols.Tests.Shared;

namespace Protocols.Tls.Tests.Security;

public sealed class KeyLogAndCertificateTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(SslProtocols.Tls13, new[] { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" })]
    [InlineData(SslProtocols.Tls12, new[] { "CLIENT_RANDOM" })]
    public async Task Key_log_holds_the_secrets_of_this_connection_keyed_by_its_client_random(SslProtocols version, string[] labels)
    {
        Assert.Equal(TestCertificates.KeyLogPath, TlsKeyLog.Path);
        using LoopbackPair pair = await LoopbackPair.CreateAsync();
        Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, TestCertificates.ServerOptions() with { EnabledProtocols = version });
        await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "server.test", TestCertificates.TrustServer() with { EnabledProtocols = version }).WaitAsync(Limit);
        await using SslStream accepted = await server.WaitAsync(Limit);
        await client.WriteAsync(new byte[] { 1 });
        await accepted.ReadExactlyAsync(new byte[1]);

        string random = Convert.ToHexString(TlsHandshake.GetTrace(client)!.ClientRandom!.Value.Span).ToLowerInvariant();
        string[] lines = File.ReadAllLines(TestCertificates.KeyLogPath);
        foreach (string label in labels)
        {
            // NSS key log format: LABEL <client random, 64 hex digits> <secret, hex>.
            string line = Assert.Single(lines.Where(l => l.StartsWith($"{label} {random} ", StringComparison.OrdinalIgnoreCase)).Distinct());
            string secret = line.Split(' ')[2];
            Assert.Matches("^[0-9a-fA-F]{64,}$", secret);
        }
    }

    [Fact]
    public void Key_log_cannot_move_once_tls_started()
    {
        // As after any handshake of this library (tests run in any order).
        TlsKeyLog.MarkTlsStarted();
        Assert.Throws<InvalidOperationException>(() => TlsKeyLog.Enable(Path.Combine(Path.GetTempPath(), "elsewhere.keys")));
        TlsKeyLog.Enable(TestCertificates.KeyLogPath);
    }

    [Fact]
    public void Self_signed_certificate_is_ecdsa_p256_with_the_san_entries_and_a_key()
    {
        using X509Certificate2 certificate = TlsCertificates.CreateSelfSigned(["a.test", "b.test"], [IPAddress.Parse("10.0.0.2")]);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("CN=a.test", certificate.Subject);
        Assert.Equal("1.2.840.10045.2.1", certificate.PublicKey.Oid.Value);
        using var key = certificate.GetECDsaPublicKey()!;
        Assert.Equal(256, key.KeySize);
        X509SubjectAlternativeNameExtension san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["a.test", "b.test"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("10.0.0.2")], san.EnumerateIPAddresses());
        Assert.True(certificate.MatchesHostname("b.test"));
        Assert.True(certificate.MatchesHostname("10.0.0.2"));
        Assert.False(certificate.MatchesHostname("c.test"));
        Assert.Throws<ArgumentException>(() => TlsCertificates.CreateSelfSigned([], []));
    }

    [Fact]
    public async Task Pem_round_trip_serves_tls_and_keeps_the_pin()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-pem").FullName;
        try
        {
            string certPath = Path.Combine(directory, "cert.pem");
            string keyPath = Path.Combine(directory, "key.pem");
            TlsCertificates.WritePemFiles(TestCertificates.Server, certPath, keyPath);
            Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(certPath), StringComparison.Ordinal);
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(keyPath), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            }

            using X509Certificate2 loaded = TlsCertificates.LoadPem(certPath, keyPath);
            Assert.Equal(TestCertificates.Server.Thumbprint, loaded.Thumbprint);
            Assert.Equal(TlsCertificates.GetSpkiSha256(TestCertificates.Server), TlsCertificates.GetSpkiSha256(loaded));
            X509Certificate2Collection bundle = TlsCertificates.LoadPemBundle(certPath);

            using LoopbackPair pair = await LoopbackPair.CreateAsync();
            Task<SslStream> server = TlsHandshake.AuthenticateAsServerAsync(pair.Server, new TlsServerOptions { CertificateContext = TlsCertificates.LoadPemContext(certPath, keyPath) });
            await using SslStream client = await TlsHandshake.AuthenticateAsClientAsync(pair.Client, "localhost", new TlsClientOptions { TrustedCertificates = bundle }).WaitAsync(Limit);
            await using SslStream accepted = await server.WaitAsync(Limit);
            Assert.True(client.IsAuthenticated);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [ToolFact("/usr/bin/openssl")]
    public async Task Spki_pin_matches_what_openssl_computes()
    {
        string directory = Directory.CreateTempSubdirectory("protocols-pin").FullName;
        try
        {
            string certPath = Path.Combine(directory, "cert.pem");
            await File.WriteAllTextAsync(certPath, TlsCertificates.ExportCertificatePem(TestCertificates.Server));
            var start = new ProcessStartInfo("/bin/sh", ["-c", $"openssl x509 -in '{certPath}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"])
            {
                RedirectStandardOutput = true,
            };
            using Process process = Process.Start(start)!;
            string pin = (await process.StandardOutput.ReadToEndAsync()).Trim();
            await process.WaitForExitAsync();
            Assert.Equal(pin, TlsCertificates.GetSpkiSha256(TestCertificates.Server));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
