using System.Net;
using Protocols.Cli.Bench;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Get;
using Protocols.Cli.Serve;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Tests.Verbs;

public sealed class SettingsTests
{
    private static ParsedArguments Parse(Verb verb, params string[] args) =>
        ArgumentParser.Parse(verb.Name, args, verb.Options, verb.MinPositionals, verb.MaxPositionals, verb.PositionalName);

    [Fact]
    public void Serve_accepts_every_service_together_and_loads_pem_files()
    {
        string dir = Directory.CreateTempSubdirectory("protocols-serve-").FullName;
        try
        {
            string cert = Path.Combine(dir, "c.pem"), key = Path.Combine(dir, "k.pem");
            using (var certificate = TlsCertificates.CreateSelfSigned(["server.test"], [IPAddress.Parse("10.0.0.2")]))
            {
                TlsCertificates.WritePemFiles(certificate, cert, key);
            }

            ServeSettings settings = ServeSettings.From(Parse(new ServeVerb(),
                "--tun", "t0", "--address", "10.0.0.2/24", "--gateway", "10.0.0.1", "--http", "80", "--https", "443", "--cert", cert, "--key", key, "--echo", "7", "--udp-echo", "7"));
            Assert.Equal((ushort)80, settings.HttpPort);
            Assert.Equal((ushort)443, settings.HttpsPort);
            Assert.Equal((ushort)7, settings.EchoPort);
            Assert.Equal((ushort)7, settings.UdpEchoPort); // TCP and UDP port 7 are different services
            Assert.NotNull(settings.Certificate);
            Assert.Equal("CN=server.test", settings.Certificate.TargetCertificate.Subject);

            ServeSettings selfSigned = ServeSettings.From(Parse(new ServeVerb(), "--raw", "eth0", "--address", "10.0.0.2/24", "--https", "8443"));
            Assert.Null(selfSigned.Certificate);
            Assert.Null(selfSigned.HttpPort);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Get_settings_carry_the_url_names_timeout_and_output()
    {
        GetSettings settings = GetSettings.From(Parse(new GetVerb(),
            "https://example.test:8443/bytes/10", "--resolve", "example.test:10.0.0.2", "--insecure", "--timeout", "5", "-o", "out.bin", "--tun", "t0", "--address", "10.0.0.1/24"));
        Assert.Equal(8443, settings.Request.Url.Port);
        Assert.Equal(Ipv4Address.Parse("10.0.0.2"), settings.Request.Resolve["EXAMPLE.test"]);
        Assert.True(settings.Request.Insecure);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Request.Timeout);
        Assert.Equal("out.bin", settings.OutputPath);
        Assert.Equal(GetSettings.DefaultTimeout, GetSettings.From(Parse(new GetVerb(), "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24")).Request.Timeout);
    }

    [Fact]
    public void Bench_defaults_and_values()
    {
        BenchSettings defaults = BenchVerb.Parse(Parse(new BenchVerb()));
        Assert.Equal(new BenchSettings(TimeSpan.FromSeconds(5), 1500, 0, TimeSpan.FromMilliseconds(1), 1), defaults);
        BenchSettings set = BenchVerb.Parse(Parse(new BenchVerb(), "--seconds", "0.5", "--mtu", "9000", "--loss", "0.02", "--rtt", "20", "--seed", "9"));
        Assert.Equal(new BenchSettings(TimeSpan.FromSeconds(0.5), 9000, 0.02, TimeSpan.FromMilliseconds(20), 9), set);
    }
}
